import type { FloatBuffer } from "./process-group.js";

/** dst += src element-wise (the one summation loop of every transport, so they all round alike). */
export function addInto(dst: FloatBuffer, src: FloatBuffer): void {
  for (let i = 0; i < dst.length; i++) dst[i]! += src[i]!;
}

/**
 * A transport that moves allReduce data outside the coordinator's IPC channel. `sequence` starts the
 * coordinator's barrier for this call (it carries the stop flag and detects hung or dead ranks); it
 * resolves once every rank has called allReduce.
 */
export interface DirectExchange {
  allReduce(buffers: readonly FloatBuffer[], sequence: () => Promise<void>): Promise<void>;
  close(): Promise<void> | void;
}
