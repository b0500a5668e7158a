import { nodeBuiltin } from "@fairseq-ts/runtime";
import type { IntMatrix, Sample } from "@fairseq-ts/data";
import { Dictionary } from "@fairseq-ts/dictionary";
import {
  BARTModel,
  disposeTensorSample,
  loadModelCheckpoint,
  openCheckpointFile,
  sampleToTensors,
  type ByteSource,
  type EncoderDecoderModel,
  type FileSource,
} from "@fairseq-ts/models";
import * as tf from "@tensorflow/tfjs-core";
import { SequenceGenerator, type GeneratorOptions, type Hypothesis } from "./sequence-generator.js";
import { generateInChunks, type ChunkOptions } from "./chunked-generation.js";
import type { Constraint } from "./constraints.js";
import { EnsembleModel, splitPaths } from "./ensemble.js";
import { SequenceScorer } from "./sequence-scorer.js";
import { buildBpe, buildTokenizer, type Encoder, type EncoderOptions } from "@fairseq-ts/tokenizers";

/** Raw text <-> model text: fairseq's `--tokenizer` then `--bpe` on the way in, reversed on the way out. */
export interface TextPipeline {
  tokenizer?: Encoder | null;
  bpe?: Encoder | null;
}

/** Build a TextPipeline from fairseq's flag values (camelCase): `{ tokenizer: "moses", bpe: "subword_nmt", bpeCodes }`. */
export function textPipeline(o: { tokenizer?: string; bpe?: string } & EncoderOptions): TextPipeline {
  return {
    tokenizer: typeof o.tokenizer === "string" ? buildTokenizer(o.tokenizer, o) : null,
    bpe: typeof o.bpe === "string" ? buildBpe(o.bpe, o) : null,
  };
}

/**
 * Sequences as one padded matrix, as fairseq's collate_tokens lays them out: right- or left-aligned,
 * with `eosFirst` the last token moved to the front (prev_output_tokens). The data package's collater
 * does this for datasets; the hub batches sentences it was handed and must stay free of Node modules.
 */
function padded(seqs: readonly Int32Array[], pad: number, leftPad: boolean, eosFirst: number | null = null): IntMatrix {
  const cols = Math.max(...seqs.map((t) => t.length));
  const data = new Int32Array(seqs.length * cols).fill(pad);
  seqs.forEach((t, r) => {
    const at = r * cols + (leftPad ? cols - t.length : 0);
    if (eosFirst === null) data.set(t, at);
    else {
      data[at] = eosFirst;
      data.set(t.subarray(0, t.length - 1), at + 1);
    }
  });
  return { data, rows: seqs.length, cols };
}

/**
 * What fairseq-interactive does with one batch of encoded source lines (and what `serve` does with each batch it
 * forms): left-pad them into one matrix, generate (in row chunks when `chunking` says so), dispose the tensors on
 * every path. Returns the hypotheses per line and the padded source matrix (for alignments).
 */
export function generateForSources(
  generator: SequenceGenerator,
  sources: readonly Int32Array[],
  padIdx: number,
  chunking: ChunkOptions,
  constraints: readonly (readonly Constraint[])[] | null = null,
): { hypotheses: Hypothesis[][]; srcTokens: IntMatrix } {
  const m = padded(sources, padIdx, true);
  const srcT = tf.tensor2d(m.data, [m.rows, m.cols], "int32");
  const lens = tf.tensor1d(
    sources.map((x) => x.length),
    "int32",
  );
  try {
    return { hypotheses: generateInChunks(generator, srcT, lens, null, chunking, constraints), srcTokens: m };
  } finally {
    // also when generation throws (e.g. --min-len above the maximum length)
    tf.dispose([srcT, lens]);
  }
}

/** fairseq's size limits for inference (`--max-source-positions`, `--max-target-positions`, `--skip-invalid-size-inputs-valid-test`). */
export interface InferenceSizeOptions {
  /** The task's source limit (fairseq's default 1024); the model's own limit applies too. */
  maxSourcePositions?: number;
  maxTargetPositions?: number;
  /** Skip (with `warn`) the sentences that do not fit instead of stopping. */
  skipInvalidSizeInputsValidTest?: boolean;
  /** Receives fairseq's "N samples have invalid sizes and will be skipped, ..." warning. */
  warn?: ((message: string) => void) | null;
}

