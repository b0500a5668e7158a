/**
 * Recipe: e-mail subject lines on AESLC (Zhang & Tetreault 2019; ../shared/data/aeslc/SOURCE.md) from raw text, the way
 * fairseq's summarization examples go: learn a joint SentencePiece model (Debian's spm_train), encode, preprocess, train,
 * generate with `--bpe sentencepiece` (raw-text D- lines), and score ROUGE-1/2/L (rouge-score, Porter stemmer) against
 * the original subject and against all four human subjects, beside the lead baseline (the e-mail's first K words).
 *
 *   pnpm --filter @fairseq-ts/examples recipe:aeslc [--raw DIR] [--work DIR] [--models lead,transformer,bart,pointer]
 *       [--subset N] [--max-update N] [--max-epoch N] [--lead-words auto|K] [--vocab-size 8000] [--max-source-positions 64]
 *       [--bootstrap 1000] [--pointer-source-words 400] [--parallel] [--tiny]   (1+1-layer d64 models, 1000 pieces, 20 updates: checks the pipeline, learns nothing)
 *
 * --lead-words auto (the default) gives the lead baseline the length (2, 4, ..., 20 words) that scores best on the valid
 * split against all its references (mean of ROUGE-1/2/L F1), so the baseline is as strong as a held-out choice makes it.
 * --subset N keeps the first N examples of every split. Writes WORK/result.json ({system: {single: {rouge1, rouge2, rougeL},
 * multi: {...}}}, each type's mean precision / recall / fmeasure and bootstrap low / mid / high), WORK/run.json (wall time
 * of every stage in seconds, settings, a few examples), WORK/test.SYSTEM.hyp and the table in WORK/result.txt.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { SentencePieceProcessor } from "@fairseq-ts/tokenizers";
import { encodePieces, learnSentencePiece, readSplit, SPLITS, writeLines, type AeslcSplit, type Split } from "./aeslc/data.js";
import { formatTable, scoreSystem, type SystemResult } from "./aeslc/evaluate.js";
import { chooseLeadWords, leadWords } from "./aeslc/lead.js";
import { run } from "./aeslc/process.js";
import { runPointerGenerator } from "./aeslc/pointer-generator.js";
import { runBart, runTransformer, type SystemContext } from "./aeslc/systems.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "../../../..");
const argv = process.argv.slice(2);
const KNOWN = [
  "--raw",
  "--work",
  "--models",
  "--subset",
  "--max-update",
  "--max-epoch",
  "--lead-words",
  "--vocab-size",
  "--max-source-positions",
  "--bootstrap",
  "--pointer-source-words",
];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === "--tiny" || argv[i] === "--parallel") continue;
  if (!KNOWN.includes(argv[i]!) || argv[i + 1] === undefined) {
    console.error(`recipe aeslc: unknown flag or missing value: '${argv[i]}' (flags: ${KNOWN.join(" ")} --tiny)`);
    process.exit(2);
  }
  i++;
}
const arg = (k: string): string | undefined => (argv.includes(k) ? argv[argv.indexOf(k) + 1] : undefined);
function intArg(k: string, d: number | undefined): number | undefined {
  const v = arg(k);
  if (v === undefined) return d;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`recipe aeslc: ${k} must be a non-negative integer, got '${v}'`);
    process.exit(2);
  }
  return n;
}
const tiny = argv.includes("--tiny");
const parallel = argv.includes("--parallel");
const raw = resolve(arg("--raw") ?? join(root, "../shared/data/aeslc"));
const work = resolve(arg("--work") ?? join(here, "../../work/aeslc"));
const subset = intArg("--subset", 0)!;
// "auto": chosen on the valid split in main(); a number fixes it
const leadArg = arg("--lead-words") ?? "auto";
let leadK = leadArg === "auto" ? 0 : intArg("--lead-words", 0)!;
if (leadArg !== "auto" && leadK < 1) {
  console.error(`recipe aeslc: --lead-words must be 'auto' or a positive integer, got '${leadArg}'`);
  process.exit(2);
}
let leadChoice: Record<number, number> | undefined;
const vocabSize = intArg("--vocab-size", tiny ? 1000 : 8000)!;
// e-mail bodies are cut to their first 64 pieces (≈ 45 words, where the subject's words mostly are): twice as fast as 128
const positions = intArg("--max-source-positions", 64)!;
const bootstrap = intArg("--bootstrap", 1000)!;
const models = (arg("--models") ?? "lead,transformer,bart,pointer").split(",").filter(Boolean);
const cli = join(root, "packages/cli/dist/bin.js");

/** What each system needs from the prepared data; returns its test subject lines (raw text), in test order. */
interface Prepared {
  test: AeslcSplit;
  ctx: SystemContext;
  bodyBin: string;
}
/**
 * The stage table: system name → how it produces test subject lines. `pointer` is fairseq's pointer-generator
 * (apps/examples/pointer-generator, loaded with --user-dir): word-level (lowercased Moses tokens, <unk-N> position
 * markers for the words outside its vocabulary), so it prepares its own data from the raw text.
 */
