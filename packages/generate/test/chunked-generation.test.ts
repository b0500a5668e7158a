import { describe, expect, it } from "vitest";
import { rowsPerChunk } from "../src/index.js";

describe("rowsPerChunk (generate --micro-batch-tokens)", () => {
  it("fits rows x width x beam under the budget, at least one row; no split at 0, with sampling or --match-source-len", () => {
    const o = { beam: 4, maxTokens: 16384, independentRows: true };
    // 16 summarization sources of 1000 tokens, beam 4: 4 rows (16000 source tokens x beam) per chunk
    expect(rowsPerChunk(16, 1000, o)).toBe(4);
    // a translation batch: 128 x 25 x 4 = 12800, not split
    expect(rowsPerChunk(128, 25, o)).toBe(128);
    // a single source above the budget still runs, alone
    expect(rowsPerChunk(3, 5000, o)).toBe(1);
    expect(rowsPerChunk(16, 1000, { ...o, maxTokens: 0 })).toBe(16);
    expect(rowsPerChunk(16, 1000, { ...o, independentRows: false })).toBe(16);
  });
});
