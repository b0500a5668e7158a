import type { FloatBuffer } from "./process-group.js";

/** Environment a launched worker reads (set by the coordinator). */
export const ENV_RANK = "FAIRSEQ_TS_RANK";
export const ENV_WORLD_SIZE = "FAIRSEQ_TS_WORLD_SIZE";
export const ENV_THREADS = "FAIRSEQ_TS_THREADS";
/** Directory for the workers' allReduce data (shared-memory files or sockets); unset = everything through the coordinator. */
export const ENV_PEER_DIR = "FAIRSEQ_TS_PEER_DIR";
/**
 * How allReduce data moves (set by the user for the launcher, passed on to the workers):
 * "shm" (default) files in /dev/shm, "sockets" direct Unix-socket links, "coordinator" through the
 * cluster primary's IPC channel.
 */
export const ENV_TRANSPORT = "FAIRSEQ_TS_TRANSPORT";
export type Transport = "shm" | "sockets" | "coordinator";
export function transportFromEnv(v: string | undefined): Transport {
  if (v === undefined || v === "" || v === "shm") return "shm";
  if (v === "sockets" || v === "coordinator") return v;
  throw new Error(`${ENV_TRANSPORT}=${v}: expected shm, sockets or coordinator`);
}
/** allReduce calls smaller than this go through the coordinator whatever the transport (latency beats bandwidth). */
export const DIRECT_MIN_BYTES = 1 << 16;

/** Largest piece of a buffer sent in one message: the coordinator reduces piece k while k+1 is in flight. */
export const CHUNK_ELEMENTS = 1 << 20;

/** "sum-direct": an allReduce whose data goes over shared memory or direct links (root = its byte size). */
export type CollectiveKind = "sum" | "sum-direct" | "broadcast" | "gather" | "barrier";

/** A collective's name in error messages: the ProcessGroup method the rank called. */
export const COLLECTIVE_NAME: Record<CollectiveKind, string> = {
  sum: "allReduce",
  "sum-direct": "allReduce",
  broadcast: "broadcast",
  gather: "allGather",
  barrier: "barrier",
};

/** Worker -> coordinator. */
export type ToCoordinator =
  | { t: "coll"; kind: CollectiveKind; seq: number; part: number; parts: number; root: number; data: FloatBuffer | null }
  | { t: "done" }
  | { t: "fail"; message: string };

/** Coordinator -> worker. */
export type ToWorker =
  { t: "res"; seq: number; part: number; data: FloatBuffer | null; gathered: FloatBuffer[] | null; stop: boolean } | { t: "abort"; message: string };

export function isToCoordinator(m: unknown): m is ToCoordinator {
  return typeof m === "object" && m !== null && typeof (m as { t?: unknown }).t === "string";
}
