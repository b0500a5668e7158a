import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type AverageMeter, Metrics, ProgressBar, formatStat, pyRound, type SmoothedValues } from "../src/index.js";
import { SHARED } from "./shared.js";

const TRAIN_LOG = join(SHARED, "reference/fairseq/multi30k-de-en/train.log");

/** A controllable clock. */
function fakeClock() {
  let t = 0;
  return { now: () => t, advance: (s: number) => (t += s) };
}

describe("Metrics (fairseq.logging.metrics)", () => {
  it("averages weighted scalars, derives ppl, orders keys by priority like fairseq's train_inner line", () => {
    const clock = fakeClock();
    const m = new Metrics(clock.now);
    const step = (lossSum: number, nllSum: number, sampleSize: number, ntokens: number, nsentences: number) =>
      m.aggregate("train_inner", () => {
        m.logStartTime("train_wall", { priority: 800, round: 0 });
        clock.advance(0.5);
        m.logStopTime("train_wall");
        m.logSpeed("ups", 1, { priority: 100, round: 2 });
        m.logScalar("gnorm", 1.25, { priority: 400, round: 3 });
        m.logScalar("wpb", ntokens, { priority: 180, round: 1 });
        m.logSpeed("wps", ntokens, { priority: 90, round: 1 });
        m.logScalar("bsz", nsentences, { priority: 190, round: 1 });
        m.logScalar("loss", lossSum / sampleSize / Math.LN2, { weight: sampleSize, round: 3 });
        m.logScalar("nll_loss", nllSum / ntokens / Math.LN2, { weight: ntokens, round: 3 });
        m.logDerived("ppl", (meters) => pyRound(2 ** (meters.get("nll_loss") as AverageMeter).avg!, 2));
        m.logScalar("num_updates", 1, { weight: 0, priority: 200 });
        m.logScalar("lr", 0.000125, { weight: 0, priority: 300 });
      });
    step(700, 600, 100, 100, 8);
    step(3000, 2800, 300, 300, 24);
    const v = m.getSmoothedValues("train_inner");
    expect([...v.keys()]).toEqual(["loss", "nll_loss", "ppl", "wps", "ups", "wpb", "bsz", "num_updates", "lr", "gnorm", "train_wall"]);
    // loss = (700 + 3000) / 400 / ln 2, weighted by sample size
    expect(v.get("loss")).toBe(pyRound(3700 / 400 / Math.LN2, 3));
    expect(v.get("nll_loss")).toBe(pyRound(3400 / 400 / Math.LN2, 3));
    expect(v.get("ppl")).toBe(pyRound(2 ** (3400 / 400 / Math.LN2), 2));
    expect(v.get("wpb")).toBe(200);
    // the first logSpeed call only starts the clock: 300 tokens in the 0.5 s since then
    expect(v.get("wps")).toBe(600);
    expect(v.get("ups")).toBe(2);
    expect(v.get("train_wall")).toBe(1);
    // reset keeps the meters but clears them; the epoch-level ones are separate aggregators
    m.resetMeters("train_inner");
    expect(m.getSmoothedValues("train_inner").get("wpb")).toBe(null);
  });

  it("validation uses a new root that leaves other aggregators untouched; state round-trips", () => {
    const m = new Metrics();
    m.aggregate("train", () => m.logScalar("loss", 2, { weight: 1, round: 3 }));
    m.aggregate("valid", () => m.logScalar("loss", 10, { weight: 1, round: 3 }), { newRoot: true });
    expect(m.getSmoothedValues("train").get("loss")).toBe(2);
    expect(m.getSmoothedValues("default").get("loss")).toBe(2);
    const m2 = new Metrics();
    m2.loadStateDict(JSON.parse(JSON.stringify(m.stateDict())));
    expect(m2.getSmoothedValues("train").get("loss")).toBe(2);
  });
});

describe("ProgressBar", () => {
  it("re-creates every JSON line of fairseq's train.log from its values", () => {
    const lines = readFileSync(TRAIN_LOG, "utf8").split("\n");
    let checked = 0;
    for (const line of lines) {
      const m = /^\S+ \S+ \| INFO \| (train_inner|train|valid) \| (\{.*\})$/.exec(line);
      if (!m) continue;
      const tag = m[1]!;
      const obj = JSON.parse(m[2]!) as Record<string, string | number>;
      const epoch = obj.epoch as number;
      const out: string[] = [];
      const size = 114; // updates per epoch in this run
      const bar = new ProgressBar({ format: "json", size, epoch, logInterval: 100, sink: (name, msg) => out.push(`${name} | ${msg}`) });
      const stats: SmoothedValues = new Map();
      const strip = tag === "train_inner" ? "" : `${tag}_`;
      for (const [k, v] of Object.entries(obj)) {
        if (k === "epoch" || k === "update") continue;
        stats.set(k.slice(strip.length), Number(v));
      }
      if (tag === "train_inner") {
        const numUpdates = Number(obj.num_updates);
        bar.tick(numUpdates - (epoch - 1) * size - 1);
        bar.log(stats, tag, numUpdates);
      } else {
        bar.print(stats, tag);
      }
      expect(out).toEqual([`${tag} | ${m[2]}`]);
      checked++;
    }
    expect(checked).toBeGreaterThan(40);
  });

  it("simple format prints fairseq's layout and respects the log interval", () => {
    const out: string[] = [];
    const bar = new ProgressBar({ format: "simple", size: 114, epoch: 3, logInterval: 10, sink: (n, msg) => out.push(`${n}: ${msg}`) });
    const stats: SmoothedValues = new Map([
      ["loss", 8.575],
      ["lr", 0.000375],
    ]);
    bar.tick(8);
    bar.log(stats, "train_inner", 9);
    bar.tick(9);
    bar.log(stats, "train_inner", 10);
    bar.print(stats, "train");
    expect(out).toEqual(["train_inner: epoch 003:     10 / 114 loss=8.575, lr=0.000375", "train: epoch 003 | loss 8.575 | lr 0.000375"]);
    expect(formatStat(null)).toBe("None");
  });
});
