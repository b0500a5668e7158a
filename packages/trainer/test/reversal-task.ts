import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { preprocess } from "@fairseq-ts/data";
import type { TrainOptions } from "../src/index.js";

export interface ReversalTaskSpec {
  /** Seed of the linear congruential generator that draws lengths and words. */
  seed: number;
  /** Words are `w0` .. `w{vocab-1}`. */
  vocab: number;
  /** A sentence has minWords + floor(rnd * wordSpread) words. */
  minWords: number;
  wordSpread: number;
  /** Splits and their sizes, e.g. [["train", 200], ["valid", 20]]. */
  splits: readonly (readonly [string, number])[];
}

/**
 * A small synthetic translation task whose target is the source reversed, binarized with `preprocess`
 * (the trainer tests' shared data). Returns the data directory and each split's sentence lengths in words.
 */
export async function makeReversalTask(spec: ReversalTaskSpec): Promise<{ dataDir: string; words: Record<string, number[]> }> {
  const dir = mkdtempSync(join(tmpdir(), "fsts-reversal-"));
  let x = spec.seed;
  const rnd = () => (x = (x * 1103515245 + 12345) % 2147483648) / 2147483648;
  const words: Record<string, number[]> = {};
  for (const [split, n] of spec.splits) {
    const src: string[] = [];
    const tgt: string[] = [];
    words[split] = [];
    for (let i = 0; i < n; i++) {
      const ws = Array.from({ length: spec.minWords + Math.floor(rnd() * spec.wordSpread) }, () => `w${Math.floor(rnd() * spec.vocab)}`);
      words[split]!.push(ws.length);
      src.push(ws.join(" "));
      tgt.push([...ws].reverse().join(" "));
    }
    writeFileSync(join(dir, `${split}.src`), src.join("\n") + "\n");
    writeFileSync(join(dir, `${split}.tgt`), tgt.join("\n") + "\n");
  }
  const dataDir = join(dir, "bin");
  await preprocess({ sourceLang: "src", targetLang: "tgt", trainpref: join(dir, "train"), validpref: join(dir, "valid"), destdir: dataDir, log: () => {} });
  return { dataDir, words };
}

/**
 * The trainer tests' tiny transformer (1+1 layers, dim 16, dropout 0.1) trained with label-smoothed cross-entropy and Adam
 * under inverse_sqrt with 4 warmup updates, logging nothing; each test adds what it varies (max tokens, seed, stop rule).
 */
export function reversalTrainOptions(saveDir: string, extra: Partial<TrainOptions>): TrainOptions {
  return {
    model: {
      arch: "transformer",
      encoder_layers: 1,
      decoder_layers: 1,
      encoder_embed_dim: 16,
      decoder_embed_dim: 16,
      encoder_ffn_embed_dim: 32,
      decoder_ffn_embed_dim: 32,
      encoder_attention_heads: 2,
      decoder_attention_heads: 2,
      dropout: 0.1,
    },
    criterion: "label_smoothed_cross_entropy",
    labelSmoothing: 0.1,
    optimizer: "adam",
    adamBetas: "(0.9, 0.98)",
    lr: [1e-3],
    lrScheduler: "inverse_sqrt",
    scheduler: { warmupUpdates: 4 },
    saveDir,
    logFormat: "none",
    sink: () => {},
    ...extra,
  };
}
