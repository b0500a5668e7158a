import * as tf from "@tensorflow/tfjs-core";
import { expect } from "vitest";
import type { Grads, Optimizer, OptimizerState } from "../src/index.js";

/** A parameter for the float64 references: flat values (row-major) and a shape. */
export interface RefParam {
  shape: number[];
  data: number[];
}

/** Deterministic values in [-scale, scale) (an LCG, so the tests need no fixtures). */
export function values(n: number, seed: number, scale = 1): number[] {
  let s = seed >>> 0;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.push(((s / 2 ** 32) * 2 - 1) * scale);
  }
  return out;
}

export function toVariables(ps: Record<string, RefParam>): Map<string, tf.Variable> {
  return new Map(
    Object.entries(ps).map(([k, p]) => {
      const init = tf.tensor(p.data, p.shape, "float32");
      const v = tf.variable(init);
      init.dispose();
      return [k, v];
    }),
  );
}

export function toGrads(gs: Record<string, RefParam>): Grads {
  return new Map(Object.entries(gs).map(([k, g]) => [k, tf.tensor(g.data, g.shape, "float32")]));
}

/** float32 TF.js result vs the float64 reference: relative error per element below `rel` (+ tiny abs). */
export function expectClose(actual: tf.Tensor, expected: number[], rel = 2e-5, abs = 1e-7): void {
  const a = Array.from(actual.dataSync());
  expect(a.length).toBe(expected.length);
  let worst = 0;
  a.forEach((x, i) => {
    const e = expected[i]!;
    const err = Math.abs(x - e) / (Math.abs(e) * rel + abs);
    worst = Math.max(worst, err);
  });
  expect(worst, `max scaled error (actual ${a.slice(0, 4)} vs expected ${expected.slice(0, 4)})`).toBeLessThanOrEqual(1);
}

/** The state as a checkpoint would carry it: through JSON (typed arrays as plain arrays). */
export function jsonState(opt: Optimizer): OptimizerState {
  const s = JSON.stringify(opt.stateDict(), (_k, v: unknown) => (v instanceof Float32Array ? Array.from(v) : v));
  return JSON.parse(s) as OptimizerState;
}

/**
 * stateDict -> JSON -> loadStateDict into a fresh optimizer over copies of the parameters, then run
 * `more` gradient steps on both: the parameters (and states) must stay bitwise identical. Also checks
 * that steps leave tf.memory().numTensors flat once the buffers exist.
 */
export function expectExactResume(opt: Optimizer, fresh: () => Optimizer, params: Map<string, tf.Variable>, more: Grads[]): void {
  const state = jsonState(opt);
  const copies = new Map(
    [...params].map(([k, v]) => {
      const init = v.clone();
      const c = tf.variable(init);
      init.dispose();
      return [k, c];
    }),
  );
  const resumed = fresh();
  resumed.loadStateDict(state, copies);
  expect(JSON.stringify(jsonState(resumed))).toBe(JSON.stringify(state));
  for (const g of more) {
    const before = tf.memory().numTensors;
    opt.step(params, g);
    resumed.step(copies, g);
    expect(tf.memory().numTensors).toBe(before);
    expect(resumed.getLr()).toBe(opt.getLr());
  }
  for (const [k, v] of params) expect(Array.from(copies.get(k)!.dataSync())).toEqual(Array.from(v.dataSync()));
  expect(JSON.stringify(jsonState(resumed))).toBe(JSON.stringify(jsonState(opt)));
  resumed.dispose();
  tf.dispose([...copies.values()]);
  for (const g of more) tf.dispose([...g.values()]);
}
