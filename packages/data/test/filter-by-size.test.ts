import { describe, expect, it } from "vitest";
import { InvalidSizeError, filterIndicesBySize, formatPositions, reportInvalidSizes, resolveMaxPositions } from "../src/index.js";

describe("fairseq's size checks (utils.resolve_max_positions, filter_paired_dataset_indices_by_size, filter_indices_by_size)", () => {
  it("resolveMaxPositions takes the element-wise minimum; a number counts for both sides of a pair; null is no limit", () => {
    expect(resolveMaxPositions([1024, 1024], [512, 2048])).toEqual([512, 1024]);
    expect(resolveMaxPositions([1024, 1024], 100)).toEqual([100, 100]);
    expect(resolveMaxPositions(300, [1024, 200])).toEqual([300, 200]);
    expect(resolveMaxPositions(512, 1024)).toBe(512);
    expect(resolveMaxPositions(null, [5, 6], undefined)).toEqual([5, 6]);
    expect(resolveMaxPositions()).toBeNull();
    expect(formatPositions([1024, 1024])).toBe("(1024, 1024)");
    expect(formatPositions(7)).toBe("7");
  });

  it("filters pairs by source and target, one-size datasets by their size, keeping the given order", () => {
    const src = Int32Array.from([3, 9, 5, 2, 8]);
    const tgt = Int32Array.from([4, 2, 7, 1, 3]);
    const order = Int32Array.from([3, 0, 2, 4, 1]);
    expect(filterIndicesBySize(order, src, tgt, [6, 6])).toEqual({ indices: Int32Array.from([3, 0]), ignored: [2, 4, 1] });
    expect(filterIndicesBySize(order, src, null, 5)).toEqual({ indices: Int32Array.from([3, 0, 2]), ignored: [4, 1] });
    expect(filterIndicesBySize(order, src, tgt, null).ignored).toEqual([]);
  });

  it("raises fairseq's message for the first ignored example, or warns with the count and the first ten ids", () => {
    const size = (i: number): [number, number] => [i + 100, 7];
    expect(() => reportInvalidSizes([4, 1], size, [100, 1024], { ignoreInvalidInputs: false })).toThrow(InvalidSizeError);
    expect(() => reportInvalidSizes([4, 1], size, [100, 1024], { ignoreInvalidInputs: false })).toThrow(
      "Size of sample #4 is invalid (=(104, 7)) since max_positions=(100, 1024), skip this example with --skip-invalid-size-inputs-valid-test",
    );
    const warnings: string[] = [];
    const ignored = Array.from({ length: 12 }, (_, i) => 20 - i);
    reportInvalidSizes(ignored, size, [100, 1024], { ignoreInvalidInputs: true, warn: (w) => warnings.push(w) });
    expect(warnings).toEqual([
      "12 samples have invalid sizes and will be skipped, max_positions=(100, 1024), first few sample ids=[20, 19, 18, 17, 16, 15, 14, 13, 12, 11]",
    ]);
    expect(() => reportInvalidSizes([], size, 5, { ignoreInvalidInputs: false })).not.toThrow();
    expect(() => reportInvalidSizes([2], (i) => i + 10, 5, { ignoreInvalidInputs: false })).toThrow(
      "Size of sample #2 is invalid (=12) since max_positions=5, skip",
    );
  });
});
