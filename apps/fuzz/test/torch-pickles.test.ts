import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PyNamespace, PyObject, TorchLoadError, type TorchTensor, loadTorchCheckpoint } from "@fairseq-ts/torch-load";
import { describe, expect, it } from "vitest";
import { fairseqLikePickle, hostilePickles, torchZip } from "../src/pickles.js";
import { readTorchCheckpointFully, tensorsIn } from "../src/targets.js";

const here = dirname(fileURLToPath(import.meta.url));
const SHARED = process.env.FAIRSEQ_TS_SHARED ?? resolve(here, "../../../../shared");

describe(".pt fuzz seeds", () => {
  it("the hand-written torch.save archive loads: Namespace args, a tensor and its strided transpose", () => {
    const ckpt = loadTorchCheckpoint(torchZip(fairseqLikePickle()));
    const root = ckpt.root as Map<string, unknown>;
    const args = root.get("args") as PyNamespace;
    expect(args).toBeInstanceOf(PyNamespace);
    expect(args.arch).toBe("transformer");
    expect(args.lr).toEqual([0.25]);
    const model = root.get("model") as Map<string, TorchTensor>;
    expect(Array.from(ckpt.tensorData(model.get("w")!) as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
    // w.T of [[1,2,3],[4,5,6]]
    expect(Array.from(ckpt.tensorData(model.get("w_t")!) as Float32Array)).toEqual([1, 4, 2, 5, 3, 6]);
  });

  it("each hostile pickle ends as an inert value or a TorchLoadError naming the problem; nothing runs, nothing hangs", () => {
    const marker = "/tmp/fsts-fuzz-pickle-pwned";
    const outcome: Record<string, string> = {};
    for (const [name, pkl] of Object.entries(hostilePickles())) {
      const t0 = performance.now();
      try {
        readTorchCheckpointFully(torchZip(pkl));
        outcome[name] = "loaded";
      } catch (e) {
        expect(e, name).toBeInstanceOf(TorchLoadError);
        outcome[name] = (e as Error).message;
      }
      expect(performance.now() - t0, name).toBeLessThan(3_000);
    }
    expect(existsSync(marker)).toBe(false);
    expect(outcome).toEqual({
      "os.system via GLOBAL+REDUCE": "loaded",
      "builtins.eval via STACK_GLOBAL+REDUCE": "loaded",
      "subprocess.Popen via NEWOBJ": "loaded",
      "BUILD on an unknown object (__setstate__)": "loaded",
      "INST of os.system": "pickle opcode 0x69 is not allowed",
      "BINUNICODE length 0x7fffffff": "pickle: length 2147483647 exceeds the remaining 2 bytes",
      "BINUNICODE8 length 2^63-1": "pickle: length 9223372036854775807 exceeds the remaining 1 bytes",
      "BINBYTES8 length 2^64-1": "pickle: length 18446744073709551615 exceeds the remaining 1 bytes",
      "LONG4 of 2^31 bytes": "pickle: length 2147483647 exceeds the remaining 1 bytes",
      "LONG text of 100k digits": "pickle: bad LONG",
      "30k nested lists": "loaded",
      "30k MARKs": "loaded",
      "memo amplification through builtins.set": expect.stringMatching(/memo references amplifying a large object/),
      "memo amplification through an unknown class": expect.stringMatching(/memo references amplifying a large object/),
      "stride-0 view of 2^62 elements": expect.stringMatching(/^tensor of shape \[2147483647,2147483647\] has .* more than its storage \(6\)/),
    });
    // "loaded" means inert: the call is a placeholder naming the callable, and strict mode refuses it
    const sys = loadTorchCheckpoint(torchZip(hostilePickles()["os.system via GLOBAL+REDUCE"]!)).root as PyObject;
    expect(sys).toBeInstanceOf(PyObject);
    expect(sys.cls).toBe("os.system");
    expect(sys.args).toEqual([`touch ${marker}`]);
    expect(() => loadTorchCheckpoint(torchZip(hostilePickles()["subprocess.Popen via NEWOBJ"]!), { strict: true })).toThrow(
      /refusing to call subprocess\.Popen/,
    );
    // the 30k-deep list really is 30k deep (read without recursion)
    let v = loadTorchCheckpoint(torchZip(hostilePickles()["30k nested lists"]!)).root as unknown[];
    let depth = 1;
    while (v.length === 1) {
      v = v[0] as unknown[];
      depth++;
    }
    expect(depth).toBe(30_000);
  });

  it("truncating model.pt anywhere, or the small archive at every byte, is a TorchLoadError", () => {
    const small = torchZip(fairseqLikePickle());
    for (let k = 0; k < small.length; k++) expect(() => readTorchCheckpointFully(small.subarray(0, k)), `cut at ${k}`).toThrow(TorchLoadError);
    const full = new Uint8Array(readFileSync(join(SHARED, "reference/fairseq/multi30k-de-en/model.pt")));
    for (const f of [0.01, 0.5, 0.999]) expect(() => loadTorchCheckpoint(full.subarray(0, Math.floor(full.length * f)))).toThrow(TorchLoadError);
    // model.pt itself: every tensor found, 1,429,508 parameters in the model state dict (COMMANDS.md)
    const ckpt = loadTorchCheckpoint(full);
    const model = (ckpt.root as Map<string, Map<string, unknown>>).get("model")!;
    const inModel = tensorsIn(model);
    expect(inModel.reduce((a, t) => a + t.numel, 0)).toBe(1_429_508);
  });
});
