import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { preprocess, RandomState } from "@fairseq-ts/data";
import { DenoisingTask, denoisingOptions, tasks } from "../src/index.js";
import { SHARED } from "./shared.js";

const REF_DIR = join(SHARED, "reference/fairseq/denoising");
interface DenoisingRef {
  flags: string[];
  mask_idx: number;
  dict_len: number;
  items: { id: number; source: number[]; target: number[] }[];
}
const ref = JSON.parse(readFileSync(join(REF_DIR, "denoising-public.json"), "utf8")) as DenoisingRef;

/** The reference's flags as the task's typed options. */
const REF_FLAGS = {
  tokensPerSample: 128,
  sampleBreakMode: "complete",
  mask: 0.3,
  maskRandom: 0.1,
  poissonLambda: 3.5,
  maskLength: "span-poisson",
  replaceLength: 1,
  permuteSentences: 0,
  rotate: 0,
  insert: 0,
} as const;

let bin = "";
beforeAll(async () => {
  // COMMANDS.md: fairseq-preprocess --only-source --trainpref wikitext-2/valid.txt --validpref wikitext-2/test.txt --workers 1
  bin = join(mkdtempSync(join(tmpdir(), "denoising-")), "bin");
  const wt2 = join(SHARED, "data/wikitext-2");
  await preprocess({ onlySource: true, trainpref: join(wt2, "valid.txt"), validpref: join(wt2, "test.txt"), destdir: bin, workers: 1, log: () => {} });
  // fairseq's file names for --only-source without languages: train.bin, valid.bin, dict.txt
}, 120_000);

describe("the denoising task (fairseq's denoising-public.json)", () => {
  it("reads a data-bin identical to fairseq's (SHA256SUMS-data-bin)", () => {
    const sums = readFileSync(join(REF_DIR, "SHA256SUMS-data-bin"), "utf8").trim().split("\n");
    for (const line of sums) {
      const [hash, file] = line.split(/\s+/);
      expect(
        createHash("sha256")
          .update(readFileSync(join(bin, file!)))
          .digest("hex"),
        file,
      ).toBe(hash);
    }
  });

  it("adds <mask> to the dictionary as fairseq does (mask_idx, dict_len)", async () => {
    const task = await DenoisingTask.setup({ data: bin, seed: 1 }, tasks.get("denoising").options.resolve(REF_FLAGS) as never);
    expect(task.maskIdx).toBe(ref.mask_idx);
    expect(task.dictionary.length).toBe(ref.dict_len);
  });

  it("builds fairseq's blocks: all 40 targets equal (TokenBlockDataset over StripTokenDataset, then <s> ... </s>)", async () => {
    const task = await tasks.get("denoising").setup({ data: bin, seed: 1 }, { ...REF_FLAGS });
    const ds = (task as DenoisingTask).loadDataset("valid");
    ds.setEpoch(1);
    for (const item of ref.items) {
      const got = ds.get(item.id);
      expect(Array.from(got.target), `target ${item.id}`).toEqual(item.target);
      // fairseq cuts blocks by the sizes the wrapper reports, which still count the stripped </s>: its sizes
      // (used for batching) exceed the items' lengths by the number of lines in the block.
      expect(ds.sizes[item.id]! - got.target.length, `size ${item.id}`).toBeGreaterThanOrEqual(0);
    }
  });

  it("noises every block as text infilling does: <s>/</s> kept, ceil(30%) of the tokens masked as spans, 10% random", async () => {
    const task = (await tasks.get("denoising").setup({ data: bin, seed: 1 }, { ...REF_FLAGS })) as DenoisingTask;
    const ds = task.loadDataset("valid");
    ds.setEpoch(1);
    let masks = 0;
    let replaced = 0;
    for (const item of ref.items) {
      // fairseq's sources were drawn from a torch stream that could not be recovered: fairseq v0.10.2's own code under
      // the same PyTorch build, seeded as fairseq-train seeds (torch.manual_seed(1), then items 0..39), gives other
      // sources, and so does ours (it equals fairseq's code for any given stream). What holds for both is checked.
      for (const source of [Int32Array.from(item.source), ds.get(item.id).source]) {
        const target = item.target;
        expect(source[0]).toBe(0);
        expect(source[source.length - 1]).toBe(2);
        // With --replace-length 1 each span of masked tokens leaves one token: the target is the source with
        // some tokens widened into spans, num_to_mask = ceil(fp32(0.3 * inner)) tokens in all.
        const numToMask = Math.ceil(Math.fround((target.length - 2) * Math.fround(0.3)));
        expect(target.length - source.length).toBeLessThan(numToMask);
        expect(source.length).toBeLessThanOrEqual(target.length);
        masks += source.filter((t) => t === ref.mask_idx).length;
        replaced += numToMask;
      }
    }
    expect(masks).toBeGreaterThan(0);
    expect(masks).toBeLessThan(replaced);
  });

  it("noises the 40 blocks exactly as fairseq's own code does for the stream fairseq-train seeds (torch.manual_seed(1))", async () => {
    // fairseq v0.10.2 (DenoisingTask.setup_task + load_dataset('valid') + set_epoch(1), np.random.seed(1) and
    // utils.set_torch_seed(1) first, as fairseq_cli/train.py) run under Debian's PyTorch 1.13.1 on this data-bin:
    // sha256 of json.dumps([ds[i]['source'].tolist() for i in range(40)], separators=(',', ':')), and item 0.
    const task = (await tasks.get("denoising").setup({ data: bin, seed: 1 }, { ...REF_FLAGS })) as DenoisingTask;
    const ds = task.loadDataset("valid");
    ds.setEpoch(1);
    const sources = ref.items.map((item) => Array.from(ds.get(item.id).source));
    expect(sources[0]).toEqual([0, 12, 1036, 13784, 13784, 2]);
    expect(createHash("sha256").update(JSON.stringify(sources)).digest("hex")).toBe("d19568a84d75f9084b8e333dad45ad6dd7f948d571127c4f32aa34a992b9682c");
  });

  it("orders by size without shuffling (fairseq's shuffle_instance is False)", async () => {
    const task = (await tasks.get("denoising").setup({ data: bin, seed: 1 }, { ...REF_FLAGS })) as DenoisingTask;
    const ds = task.loadDataset("valid");
    const order = ds.orderedIndices(new RandomState(1));
    for (let i = 1; i < order.length; i++) expect(ds.sizes[order[i - 1]!]! <= ds.sizes[order[i]!]!).toBe(true);
    expect(task.maxPositions()).toEqual([1024, 1024]);
  });
});

