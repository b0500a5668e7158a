/**
 * The tokenizers' and BPEs' own options (fairseq's `add_args` of each encoder class), declared once. Each
 * registry entry carries its group, so the CLI offers `--bpe-codes` only with `--bpe subword_nmt`.
 */
import { defineOptions, opt, type OptionsOf } from "@fairseq-ts/config";

/** `--tokenizer moses` (fairseq's MosesTokenizerConfig). */
export const mosesOptions = defineOptions("tokenizer", {
  mosesSourceLang: opt.str(null, "source language (default: --source-lang)", { metavar: "SRC" }),
  mosesTargetLang: opt.str(null, "target language (default: --target-lang)", { metavar: "TARGET" }),
  mosesNoDashSplits: opt.flag("don't apply dash split rules", { aliases: ["--moses-no-dash-split"] }),
  mosesNoEscape: opt.flag("don't perform HTML escaping on apostrophe, quotes, etc."),
});
export type MosesOptions = OptionsOf<typeof mosesOptions.declarations>;

/** `--bpe subword_nmt` (fairseq's SubwordNMTBPEConfig). */
export const subwordNmtOptions = defineOptions("bpe", {
  bpeCodes: opt.str(null, "path to subword NMT BPE codes", { metavar: "FILE" }),
  bpeSeparator: opt.str("@@", "BPE separator", { metavar: "SEP" }),
});
export type SubwordNmtOptions = OptionsOf<typeof subwordNmtOptions.declarations>;

/** `--bpe sentencepiece` (fairseq's SentencepieceConfig). */
export const sentencepieceOptions = defineOptions("bpe", {
  sentencepieceModel: opt.str(null, "path to sentencepiece model", { metavar: "FILE" }),
});
export type SentencepieceOptions = OptionsOf<typeof sentencepieceOptions.declarations>;

/** `--bpe gpt2` (fairseq's GPT2BPEConfig; fairseq downloads the files by default, fairseq-ts reads local ones). */
export const gpt2Options = defineOptions("bpe", {
  gpt2EncoderJson: opt.str(null, "path to encoder.json", { metavar: "FILE" }),
  gpt2VocabBpe: opt.str(null, "path to vocab.bpe", { metavar: "FILE" }),
});
export type Gpt2Options = OptionsOf<typeof gpt2Options.declarations>;
