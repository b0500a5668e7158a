import { formatFixed, pyFloatRepr } from "@fairseq-ts/logging";

/** fairseq generate.py divides scores by ln 2 in float32 (a float tensor and a Python float). */
export function toBase2(x: number): number {
  return Math.fround(Math.fround(x) / Math.fround(Math.LN2));
}

/** `H-id\tscore\ttokens` */
export function formatH(id: number, score: number, text: string): string {
  return `H-${id}\t${pyFloatRepr(toBase2(score))}\t${text}`;
}

/** `D-id\tscore\tdetokenized` */
export function formatD(id: number, score: number, text: string): string {
  return `D-${id}\t${pyFloatRepr(toBase2(score))}\t${text}`;
}

/** `P-id\t...` positional scores in base 2 with Python's `{:.4f}`. */
export function formatP(id: number, positional: ArrayLike<number>): string {
  return `P-${id}\t${Array.from(positional, (x) => formatFixed(toBase2(x), 4)).join(" ")}`;
}