const SYSTEMS: Record<string, (p: Prepared) => Promise<string[]>> = {
  lead: (p) => Promise.resolve(p.test.src.map((body) => leadWords(body, leadK))),
  transformer: (p) => runTransformer(p.ctx, p.test.src.length),
  bart: (p) => runBart(p.ctx, p.bodyBin, p.test.src.length),
  pointer: () =>
    runPointerGenerator({
      raw,
      work: join(work, "pointer"),
      cli,
      tiny,
      maxUpdate: intArg("--max-update", undefined),
      maxEpoch: intArg("--max-epoch", undefined),
      subset,
      truncate: intArg("--pointer-source-words", tiny ? 100 : 400),
    }),
};
for (const m of models) {
  if (!(m in SYSTEMS)) {
    console.error(`recipe aeslc: --models: unknown system '${m}' (known: ${Object.keys(SYSTEMS).join(", ")})`);
    process.exit(2);
  }
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const times: Record<string, number> = {};
  mkdirSync(work, { recursive: true });
  // a rerun starts afresh: preprocess refuses to overwrite a dictionary, and train would resume from an old checkpoint_last
  for (const d of ["data-bin", "bodies-bin", "checkpoints", "logs"]) rmSync(join(work, d), { recursive: true, force: true });
  const data = Object.fromEntries(SPLITS.map((s) => [s, readSplit(raw, s, subset)])) as Record<Split, AeslcSplit>;
  console.log(`AESLC from ${raw}: ${SPLITS.map((s) => `${s} ${data[s].src.length}`).join(", ")} examples`);
  if (leadK === 0) {
    const valid = data.valid;
    const choice = chooseLeadWords(
      valid.src,
      valid.tgt.map((t, i) => [t, ...valid.ann.map((a) => a[i]!)]),
    );
    [leadK, leadChoice] = [choice.k, choice.scores];
    const shown = Object.entries(choice.scores).map(([k, f]) => `${k}: ${(100 * f).toFixed(2)}`);
    console.log(`lead baseline: ${leadK} words, the best on valid (mean ROUGE-1/2/L F1 against all references by length: ${shown.join(", ")})`);
  }

  // 1. one joint SentencePiece model on the training bodies and subjects
  const spm = await learnSentencePiece({ train: data.train, work: join(work, "spm"), vocabSize, modelType: "unigram", log: join(work, "logs/spm_train.log") });
  times["spm_train"] = spm.seconds;
  // 2. encode every split into pieces (fairseq's examples run spm_encode --output_format=piece)
  const t = performance.now();
  const processor = SentencePieceProcessor.load(spm.model);
  const pieces = join(work, "pieces");
  mkdirSync(pieces, { recursive: true });
  // subjects (≤ 15 words) are cut to --max-target-positions - 1 pieces (+ </s>) only so that a small --tiny vocabulary,
  // which spells them out in many pieces, keeps every test example within the model's positions (generate refuses larger ones);
  // ROUGE compares with the raw subjects, not with these
  const cut = (lines: string[], n: number) => lines.map((l) => l.split(" ").slice(0, n).join(" "));
  for (const s of SPLITS) {
    writeLines(join(pieces, `${s}.src`), encodePieces(processor, data[s].src));
    writeLines(join(pieces, `${s}.tgt`), cut(encodePieces(processor, data[s].tgt), positions - 1));
  }
  // BART pretraining text: each training body cut to what one block holds. The denoising task's blocks hold
  // --tokens-per-sample - 2 tokens, counted (as fairseq does) with each line's </s> before it is stripped, then get <s> and
  // </s>: a line of more than P - 3 pieces becomes a block of P + 1 and is skipped as too long
  if (models.includes("bart")) writeLines(join(pieces, "bodies.train"), cut(encodePieces(processor, data.train.src), positions - 3));
  times["spm_encode"] = (performance.now() - t) / 1000;
  console.log(`encoded with ${spm.model} in ${times["spm_encode"].toFixed(0)} s -> ${pieces}`);

  // 3. binarize: (e-mail, subject) pairs with one joined dictionary; for BART the bodies alone with that dictionary
  const dataBin = join(work, "data-bin");
  const node = [process.execPath, cli];
  const pre = async (stage: string, args: string[]) => {
    const r = await run(stage, "nice", [...node, "preprocess", ...args, "--workers", "2"], { log: join(work, "logs", `${stage}.log`) });
    times[stage] = r.seconds;
  };
  const prefixes = SPLITS.flatMap((s) => [`--${s}pref`, join(pieces, s)]);
  await pre("preprocess", ["--source-lang", "src", "--target-lang", "tgt", "--joined-dictionary", ...prefixes, "--destdir", dataBin]);
  const bodyBin = join(work, "bodies-bin");
  if (models.includes("bart")) {
    await pre("preprocess-bodies", [
      "--only-source",
      "--trainpref",
      join(pieces, "bodies.train"),
      "--srcdict",
      join(dataBin, "dict.src.txt"),
      "--destdir",
      bodyBin,
    ]);
  }

  // 4. every system's test subject lines, 5. ROUGE
  const ctx: SystemContext = {
    cli,
    work,
    dataBin,
    spmModel: spm.model,
    tiny,
    positions,
    maxUpdate: intArg("--max-update", undefined),
    maxEpoch: intArg("--max-epoch", undefined),
    times,
  };
  const hypotheses: Record<string, string[]> = {};
  const system = async (m: string) => {
    const ts = performance.now();
    hypotheses[m] = await SYSTEMS[m]!({ test: data.test, ctx, bodyBin });
    times[m] = (performance.now() - ts) / 1000;
    writeLines(join(work, `test.${m}.hyp`), hypotheses[m]);
  };
  // --parallel: the systems' commands run side by side (on a machine shared with other jobs each process gets its own
  // share of the cores); otherwise one after another
  if (parallel) await Promise.all(models.map(system));
  else for (const m of models) await system(m);
  const results: Record<string, SystemResult> = {};
  for (const m of models) {
    results[m] = scoreSystem(hypotheses[m]!, data.test.tgt, data.test.ann, bootstrap);
    console.log(
      `\n${m}: ROUGE-1/2/L F1 ${(["rouge1", "rouge2", "rougeL"] as const).map((k) => (100 * results[m]!.multi[k].fmeasure).toFixed(2)).join(" / ")} (4 references)`,
    );
  }
  times["total"] = (performance.now() - t0) / 1000;

  const table = formatTable(results);
  console.log(`\nROUGE (rouge-score, Porter stemmer; mean P / R / F1 in %, bootstrap 95% interval of F1) on ${data.test.src.length} test e-mails:\n${table}`);
  console.log(
    `\nwall time (s): ${Object.entries(times)
      .map(([k, v]) => `${k} ${v.toFixed(0)}`)
      .join(", ")}`,
  );
  const examples = data.test.src.slice(0, 5).map((_, i) => ({ subject: data.test.tgt[i], ...Object.fromEntries(models.map((m) => [m, hypotheses[m]![i]])) }));
  writeFileSync(join(work, "result.json"), JSON.stringify(results, null, 2) + "\n");
  writeFileSync(
    join(work, "run.json"),
    JSON.stringify(
      {
        times,
        test: data.test.src.length,
        settings: { tiny, parallel, subset, leadWords: leadK, leadWordsOnValid: leadChoice, vocabSize, positions, models },
        examples,
      },
      null,
      2,
    ) + "\n",
  );
  writeFileSync(join(work, "result.txt"), table + "\n");
  console.log(`-> ${join(work, "result.json")}`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
