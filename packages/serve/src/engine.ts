/**
 * One served model: raw text to source token ids and batches of token ids to detokenized hypotheses, the same steps
 * fairseq-interactive takes (`--tokenizer`, `--bpe`, the source dictionary, its size check; the target dictionary's
 * string with `--remove-bpe`, BPE undone, detokenized), through the same {@link generateForSources}.
 */
import type { Dictionary, StringOptions } from "@fairseq-ts/dictionary";
import { generateForSources, inferenceSizeCheck, toBase2, type ChunkOptions, type InferenceSizeOptions, type SequenceGenerator } from "@fairseq-ts/generate";

/** What an engine is built from (the CLI builds these from the `serve` flags, as interactive does). */
export interface EngineParts {
  generator: SequenceGenerator;
  srcDict: Dictionary;
  tgtDict: Dictionary;
  /** fairseq's encode_fn (tokenizer, then BPE) and decode_fn (BPE removed, then detokenized). */
  encode(text: string): string;
  decode(text: string): string;
  /** `--remove-bpe`'s symbol (null: none), applied to the target dictionary's string as interactive does. */
  removeBpe: StringOptions["bpeSymbol"];
  chunking: ChunkOptions;
  /** The model's (ensemble's) max positions, resolved with `sizes` as fairseq-interactive does. */
  modelMaxPositions: number | readonly [number, number] | null;
  sizes?: InferenceSizeOptions;
}

/** One hypothesis as the APIs return it. */
export interface ServedHypothesis {
  /** Detokenized text (interactive's D- line). */
  text: string;
  /** The hypothesis score in base 2 (interactive's H- / D- score). */
  score: number;
}

/** A sentence the model cannot take (longer than its max positions): the request gets 413 with fairseq's message. */
export class InputTooLongError extends Error {
  override name = "InputTooLongError";
}

export class TranslationEngine {
  constructor(readonly parts: EngineParts) {}

  /** Raw text to the source ids the generator gets (eos appended); too long for the model is an {@link InputTooLongError}. */
  encode(text: string): Int32Array {
    const p = this.parts;
    const ids = p.srcDict.encodeLine(p.encode(text), { addIfNotExist: false });
    try {
      inferenceSizeCheck([ids], p.modelMaxPositions, { ...p.sizes, skipInvalidSizeInputsValidTest: false });
    } catch (err) {
      throw new InputTooLongError((err as Error).message.replace("sample #0", `a sentence of ${ids.length} tokens`));
    }
    return ids;
  }

  /** One batch: the n-best hypotheses of each source, best first. */
  translate(sources: readonly Int32Array[]): ServedHypothesis[][] {
    const p = this.parts;
    const { hypotheses } = generateForSources(p.generator, sources, p.srcDict.pad(), p.chunking);
    return hypotheses.map((hyps) => hyps.map((h) => ({ text: p.decode(p.tgtDict.string(h.tokens, { bpeSymbol: p.removeBpe })), score: toBase2(h.score) })));
  }
}
