import type { FloatBuffer } from "./process-group.js";

/** Environment a launched worker reads (set by the coordinator). */
export const ENV_RANK = "FAIRSEQ_TS_RANK";
export const ENV_WORLD_SIZE = "FAIRSEQ_TS_WORLD_SIZE";
export const ENV_THREADS = "FAIRSEQ_TS_THREADS";
/** Directory for the workers' direct links (allReduce data); unset = everything through the coordinator. */
export const ENV_PEER_DIR = "FAIRSEQ_TS_PEER_DIR";

/** Largest piece of a buffer sent in one message: the coordinator reduces piece k while k+1 is in flight. */
export const CHUNK_ELEMENTS = 1 << 20;

/** "sum-direct": an allReduce whose data goes over the workers' direct links (root = its byte size). */
export type CollectiveKind = "sum" | "sum-direct" | "broadcast" | "gather" | "barrier";

/** Worker -> coordinator. */
export type ToCoordinator =
  | { t: "coll"; kind: CollectiveKind; seq: number; part: number; parts: number; root: number; data: FloatBuffer | null }
  | { t: "done" }
  | { t: "fail"; message: string };

/** Coordinator -> worker. */
export type ToWorker =
  | { t: "res"; seq: number; part: number; data: FloatBuffer | null; gathered: FloatBuffer[] | null; stop: boolean }
  | { t: "abort"; message: string };

export function isToCoordinator(m: unknown): m is ToCoordinator {
  return typeof m === "object" && m !== null && typeof (m as { t?: unknown }).t === "string";
}
