import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The built CLI (turbo builds @fairseq-ts/cli before this package's tests: it is a devDependency). */
export const CLI = join(dirname(fileURLToPath(import.meta.url)), "../node_modules/@fairseq-ts/cli/dist/bin.js");

/** Run `fairseq-ts ARGS` asynchronously (a blocked event loop would starve vitest's worker messages). */
export function runCli(args: string[], input?: string): Promise<{ status: number | null; stdout: string; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args]);
    let stdout = "";
    let out = "";
    p.stdout.on("data", (d: Buffer) => ((stdout += String(d)), (out += String(d))));
    p.stderr.on("data", (d: Buffer) => (out += String(d)));
    p.stdin.end(input ?? "");
    p.on("close", (status) => resolve({ status, stdout, out }));
  });
}

// A word-for-word German→English toy language: every combination of the slots, so a small transformer
// learns it in seconds and translates unseen-looking sentences with a clear best hypothesis.
const SLOTS: [string, string][][] = [
  [
    ["ich", "i"],
    ["wir", "we"],
    ["sie", "they"],
  ],
  [
    ["sehe", "see"],
    ["habe", "have"],
    ["suche", "seek"],
  ],
  [
    ["zwei", "two"],
    ["drei", "three"],
    ["vier", "four"],
    ["viele", "many"],
  ],
  [
    ["rote", "red"],
    ["kleine", "small"],
    ["alte", "old"],
  ],
  [
    ["katzen", "cats"],
    ["hunde", "dogs"],
    ["bücher", "books"],
    ["häuser", "houses"],
  ],
];

export function toyCorpus(): { de: string; en: string }[] {
  let rows: [string, string][][] = [[]];
  for (const slot of SLOTS) rows = rows.flatMap((r) => slot.map((w) => [...r, w]));
  return rows.map((r) => ({ de: `${r.map((w) => w[0]).join(" ")} .`, en: `${r.map((w) => w[1]).join(" ")} .` }));
}

/** Binarize the toy corpus and train a one-layer transformer on it; returns the data-bin and checkpoint paths. */
export async function trainTinyModel(work: string): Promise<{ dataBin: string; checkpoint: string; seconds: number }> {
  const start = Date.now();
  const raw = join(work, "raw");
  mkdirSync(raw, { recursive: true });
  const pairs = toyCorpus();
  writeFileSync(join(raw, "train.de"), pairs.map((p) => `${p.de}\n`).join(""));
  writeFileSync(join(raw, "train.en"), pairs.map((p) => `${p.en}\n`).join(""));
  const dataBin = join(work, "data-bin");
  const pre = await runCli(["preprocess", "-s", "de", "-t", "en", "--trainpref", join(raw, "train"), "--validpref", join(raw, "train"), "--destdir", dataBin]);
  if (pre.status !== 0) throw new Error(`fairseq-ts preprocess failed:\n${pre.out}`);
  const save = join(work, "checkpoints");
  const train = await runCli([
    "train",
    dataBin,
    "--arch",
    "transformer",
    "--encoder-layers",
    "1",
    "--decoder-layers",
    "1",
    "--encoder-embed-dim",
    "32",
    "--decoder-embed-dim",
    "32",
    "--encoder-ffn-embed-dim",
    "64",
    "--decoder-ffn-embed-dim",
    "64",
    "--encoder-attention-heads",
    "2",
    "--decoder-attention-heads",
    "2",
    "--share-decoder-input-output-embed",
    "--optimizer",
    "adam",
    "--lr",
    "0.01",
    "--max-tokens",
    "1024",
    "--max-epoch",
    "25",
    "--dropout",
    "0",
    "--seed",
    "1",
    "--no-epoch-checkpoints",
    "--disable-validation",
    "--log-format",
    "simple",
    "--log-interval",
    "100",
    "--save-dir",
    save,
  ]);
  if (train.status !== 0) throw new Error(`fairseq-ts train failed:\n${train.out}`);
  return { dataBin, checkpoint: join(save, "checkpoint_last.safetensors"), seconds: (Date.now() - start) / 1000 };
}
