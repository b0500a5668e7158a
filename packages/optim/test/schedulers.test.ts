import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import { Sgd, buildLrScheduler, type LrSchedulerOptions, type LrScheduler } from "../src/index.js";

beforeAll(async () => {
  await initBackend({ backend: "cpu", log: null });
});

// Every expected value below is worked out by hand from fairseq's code (and torch's ReduceLROnPlateau).
const build = (name: string, o: LrSchedulerOptions, lr0 = 123) => {
  const opt = new Sgd({ lr: lr0 });
  return { opt, sched: buildLrScheduler(name, opt, o) };
};
const json = (s: LrScheduler) => JSON.parse(JSON.stringify(s.stateDict())) as Record<string, unknown>;

describe("reduce_lr_on_plateau", () => {
  it("patience 1, shrink 0.5: shrinks after the 2nd epoch without a relative improvement of 1e-4", () => {
    const { opt, sched } = build("reduce_lr_on_plateau", { lr: [1], lrPatience: 1, lrShrink: 0.5 });
    expect(opt.getLr()).toBe(1); // no warmup: starts at --lr
    expect(sched.stepUpdate(5)).toBe(1); // no warmup: step_update changes nothing
    expect(sched.step(1, 10)).toBe(1); // best inf -> 10
    expect(sched.step(2, 9.9995)).toBe(1); // 9.9995 is not < 10·(1 - 1e-4) = 9.999: 1 bad epoch (not > patience)
    expect(sched.step(3, 9.9995)).toBe(0.5); // 2 bad epochs > 1: lr·0.5, counter reset
    expect(sched.step(4, 9)).toBe(0.5); // improvement: best 9
    expect(sched.step(5, 9.5)).toBe(0.5); // 1 bad epoch
    expect(sched.step(6, null)).toBe(0.5); // no validation loss: only last_epoch = 6
    const state = json(sched);
    expect(state).toEqual({ best: 9, last_epoch: 6, num_bad_epochs: 1, warmup_end: true });

    // resume: the optimizer state restores lr 0.5, then the scheduler's; the next bad epoch shrinks again
    const resumed = build("reduce_lr_on_plateau", { lr: [1], lrPatience: 1, lrShrink: 0.5 });
    resumed.opt.setLr(0.5);
    resumed.sched.loadStateDict(state);
    expect(resumed.sched.step(7, 9.6)).toBe(0.25);
    expect(sched.step(7, 9.6)).toBe(0.25);
    expect(json(resumed.sched)).toEqual(json(sched));

    // a fairseq state ({best, last_epoch} only) resumes with 0 bad epochs, as fairseq does
    const fromFairseq = build("reduce_lr_on_plateau", { lr: [1], lrPatience: 1, lrShrink: 0.5 });
    fromFairseq.opt.setLr(0.5);
    fromFairseq.sched.loadStateDict({ best: 9, last_epoch: 6 });
    expect(fromFairseq.sched.step(7, 9.6)).toBe(0.5);
    expect(fromFairseq.sched.step(8, 9.6)).toBe(0.25);
  });

  it("warmup from 0 over --warmup-updates; epochs ending in warmup do not count; default patience 0, shrink 0.1", () => {
    const { opt, sched } = build("reduce_lr_on_plateau", { lr: [1], warmupUpdates: 4 });
    expect(opt.getLr()).toBe(0); // warmup_init_lr defaults to 0 with warmup
    expect(sched.stepUpdate(1)).toBe(0.25);
    expect(sched.step(1, 5)).toBe(0.25); // still warming up: no plateau step
    expect(json(sched)).toEqual({ best: null, last_epoch: 1, num_bad_epochs: 0, warmup_end: false });
    expect(sched.stepUpdate(4)).toBe(1); // n <= warmup_updates: init + 4·0.25
    expect(sched.stepUpdate(5)).toBe(1); // past warmup: warmup_end, lr left alone
    expect(sched.step(2, 5)).toBe(1); // best 5
    expect(sched.step(3, 5)).toBeCloseTo(0.1, 15); // 1 bad epoch > 0
    expect(sched.step(4, 6)).toBeCloseTo(0.01, 15);
    expect(sched.stepUpdate(100)).toBeCloseTo(0.01, 15); // warmup over: updates keep the shrunk lr
    expect(json(sched)).toEqual({ best: 5, last_epoch: 4, num_bad_epochs: 0, warmup_end: true });
  });

  it("--maximize-best-checkpoint-metric: mode max with best·(1 + threshold); shrinks stop below 1e-8 of change", () => {
    const { sched } = build("reduce_lr_on_plateau", { lr: [1], maximizeBestCheckpointMetric: true, lrThreshold: 0.1 });
    expect(sched.step(1, 10)).toBe(1);
    expect(sched.step(2, 10.5)).toBeCloseTo(0.1, 15); // not > 11
    expect(sched.step(3, 11.5)).toBeCloseTo(0.1, 15); // > 11: new best
    expect(json(sched).best).toBe(11.5);
    const tiny = build("reduce_lr_on_plateau", { lr: [1.5e-8] });
    tiny.sched.step(1, 1);
    expect(tiny.sched.step(2, 1)).toBeCloseTo(1.5e-9, 20); // 1.5e-8 - 1.5e-9 > 1e-8
    expect(tiny.sched.step(3, 1)).toBeCloseTo(1.5e-9, 20); // 1.5e-9 - 1.5e-10 < 1e-8 (torch's eps): kept
  });

  it("fairseq 0.10.2 starts at an explicit --warmup-init-lr even without warmup; bad flags are named", () => {
    expect(build("reduce_lr_on_plateau", { lr: [1], warmupInitLr: 0.3 }).opt.getLr()).toBe(0.3);
    expect(() => build("reduce_lr_on_plateau", { lr: [1, 2] })).toThrow(/--lr: reduce_lr_on_plateau takes a single/);
    expect(() => build("reduce_lr_on_plateau", { lr: [1], lrShrink: 1 })).toThrow(/--lr-shrink/);
    expect(() => build("reduce_lr_on_plateau", { lr: [1], lrPatience: 1.5 })).toThrow(/--lr-patience/);
    const { sched } = build("reduce_lr_on_plateau", { lr: [1] });
    expect(() => sched.loadStateDict({ best: "x" })).toThrow(/reduce_lr_on_plateau state: best/);
  });
});

