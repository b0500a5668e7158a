import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FuzzTarget } from "./targets.js";

/** A small deterministic PRNG (mulberry32): the same seed replays the same inputs. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0x20, 0x0a, 0x30, 0x39];

/** One mutation of `input`: bit flips, interesting bytes, huge 32/64-bit fields, truncation, insertion, splicing. */
export function mutate(input: Uint8Array, rnd: () => number): Uint8Array {
  const pick = (n: number) => Math.floor(rnd() * n);
  let b = input.slice(); // a typed copy (Uint8Array.from iterates byte by byte: 100 ms for model.pt)
  const rounds = 1 + pick(4);
  for (let r = 0; r < rounds; r++) {
    const op = pick(7);
    const at = b.length ? pick(b.length) : 0;
    if (op === 0 && b.length) b[at] = b[at]! ^ (1 << pick(8));
    else if (op === 1 && b.length) b[at] = INTERESTING[pick(INTERESTING.length)]!;
    else if (op === 2 && b.length >= 8) {
      // a size/offset field set to something huge or negative
      const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
      const off = pick(b.length - 7);
      const choice = pick(4);
      if (choice === 0) v.setUint32(off, 0xffffffff, true);
      else if (choice === 1) v.setBigUint64(off, 0x7fffffffffffffffn, true);
      else if (choice === 2) v.setInt32(off, -1 - pick(1000), true);
      else v.setUint32(off, pick(1 << 20), true);
    } else if (op === 3) b = b.subarray(0, pick(b.length + 1));
    else if (op === 4) {
      const ins = Uint8Array.from({ length: 1 + pick(16) }, () => pick(256));
      const out = new Uint8Array(b.length + ins.length);
      out.set(b.subarray(0, at));
      out.set(ins, at);
      out.set(b.subarray(at), at + ins.length);
      b = out;
    } else if (op === 5 && b.length > 2) {
      // duplicate a chunk in place
      const len = 1 + pick(Math.min(64, b.length - at));
      const out = new Uint8Array(b.length + len);
      out.set(b.subarray(0, at + len));
      out.set(b.subarray(at, at + len), at + len);
      out.set(b.subarray(at + len), at + 2 * len);
      b = out;
    } else if (op === 6 && b.length) b = b.subarray(pick(Math.min(16, b.length)));
  }
  return b;
}

export interface FuzzFinding {
  target: string;
  kind: "uncaught" | "slow";
  message: string;
  file: string | null;
}

export interface FuzzReport {
  iterations: Record<string, number>;
  findings: FuzzFinding[];
}

/**
 * Run every target for its share of `seconds`: mutate a seed, read it; the reader must succeed or throw
 * one of its allowed errors, within `slowMs`. Findings (with the input saved under `crashDir`) are returned.
 */
export async function runFuzz(
  targets: FuzzTarget[],
  o: { seconds: number; seed: number; slowMs?: number; crashDir?: string; minIterations?: number },
): Promise<FuzzReport> {
  const rnd = prng(o.seed);
  const iterations: Record<string, number> = {};
  const findings: FuzzFinding[] = [];
  const slow = o.slowMs ?? 2000;
  for (const t of targets) {
    iterations[t.name] = 0;
    const end = performance.now() + (o.seconds * 1000) / targets.length;
    let yielded = performance.now();
    // a target's slice is wall time, which a busy machine can eat entirely: `minIterations` inputs run regardless
    const min = o.minIterations ?? 0;
    while (performance.now() < end || iterations[t.name]! < min) {
      // let the event loop run (vitest's worker messages time out behind a long synchronous loop)
      if (performance.now() - yielded > 50) {
        await new Promise((r) => setImmediate(r));
        yielded = performance.now();
      }
      const input = mutate(t.seeds[Math.floor(rnd() * t.seeds.length)]!, rnd);
      iterations[t.name]!++;
      const t0 = performance.now();
      let problem: string | null = null;
      try {
        t.read(input);
      } catch (e) {
        if (!t.allowed(e)) problem = `${(e as Error)?.name ?? typeof e}: ${(e as Error)?.message ?? String(e)}`;
      }
      const ms = performance.now() - t0;
      const kind = problem ? "uncaught" : ms > slow ? "slow" : null;
      if (kind) {
        let file: string | null = null;
        if (o.crashDir) {
          mkdirSync(o.crashDir, { recursive: true });
          file = join(o.crashDir, `${t.name.replace(/[^a-z0-9]+/gi, "_")}-${createHash("sha1").update(input).digest("hex").slice(0, 12)}.bin`);
          writeFileSync(file, input);
        }
        findings.push({ target: t.name, kind, message: problem ?? `took ${ms.toFixed(0)} ms`, file });
        if (findings.length > 50) return { iterations, findings };
      }
    }
  }
  return { iterations, findings };
}
