/**
 * Copy a trained model into the folder the page fetches: `checkpoint.safetensors` (the model weights and
 * args only: a training checkpoint's optimizer state is dropped, two thirds of an Adam checkpoint's bytes),
 * `dict.src.txt` and `dict.tgt.txt`.
 *
 *   pnpm stage-model [--data DIR] [--path CKPT] [-s SRC -t TGT] [--out DIR]
 *
 * Defaults: the README main job's outputs (apps/examples/work/numbers) into public/model/, which Vite
 * serves in `pnpm dev` and copies into dist/ on `pnpm build`.
 */
import { copyFileSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { weightsOnlyCheckpoint } from "@fairseq-ts/models";

const here = dirname(fileURLToPath(import.meta.url));
const demo = resolve(here, "../../examples/work/numbers");

export interface StageOptions {
  /** The data-bin directory with dict.SRC.txt and dict.TGT.txt. */
  data: string;
  /** A fairseq-ts checkpoint (.safetensors). */
  checkpoint: string;
  source?: string;
  target?: string;
  out: string;
}

/** The language pair from `train.SRC-TGT.*` file names, as `fromPretrained` infers it. */
function inferLanguages(data: string): [string, string] {
  for (const f of readdirSync(data)) {
    const m = /^(?:train|valid|test)\.([^.-]+)-([^.-]+)\./.exec(f);
    if (m) return [m[1]!, m[2]!];
  }
  throw new Error(`--data ${data}: no train.SRC-TGT.* files to infer the languages from; pass -s and -t`);
}

export function stageModel(o: StageOptions): { files: string[]; bytes: number; droppedBytes: number } {
  const [inferredSrc, inferredTgt] = o.source && o.target ? [o.source, o.target] : inferLanguages(o.data);
  const source = o.source ?? inferredSrc;
  const target = o.target ?? inferredTgt;
  let raw: Uint8Array;
  try {
    raw = readFileSync(o.checkpoint);
  } catch (err) {
    throw new Error(`--path ${o.checkpoint}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)}); train a model first (pnpm demo)`);
  }
  const slim = weightsOnlyCheckpoint(raw, `--path ${o.checkpoint}`);
  mkdirSync(o.out, { recursive: true });
  writeFileSync(join(o.out, "checkpoint.safetensors"), slim);
  for (const [lang, name] of [
    [source, "dict.src.txt"],
    [target, "dict.tgt.txt"],
  ] as const) {
    const dict = join(o.data, `dict.${lang}.txt`);
    try {
      statSync(dict);
    } catch {
      throw new Error(`--data ${o.data}: dict.${lang}.txt not found (check -s/-t)`);
    }
    copyFileSync(dict, join(o.out, name));
  }
  return { files: ["checkpoint.safetensors", "dict.src.txt", "dict.tgt.txt"], bytes: slim.length, droppedBytes: raw.length - slim.length };
}

function flag(args: string[], ...names: string[]): string | undefined {
  const i = args.findIndex((a) => names.includes(a));
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith("-")) throw new Error(`${args[i]}: missing value`);
  return v;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const args = process.argv.slice(2);
    const out = resolve(flag(args, "--out") ?? join(here, "../public/model"));
    const r = stageModel({
      data: resolve(flag(args, "--data") ?? join(demo, "data-bin")),
      checkpoint: resolve(flag(args, "--path") ?? join(demo, "checkpoints/checkpoint_best.safetensors")),
      source: flag(args, "-s", "--source-lang"),
      target: flag(args, "-t", "--target-lang"),
      out,
    });
    console.log(
      `staged ${r.files.join(", ")} in ${out} (checkpoint ${(r.bytes / 1024).toFixed(0)} KiB; ${(r.droppedBytes / 1024).toFixed(0)} KiB of optimizer state left out)`,
    );
  } catch (err) {
    console.error(`stage-model: ${(err as Error).message}`);
    process.exit(1);
  }
}
