import * as tf from "@tensorflow/tfjs-core";
import { disposeIncrementalState, type EncoderDecoderModel, type EncoderOut, type LanguageModel } from "@fairseq-ts/models";
import { createConstraintState, type Constraint, type ConstraintState } from "./constraints.js";
import { EnsembleModel, LanguageModelFusion, disposeEncoderOut } from "./ensemble.js";
import { constrainedStep, siblingsStep } from "./search.js";
import { realignFullContext } from "./full-context-alignment.js";

export interface GeneratorOptions {
  beam?: number;
  /** Hypotheses to return per sentence (≤ beam). */
  nbest?: number;
  maxLenA?: number;
  maxLenB?: number;
  minLen?: number;
  /** Length penalty: scores are divided by length^lenpen (length counts the final eos). */
  lenpen?: number;
  unkpen?: number;
  temperature?: number;
  matchSourceLen?: boolean;
  noRepeatNgramSize?: number;
  /** Divide scores by length^lenpen (fairseq's normalize_scores, default true). */
  normalizeScores?: boolean;
  /** Sample instead of beam search (`--sampling`), optionally from the top k or the top-p nucleus. */
  sampling?: boolean;
  samplingTopk?: number;
  samplingTopp?: number;
  /**
   * Diverse beam search (`--diverse-beam-groups`, Vijayakumar et al. 2016, fairseq's Hamming
   * penalty): the beam is split into groups searched one after another; each later group's log-probs
   * lose `diverseBeamStrength` per earlier-group candidate of the same token at this step. ≤ 0: off.
   */
  diverseBeamGroups?: number;
  /** `--diverse-beam-strength` (fairseq's default 0.5). */
  diverseBeamStrength?: number;
  /**
   * Diverse siblings search (`--diversity-rate`, Li et al. 2016, fairseq's DiverseSiblingsSearch): from step 1 on,
   * each hypothesis' continuations lose rate × their rank among its own top 2·beam before the beam-wide top
   * 2·beam is taken. Above -1 it is the search strategy (0 gives beam search's hypotheses); -1 (default): off.
   */
  diversityRate?: number;
  /**
   * Lexically constrained decoding (`--constraints`, fairseq's LexicallyConstrainedBeamSearch): every hypothesis
   * contains every constraint passed to `generate`, in the given order (`ordered`) or any order (`unordered`).
   * null (default): off.
   */
  constraints?: "ordered" | "unordered" | null;
  /** Seed of the sampling draws (`--seed`); the same seed gives the same samples. */
  seed?: number;
  /**
   * Keep each hypothesis' attention over the source (the decoder's alignment layer, averaged over
   * heads), one row per output token: what `--print-alignment` and `--replace-unk` use.
   */
  retainAttention?: boolean;
  /**
   * Shallow fusion (`--lm-path`): a language model over the target dictionary whose next-token log-probs, times
   * `lmWeight`, are added to the translation log-probs at every step (before the pad/unk/length masks).
   */
  lmModel?: LanguageModel | null;
  /** `--lm-weight` (fairseq's SequenceGenerator default 1; the CLI's default is 0). */
  lmWeight?: number;
}

export interface Hypothesis {
  /** Output ids, ending with eos. */
  tokens: Int32Array;
  /** Sequence score (natural log): sum of token log-probs / length^lenpen. */
  score: number;
  /** Per-token log-probs (natural log), one per output token. */
  positionalScores: Float32Array;
  /** With `retainAttention`: per output token, its attention over the (left-padded) source positions. */
  attention?: Float32Array[];
}

export interface Specials {
  pad: number;
  eos: number;
  unk: number;
}

/**
 * fairseq's SequenceGenerator with beam search, step for step: 2×beam candidates per sentence, eos
 * candidates among the top `beam` finalise hypotheses (score normalised by length^lenpen), the others
 * continue; a sentence is done when it has `beam` finished hypotheses or reaches max length; finished
 * sentences leave the batch. Tensors do the model work and the top-k; the bookkeeping is plain arrays.
 * Several models (an array or an {@link EnsembleModel}) are decoded as fairseq's ensemble: the mean of their
 * probabilities at every step.
 */
export class SequenceGenerator {
  readonly beam: number;
  readonly o: Required<GeneratorOptions>;
  /** The search strategy the options choose (fairseq's build_generator). */
  readonly strategy: "beam" | "sampling" | "diverse-beam" | "length" | "siblings" | "constrained";
  /** The model(s) decoded: one model is an ensemble of one, which calls it exactly as a lone model. */
  readonly ensemble: EnsembleModel;

