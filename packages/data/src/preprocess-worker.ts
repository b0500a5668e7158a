// Worker thread for `preprocess --workers N`: binarizes one byte range of a file into temporary
// `.bin`/`.idx` files that the main thread merges in order (fairseq's scheme), so the output does
// not depend on the number of workers.
import { parentPort, workerData } from "node:worker_threads";
import { Dictionary } from "@fairseq-ts/dictionary";
import { binarize } from "./binarizer.js";
import { dataFilePath, indexFilePath, MMapIndexedDatasetBuilder } from "./indexed/mmap-indexed-dataset.js";
import type { WorkerJob } from "./preprocess.js";

async function main(job: WorkerJob) {
  const dict = Dictionary.parse(job.dictText);
  const builder = new MMapIndexedDatasetBuilder(dataFilePath(job.outPrefix), job.dtype);
  try {
    const s = binarize(job.input, dict, (ids) => builder.addItem(ids), { offset: job.offset, end: job.end });
    await builder.finalize(indexFilePath(job.outPrefix));
    parentPort!.postMessage({ ok: true, stats: { nseq: s.nseq, ntok: s.ntok, nunk: s.nunk, replaced: [...s.replaced] } });
  } catch (err) {
    builder.abort();
    const e = err as Error;
    parentPort!.postMessage({ ok: false, error: e.message, name: e.name });
  }
}

void main(workerData as WorkerJob);