describe("the denoising task's whole-word masks (sentencepiece's word starts)", () => {
  it("--mask-length word --replace-length -1: every run of <mask> covers whole words (starts at a \u2581 piece, ends before one)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "denoising-spm-"));
    const words = ["\u2581the", "\u2581cat", "s", "\u2581sat", "\u2581on", "\u2581ma", "t", "s", "\u2581to", "day", "\u2581."];
    let x = 7;
    const rnd = () => (x = (x * 1103515245 + 12345) % 2147483648) / 2147483648;
    const text = Array.from({ length: 40 }, () =>
      Array.from({ length: 8 + Math.floor(rnd() * 10) }, () => words[Math.floor(rnd() * words.length)]).join(" "),
    ).join("\n");
    writeFileSync(join(dir, "train.txt"), text + "\n");
    await preprocess({ onlySource: true, trainpref: join(dir, "train.txt"), destdir: join(dir, "bin"), log: () => {} });
    const task = await DenoisingTask.setup(
      { data: join(dir, "bin"), seed: 3, bpe: "sentencepiece" },
      denoisingOptions.resolve({ mask: 0.4, maskLength: "word", replaceLength: -1, rotate: 0, tokensPerSample: 64, sampleBreakMode: "eos" }),
    );
    const ds = task.loadDataset("train");
    ds.setEpoch(1);
    const d = task.dictionary;
    const starts = (id: number) => id === d.eos() || d.symbol(id).startsWith("\u2581");
    let runs = 0;
    for (let i = 0; i < ds.length; i++) {
      const { source, target } = ds.get(i);
      expect(source.length).toBe(target.length);
      for (let j = 1; j < source.length - 1; j++) {
        if (source[j] === task.maskIdx && source[j - 1] !== task.maskIdx) {
          runs++;
          expect(starts(target[j]!), `item ${i} position ${j}`).toBe(true);
          let k = j;
          while (source[k] === task.maskIdx) k++;
          expect(starts(target[k]!), `item ${i} after the run at ${j}`).toBe(true);
        } else if (source[j] !== task.maskIdx) {
          expect(source[j]).toBe(target[j]);
        }
      }
    }
    expect(runs).toBeGreaterThan(40);
    await expect(
      DenoisingTask.setup({ data: join(dir, "bin"), bpe: "subword_nmt", maskLength: "word" }, denoisingOptions.resolve({ maskLength: "word" })).then((t) =>
        t.loadDataset("train"),
      ),
    ).rejects.toThrow(/subword_nmt/);
  });
});