  constructor(
    model: EncoderDecoderModel | readonly EncoderDecoderModel[] | EnsembleModel,
    readonly specials: Specials,
    readonly vocabSize: number,
    options: GeneratorOptions = {},
  ) {
    this.o = {
      beam: options.beam ?? 5,
      nbest: options.nbest ?? 1,
      maxLenA: options.maxLenA ?? 0,
      maxLenB: options.maxLenB ?? 200,
      minLen: options.minLen ?? 1,
      lenpen: options.lenpen ?? 1,
      unkpen: options.unkpen ?? 0,
      temperature: options.temperature ?? 1,
      matchSourceLen: options.matchSourceLen ?? false,
      noRepeatNgramSize: options.noRepeatNgramSize ?? 0,
      normalizeScores: options.normalizeScores ?? true,
      sampling: options.sampling ?? false,
      samplingTopk: options.samplingTopk ?? -1,
      samplingTopp: options.samplingTopp ?? -1,
      diverseBeamGroups: options.diverseBeamGroups ?? -1,
      diverseBeamStrength: options.diverseBeamStrength ?? 0.5,
      diversityRate: options.diversityRate ?? -1,
      constraints: options.constraints ?? null,
      seed: options.seed ?? 1,
      retainAttention: options.retainAttention ?? false,
      lmModel: options.lmModel ?? null,
      lmWeight: options.lmWeight ?? 1,
    };
    this.ensemble = model instanceof EnsembleModel ? model : new EnsembleModel(model);
    const o = this.o;
    // the step mask is a Float32Array(vocabSize) indexed by these ids: out of range, its writes would be silently dropped
    for (const [name, id] of Object.entries(specials)) {
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize)
        throw new Error(`SequenceGenerator: special token ${name} = ${id} is not an id of the ${vocabSize}-symbol vocabulary`);
    }
    // (found by fuzzing the CLI: --beam 0 / -1 ended in tfjs' RangeErrors)
    if (!Number.isInteger(o.beam) || o.beam < 1) throw new Error(`--beam must be a positive integer, got ${o.beam}`);
    if (!Number.isInteger(o.nbest) || o.nbest < 1) throw new Error(`--nbest must be a positive integer, got ${o.nbest}`);
    // fairseq's SequenceGenerator asserts these three
    if (o.samplingTopk >= 0 && !o.sampling) throw new Error("--sampling-topk requires --sampling");
    if (o.samplingTopp >= 0 && !o.sampling) throw new Error("--sampling-topp requires --sampling");
    if (!(o.temperature > 0)) throw new Error(`--temperature must be greater than 0, got ${o.temperature}`);
    // (fairseq: torch's topk fails with "selected index k out of range")
    if (o.samplingTopk > vocabSize) throw new Error(`--sampling-topk ${o.samplingTopk} is larger than the vocabulary (${vocabSize} symbols)`);
    // fairseq: the beam can be at most vocab - 1 (pad is never selected)
    this.beam = Math.min(this.o.beam, vocabSize - 1);
    // fairseq's build_generator: --sampling, --diverse-beam-groups, --match-source-len and --diversity-rate each choose the
    // search strategy (Sampling, DiverseBeamSearch, LengthConstrainedBeamSearch, DiverseSiblingsSearch): at most one may be given
    // (fairseq counts --diversity-rate only above 0, but chooses DiverseSiblingsSearch from above -1, after the other three)
    const strategies = [
      o.sampling && "--sampling",
      o.diverseBeamGroups > 0 && "--diverse-beam-groups",
      o.matchSourceLen && "--match-source-len",
      o.diversityRate > 0 && "--diversity-rate",
    ].filter((x) => x);
    if (strategies.length > 1)
      throw new Error(`Provided Search parameters are mutually exclusive: ${strategies.join(", ")} (each chooses the search strategy)`);
    if (o.constraints !== null && o.constraints !== "ordered" && o.constraints !== "unordered")
      throw new Error(`--constraints must be ordered or unordered, got ${String(o.constraints)}`);
    // fairseq's build_generator, in its order of precedence
    this.strategy = o.sampling
      ? "sampling"
      : o.diverseBeamGroups > 0
        ? "diverse-beam"
        : o.matchSourceLen
          ? "length"
          : o.diversityRate > -1
            ? "siblings"
            : o.constraints !== null
              ? "constrained"
              : "beam";
    // fairseq builds the other strategy, then its generate fails: "Target-side constraints were provided, but search method doesn't support them"
    if (o.constraints !== null && this.strategy !== "constrained") {
      const flag = { sampling: "--sampling", "diverse-beam": "--diverse-beam-groups", length: "--match-source-len", siblings: "--diversity-rate" }[
        this.strategy as "sampling" | "diverse-beam" | "length" | "siblings"
      ];
      throw new Error(`--constraints: the search strategy that ${flag} chooses does not support constraints (only beam search does)`);
    }
    // (fairseq: torch's topk fails with "selected index k out of range")
    if (this.strategy === "siblings" && 2 * this.beam > vocabSize)
      throw new Error(
        `--diversity-rate: DiverseSiblingsSearch takes each hypothesis' top 2 x beam tokens: beam ${this.beam} needs ${2 * this.beam} symbols, the vocabulary has ${vocabSize}`,
      );
    if (!Number.isInteger(o.noRepeatNgramSize) || o.noRepeatNgramSize < 0)
      throw new Error(`--no-repeat-ngram-size must be a non-negative integer, got ${o.noRepeatNgramSize}`);
    if (!this.o.sampling && this.o.diverseBeamGroups > 0 && this.beam % this.o.diverseBeamGroups !== 0) {
      throw new Error(
        `--diverse-beam-groups ${this.o.diverseBeamGroups}: DiverseBeamSearch requires --beam (${this.beam}) to be divisible by the number of groups`,
      );
    }
  }

  /**
   * Generate for a batch: srcTokens B x S (left-padded), srcLengths B. Returns, per input row,
   * hypotheses sorted by score (best first), at most `nbest`.
   * `prefixTokens` (fairseq's `--prefix-size`: the first tokens of each target, pad where a row has
   * fewer) forces every hypothesis to begin with them; min length does not apply while forcing.
   * `constraints` (with the `constraints` option): per row, the token sequences every hypothesis must contain
   * (fairseq's unpacked constraints; none given: no row has any). If no hypothesis of a row meets them within
   * the maximum length, generate throws (fairseq stops on an assertion).
   */
  generate(
    srcTokens: tf.Tensor2D,
    srcLengths: tf.Tensor1D,
    prefixTokens: readonly Int32Array[] | null = null,
    constraints: readonly (readonly Constraint[])[] | null = null,
  ): Hypothesis[][] {
    const { pad, eos, unk } = this.specials;
    const V = this.vocabSize;
    const beam = this.beam;
    const model = this.ensemble;
    model.eval();
    let bsz = srcTokens.shape[0];
    const srcLen = srcTokens.shape[1];
    const srcArr = srcTokens.dataSync();
    const srcNonSpecial = Array.from({ length: bsz }, (_, b) => {
      let n = 0;
      for (let j = 0; j < srcLen; j++) {
        const t = srcArr[b * srcLen + j]!;
        if (t !== eos && t !== pad) n++;
      }
      return n;
    });
    const maxLen = this.o.matchSourceLen
      ? Math.max(...srcNonSpecial)
      : Math.min(Math.floor(this.o.maxLenA * srcLen + this.o.maxLenB), model.maxDecoderPositions() - 1);
    if (this.o.minLen > maxLen) {
      throw new Error(
        `--min-len ${this.o.minLen} cannot be larger than the maximum length ${maxLen} (from --max-len-a/--max-len-b and the model's max positions), please adjust these!`,
      );
    }

    // per batch row and beam: the hypothesis' constraint state (fairseq's search.init_constraints); checked before any tensor is made
    const constrained = this.strategy === "constrained";
    if (constraints !== null && !constrained)
      throw new Error("constraints were given, but the generator was built without the constraints option (--constraints ordered|unordered)");
    if (constraints !== null && constraints.length !== bsz) throw new Error(`constraints: ${constraints.length} rows for a batch of ${bsz}`);
    let constraintStates: ConstraintState[][] = constrained
      ? Array.from({ length: bsz }, (_, b) => {
          let state: ConstraintState;
          try {
            state = createConstraintState(this.o.constraints!, constraints?.[b] ?? []);
          } catch (err) {
            throw new Error(`constraints of batch row ${b}: ${(err as Error).message}`);
          }
          return new Array<ConstraintState>(beam).fill(state);
        })
      : [];
    let candStates: ConstraintState[][] = [];
    if (prefixTokens && prefixTokens.length !== bsz) throw new Error(`prefix tokens: ${prefixTokens.length} rows for a batch of ${bsz}`);

    // (before any tensor is made: its checks throw)
    const lm = this.o.lmModel ? new LanguageModelFusion(this.o.lmModel, this.o.lmWeight, V) : null;
    const beamOrder = tf.tensor1d(
      Array.from({ length: bsz * beam }, (_, i) => Math.floor(i / beam)),
      "int32",
    );
    let enc: EncoderOut[];
    try {
      enc = model.forwardEncoder(srcTokens, srcLengths, beamOrder);
    } finally {
      beamOrder.dispose();
    }
    // one incremental state per model; the language model of shallow fusion keeps its own
    const state = model.newIncrementalStates();
    // Per row (bsz*beam): token history (starting with eos) and cumulative scores per step.
    let tokens: number[][] = Array.from({ length: bsz * beam }, () => [eos]);
    let scores: number[][] = Array.from({ length: bsz * beam }, () => []);
    // Per row: the attention of every step so far (only with retainAttention).
    const retain = this.o.retainAttention;
    let attnHist: Float32Array[][] = Array.from({ length: bsz * beam }, () => []);
    const finalized: Hypothesis[][] = Array.from({ length: bsz }, () => []);
    const finished = new Array<boolean>(bsz).fill(false);
    let numRemaining = bsz;
    let origIdx = Array.from({ length: bsz }, (_, i) => i); // current batch row -> original sentence
    const prefixLen = prefixTokens ? Math.max(0, ...prefixTokens.map((p) => p.length)) : 0;
    let srcLens = [...srcNonSpecial];
    let candsToIgnore: boolean[][] = Array.from({ length: bsz }, () => new Array<boolean>(beam).fill(false));
    let reorder: number[] | null = null;
    let batchIdxs: number[] | null = null;
    const cand = 2 * beam;

    try {
      for (let step = 0; step <= maxLen; step++) {
        if (reorder !== null) {
          let order = reorder;
          if (batchIdxs !== null) {
            // account for removed sentences: beam rows of kept sentence k moved from batchIdxs[k]
            const corr = batchIdxs.map((b, k) => b - k);
            order = order.map((r, i) => r + corr[Math.floor(i / beam)]! * beam);
          }
          const ot = tf.tensor1d(order, "int32");
          model.reorderIncrementalState(state, ot);
          lm?.reorder(ot);
          // Every beam of a sentence has the same encoder output: only a shrinking batch changes it.
          if (batchIdxs !== null) enc = model.reorderEncoderOut(enc, ot);
          ot.dispose();
        }
        const rows = tokens.length;
        const prevTensor = tf.tensor2d(tokens.flat(), [rows, step + 1], "int32");
        // lprobs for the last step, masked as fairseq does, plus cumulative scores; then top-2·beam per sentence.
        let lprobs: tf.Tensor2D;
        let stepAttn: Float32Array | null;
        try {
          ({ lprobs, attn: stepAttn } = model.forwardDecoder(prevTensor, enc, state, this.o.temperature, retain, V));
          if (lm) {
            // fairseq: lprobs += lm_weight * the LM's log-probs, before the NaN, pad, unk and length masks
            const translation = lprobs;
            try {
              const fused = lm.step(prevTensor);
              lprobs = tf.add(translation, fused);
              fused.dispose();
            } finally {
              translation.dispose();
            }
          }
        } finally {
          prevTensor.dispose();
        }
        /** The step's candidates per sentence: scores and flat indices (beam · V + token), k per sentence. */
        const select = (maskNaN: boolean): { cs: Float32Array; ci: Int32Array; k: number } => {
          const lpMasked = tf.tidy(() => {
            // fairseq: lprobs[lprobs != lprobs] = -inf
            let lp: tf.Tensor = maskNaN ? tf.where(tf.isNaN(lprobs), tf.fill(lprobs.shape, -Infinity), lprobs) : lprobs;
            const mask = new Float32Array(V);
            mask[pad] = -Infinity;
            mask[unk]! -= this.o.unkpen;
            const forcing = prefixTokens !== null && step < prefixLen && step < maxLen;
            if (step >= maxLen) {
              for (let v = 0; v < V; v++) if (v !== eos) mask[v] = -Infinity;
            } else if (step < this.o.minLen && !forcing) {
              mask[eos] = -Infinity;
            }
            lp = tf.add(lp, tf.tensor1d(mask));
            if (forcing)
              lp = this.forcePrefix(
                lp as tf.Tensor2D,
                step,
                origIdx.map((o) => prefixTokens![o]!),
                tokens,
                scores,
              );
            if (this.o.noRepeatNgramSize > 0) lp = this.noRepeatNgram(lp as tf.Tensor2D, tokens, step);
            // fairseq's search.step comes after the generator's masks: LengthConstrainedBeamSearch's eos rule
            if (this.o.matchSourceLen) lp = this.constrainLengthToSource(lp as tf.Tensor2D, step, srcLens);
            return lp as tf.Tensor2D;
          });
          try {
            if (this.o.sampling) {
              const [values, indices] = tf.tidy(() => this.sample(lpMasked, step, bsz, scores));
              const out = { cs: values.dataSync() as Float32Array, ci: indices.dataSync() as Int32Array, k: values.shape[1]! };
              tf.dispose([values, indices]);
              return out;
            }
            if (constrained) {
              const r = constrainedStep(lpMasked, step, bsz, beam, eos, scores, constraintStates);
              candStates = r.states;
              return r;
            }
            // fairseq's DiverseSiblingsSearch takes a plain beam search step at step 0
            if (this.strategy === "siblings" && step > 0) return siblingsStep(lpMasked, step, bsz, beam, this.o.diversityRate, scores);
            const groups = this.o.diverseBeamGroups > 0 ? this.o.diverseBeamGroups : 1;
            return groups > 1 ? this.diverseStep(lpMasked, step, bsz, groups, scores) : this.beamStep(lpMasked, step, bsz, beam, 1, 0, scores, null);
          } finally {
            lpMasked.dispose();
          }
        };
        let cs: Float32Array;
        let ci: Int32Array;
        let k: number;
        try {
          // A NaN log-prob would rank first in topk (cpu, wasm and the native kernel all put NaN on
          // top, as torch.topk does), so a NaN-free candidate list proves no row needed masking; only
          // then is the isNaN + where pass over [rows, V] paid. Sampling draws from every row: mask first.
          ({ cs, ci, k } = select(this.o.sampling));
          if (!this.o.sampling && cs.some(Number.isNaN)) ({ cs, ci, k } = select(true));
        } finally {
          lprobs.dispose();
        }
        const attnOf = (row: number): Float32Array[] => {
          if (!retain || !stepAttn) return attnHist[row]!;
          const a = stepAttn as Float32Array;
          return [...attnHist[row]!, a.slice(row * srcLen, (row + 1) * srcLen)];
        };
        // per sentence: candidate (score, token, beam)
        const cScore: number[][] = [];
        const cTok: number[][] = [];
        const cBeam: number[][] = [];
        for (let b = 0; b < bsz; b++) {
          cScore.push([]);
          cTok.push([]);
          cBeam.push([]);
          for (let j = 0; j < k; j++) {
            const flat = ci[b * k + j]!;
            cScore[b]!.push(cs[b * k + j]!);
            cTok[b]!.push(flat % V);
            cBeam[b]!.push(Math.floor(flat / V));
          }
        }
        // eos among the top `beam` candidates (not ignored, finite) finalise hypotheses
        const eosMask: boolean[][] = cTok.map((toks, b) => toks.map((t, j) => t === eos && cScore[b]![j] !== -Infinity && !(j < beam && candsToIgnore[b]![j])));
        const sentsSeen: number[] = [];
        for (let b = 0; b < bsz; b++) {
          for (let j = 0; j < beam && j < k; j++) {
            if (!eosMask[b]![j]) continue;
            const row = b * beam + cBeam[b]![j]!;
            const sent = origIdx[b]!;
            if (!sentsSeen.includes(b)) sentsSeen.push(b);
            let score = cScore[b]![j]!;
            const hypTokens = Int32Array.from([...tokens[row]!.slice(1, step + 1), eos]);
            const cum = [...scores[row]!.slice(0, step), score];
            const pos = new Float32Array(step + 1);
            for (let t = 0; t <= step; t++) pos[t] = Math.fround(cum[t]! - (t > 0 ? cum[t - 1]! : 0));
            // float32 division, as PyTorch does for a float tensor and a Python scalar
            if (this.o.normalizeScores) score = Math.fround(score / Math.fround((step + 1) ** this.o.lenpen));
            if (this.o.matchSourceLen && step > srcLens[b]!) score = -Infinity;
            if (finalized[sent]!.length < beam) {
              const h: Hypothesis = { tokens: hypTokens, score, positionalScores: pos };
              if (retain) h.attention = attnOf(row);
              finalized[sent]!.push(h);
            }
          }
        }
        const newlyFinished: number[] = [];
        for (const b of sentsSeen) {
          const sent = origIdx[b]!;
          if (!finished[sent] && (finalized[sent]!.length === beam || step === maxLen)) {
            finished[sent] = true;
            newlyFinished.push(b);
          }
        }
        numRemaining -= newlyFinished.length;
        if (numRemaining === 0) break;
        if (step >= maxLen) break;
        // drop finished sentences from the batch
        let keep = Array.from({ length: bsz }, (_, b) => b);
        if (newlyFinished.length > 0) {
          keep = keep.filter((b) => !newlyFinished.includes(b));
          batchIdxs = keep;
        } else {
          batchIdxs = null;
        }
        const newTokens: number[][] = [];
        const newScores: number[][] = [];
        const newIgnore: boolean[][] = [];
        const newAttn: Float32Array[][] = [];
        const newStates: ConstraintState[][] = [];
        const nextReorder: number[] = [];
        keep.forEach((b, nb) => {
          // active candidates: the first `beam` that are not eos-finalised (nor ignored)
          const active: number[] = [];
          const ignore: boolean[] = [];
          const order = Array.from({ length: k }, (_, j) => j);
          const isInactive = (j: number) => (j < beam ? eosMask[b]![j]! || candsToIgnore[b]![j]! : eosMask[b]![j]!);
          const key = order.map((j) => (isInactive(j) ? cand : 0) + j);
          const sorted = order.slice().sort((x, y) => key[x]! - key[y]!);
          for (let i = 0; i < beam; i++) {
            const j = sorted[i]!;
            active.push(j);
            ignore.push(key[j]! >= cand);
          }
          for (const j of active) {
            const srcRow = b * beam + cBeam[b]![j]!;
            newTokens.push([...tokens[srcRow]!.slice(0, step + 1), cTok[b]![j]!]);
            newScores.push([...scores[srcRow]!.slice(0, step), cScore[b]![j]!]);
            nextReorder.push(nb * beam + cBeam[b]![j]!);
            if (retain) newAttn.push(attnOf(srcRow));
          }
          newIgnore.push(ignore);
          // fairseq's search.prune_sentences + update_constraints: the kept candidates' states
          if (constrained) newStates.push(active.map((j) => candStates[b]![j]!));
        });
        // in the new batch's numbering, as fairseq; corrected by batchIdxs at the next step
        reorder = nextReorder;
        tokens = newTokens;
        scores = newScores;
        candsToIgnore = newIgnore;
        attnHist = newAttn;
        constraintStates = newStates;
        origIdx = keep.map((b) => origIdx[b]!);
        srcLens = keep.map((b) => srcLens[b]!);
        bsz = keep.length;
      }
    } finally {
      for (const s of state) disposeIncrementalState(s);
      lm?.dispose();
      for (const e of enc) disposeEncoderOut(e);
    }
    if (constrained) {
      const none = finalized.findIndex((h) => h.length === 0);
      if (none >= 0)
        throw new Error(
          `--constraints: no hypothesis of batch row ${none} contains all its constraints within the maximum length ${maxLen} (fairseq stops on an assertion here); raise --max-len-a/--max-len-b`,
        );
    }
    const best = finalized.map((hyps) =>
      hyps
        .map((h, i) => [h, i] as const)
        .sort((a, b) => b[0].score - a[0].score || a[1] - b[1])
        .slice(0, this.o.nbest)
        .map(([h]) => h),
    );
    if (retain) realignFullContext(model.models, srcTokens, srcLengths, best, eos);
    return best;
  }

  /**
   * fairseq's BeamSearch.step over the rows `offset, offset + stride, ...` of each sentence (`width`
   * rows; all of them unless diverse groups split the beam): cumulative scores added (at step 0 only
   * the first row, all being equal), then the top min(2·width, candidates - 1). `penalty` [bsz, V],
   * if given, is added to every row first. Flat indices come back in the whole beam's numbering.
   */
  private beamStep(
    lp: tf.Tensor2D,
    step: number,
    bsz: number,
    width: number,
    stride: number,
    offset: number,
    scores: number[][],
    penalty: tf.Tensor2D | null,
  ): { cs: Float32Array; ci: Int32Array; k: number } {
    const V = this.vocabSize;
    const beam = this.beam;
    const [values, indices] = tf.tidy(() => {
      const rows = step === 0 ? 1 : width;
      const rowIds = Int32Array.from({ length: bsz * rows }, (_, i) => Math.floor(i / rows) * beam + offset + (i % rows) * stride);
      let x: tf.Tensor = stride === 1 && rows === beam ? lp : tf.gather(lp, tf.tensor1d(rowIds, "int32"));
      x = tf.reshape(x, [bsz, rows, V]);
      if (penalty) x = tf.add(x, tf.reshape(penalty, [bsz, 1, V]));
      if (step > 0)
        x = tf.add(
          x,
          tf.tensor3d(
            Float32Array.from(rowIds, (r) => scores[r]![step - 1]!),
            [bsz, rows, 1],
          ),
        );
      const top = tf.topk(tf.reshape(x, [bsz, rows * V]), Math.min(2 * width, rows * V - 1));
      return [top.values, top.indices];
    });
    const cs = values.dataSync() as Float32Array;
    const ci = indices.dataSync() as Int32Array;
    const k = values.shape[1]!;
    tf.dispose([values, indices]);
    // group-local beam j is global beam offset + j·stride
    if (stride !== 1) for (let i = 0; i < ci.length; i++) ci[i] = (offset + Math.floor(ci[i]! / V) * stride) * V + (ci[i]! % V);
    return { cs, ci, k };
  }

  /**
   * fairseq's DiverseBeamSearch.step: group g holds beams g, g + G, ...; it is searched like a beam
   * of beam/G after subtracting strength × (how many candidates of earlier groups chose each token at
   * this step); candidates are interleaved (candidate 0 of every group, then candidate 1, ...).
   */
  private diverseStep(lp: tf.Tensor2D, step: number, bsz: number, groups: number, scores: number[][]): { cs: Float32Array; ci: Int32Array; k: number } {
    const V = this.vocabSize;
    const width = this.beam / groups;
    const counts = new Float32Array(bsz * V);
    const perGroup: { cs: Float32Array; ci: Int32Array; k: number }[] = [];
    for (let g = 0; g < groups; g++) {
      const penalty =
        g > 0
          ? tf.tensor2d(
              counts.map((c) => -this.o.diverseBeamStrength * c),
              [bsz, V],
            )
          : null;
      try {
        const r = this.beamStep(lp, step, bsz, width, groups, g, scores, penalty);
        perGroup.push(r);
        for (let b = 0; b < bsz; b++) for (let j = 0; j < r.k; j++) counts[b * V + (r.ci[b * r.k + j]! % V)]! += 1;
      } finally {
        penalty?.dispose();
      }
    }
    const kg = perGroup[0]!.k;
    const k = kg * groups;
    const cs = new Float32Array(bsz * k);
    const ci = new Int32Array(bsz * k);
    for (let b = 0; b < bsz; b++)
      for (let j = 0; j < kg; j++)
        for (let g = 0; g < groups; g++) {
          cs[b * k + j * groups + g] = perGroup[g]!.cs[b * kg + j]!;
          ci[b * k + j * groups + g] = perGroup[g]!.ci[b * kg + j]!;
        }
    return { cs, ci, k };
  }

  /**
   * fairseq's `_prefix_tokens`: in rows whose prefix has a token at this step (not pad), every other
   * token gets -inf. A forced eos ends the hypothesis: the sentence's first beam (the only finite one)
   * is copied to all its beams so that `beam` identical hypotheses finish together, as in fairseq.
   */
  private forcePrefix(lp: tf.Tensor2D, step: number, prefix: Int32Array[], tokens: number[][], scores: number[][]): tf.Tensor2D {
    const { pad, eos } = this.specials;
    const beam = this.beam;
    const V = this.vocabSize;
    const rows = lp.shape[0];
    const keep = new Float32Array(rows * V);
    const gatherIdx = Int32Array.from({ length: rows }, (_, r) => r);
    let copied = false;
    prefix.forEach((p, b) => {
      const t = step < p.length ? p[step]! : pad;
      for (let j = 0; j < beam; j++) {
        const row = b * beam + j;
        if (t === pad) keep.fill(0, row * V, (row + 1) * V);
        else {
          keep.fill(-Infinity, row * V, (row + 1) * V);
          keep[row * V + t] = 0;
        }
        if (t === eos && j > 0) {
          gatherIdx[row] = b * beam;
          tokens[row] = [...tokens[b * beam]!];
          scores[row] = [...scores[b * beam]!];
          copied = true;
        }
      }
    });
    let out: tf.Tensor2D = lp;
    if (copied) out = tf.gather(out, tf.tensor1d(gatherIdx, "int32"));
    return tf.add(out, tf.tensor2d(keep, [rows, V]));
  }

  private draws = 0;

  /**
   * fairseq's `Sampling` search step: each beam draws its next token (at step 0, `beam` draws with
   * replacement from the first beam), from the whole distribution, the top k, or the top-p nucleus.
   * Returns [scores, flat indices] shaped like beam search's top-k output (index = beam·V + token).
   */
  private sample(lp: tf.Tensor2D, step: number, bsz: number, scores: number[][]): [tf.Tensor, tf.Tensor] {
    const beam = this.beam;
    const V = this.vocabSize;
    const rows =
      step === 0
        ? tf.gather(
            lp,
            tf.tensor1d(
              Array.from({ length: bsz }, (_, b) => b * beam),
              "int32",
            ),
          )
        : lp;
    const draws = step === 0 ? beam : 1;
    let logits: tf.Tensor2D = rows as tf.Tensor2D;
    let map: tf.Tensor2D | null = null;
    if (this.o.samplingTopp > 0) {
      const sorted = tf.topk(rows, V);
      const probs = tf.exp(sorted.values);
      const cum = tf.cumsum(probs, 1);
      // keep the smallest prefix whose mass reaches p: the words with cumsum < p, plus one more
      const below = tf.less(cum, this.o.samplingTopp);
      // one more word so the kept mass reaches p: the first position not below p (clamped to V-1)
      const count = tf.minimum(tf.sum(tf.cast(below, "int32"), 1, true), tf.scalar(V - 1, "int32"));
      const allowed = tf.logicalOr(below, tf.equal(tf.range(0, V, 1, "int32"), count));
      logits = tf.where(allowed, sorted.values, tf.fill(sorted.values.shape, -Infinity)) as tf.Tensor2D;
      map = sorted.indices as tf.Tensor2D;
    } else if (this.o.samplingTopk > 0) {
      const top = tf.topk(rows, this.o.samplingTopk);
      logits = top.values as tf.Tensor2D;
      map = top.indices as tf.Tensor2D;
    }
    // multinomial over log-probs: softmax(lp) restricted to the allowed set, as torch.multinomial on probs
    const n = logits.shape[0];
    // (tfjs's multinomial needs two outcomes; with one, e.g. --sampling-topk 1, the draw is certain)
    const picked =
      logits.shape[1] === 1 ? tf.zeros([n, draws], "int32") : (tf.multinomial(logits, draws, this.o.seed * 7919 + this.draws++, false) as tf.Tensor2D);
    const pickedFlat = tf.reshape(picked, [-1]);
    const rowIdx = tf.reshape(tf.tile(tf.reshape(tf.range(0, n, 1, "int32"), [n, 1]), [1, draws]), [-1]);
    const width = logits.shape[1];
    const gatherAt = tf.add(tf.mul(rowIdx, tf.scalar(width, "int32")), pickedFlat);
    const tokens = map ? tf.gather(tf.reshape(map, [-1]), gatherAt) : pickedFlat;
    // the score of the drawn token is its log-prob (not renormalised), plus the beam's cumulative score
    const lpRows = tf.gather(tf.reshape(rows, [-1]), tf.add(tf.mul(rowIdx, tf.scalar(V, "int32")), tokens));
    const cum = step === 0 ? tf.zeros([n * draws]) : tf.tensor1d(scores.map((s) => s[step - 1]!));
    const total = tf.reshape(tf.add(lpRows, cum), [bsz, beam]);
    const beams = step === 0 ? tf.zeros([bsz, beam], "int32") : tf.tile(tf.reshape(tf.range(0, beam, 1, "int32"), [1, beam]), [bsz, 1]);
    const flat = tf.add(tf.mul(beams, tf.scalar(V, "int32")), tf.reshape(tokens, [bsz, beam]));
    return [total, flat];
  }

  /**
   * fairseq's LengthConstrainedBeamSearch as `--match-source-len` builds it (min_len_a = max_len_a = 1,
   * min_len_b = max_len_b = 0): in the rows of a sentence whose source has `srcLen` tokens (eos and pad not
   * counted), eos is banned while step < srcLen and its log-prob is *set* to 0 from step srcLen on. So eos
   * costs nothing when the hypothesis has the source's length (the final eos's positional score is 0), and
   * `generate` gives any hypothesis that goes on past it the score -inf when it finishes.
   */
  private constrainLengthToSource(lp: tf.Tensor2D, step: number, srcLens: readonly number[]): tf.Tensor2D {
    const { eos } = this.specials;
    const rows = lp.shape[0];
    const V = this.vocabSize;
    const eosValue = Float32Array.from({ length: rows }, (_, r) => (step < srcLens[Math.floor(r / this.beam)]! ? -Infinity : 0));
    // the eos column replaced by slicing around it (a [rows, V] select per step was the slow part of --match-source-len)
    const parts: tf.Tensor2D[] = [];
    if (eos > 0) parts.push(tf.slice(lp, [0, 0], [rows, eos]));
    parts.push(tf.tensor2d(eosValue, [rows, 1]));
    if (eos + 1 < V) parts.push(tf.slice(lp, [0, eos + 1], [rows, V - eos - 1]));
    return tf.concat(parts, 1);
  }

  /**
   * fairseq's _no_repeat_ngram: from step n - 2 on, in each row (hypothesis) separately, ban every token that
   * followed the row's last n - 1 tokens earlier in that row (its history starts with the bos eos), so that no
   * n-gram occurs twice. (fairseq also scans the pad-filled rest of its token buffer, which can only ban pad.)
   */
  private noRepeatNgram(lp: tf.Tensor2D, tokens: number[][], step: number): tf.Tensor2D {
    const n = this.o.noRepeatNgramSize;
    if (step + 2 - n < 0) return lp;
    const V = this.vocabSize;
    const banned: number[] = [];
    tokens.forEach((toks, row) => {
      const gens = new Map<string, number[]>();
      for (let i = 0; i + n <= toks.length; i++) {
        const key = toks.slice(i, i + n - 1).join(",");
        const list = gens.get(key) ?? [];
        list.push(toks[i + n - 1]!);
        gens.set(key, list);
      }
      const cur = toks.slice(step + 2 - n, step + 1).join(",");
      for (const t of gens.get(cur) ?? []) banned.push(row * V + t);
    });
    if (banned.length === 0) return lp;
    const m = new Float32Array(lp.shape[0] * V);
    for (const i of banned) m[i] = -Infinity;
    return tf.add(lp, tf.tensor2d(m, lp.shape)) as tf.Tensor2D;
  }
}
