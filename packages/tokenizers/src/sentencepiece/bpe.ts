import { pyStrip } from "@fairseq-ts/dictionary";
import { boolOption, type Bpe, type EncoderOptions } from "../registry.js";
import { SentencePieceProcessor } from "./processor.js";

const SPECIALS = new Set(["<unk>", "<s>", "</s>", "<pad>"]);

/**
 * fairseq's `--bpe sentencepiece` (SentencepieceBPE): encode = the model's pieces joined by spaces;
 * decode = drop spaces, U+2581 -> space, strip.
 */
export class SentencepieceBpe implements Bpe {
  constructor(readonly sp: SentencePieceProcessor) {}

  /** Options: `sentencepieceModel` (path to the `.model`, or its bytes). */
  static fromOptions(opts: EncoderOptions): SentencepieceBpe {
    const model = opts.sentencepieceModel;
    if (boolOption(opts, "sentencepieceEnableSampling", "--sentencepiece-enable-sampling")) {
      throw new Error("--sentencepiece-enable-sampling is not supported (deterministic encoding only)");
    }
    if (model instanceof Uint8Array) return new SentencepieceBpe(SentencePieceProcessor.fromBytes(model, "--sentencepiece-model"));
    if (typeof model !== "string" || model === "") {
      throw new Error("--sentencepiece-model is required for --bpe=sentencepiece (a path to a .model file, or its bytes)");
    }
    return new SentencepieceBpe(SentencePieceProcessor.load(model, "--sentencepiece-model"));
  }

  encode(line: string): string {
    return this.sp.encodeAsPieces(line).join(" ");
  }

  decode(line: string): string {
    return pyStrip(line.replaceAll(" ", "").replaceAll("\u2581", " "));
  }

  isBeginningOfWord(token: string): boolean {
    return SPECIALS.has(token) || token.startsWith("\u2581");
  }
}