/**
 * fairseq-interactive's (and the hub's) size check on encoded sources (eos included; no target, so its size is
 * 0): max positions are `resolve_max_positions((maxSourcePositions, maxTargetPositions), model)`. Returns the
 * indices of the sentences to translate; throws `InvalidSizeError` with fairseq's message for the first one
 * that does not fit unless `skipInvalidSizeInputsValidTest`.
 */
export function inferenceSizeCheck(
  tokens: readonly Int32Array[],
  modelMaxPositions: number | readonly [number, number] | null,
  o: InferenceSizeOptions = {},
): number[] {
  // (the same rule and messages as @fairseq-ts/data's resolveMaxPositions / reportInvalidSizes, restated here
  // because this package bundles for browsers and data's indexed datasets import node:fs)
  const m =
    modelMaxPositions == null ? [Infinity, Infinity] : typeof modelMaxPositions === "number" ? [modelMaxPositions, modelMaxPositions] : modelMaxPositions;
  const maxSrc = Math.min(o.maxSourcePositions ?? 1024, m[0]!);
  const maxTgt = Math.min(o.maxTargetPositions ?? 1024, m[1]!);
  const kept: number[] = [];
  const ignored: number[] = [];
  tokens.forEach((t, i) => (t.length > maxSrc ? ignored : kept).push(i));
  if (ignored.length > 0) {
    if (!o.skipInvalidSizeInputsValidTest) {
      const i = ignored[0]!;
      throw new InvalidInputSizeError(
        `Size of sample #${i} is invalid (=(${tokens[i]!.length}, 0)) since max_positions=(${maxSrc}, ${maxTgt}), skip this example with --skip-invalid-size-inputs-valid-test`,
      );
    }
    o.warn?.(
      `${ignored.length} samples have invalid sizes and will be skipped, max_positions=(${maxSrc}, ${maxTgt}), first few sample ids=[${ignored.slice(0, 10).join(", ")}]`,
    );
  }
  return kept;
}

/** A source that exceeds max positions (fairseq's "Size of sample #N is invalid"). */
export class InvalidInputSizeError extends Error {
  override name = "InvalidSizeError";
}

/**
 * A translation model with its dictionaries: fairseq's hub interface (`from_pretrained`). Given several
 * models (an ensemble, fairseq's `checkpoint_file='a.pt:b.pt'`), it decodes and scores with all of them.
 */
export class Translator {
  /** The model(s): one model is an ensemble of one. */
  readonly ensemble: EnsembleModel;

  constructor(
    model: EncoderDecoderModel | readonly EncoderDecoderModel[] | EnsembleModel,
    readonly srcDict: Dictionary,
    readonly tgtDict: Dictionary,
    readonly options: GeneratorOptions = {},
    readonly text: TextPipeline = {},
  ) {
    this.ensemble = model instanceof EnsembleModel ? model : new EnsembleModel(model);
  }

  /** The first model (the only one unless this is an ensemble). */
  get model(): EncoderDecoderModel {
    return this.ensemble.first;
  }

  /** fairseq hub's encode side: tokenize, apply BPE (identity without them). */
  encodeText(line: string): string {
    let x = line;
    if (this.text.tokenizer) x = this.text.tokenizer.encode(x);
    if (this.text.bpe) x = this.text.bpe.encode(x);
    return x;
  }

  /** fairseq hub's decode side: remove BPE, detokenize. */
  decodeText(line: string): string {
    let x = line;
    if (this.text.bpe) x = this.text.bpe.decode(x);
    if (this.text.tokenizer) x = this.text.tokenizer.decode(x);
    return x;
  }

  protected generator(options: GeneratorOptions): SequenceGenerator {
    const t = this.tgtDict;
    return new SequenceGenerator(this.ensemble, { pad: t.pad(), eos: t.eos(), unk: t.unk() }, t.length, { ...this.options, ...options });
  }

  /** Sentences as a collated sample in fairseq's translation layout: left-padded sources, right-padded targets. */
  protected collate(sources: readonly Int32Array[], targets: readonly Int32Array[] | null): Sample {
    const t = this.tgtDict;
    return {
      id: Int32Array.from(sources, (_, i) => i),
      nsentences: sources.length,
      ntokens: (targets ?? sources).reduce((n, x) => n + x.length, 0),
      netInput: {
        srcTokens: padded(sources, this.srcDict.pad(), true),
        srcLengths: Int32Array.from(sources, (x) => x.length),
        prevOutputTokens: targets ? padded(targets, t.pad(), false, t.eos()) : null,
      },
      target: targets ? padded(targets, t.pad(), false) : null,
    };
  }

