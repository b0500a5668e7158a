import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseCommand } from "../src/index.js";
import { runCli } from "./cli.js";
import { SHARED, TINY_TRANSFORMER_FLAGS } from "./shared.js";

/** WikiText-2 valid lines 0-299 / 300-359 as train / valid, binarized with --only-source and a 500-word dictionary (in dir/bin). */
async function wikitextBin(prefix: string): Promise<{ dir: string; lines: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const lines = readFileSync(join(SHARED, "data/wikitext-2/valid.txt"), "utf8").split("\n");
  writeFileSync(join(dir, "train.txt"), lines.slice(0, 300).join("\n") + "\n");
  writeFileSync(join(dir, "valid.txt"), lines.slice(300, 360).join("\n") + "\n");
  const pre = await runCli(
    `preprocess --only-source --trainpref ${dir}/train.txt --validpref ${dir}/valid.txt --destdir ${dir}/bin --nwordssrc 500`.split(" "),
  );
  expect(pre.status, pre.out).toBe(0);
  return { dir, lines };
}

describe("fairseq-ts train --task denoising", () => {
  it("pretrains a tiny transformer as a denoising autoencoder on WikiText-2 lines: loss falls, checkpoint written", async () => {
    const { dir } = await wikitextBin("fsts-denoising-");
    const flags =
      "--task denoising --tokens-per-sample 64 --sample-break-mode complete --mask 0.3 --mask-random 0.1 --poisson-lambda 3.5 " +
      "--mask-length span-poisson --replace-length 1 --rotate 0 --permute-sentences 0.5 --insert 0.05 " +
      "--optimizer adam --lr 0.005 --max-tokens 1024 --max-update 20 --dropout 0 --criterion cross_entropy " +
      "--log-format simple --log-interval 5 --no-epoch-checkpoints --backend cpu";
    const tr = await runCli(["train", join(dir, "bin"), ...TINY_TRANSFORMER_FLAGS, ...flags.split(" "), "--save-dir", join(dir, "ck")]);
    expect(tr.status, tr.out).toBe(0);
    const losses = [...tr.out.matchAll(/train_inner .* loss=([\d.]+),/g)].map((m) => Number(m[1]));
    expect(losses.length, tr.out).toBe(4);
    expect(losses.at(-1)!, tr.out).toBeLessThan(losses[0]! - 1);
    expect(tr.out).toContain("task: denoising");
    expect(existsSync(join(dir, "ck/checkpoint_last.safetensors"))).toBe(true);
  }, 300_000);

  it("pretrains a tiny --arch bart_base (fairseq's BART, shrunk by flags) with the same task (loss falls), then fine-tunes it on translation (--finetune-from-model)", async () => {
    const { dir, lines } = await wikitextBin("fsts-denoising-bart-");
    const flags =
      "--arch bart_base --encoder-layers 1 --decoder-layers 1 --encoder-embed-dim 32 --decoder-embed-dim 32 --encoder-ffn-embed-dim 64 " +
      "--decoder-ffn-embed-dim 64 --encoder-attention-heads 2 --decoder-attention-heads 2 " +
      "--task denoising --tokens-per-sample 64 --sample-break-mode complete --mask 0.3 --mask-random 0.1 --poisson-lambda 3.5 " +
      "--mask-length span-poisson --replace-length 1 --rotate 0 " +
      "--optimizer adam --lr 0.005 --max-tokens 1024 --max-update 20 --dropout 0 --criterion cross_entropy " +
      "--log-format simple --log-interval 5 --no-epoch-checkpoints --backend cpu";
    const tr = await runCli(["train", join(dir, "bin"), ...flags.split(" "), "--save-dir", join(dir, "ck")]);
    expect(tr.status, tr.out).toBe(0);
    const losses = [...tr.out.matchAll(/train_inner .* loss=([\d.]+),/g)].map((m) => Number(m[1]));
    expect(losses.length, tr.out).toBe(4);
    expect(losses.at(-1)!, tr.out).toBeLessThan(losses[0]! - 1);
    expect(tr.out).toContain("model: bart_base");
    expect(existsSync(join(dir, "ck/checkpoint_last.safetensors"))).toBe(true);

    // Fine-tune it on translation, as BART is used: a copy task on other WikiText-2 lines, binarized with the pretraining
    // dictionary (the translation task has no <mask>: BART's upgrade drops that row). A denoising autoencoder has learned to
    // reconstruct its input, so its first fine-tuning loss must be below that of the same model started from scratch.
    const pairs = lines.filter((l) => l.trim().length > 0).slice(400, 520);
    for (const [split, part] of [
      ["train", pairs.slice(0, 100)],
      ["valid", pairs.slice(100)],
    ] as const) {
      for (const lang of ["src", "tgt"]) writeFileSync(join(dir, `${split}.${lang}`), part.join("\n") + "\n");
    }
    const dict = join(dir, "bin/dict.txt");
    const pre2 = await runCli(
      `preprocess --source-lang src --target-lang tgt --trainpref ${dir}/train --validpref ${dir}/valid --srcdict ${dict} --tgtdict ${dict} --destdir ${dir}/mt`.split(
        " ",
      ),
    );
    expect(pre2.status, pre2.out).toBe(0);
    const fine =
      "--task translation --arch bart_base --encoder-layers 1 --decoder-layers 1 --encoder-embed-dim 32 --decoder-embed-dim 32 " +
      "--encoder-ffn-embed-dim 64 --decoder-ffn-embed-dim 64 --encoder-attention-heads 2 --decoder-attention-heads 2 " +
      "--optimizer adam --lr 0.001 --max-tokens 1024 --max-update 3 --dropout 0 --criterion cross_entropy --seed 2 " +
      "--log-format simple --log-interval 1 --no-epoch-checkpoints --backend cpu";
    const firstLoss = (out: string) => Number(/train_inner .* loss=([\d.]+),/.exec(out)?.[1]);
    const tuned = await runCli([
      "train",
      join(dir, "mt"),
      ...fine.split(" "),
      "--finetune-from-model",
      join(dir, "ck/checkpoint_last.safetensors"),
      "--save-dir",
      join(dir, "ck-tuned"),
    ]);
    expect(tuned.status, tuned.out).toBe(0);
    expect(tuned.out).toContain("loaded pretrained model from");
    const scratch = await runCli(["train", join(dir, "mt"), ...fine.split(" "), "--save-dir", join(dir, "ck-scratch")]);
    expect(scratch.status, scratch.out).toBe(0);
    console.log(`first fine-tuning loss: pretrained ${firstLoss(tuned.out)}, from scratch ${firstLoss(scratch.out)}`);
    expect(firstLoss(tuned.out)).toBeLessThan(firstLoss(scratch.out) - 1);
  }, 300_000);

  it("names a bad denoising flag", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fsts-denoising-"));
    const r = await runCli(["train", dir, "--task", "denoising", "--arch", "transformer", "--mask-length", "sentence"]);
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/--mask-length/);
  });
});

