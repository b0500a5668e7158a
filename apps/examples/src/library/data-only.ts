/**
 * Library use without the CLI, picking only @fairseq-ts/dictionary and @fairseq-ts/data (no tensors):
 * build a dictionary from a text file, binarize it into fairseq's .bin/.idx format, read it back
 * memory-mapped, and make fairseq's token-budget batches.
 *
 *   tsx src/library/data-only.ts TEXT_FILE OUT_DIR
 */
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Dictionary, tokenizeLine } from "@fairseq-ts/dictionary";
import { MMapIndexedDataset, MMapIndexedDatasetBuilder, RandomState, batchBySize, bestFittingDtype } from "@fairseq-ts/data";

const [text, out] = process.argv.slice(2);
if (!text || !out) {
  console.error("usage: data-only.ts TEXT_FILE OUT_DIR");
  process.exit(2);
}
mkdirSync(out, { recursive: true });
const lines = readFileSync(text, "utf8")
  .split("\n")
  .filter((l) => l.trim() !== "");

// 1. a dictionary (fairseq's dict.txt: symbols by descending count, the 4 specials first)
const dict = new Dictionary();
for (const line of lines) for (const w of tokenizeLine(line)) dict.addSymbol(w);
dict.finalize({ threshold: 1, paddingFactor: 8 });
await dict.save(join(out, "dict.txt"));

// 2. binarize: one id sequence (with eos) per line, in the smallest dtype that fits the vocabulary
const builder = new MMapIndexedDatasetBuilder(join(out, "train.bin"), bestFittingDtype(dict.length));
for (const line of lines) builder.addItem(dict.encodeLine(line, { addIfNotExist: false }));
await builder.finalize(join(out, "train.idx"));

// 3. read it back (memory-mapped) and batch it the way fairseq-train does: shuffled, sorted by length,
// at most 1024 tokens per batch, batch sizes a multiple of 8
const ds = MMapIndexedDataset.open(join(out, "train"));
const rng = new RandomState(1);
const order = Int32Array.from(rng.permutation(ds.length)).sort((a, b) => ds.sizes[a]! - ds.sizes[b]!);
const batches = batchBySize(order, (i) => ds.sizes[i]!, { maxTokens: 1024, requiredBatchSizeMultiple: 8 });
const tokens = Array.from(ds.sizes).reduce((a, b) => a + b, 0);
console.log(JSON.stringify({ lines: ds.length, vocabulary: dict.length, tokens, batches: batches.length, firstLine: dict.string(ds.get(0)) }));