  /**
   * Token ids in, hypotheses out (best first per sentence). As fairseq's hub and interactive: a source longer
   * than max positions (the smaller of `maxSourcePositions`, default 1024, and the model's) stops with
   * fairseq's "Size of sample #N is invalid ..." unless `skipInvalidSizeInputsValidTest`, which leaves that
   * sentence without hypotheses.
   */
  generate(tokens: Int32Array[], options: GeneratorOptions & InferenceSizeOptions = {}): Hypothesis[][] {
    return this.generateWithPrefix(tokens, null, options);
  }

  /** `generate` with fairseq's `prefix_tokens`: each target starts with its row of `prefixes` (forced). */
  protected generateWithPrefix(tokens: Int32Array[], prefixes: Int32Array[] | null, options: GeneratorOptions & InferenceSizeOptions): Hypothesis[][] {
    const o = { ...this.options, ...options };
    const kept = inferenceSizeCheck(tokens, this.ensemble.maxPositions(), o);
    if (kept.length < tokens.length) {
      const out: Hypothesis[][] = tokens.map(() => []);
      if (kept.length > 0)
        this.generateWithPrefix(
          kept.map((i) => tokens[i]!),
          prefixes && kept.map((i) => prefixes[i]!),
          { ...options, skipInvalidSizeInputsValidTest: false },
        ).forEach((h, k) => (out[kept[k]!] = h));
      return out;
    }
    const ts = sampleToTensors(this.collate(tokens, null));
    try {
      return this.generator(options).generate(ts.netInput.srcTokens, ts.netInput.srcLengths, prefixes);
    } finally {
      disposeTensorSample(ts);
    }
  }

  /** Translate text: raw when the Translator has a tokenizer/BPE, else tokenized as the dictionaries expect. */
  translate(text: string, options?: GeneratorOptions): string;
  translate(text: string[], options?: GeneratorOptions): string[];
  translate(text: string | string[], options: GeneratorOptions = {}): string | string[] {
    const lines = Array.isArray(text) ? text : [text];
    const hyps = this.generate(
      lines.map((l) => this.srcDict.encodeLine(this.encodeText(l), { addIfNotExist: false })),
      options,
    );
    // (a sentence skipped for its size has no hypothesis: its translation is empty)
    const out = hyps.map((h) => (h[0] ? this.decodeText(this.tgtDict.string(h[0].tokens)) : ""));
    return Array.isArray(text) ? out : out[0]!;
  }

  /**
   * Score given translations (teacher forcing, like `generate --score-reference`): per pair, the
   * length-normalised log-probability (natural log) and one log-prob per target token, eos included.
   */
  score(source: string | string[], target: string | string[]): Hypothesis[] {
    const srcs = Array.isArray(source) ? source : [source];
    const tgts = Array.isArray(target) ? target : [target];
    if (srcs.length !== tgts.length) throw new Error(`score: ${srcs.length} sources but ${tgts.length} targets`);
    const s = srcs.map((l) => this.srcDict.encodeLine(this.encodeText(l), { addIfNotExist: false }));
    const t = tgts.map((l) => this.tgtDict.encodeLine(this.encodeText(l), { addIfNotExist: false }));
    const ts = sampleToTensors(this.collate(s, t));
    try {
      return new SequenceScorer(this.ensemble, this.tgtDict.pad())
        .score(ts.netInput.srcTokens, ts.netInput.srcLengths, ts.netInput.prevOutputTokens!, ts.target)
        .map((h) => h[0]!);
    } finally {
      disposeTensorSample(ts);
    }
  }

  /** Sample translations (`--sampling`, optionally top-k / top-p). A BART model's hub does beam search instead ({@link BARTHubInterface}). */
  sample(text: string, options?: GeneratorOptions): string;
  sample(text: string[], options?: GeneratorOptions): string[];
  sample(text: string | string[], options: GeneratorOptions = {}): string | string[] {
    return this.translate(text as string, { beam: 1, ...options, sampling: true });
  }

  dispose(): void {
    this.ensemble.dispose();
  }
}

