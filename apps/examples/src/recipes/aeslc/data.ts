/** AESLC's files (../shared/data/aeslc, SOURCE.md) and their SentencePiece encoding. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SentencePieceProcessor } from "@fairseq-ts/tokenizers";
import { run } from "./process.js";

export const SPLITS = ["train", "valid", "test"] as const;
export type Split = (typeof SPLITS)[number];
/** The three extra human subject lines of valid/test (SOURCE.md: `@ann0..2`). */
export const ANNOTATIONS = ["ann0", "ann1", "ann2"] as const;

export interface AeslcSplit {
  /** e-mail bodies */
  src: string[];
  /** original subject lines */
  tgt: string[];
  /** valid/test: the three annotations, each aligned with `tgt`; train: empty */
  ann: string[][];
}

/** Lines of `raw/split.ext` (one example a line); the first `subset` of them when subset > 0. */
function readLines(raw: string, split: Split, ext: string, subset: number): string[] {
  const path = join(raw, `${split}.${ext}`);
  if (!existsSync(path)) throw new Error(`recipe aeslc: ${path} not found (AESLC as in ../shared/data/aeslc/SOURCE.md): pass --raw DIR`);
  const lines = readFileSync(path, "utf8").split("\n");
  if (lines.at(-1) === "") lines.pop();
  return subset > 0 ? lines.slice(0, subset) : lines;
}

/** A split's bodies, subjects and (valid/test) annotations; checks that every file of it has the same number of lines. */
export function readSplit(raw: string, split: Split, subset: number): AeslcSplit {
  const src = readLines(raw, split, "src", subset);
  const tgt = readLines(raw, split, "tgt", subset);
  const ann = split === "train" ? [] : ANNOTATIONS.map((a) => readLines(raw, split, a, subset));
  for (const [name, lines] of [["tgt", tgt], ...ann.map((l, i) => [ANNOTATIONS[i]!, l] as const)] as const) {
    if (lines.length !== src.length)
      throw new Error(`recipe aeslc: ${join(raw, `${split}.${name}`)} has ${lines.length} lines, ${split}.src has ${src.length}`);
  }
  return { src, tgt, ann };
}

/**
 * Learns one joint SentencePiece model on the training bodies and subjects with Debian's `spm_train`
 * (run as a child process). Lines longer than spm_train's 4192-byte default are kept (e-mails reach 20 kB).
 */
export async function learnSentencePiece(o: {
  train: AeslcSplit;
  work: string;
  vocabSize: number;
  modelType: "unigram" | "bpe";
  log: string;
}): Promise<{ model: string; seconds: number }> {
  mkdirSync(o.work, { recursive: true });
  const input = join(o.work, "spm-train.txt");
  writeFileSync(input, [...o.train.src, ...o.train.tgt].join("\n") + "\n");
  const prefix = join(o.work, "spm");
  const r = await run(
    "spm_train",
    "nice",
    [
      "spm_train",
      `--input=${input}`,
      `--model_prefix=${prefix}`,
      `--vocab_size=${o.vocabSize}`,
      `--model_type=${o.modelType}`,
      "--character_coverage=1.0",
      "--max_sentence_length=65536",
      "--num_threads=2",
      // fairseq's dictionary adds its own <s> <pad> </s> <unk>; spm's ids are not used (pieces are written as text)
      "--minloglevel=1",
    ],
    { log: o.log },
  );
  return { model: `${prefix}.model`, seconds: r.seconds };
}

/** Encodes lines into space-joined pieces, as `spm_encode --output_format=piece` (fairseq's preprocess input). */
export function encodePieces(spm: SentencePieceProcessor, lines: readonly string[]): string[] {
  return lines.map((l) => spm.encodeAsPieces(l).join(" "));
}

/** Writes `lines` one a line to `path`. */
export function writeLines(path: string, lines: readonly string[]): void {
  writeFileSync(path, lines.join("\n") + "\n");
}