describe("tri_stage", () => {
  it("warmup 10, hold 5, decay 10 steps, scales 0.01: linear, flat, exponential, flat", () => {
    const { opt, sched } = build("tri_stage", { lr: [1], warmupSteps: 10, holdSteps: 5, decaySteps: 10 });
    expect(opt.getLr()).toBe(0.01); // init_lr = 0.01·lr
    const at = (n: number) => sched.stepUpdate(n);
    expect(at(0)).toBe(0.01);
    expect(at(5)).toBeCloseTo(0.01 + 0.099 * 5, 15); // warmup_rate (1 - 0.01)/10
    expect(at(10)).toBe(1); // hold
    expect(at(14)).toBe(1);
    expect(at(15)).toBe(1); // decay stage, 0 steps in: exp(0)
    expect(at(20)).toBeCloseTo(0.1, 14); // exp(-ln(100)/10·5) = 100^-0.5
    expect(at(25)).toBeCloseTo(0.01, 14); // last decay step: 100^-1, the final lr
    expect(at(26)).toBe(0.01); // final_lr
    expect(at(10_000)).toBe(0.01);
    expect(opt.getLr()).toBe(0.01);
  });

  it("--phase-ratio splits --max-update (int() truncation); 0.10.2's default steps 4000/20000/60000", () => {
    const { sched } = build("tri_stage", { lr: [2], phaseRatio: "(0.1, 0.4, 0.5)", maxUpdate: 1000, initLrScale: 0.5, finalLrScale: 0.25 });
    expect(sched.stepUpdate(50)).toBeCloseTo(1 + (1 / 100) * 50, 14); // 1 -> 2 over 100 steps
    expect(sched.stepUpdate(300)).toBe(2);
    expect(sched.stepUpdate(750)).toBeCloseTo(1, 14); // 2·exp(ln(0.25)/500·250) = 2·0.5
    expect(sched.stepUpdate(1001)).toBe(0.5);
    const t = build("tri_stage", { lr: [1], phaseRatio: [0.1, 0.4, 0.5], maxUpdate: 999 }).sched as unknown as {
      warmupSteps: number;
      holdSteps: number;
      decaySteps: number;
    };
    expect([t.warmupSteps, t.holdSteps, t.decaySteps]).toEqual([99, 399, 499]);
    expect(build("tri_stage", { lr: [1] }).sched.stepUpdate(2000)).toBeCloseTo(0.505, 14);
  });

  it("tracks the best validation loss in its state; rejects bad flags by name", () => {
    const { sched } = build("tri_stage", { lr: [1], warmupSteps: 1, holdSteps: 1, decaySteps: 1 });
    sched.step(1, 3);
    sched.step(2, 2);
    expect(sched.step(3, 4)).toBe(0.01); // epochs leave the lr alone
    expect(json(sched)).toEqual({ best: 2 });
    const r = build("tri_stage", { lr: [1], warmupSteps: 1, holdSteps: 1, decaySteps: 1 }).sched;
    r.loadStateDict(json(sched));
    expect(json(r)).toEqual({ best: 2 });
    expect(() => build("tri_stage", { lr: [1], phaseRatio: "(0.1, 0.4, 0.4)", maxUpdate: 10 })).toThrow(/--phase-ratio: the ratios must/);
    expect(() => build("tri_stage", { lr: [1], phaseRatio: "(0.1, 0.4, 0.5)" })).toThrow(/--phase-ratio needs --max-update/);
    expect(() => build("tri_stage", { lr: [1], phaseRatio: "0.1 0.4 0.5", maxUpdate: 10 })).toThrow(/--phase-ratio: expected a tuple of 3/);
    expect(() => build("tri_stage", { lr: [1], decaySteps: 0 })).toThrow(/--decay-steps/);
    expect(() => build("tri_stage", { lr: [1], warmupSteps: -1 })).toThrow(/--warmup-steps/);
    expect(() => build("tri_stage", { lr: [1, 2] })).toThrow(/--lr: tri_stage/);
  });
});

