import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** What `init` reports about this rank and the MPI library. */
export interface MpiInfo {
  rank: number;
  size: number;
  /** Largest message tag the library accepts (MPI_TAG_UB). */
  tagUb: number;
  /** MPI_THREAD_* level granted (2 = serialized). */
  threadLevel: number;
  /** MPI_Get_library_version's first line, e.g. "Open MPI v4.1.4, ...". */
  library: string;
  /** MPI_Get_processor_name: the host this rank runs on. */
  host: string;
}

/** The compiled addon's functions (see native/mpi.c). */
export interface MpiBinding {
  /** MPI_Init_thread (once; later calls only report). */
  init(): MpiInfo;
  /** MPI_Isend of the view's bytes; returns a request id. The view must stay referenced until the request completes. */
  isend(view: ArrayBufferView, peer: number, tag: number): number;
  /** MPI_Irecv into the view's bytes; returns a request id. */
  irecv(view: ArrayBufferView, peer: number, tag: number): number;
  /**
   * Polls the requests off the JavaScript thread until all completed or `timeoutMs` passed; resolves with the
   * ids still incomplete ([] = all done). Rejects with MPI's error text when a request failed.
   */
  waitAll(ids: number[], timeoutMs: number): Promise<number[]>;
  /** Prints `message` to stderr and ends every rank of the job (MPI_Abort); never returns. */
  abort(message: string, code: number): never;
  /** MPI_Finalize. */
  finalize(): void;
}

export type MpiLoadResult = { ok: true; binding: MpiBinding; path: string } | { ok: false; reason: string };

let cached: MpiLoadResult | undefined;

/** Load the addon built at install (build/fairseq_ts_mpi.node). Never throws: says what is missing. */
export function loadMpiBinding(): MpiLoadResult {
  if (cached) return cached;
  try {
    const here = typeof __dirname === "string" ? __dirname : dirname(fileURLToPath(import.meta.url));
    const path = join(here, "..", "build", "fairseq_ts_mpi.node");
    if (!existsSync(path)) {
      cached = {
        ok: false,
        reason: `${path} was not built at install (no mpicc: install MPI, e.g. 'apt-get install openmpi-bin libopenmpi-dev', then 'node scripts/build-native.mjs' in @fairseq-ts/distributed-mpi or reinstall)`,
      };
      return cached;
    }
    const req = createRequire(join(here, "x.js"));
    cached = { ok: true, binding: req(path) as MpiBinding, path };
  } catch (err) {
    cached = { ok: false, reason: `the MPI binding does not load: ${err instanceof Error ? err.message : String(err)}` };
  }
  return cached;
}