/**
 * fairseq's BARTHubInterface (`BARTModel.from_pretrained`), what `fromPretrained` returns for a BART checkpoint:
 * sentences are encoded as `<s> bpe(sentence) </s>` with the source dictionary and generated with `<s>` forced as
 * the first output token; `sample` is beam search (fairseq's `bart.sample(texts, beam=4, lenpen=2.0, max_len_b=140,
 * min_len=55, no_repeat_ngram_size=3)` for bart.large.cnn), not `--sampling`.
 */
export class BARTHubInterface extends Translator {
  /** fairseq's `max_positions`: the task's (1024, 1024) resolved with the model's, then the smaller. */
  private get maxPositions(): number {
    const [src, tgt] = this.ensemble.maxPositions();
    return Math.min(1024, src, tgt);
  }

  /** `<s> tokens </s>` (BPE applied when the hub has one; at most max_positions - 2 tokens of it kept). */
  encode(sentence: string): Int32Array {
    let tokens = this.text.bpe ? this.text.bpe.encode(sentence) : sentence.trim().split(/\s+/).join(" ");
    const words = tokens.split(" ");
    if (words.length > this.maxPositions - 2) tokens = words.slice(0, this.maxPositions - 2).join(" ");
    return this.srcDict.encodeLine(`<s> ${tokens} </s>`, { appendEos: false, addIfNotExist: false });
  }

  /** Tokens back to text: without the leading `<s>`, split into sentences at `</s></s>`, BPE undone. */
  decode(tokens: Int32Array): string | string[] {
    const d = this.srcDict;
    const t = tokens[0] === d.bos() ? tokens.subarray(1) : tokens;
    const sentences: Int32Array[] = [];
    let start = 0;
    for (let i = 0; i + 1 < t.length; i++) {
      if (t[i] === d.eos() && t[i + 1] === d.eos()) {
        sentences.push(t.subarray(start, i + 1));
        start = i + 1;
      }
    }
    sentences.push(t.subarray(start));
    const text = sentences.map((s) => (this.text.bpe ? this.text.bpe.decode(d.string(s)) : d.string(s)));
    return text.length === 1 ? text[0]! : text;
  }

  /** fairseq's BART `generate`: the best hypothesis per encoded sentence, `<s>` forced first. */
  generateBest(tokens: Int32Array[], options: GeneratorOptions & InferenceSizeOptions = {}): Hypothesis[] {
    const bos = this.srcDict.bos();
    return this.generateWithPrefix(
      tokens,
      tokens.map(() => Int32Array.of(bos)),
      { beam: 1, ...options },
    ).map((h) => h[0]!);
  }

  /** fairseq's `bart.sample(sentences, beam, **kwargs)`: beam search (beam 1 unless given), decoded text. */
  override sample(text: string, options?: GeneratorOptions): string;
  override sample(text: string[], options?: GeneratorOptions): string[];
  override sample(text: string | string[], options: GeneratorOptions = {}): string | string[] {
    const lines = Array.isArray(text) ? text : [text];
    const out = this.generateBest(
      lines.map((l) => this.encode(l)),
      options,
    ).map((h) => {
      const d = this.decode(h.tokens);
      return Array.isArray(d) ? d.join(" ") : d;
    });
    return Array.isArray(text) ? out : out[0]!;
  }
}

/** Everything `fromPretrained` needs, as bytes/text (for browsers) — Node callers can pass paths instead. */
export interface PretrainedFiles {
  /**
   * One checkpoint, or an ensemble's (decoded together, averaging their probabilities): bytes, or a
   * ByteSource over a file (Node; only the model's weights are read, one at a time).
   */
  checkpoint: Uint8Array | ByteSource | readonly (Uint8Array | ByteSource)[];
  /** What checkpoint errors call the checkpoint(s) (path or URL), one per checkpoint. */
  checkpointSource?: string | readonly string[];
  srcDict: string;
  tgtDict: string;
}

