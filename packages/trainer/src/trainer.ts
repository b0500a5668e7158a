import * as tf from "@tensorflow/tfjs-core";
import type { Criterion, LoggingOutput } from "@fairseq-ts/criterions";
import { balanceSamples, splitSample, type Sample } from "@fairseq-ts/data";
import type { Metrics } from "@fairseq-ts/logging";
import { disposeTensorSample, sampleToTensors, type EncoderDecoderModel, type LanguageModel } from "@fairseq-ts/models";
import { NonFiniteGradientError, clipGradNorm, multiplyGrads, type Grads, type LrScheduler, type Optimizer } from "@fairseq-ts/optim";
import type { ProcessGroup } from "@fairseq-ts/distributed";
import { failpoint } from "@fairseq-ts/runtime";

/** The logged values summed across workers (fairseq's criterions' keys). */
export const REDUCED_LOGGING_KEYS = ["loss", "nll_loss", "ntokens", "nsentences", "sample_size", "n_correct", "total"] as const;

export interface TrainerOptions {
  /** `--seed`: dropout is reseeded with seed + num_updates before every update. */
  seed: number;
  /** `--clip-norm` (0 = off). */
  clipNorm: number;
  /**
   * `--micro-batch-tokens`: run a batch as row chunks of at most this many padded tokens and add up
   * their gradients (same update, less peak memory; 0 = whole batches).
   */
  microBatchTokens?: number;
  /** Padding index of the dictionaries (to trim chunks; fairseq's is 1). */
  padIdx?: number;
  /**
   * Every rank is given the update's whole group of batches: run only this rank's share of their
   * micro-batches (`balanceSamples`), the gradient all-reduce adds up the rest.
   */
  balanceAcrossRanks?: boolean;
}

/**
 * fairseq's Trainer: one update from a group of batches (`--update-freq`), gradient normalisation by
 * the total sample size, clipping, the optimizer step, the lr schedule, and fairseq's logged metrics.
 */
export class Trainer {
  numUpdates = 0;
  private readonly paramByVar = new Map<string, string>();

  constructor(
    readonly model: EncoderDecoderModel | LanguageModel,
    readonly criterion: Criterion,
    readonly optimizer: Optimizer,
    readonly lrScheduler: LrScheduler,
    readonly metrics: Metrics,
    readonly options: TrainerOptions,
    readonly processGroup: ProcessGroup | null = null,
  ) {
    for (const [name, v] of model.namedParameters()) this.paramByVar.set(v.name, name);
    // fairseq: the scheduler is stepped to update 0 when the trainer is built.
    this.lrScheduler.stepUpdate(0);
  }

  getLr(): number {
    return this.optimizer.getLr();
  }

  setNumUpdates(n: number): void {
    this.numUpdates = n;
    const lr = this.lrScheduler.stepUpdate(n);
    this.metrics.logScalar("lr", lr, { weight: 0, priority: 300 });
    this.metrics.logScalar("num_updates", n, { weight: 0, priority: 200 });
  }

  /** Forward + backward on one batch; returns its gradients by fairseq name and its logged values. */
  private forwardBackward(sample: Sample): { grads: Grads; logging: LoggingOutput; sampleSize: number } {
    const ts = sampleToTensors(sample);
    let kept: Record<string, tf.Scalar | number> = {};
    let sampleSize = 0;
    const params = [...this.model.namedParameters().values()];
    // fault injection (FAIRSEQ_TS_FAILPOINT=train:nan-batch@N:flag): this batch's loss becomes NaN, as a
    // NaN anywhere in a forward pass makes it
    const poison = failpoint("train:nan-batch");
    const { value, grads } = tf.variableGrads(() => {
      const out = this.criterion.forward(this.model, ts);
      sampleSize = out.sampleSize;
      kept = {};
      for (const [k, v] of Object.entries(out.logging)) kept[k] = typeof v === "number" ? v : tf.keep(v);
      return poison ? tf.mul(out.loss, NaN) : out.loss;
    }, params);
    disposeTensorSample(ts);
    // The logged tensors may include the returned loss itself, and repeat (cross_entropy: loss = nll_loss).
    const logging: LoggingOutput = {};
    const toFree = new Set<tf.Tensor>([value]);
    for (const [k, v] of Object.entries(kept)) {
      if (typeof v === "number") logging[k] = v;
      else {
        logging[k] = v.dataSync()[0]!;
        toFree.add(v);
      }
    }
    for (const t of toFree) t.dispose();
    const byName: Grads = new Map();
    for (const [varName, g] of Object.entries(grads)) byName.set(this.paramByVar.get(varName) ?? varName, g);
    return { grads: byName, logging, sampleSize };
  }

