import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { Dictionary } from "../src/index.js";

describe("Node-only file access (loaded without a static node: import)", () => {
  it("reads a dict.txt in Node", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fsts-dict-"));
    writeFileSync(join(dir, "dict.txt"), "hello 3\nworld 2\n");
    const d = await Dictionary.load(join(dir, "dict.txt"));
    expect(d.index("hello")).toBe(4); // after fairseq's <s> <pad> </s> <unk>
    expect(d.length).toBe(6);
  });

  it("outside Node (no process), says the feature needs Node.js and names the module", async () => {
    // Dictionary.load reaches nodeBuiltin before its first await: the stub is only up for that synchronous part.
    vi.stubGlobal("process", undefined);
    let pending: Promise<unknown>;
    try {
      pending = Dictionary.load("dict.txt");
    } finally {
      vi.unstubAllGlobals();
    }
    await expect(pending).rejects.toThrow("Dictionary.load needs Node.js (node:fs/promises); in a browser, pass the contents instead of a path");
  });
});