/** Build a Translator from in-memory files (works in a browser: fetch the files, then call this). */
export function translatorFromFiles(files: PretrainedFiles, options: GeneratorOptions = {}, text: TextPipeline = {}): Translator {
  const src = Dictionary.parse(files.srcDict, { source: "source dict" });
  const tgt = Dictionary.parse(files.tgtDict, { source: "target dict" });
  const checkpoints: readonly (Uint8Array | ByteSource)[] = Array.isArray(files.checkpoint)
    ? (files.checkpoint as readonly (Uint8Array | ByteSource)[])
    : [files.checkpoint as Uint8Array | ByteSource];
  const sources = files.checkpointSource === undefined || typeof files.checkpointSource === "string" ? [files.checkpointSource] : files.checkpointSource;
  if (checkpoints.length === 0) throw new Error("fromPretrained: no checkpoint");
  if (checkpoints.length > 1 && sources.length !== checkpoints.length)
    throw new Error(`fromPretrained: ${checkpoints.length} checkpoints but ${sources.length} checkpoint sources`);
  // one after the other, each checked against the same dictionaries (a vocabulary size mismatch names its source)
  const models: EncoderDecoderModel[] = [];
  try {
    checkpoints.forEach((bytes, i) => {
      const source = sources[i];
      const { model } = loadModelCheckpoint(bytes, { srcVocabSize: src.length, tgtVocabSize: tgt.length, padIdx: src.pad() }, source);
      if (model.kind !== "encoder-decoder") {
        model.dispose();
        throw new Error(`fromPretrained: ${source ?? `checkpoint ${i + 1}`} is not a translation model`);
      }
      models.push(model as EncoderDecoderModel);
    });
  } catch (err) {
    for (const m of models) m.dispose();
    throw err;
  }
  const names = checkpoints.map((_, i) => sources[i] ?? `checkpoint ${i + 1}`);
  const ensemble = new EnsembleModel(models, names);
  const bart = models.filter((m) => m instanceof BARTModel).length;
  if (bart > 0 && bart < models.length) {
    ensemble.dispose();
    throw new Error(`fromPretrained: ${names.join(", ")}: BART and non-BART models cannot be decoded together`);
  }
  return bart > 0 ? new BARTHubInterface(ensemble, src, tgt, options, text) : new Translator(ensemble, src, tgt, options, text);
}

/**
 * fairseq's `from_pretrained` (Node): a checkpoint (fairseq `.pt` or fairseq-ts `.safetensors`) and the
 * data directory holding `dict.{src}.txt` and `dict.{tgt}.txt` (languages inferred when there are two).
 * `tokenizer` / `bpe` (+ their options, e.g. `bpeCodes`, `sentencepieceModel`) make `translate` take
 * and return raw text, as fairseq's hub does. Several checkpoints (an array, or one string separated by ':' as
 * fairseq's `checkpoint_file='a.pt:b.pt'`) make an ensemble.
 */
export async function fromPretrained(
  checkpoint: string | readonly string[],
  o: { dataDir: string; sourceLang?: string; targetLang?: string; tokenizer?: string; bpe?: string } & GeneratorOptions & EncoderOptions,
): Promise<Translator> {
  const { readFile, readdir } = await nodeBuiltin<typeof import("node:fs/promises")>("node:fs/promises", "fromPretrained");
  // eslint-disable-next-line @typescript-eslint/unbound-method -- node:path's functions do not use `this`
  const { join } = await nodeBuiltin<typeof import("node:path")>("node:path", "fromPretrained");
  let { sourceLang, targetLang } = o;
  let dicts: [string, string] | null = null;
  if (!sourceLang || !targetLang) {
    const files = await readdir(o.dataDir);
    const m = files.map((f) => /^(?:train|valid|test)\.([^.-]+)-([^.-]+)\./.exec(f)).find(Boolean);
    // a model directory with one dictionary for both sides (a BART model's dict.txt beside model.pt)
    if (!m && files.includes("dict.txt")) dicts = ["dict.txt", "dict.txt"];
    else if (!m) throw new Error(`fromPretrained: cannot infer languages in ${o.dataDir}; pass sourceLang and targetLang`);
    else {
      sourceLang ??= m[1]!;
      targetLang ??= m[2]!;
    }
  }
  dicts ??= [`dict.${sourceLang}.txt`, `dict.${targetLang}.txt`];
  const paths = typeof checkpoint === "string" ? splitPaths(checkpoint, "fromPretrained:") : [...checkpoint];
  const [sd, td] = await Promise.all([readFile(join(o.dataDir, dicts[0]), "utf8"), readFile(join(o.dataDir, dicts[1]), "utf8")]);
  // positioned reads: a checkpoint over 2 GiB loads, and only its weights are read
  const ck: FileSource[] = [];
  try {
    for (const p of paths) ck.push(await openCheckpointFile(p));
    return translatorFromFiles({ checkpoint: ck, checkpointSource: paths, srcDict: sd, tgtDict: td }, o, textPipeline({ ...o, sourceLang, targetLang }));
  } finally {
    for (const c of ck) c.close();
  }
}
