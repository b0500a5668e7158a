import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { preprocess } from "@fairseq-ts/data";

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
