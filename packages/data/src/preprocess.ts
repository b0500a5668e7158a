import { copyFileSync, existsSync, mkdirSync, renameSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { Dictionary } from "@fairseq-ts/dictionary";
import { writeFileAtomic } from "@fairseq-ts/runtime";
import { formatPrecision } from "@fairseq-ts/logging";
import { binarize, countWords, findOffsets, TextInputError, type BinarizeStats } from "./binarizer.js";
import { bestFittingDtype, type IndexedDtype } from "./indexed/dtypes.js";
import { dataFilePath, indexFilePath, MMapIndexedDatasetBuilder } from "./indexed/mmap-indexed-dataset.js";

/** `fairseq-preprocess`'s options (camelCase of its flags), with its defaults. */
export interface PreprocessOptions {
  sourceLang?: string | null;
  targetLang?: string | null;
  trainpref?: string | null;
  /** Comma-separated prefixes: valid, valid1, … */
  validpref?: string | null;
  /** Comma-separated prefixes: test, test1, … */
  testpref?: string | null;
  /** Default "data-bin". */
  destdir?: string;
  thresholdsrc?: number;
  thresholdtgt?: number;
  nwordssrc?: number;
  nwordstgt?: number;
  srcdict?: string | null;
  tgtdict?: string | null;
  joinedDictionary?: boolean;
  onlySource?: boolean;
  paddingFactor?: number;
  /** "mmap" (default) or "raw". */
  datasetImpl?: "mmap" | "raw";
  /** Parallel binarization workers; the output bytes do not depend on it. */
  workers?: number;
  dictOnly?: boolean;
  /** Where progress lines go (also written to `destdir/preprocess.log`). Default: stdout. */
  log?: (line: string) => void;
}

export class PreprocessError extends Error {
  override name = "PreprocessError";
}

export interface PreprocessResult {
  srcDict: Dictionary;
  tgtDict: Dictionary | null;
  /** Per output file: `${lang}:${input}` -> stats. */
  stats: Map<string, BinarizeStats>;
}

/** One byte range of an input file for a binarize worker thread. */
export interface WorkerJob {
  kind: "binarize";
  input: string;
  dictText: string;
  outPrefix: string;
  dtype: IndexedDtype;
  offset: number;
  end: number;
}

/** Python's repr of a value in a Namespace line. */
function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "string") return `'${v.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- the Namespace line holds only strings, numbers, booleans and None
  return String(v);
}

async function runWorkers(jobs: WorkerJob[]): Promise<BinarizeStats[]> {
  const { Worker } = await import("node:worker_threads");
  const url = new URL("./preprocess-worker.js", import.meta.url);
  return Promise.all(
    jobs.map(
      (job) =>
        new Promise<BinarizeStats>((resolve, reject) => {
          const w = new Worker(url, { workerData: job });
          w.once(
            "message",
            (m: { ok: true; stats: Omit<BinarizeStats, "replaced"> & { replaced: [string, number][] } } | { ok: false; error: string; name: string }) => {
              if (m.ok) resolve({ ...m.stats, replaced: new Map(m.stats.replaced) });
              else reject(m.name === "TextInputError" ? new TextInputError(m.error.replace(/^[^:]*: /, ""), job.input) : new PreprocessError(m.error));
            },
          );
          w.once("error", reject);
          w.once("exit", (code) => code !== 0 && reject(new PreprocessError(`binarize worker exited with code ${code}`)));
        }),
    ),
  );
}

/**
 * `fairseq-preprocess`: build (or load) dictionaries, then binarize train/valid/test splits into
 * `destdir` in fairseq's exact formats. Every output file appears only when complete.
 */
export async function preprocess(options: PreprocessOptions): Promise<PreprocessResult> {
  const o = {
    sourceLang: options.sourceLang ?? null,
    targetLang: options.targetLang ?? null,
    trainpref: options.trainpref ?? null,
    validpref: options.validpref ?? null,
    testpref: options.testpref ?? null,
    destdir: options.destdir ?? "data-bin",
    thresholdsrc: options.thresholdsrc ?? 0,
    thresholdtgt: options.thresholdtgt ?? 0,
    nwordssrc: options.nwordssrc ?? -1,
    nwordstgt: options.nwordstgt ?? -1,
    srcdict: options.srcdict ?? null,
    tgtdict: options.tgtdict ?? null,
    joinedDictionary: options.joinedDictionary ?? false,
    onlySource: options.onlySource ?? false,
    paddingFactor: options.paddingFactor ?? 8,
    datasetImpl: options.datasetImpl ?? "mmap",
    workers: Math.max(1, options.workers ?? 1),
    dictOnly: options.dictOnly ?? false,
  };
  const logLines: string[] = [];
  const print = options.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  const log = (line: string) => {
    logLines.push(line);
    print(line);
  };
  if (o.datasetImpl !== "mmap" && o.datasetImpl !== "raw") {
    throw new PreprocessError(`--dataset-impl ${o.datasetImpl as string}: only mmap and raw are supported`);
  }
  mkdirSync(o.destdir, { recursive: true });
  log(
    `Namespace(${[
      ["source_lang", o.sourceLang],
      ["target_lang", o.targetLang],
      ["trainpref", o.trainpref],
      ["validpref", o.validpref],
      ["testpref", o.testpref],
      ["destdir", o.destdir],
      ["thresholdtgt", o.thresholdtgt],
      ["thresholdsrc", o.thresholdsrc],
      ["tgtdict", o.tgtdict],
      ["srcdict", o.srcdict],
      ["nwordstgt", o.nwordstgt],
      ["nwordssrc", o.nwordssrc],
      ["dataset_impl", o.datasetImpl],
      ["joined_dictionary", o.joinedDictionary],
      ["only_source", o.onlySource],
      ["padding_factor", o.paddingFactor],
      ["workers", o.workers],
      ["dict_only", o.dictOnly],
    ]
      .map(([k, v]) => `${k}=${pyRepr(v)}`)
      .join(", ")})`,
  );

  const target = !o.onlySource;
  /** Python's `"{}".format(x)` of an optional language. */
  const py = (v: string | null) => v ?? "None";
  const fileName = (prefix: string, lang: string | null) => (lang !== null ? `${prefix}.${lang}` : prefix);
  const destPath = (prefix: string, lang: string | null) => join(o.destdir, fileName(prefix, lang));
  const dictPath = (lang: string | null) => `${destPath("dict", lang)}.txt`;
  const trainPath = (lang: string | null) => fileName(o.trainpref ?? "", lang);

  if (!o.srcdict && existsSync(dictPath(o.sourceLang))) {
    throw new PreprocessError(`${dictPath(o.sourceLang)} already exists (remove it, or pass --srcdict to reuse it)`);
  }
  if (target && !o.tgtdict && existsSync(dictPath(o.targetLang))) {
    throw new PreprocessError(`${dictPath(o.targetLang)} already exists (remove it, or pass --tgtdict to reuse it)`);
  }

  const loadDict = async (path: string, flag: "--srcdict" | "--tgtdict") => {
    if (!existsSync(path)) throw new PreprocessError(`${flag} ${path}: dictionary not found`);
    try {
      return await Dictionary.load(path);
    } catch (err) {
      throw new PreprocessError(`${flag} ${(err as Error).message}`);
    }
  };
  const buildDict = (files: string[], src: boolean): Dictionary => {
    if (!o.trainpref) throw new PreprocessError(`--trainpref must be set if --${src ? "srcdict" : "tgtdict"} is not specified`);
    const d = new Dictionary();
    const counts = new Map<string, number>();
    for (const f of files) {
      try {
        countWords(f, d.eosWord, {}, counts);
      } catch (err) {
        // a file that cannot be opened (errors about its content carry a line and stay TextInputErrors):
        // the file name alone can be unreadable (a blank or relative --trainpref), so name the flag too
        if (err instanceof TextInputError && err.line === undefined)
          throw new PreprocessError(`--trainpref ${/^\S+$/.test(o.trainpref ?? "") ? o.trainpref : JSON.stringify(o.trainpref)}: ${err.message}`);
        throw err;
      }
    }
    d.addCounts(counts);
    d.finalize({
      threshold: src ? o.thresholdsrc : o.thresholdtgt,
      nwords: src ? o.nwordssrc : o.nwordstgt,
      paddingFactor: o.paddingFactor,
    });
    return d;
  };

  let srcDict: Dictionary;
  let tgtDict: Dictionary | null;
  if (o.joinedDictionary) {
    if (o.srcdict && o.tgtdict) throw new PreprocessError("cannot use both --srcdict and --tgtdict with --joined-dictionary");
    if (o.srcdict) srcDict = await loadDict(o.srcdict, "--srcdict");
    else if (o.tgtdict) srcDict = await loadDict(o.tgtdict, "--tgtdict");
    else srcDict = buildDict([...new Set([trainPath(o.sourceLang), trainPath(o.targetLang)])], true);
    tgtDict = srcDict;
  } else {
    srcDict = o.srcdict ? await loadDict(o.srcdict, "--srcdict") : buildDict([trainPath(o.sourceLang)], true);
    tgtDict = target ? (o.tgtdict ? await loadDict(o.tgtdict, "--tgtdict") : buildDict([trainPath(o.targetLang)], false)) : null;
  }
  await srcDict.save(dictPath(o.sourceLang));
  if (target && tgtDict) await tgtDict.save(dictPath(o.targetLang));
  const stats = new Map<string, BinarizeStats>();
  if (o.dictOnly) {
    await writeFileAtomic(join(o.destdir, "preprocess.log"), logLines.map((l) => `${l}\n`).join(""));
    return { srcDict, tgtDict, stats };
  }

  const datasetPrefix = (outputPrefix: string, lang: string | null) => {
    const base = join(o.destdir, outputPrefix);
    if (lang !== null) return `${base}.${py(o.sourceLang)}-${py(o.targetLang)}.${lang}`;
    if (o.onlySource) return base;
    return `${base}.${py(o.sourceLang)}-${py(o.targetLang)}`;
  };

  const makeBinary = async (vocab: Dictionary, inputPrefix: string, outputPrefix: string, lang: string | null) => {
    log(`[${py(lang)}] Dictionary: ${vocab.length} types`);
    const input = fileName(inputPrefix, lang);
    const offsets = findOffsets(input, o.workers);
    const prefix = datasetPrefix(outputPrefix, lang);
    const dtype = bestFittingDtype(vocab.length);
    const jobs: WorkerJob[] = [];
    for (let w = 1; w < o.workers; w++) {
      jobs.push({
        kind: "binarize",
        input,
        dictText: vocab.format(),
        outPrefix: datasetPrefix(`${outputPrefix}${w}`, lang),
        dtype,
        offset: offsets[w]!,
        end: offsets[w + 1]!,
      });
    }
    const pending = jobs.length > 0 ? runWorkers(jobs) : Promise.resolve([]);
    const builder = new MMapIndexedDatasetBuilder(dataFilePath(prefix), dtype);
    let total: BinarizeStats;
    let rest: BinarizeStats[];
    try {
      total = binarize(input, vocab, (ids) => builder.addItem(ids), { offset: 0, end: offsets[1]! });
      rest = await pending;
      for (const job of jobs) {
        builder.mergeFile(job.outPrefix);
        unlinkSync(dataFilePath(job.outPrefix));
        unlinkSync(indexFilePath(job.outPrefix));
      }
    } catch (err) {
      builder.abort();
      await pending.catch(() => {});
      for (const job of jobs) for (const f of [dataFilePath(job.outPrefix), indexFilePath(job.outPrefix)]) if (existsSync(f)) unlinkSync(f);
      throw err;
    }
    await builder.finalize(indexFilePath(prefix));
    for (const s of rest) {
      total.nseq += s.nseq;
      total.ntok += s.ntok;
      total.nunk += s.nunk;
      for (const [w, c] of s.replaced) total.replaced.set(w, (total.replaced.get(w) ?? 0) + c);
    }
    stats.set(`${lang}:${input}`, total);
    const pct = total.ntok > 0 ? formatPrecision((100 * total.nunk) / total.ntok, 3) : "nan";
    log(`[${py(lang)}] ${input}: ${total.nseq} sents, ${total.ntok} tokens, ${pct}% replaced by ${vocab.unkWord}`);
  };

  const makeDataset = async (vocab: Dictionary, inputPrefix: string, outputPrefix: string, lang: string | null) => {
    if (o.datasetImpl === "raw") {
      const out = destPath(`${outputPrefix}.${py(o.sourceLang)}-${py(o.targetLang)}`, lang);
      const tmp = `${out}.tmp-${process.pid}`;
      const input = fileName(inputPrefix, lang);
      if (!existsSync(input)) throw new TextInputError("cannot read (no such file)", input);
      copyFileSync(input, tmp);
      renameSync(tmp, out);
    } else {
      await makeBinary(vocab, inputPrefix, outputPrefix, lang);
    }
  };

  const makeAll = async (lang: string | null, vocab: Dictionary) => {
    if (o.trainpref) await makeDataset(vocab, o.trainpref, "train", lang);
    if (o.validpref) {
      const prefs = o.validpref.split(",");
      for (let k = 0; k < prefs.length; k++) await makeDataset(vocab, prefs[k]!, k > 0 ? `valid${k}` : "valid", lang);
    }
    if (o.testpref) {
      const prefs = o.testpref.split(",");
      for (let k = 0; k < prefs.length; k++) await makeDataset(vocab, prefs[k]!, k > 0 ? `test${k}` : "test", lang);
    }
  };

  await makeAll(o.sourceLang, srcDict);
  if (target && tgtDict) await makeAll(o.targetLang, tgtDict);
  log(`Wrote preprocessed data to ${o.destdir}`);
  await writeFileAtomic(join(o.destdir, "preprocess.log"), logLines.map((l) => `${l}\n`).join(""));
  return { srcDict, tgtDict, stats };
}