describe("step (StepLRSchedule)", () => {
  it("warmup from --min-lr, then halving every --lr-deacy-period updates, floored at --min-lr", () => {
    const { opt, sched } = build("step", { lr: [1], lrDeacyPeriod: 10, minLr: 0.1, warmupUpdates: 4 });
    expect(opt.getLr()).toBe(0.1); // warmup_init_lr defaults to min_lr
    const at = (n: number) => sched.stepUpdate(n);
    expect(at(0)).toBe(0.1);
    expect(at(2)).toBeCloseTo(0.1 + 2 * 0.225, 15); // (1 - 0.1)/4 per update
    expect(at(4)).toBe(1); // (4-4)//10 = 0
    expect(at(13)).toBe(1);
    expect(at(14)).toBe(0.5);
    expect(at(24)).toBe(0.25);
    expect(at(34)).toBe(0.125);
    expect(at(44)).toBe(0.1); // max(0.0625, min_lr)
    expect(opt.getLr()).toBe(0.1);
  });

  it("accepts both spellings of the period, lr_decay 0.5 and period 25000 by default; rejects bad flags", () => {
    const a = build("step", { lr: [1], lrDecayPeriod: 3, lrDecay: 0.1 }).sched;
    expect(a.stepUpdate(0)).toBe(1); // no warmup
    expect(a.stepUpdate(6)).toBeCloseTo(0.01, 15);
    const d = build("step", { lr: [1] });
    expect(d.opt.getLr()).toBe(0); // starts at min_lr 0 until the first step_update, as fairseq
    expect(d.sched.stepUpdate(24_999)).toBe(1);
    expect(d.sched.stepUpdate(50_000)).toBe(0.25);
    expect(build("step", { lr: [1], lrDeacyPeriod: 5, lrDecayPeriod: 5 }).sched.stepUpdate(5)).toBe(0.5);
    expect(() => build("step", { lr: [1], lrDeacyPeriod: 5, lrDecayPeriod: 6 })).toThrow(/--lr-deacy-period \(5\) and --lr-decay-period \(6\) disagree/);
    expect(() => build("step", { lr: [1], lrDeacyPeriod: 0 })).toThrow(/--lr-deacy-period/);
    expect(() => build("step", { lr: [1], lrDecayPeriod: 2.5 })).toThrow(/--lr-decay-period/);
    expect(() => build("step", { lr: [1], lrDecay: 2 })).toThrow(/--lr-decay/);
    expect(() => build("step", { lr: [0.1], minLr: 0.1 })).toThrow(/must be more than --min-lr/);
    expect(() => build("step", { lr: [1], minLr: -1 })).toThrow(/--min-lr/);
    expect(() => build("nope", { lr: [1] })).toThrow(/--lr-scheduler: unknown scheduler 'nope'.*reduce_lr_on_plateau, tri_stage, step/);
  });
});