describe("the denoising task's flags (fairseq v0.10.2's DenoisingTask.add_args)", () => {
  // (flag, fairseq's default, a value to give, the typed field): read from fairseq/tasks/denoising.py at v0.10.2
  const FLAGS: [string, unknown, string, string][] = [
    ["--tokens-per-sample", 512, "128", "tokensPerSample"],
    ["--sample-break-mode", "complete_doc", "complete", "sampleBreakMode"],
    ["--mask", 0.0, "0.3", "mask"],
    ["--mask-random", 0.0, "0.1", "maskRandom"],
    ["--insert", 0.0, "0.2", "insert"],
    ["--rotate", 0.5, "0", "rotate"],
    ["--poisson-lambda", 3.0, "3.5", "poissonLambda"],
    ["--permute-sentences", 0.0, "1", "permuteSentences"],
    ["--mask-length", "subword", "span-poisson", "maskLength"],
    ["--replace-length", -1, "1", "replaceLength"],
    ["--max-source-positions", 1024, "256", "maxSourcePositions"],
    ["--max-target-positions", 1024, "256", "maxTargetPositions"],
  ];
  const BASE = ["train", "DATA", "--task", "denoising", "--arch", "transformer"];

  it("each lands in its field with fairseq's default and the given value", async () => {
    const defaults = (await parseCommand(BASE)).options.task!;
    for (const [flag, def, value, field] of FLAGS) {
      expect(defaults[field], `${flag} default`).toEqual(def);
      const given = (await parseCommand([...BASE, flag, value])).options.task!;
      expect(given[field], flag).toEqual(typeof def === "number" ? Number(value) : value);
    }
  });

  it("--permute, which fairseq declares and never reads, is refused with the reason", async () => {
    const r = await runCli(["train", "DATA", "--task", "denoising", "--arch", "transformer", "--permute", "0.5"]);
    expect(r.status).toBe(2);
    expect(r.out).toMatch(/--permute.*never reads/);
  });
});
