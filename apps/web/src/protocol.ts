import type { SentenceResult } from "./model.js";
import type { WebBackend } from "./backend.js";

/** Page → worker. */
export type ToWorker =
  | { type: "init"; backend: WebBackend | undefined }
  /** `url`: the model folder, absolute (a worker has no document to resolve a relative one against). */
  | { type: "load"; url: string }
  | { type: "translate"; id: number; lines: string[]; beam: number; nbest: number };

/** Worker → page. */
export type FromWorker =
  | { type: "backend"; name: WebBackend; skipped: string[]; renderer: string | null }
  | { type: "loaded"; srcTypes: number; tgtTypes: number; tensors: number }
  /** One sentence done (`index` of `total`), sent as soon as it is: the page shows progress. */
  | { type: "progress"; id: number; index: number; total: number; result: SentenceResult }
  | { type: "done"; id: number; milliseconds: number; tensors: number }
  /** `stage`: what failed (choosing a backend, loading the model, translating). */
  | { type: "error"; stage: "init" | "load" | "translate"; message: string; tensors: number };