  /**
   * One update over `samples` (null = an empty shard batch, ignored). Returns false when nothing was
   * trained (all batches empty). Throws `NonFiniteGradientError` on NaN/Inf gradients (as fairseq).
   */
  async trainStep(samples: readonly (Sample | null)[]): Promise<boolean> {
    const m = this.metrics;
    this.model.train();
    this.model.setSeed(this.options.seed + this.numUpdates);
    m.logStartTime("train_wall", { priority: 800, round: 0 });
    let acc: Grads | null = null;
    const outputs: LoggingOutput[] = [];
    let sampleSize = 0;
    let chunks = samples.flatMap((s) => (s ? this.chunks(s) : []));
    const pg = this.processGroup;
    if (this.options.balanceAcrossRanks && pg && pg.worldSize > 1) {
      const owner = balanceSamples(chunks, pg.worldSize);
      chunks = chunks.filter((_, i) => owner[i] === pg.rank);
    }
    for (const s of chunks) {
      const r = this.forwardBackward(s);
      outputs.push(r.logging);
      sampleSize += r.sampleSize;
      if (!acc) acc = r.grads;
      else {
        for (const [k, g] of r.grads) {
          const prev = acc.get(k);
          if (prev) {
            acc.set(k, tf.add(prev, g));
            prev.dispose();
            g.dispose();
          } else acc.set(k, g);
        }
      }
    }
    if (this.processGroup && this.processGroup.worldSize > 1) {
      const r = await this.reduceAcrossWorkers(acc, outputs, sampleSize);
      acc = r.grads;
      sampleSize = r.sampleSize;
      outputs.splice(0, outputs.length, ...r.outputs);
    }
    if (!acc || sampleSize === 0) {
      if (acc) for (const g of acc.values()) g.dispose();
      m.logStopTime("train_wall");
      return false;
    }
    let grads = multiplyGrads(acc, 1 / sampleSize);
    const clipped = clipGradNorm(grads, this.options.clipNorm);
    grads = clipped.grads;
    const norm = clipped.norm;
    if (!Number.isFinite(norm)) {
      for (const g of grads.values()) g.dispose();
      m.logStopTime("train_wall");
      throw new NonFiniteGradientError(this.numUpdates + 1);
    }
    this.optimizer.step(this.model.namedParameters(), grads);
    for (const g of grads.values()) g.dispose();
    this.setNumUpdates(this.numUpdates + 1);
    m.logSpeed("ups", 1, { priority: 100, round: 2 });
    m.logScalar("gnorm", norm, { priority: 400, round: 3 });
    if (this.options.clipNorm > 0) m.logScalar("clip", norm > this.options.clipNorm ? 100 : 0, { priority: 500, round: 1 });
    m.aggregate(null, () => this.reduceMetrics(outputs));
    m.logStopTime("train_wall");
    return true;
  }

  /** fairseq's task.reduce_metrics: wpb, wps, bsz, then the criterion's values. */
  reduceMetrics(outputs: LoggingOutput[]): void {
    const m = this.metrics;
    const ntokens = outputs.reduce((a, o) => a + (o.ntokens ?? 0), 0);
    const nsentences = outputs.reduce((a, o) => a + (o.nsentences ?? 0), 0);
    m.logScalar("wpb", ntokens, { priority: 180, round: 1 });
    m.logSpeed("wps", ntokens, { priority: 90, round: 1 });
    m.logScalar("bsz", nsentences, { priority: 190, round: 1 });
    this.criterion.reduceMetrics(outputs, m);
  }

  /** Evaluate one batch (no gradients) and log it like fairseq's valid_step. */
  validStep(sample: Sample | null): void {
    const logging = this.validOutput(sample);
    if (logging) this.metrics.aggregate(null, () => this.reduceMetrics([logging]));
  }

  /** The criterion's logged values for one batch in eval mode (null for an empty shard batch). */
  validOutput(sample: Sample | null): LoggingOutput | null {
    if (!sample) return null;
    this.model.eval();
    const logging: LoggingOutput = {};
    for (const chunk of this.chunks(sample)) {
      const ts = sampleToTensors(chunk);
      tf.tidy(() => {
        const out = this.criterion.forward(this.model, ts);
        for (const [k, v] of Object.entries(out.logging)) logging[k] = (logging[k] ?? 0) + (typeof v === "number" ? v : v.dataSync()[0]!);
      });
      disposeTensorSample(ts);
    }
    return logging;
  }

  private chunks(sample: Sample): Sample[] {
    return splitSample(sample, this.options.microBatchTokens ?? 0, this.options.padIdx ?? 1);
  }

  private async reduceAcrossWorkers(acc: Grads | null, outputs: LoggingOutput[], sampleSize: number) {
    const params = [...this.model.namedParameters()];
    // One buffer per parameter, summed in place (no flat copy: the shared-memory transport writes
    // them with one writev); zeros for a parameter this rank has no gradient for. The cpu backend's
    // dataSync returns a tensor's own storage, which gradients may share: copy it there.
    const owned = tf.getBackend() !== "cpu";
    const buffers = params.map(([name, p]) => {
      const g = acc?.get(name);
      if (!g) return new Float32Array(p.size);
      const d = g.dataSync() as Float32Array;
      return owned ? d : d.slice();
    });
    if (acc) for (const g of acc.values()) g.dispose();
    const keys = REDUCED_LOGGING_KEYS;
    const stats = new Float64Array(1 + keys.length);
    stats[0] = sampleSize;
    keys.forEach((k, i) => (stats[i + 1] = outputs.reduce((a, o) => a + (o[k] ?? 0), 0)));
    await this.processGroup!.allReduce([...buffers, stats]);
    const grads: Grads = new Map();
    params.forEach(([name, p], i) => grads.set(name, tf.tensor(buffers[i]!, p.shape, "float32")));
    const merged: LoggingOutput = {};
    keys.forEach((k, i) => (merged[k] = stats[i + 1]!));
    return { grads, sampleSize: stats[0]!, outputs: [merged] };
  }
}
