import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { KernelNames, failpoint, nodeBuiltin, nodeBuiltinSync, writeFileAtomic } from "../src/index.js";

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

/** The message `f` throws while globalThis.process is `proc` (only for that synchronous call: the test runner needs it). */
function errorWithProcess(proc: unknown, f: () => unknown): string | undefined {
  vi.stubGlobal("process", proc);
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  } finally {
    vi.unstubAllGlobals();
  }
  return undefined;
}

describe("nodeBuiltin", () => {
  it("returns Node's own module in Node", async () => {
    const path = await nodeBuiltin<typeof import("node:path")>("node:path", "test");
    expect(path.join("a", "b")).toBe(join("a", "b"));
    expect(await nodeBuiltin("node:path", "test")).toBe(await import("node:path").then((m) => m.default));
  });

  it("outside Node (no process) names the feature and the module", async () => {
    // nodeBuiltin looks for Node before its first await: the stub is only up for that synchronous part
    // (the test runner's worker itself needs `process`).
    vi.stubGlobal("process", undefined);
    let pending: Promise<unknown>;
    try {
      pending = nodeBuiltin("node:fs/promises", "Dictionary.load");
    } finally {
      vi.unstubAllGlobals();
    }
    await expect(pending).rejects.toThrow("Dictionary.load needs Node.js (node:fs/promises); in a browser, pass the contents instead of a path");
  });
});

describe("nodeBuiltinSync", () => {
  it("returns Node's own module synchronously", () => {
    expect(nodeBuiltinSync<typeof import("node:path")>("node:path", "test").join("a", "b")).toBe(join("a", "b"));
  });

  it("outside Node names the feature and the module; a Node without getBuiltinModule says what it lacks", () => {
    expect(errorWithProcess(undefined, () => nodeBuiltinSync("node:fs", "--bpe-codes"))).toBe(
      "--bpe-codes needs Node.js (node:fs); in a browser, pass the contents instead of a path",
    );
    expect(errorWithProcess({ versions: { node: "20.10.0" } }, () => nodeBuiltinSync("node:fs", "--bpe-codes"))).toBe(
      "--bpe-codes needs Node.js >= 20.16 to load node:fs synchronously; pass the contents instead of a path",
    );
  });
});

describe("writeFileAtomic", () => {
  it("writes text and bytes, replaces the previous file, leaves no temporary file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fsts-runtime-"));
    const file = join(dir, "out.txt");
    await writeFileAtomic(file, "héllo\n");
    expect(readFileSync(file, "utf8")).toBe("héllo\n");
    const bytes = Uint8Array.from({ length: 100_001 }, (_, i) => (i * 7) & 255); // odd length: two unequal halves
    await writeFileAtomic(file, bytes);
    expect(new Uint8Array(readFileSync(file))).toEqual(bytes);
    await writeFileAtomic(file, new Uint8Array(0));
    expect(readFileSync(file).length).toBe(0);
    expect(readdirSync(dir)).toEqual(["out.txt"]);
  });

  it("a full disk halfway through names the file, keeps the code, and leaves the previous content", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fsts-runtime-"));
    const file = join(dir, "checkpoint.bin");
    writeFileSync(file, "old");
    vi.stubEnv("FAIRSEQ_TS_FAILPOINT", "atomic-write:mid@1:enospc");
    const err = await writeFileAtomic(file, "new content").catch((e: unknown) => e as Error & { code?: string });
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toBe(`${file}: cannot write (ENOSPC: no space left on device, write); the previous checkpoint.bin, if any, is unchanged`);
    expect(err!.code).toBe("ENOSPC");
    expect(readFileSync(file, "utf8")).toBe("old");
    expect(readdirSync(dir)).toEqual(["checkpoint.bin"]);
  });

  it("a directory that does not exist is an error with Node's code", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fsts-runtime-"));
    await expect(writeFileAtomic(join(dir, "missing", "x.txt"), "x")).rejects.toMatchObject({ code: "ENOENT" });
  });
});

describe("failpoint", () => {
  it("is a no-op returning false unless FAIRSEQ_TS_FAILPOINT names it", () => {
    vi.stubEnv("FAIRSEQ_TS_FAILPOINT", "");
    expect(failpoint("test:unset")).toBe(false);
    vi.stubEnv("FAIRSEQ_TS_FAILPOINT", "test:other@1:flag");
    expect(failpoint("test:unnamed")).toBe(false);
    // not of the form name@N[:action] (N not a number): names nothing
    vi.stubEnv("FAIRSEQ_TS_FAILPOINT", "test:malformed@x");
    expect(failpoint("test:malformed")).toBe(false);
  });

  it("flag acts on the N-th hit only", () => {
    vi.stubEnv("FAIRSEQ_TS_FAILPOINT", "test:flag@3:flag");
    expect([1, 2, 3, 4, 5].map(() => failpoint("test:flag"))).toEqual([false, false, true, false, false]);
  });

  it("kill (the default action) SIGKILLs this process on the first hit (default N)", () => {
    const kill = vi.spyOn(process, "kill").mockImplementation(() => true);
    vi.stubEnv("FAIRSEQ_TS_FAILPOINT", "test:kill");
    failpoint("test:kill");
    expect(kill).toHaveBeenCalledWith(process.pid, "SIGKILL");
  });

  it("enospc throws what a full disk throws", () => {
    vi.stubEnv("FAIRSEQ_TS_FAILPOINT", "test:enospc@1:enospc");
    expect(() => failpoint("test:enospc")).toThrow(expect.objectContaining({ message: "ENOSPC: no space left on device, write", code: "ENOSPC", errno: -28 }));
  });
});

describe("KernelNames", () => {
  it("names each custom kernel once, as Fairseq + its key (the names kernels-native registers)", () => {
    expect(Object.keys(KernelNames).sort()).toEqual([
      "Adam",
      "Dropout",
      "LayerNorm",
      "LayerNormGrad",
      "Linear",
      "LinearSmoothedNll",
      "LogSoftmaxGrad",
      "SmoothedNllGrad",
    ]);
    for (const [key, name] of Object.entries(KernelNames)) expect(name).toBe(`Fairseq${key}`);
  });
});
