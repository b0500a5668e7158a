import type { FloatBuffer } from "./process-group.js";

/** dst += src element-wise (the one summation loop of every transport, so they all round alike). */
export function addInto(dst: FloatBuffer, src: FloatBuffer): void {
  // One loop per array type: a loop that sees both float32 gradients and float64 stats gets
  // polymorphic element access, which made the small config's 9M-element sum twice as slow.
  if (dst instanceof Float32Array && src instanceof Float32Array) addFloat32(dst, src);
  else addFloat64(dst, src);
}

function addFloat32(dst: Float32Array, src: Float32Array): void {
  for (let i = 0; i < dst.length; i++) dst[i]! += src[i]!;
}

function addFloat64(dst: FloatBuffer, src: FloatBuffer): void {
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
