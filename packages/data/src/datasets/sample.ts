import type { IntMatrix } from "./collate.js";

/**
 * A collated mini-batch in fairseq's layout (`sample` in fairseq), as plain arrays. Rows are sorted by
 * descending source length as fairseq's collater does; `id` gives each row's dataset index.
 */
export interface Sample {
  id: Int32Array;
  nsentences: number;
  /** Target tokens (eos included), or source tokens when there is no target. */
  ntokens: number;
  netInput: {
    srcTokens: IntMatrix;
    srcLengths: Int32Array;
    /** Target shifted right with eos first (teacher forcing input); null without a target. */
    prevOutputTokens: IntMatrix | null;
  };
  target: IntMatrix | null;
}
