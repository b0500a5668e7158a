/**
 * README command 1: the main job. Generates a German→English number-words corpus, binarizes it with
 * `fairseq-ts preprocess` (fairseq's formats), and — as the toolkit grows — trains a small transformer
 * on it and translates with it.
 *
 *   pnpm demo            (work dir: apps/examples/work/numbers)
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { numberCorpus } from "./numbers.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "../../..");
const cli = join(root, "packages/cli/dist/bin.js");
const work = process.env.FAIRSEQ_TS_WORK ?? join(here, "../work/numbers");

function step(title: string, args: string[]): void {
  console.log(`\n=== ${title}\n$ fairseq-ts ${args.join(" ")}`);
  const r = spawnSync(process.execPath, [cli, ...args], { stdio: "inherit" });
  if (r.status !== 0) {
    console.error(`main job: '${title}' failed (exit ${r.status})`);
    process.exit(r.status ?? 1);
  }
}

rmSync(work, { recursive: true, force: true });
const raw = join(work, "raw");
mkdirSync(raw, { recursive: true });
const splits: [string, number, number][] = [
  ["train", 12000, 1],
  ["valid", 500, 2],
  ["test", 500, 3],
];
for (const [name, count, seed] of splits) {
  const pairs = numberCorpus(count, { seed, maxNumber: 9999 });
  writeFileSync(join(raw, `${name}.de`), pairs.map((p) => `${p.de}\n`).join(""));
  writeFileSync(join(raw, `${name}.en`), pairs.map((p) => `${p.en}\n`).join(""));
}
console.log(`generated ${splits.map(([n, c]) => `${c} ${n}`).join(", ")} sentence pairs in ${raw}`);

step("binarize (fairseq-preprocess)", [
  "preprocess", "--source-lang", "de", "--target-lang", "en",
  "--trainpref", join(raw, "train"), "--validpref", join(raw, "valid"), "--testpref", join(raw, "test"),
  "--destdir", join(work, "data-bin"), "--workers", "2",
]);
console.log(`\nmain job: data ready in ${join(work, "data-bin")} (fairseq's dict.txt/.bin/.idx formats)`);
