import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Dictionary, DictionaryFormatError } from "@fairseq-ts/dictionary";
import { IndexedDatasetError, MMapIndexedDataset, formatMMapIndex, parseMMapIndex, type IndexedDtype } from "@fairseq-ts/data";
import { CheckpointError, SafetensorsError, decodeSafetensors, encodeSafetensors, f32 } from "@fairseq-ts/models";
import { decodeCheckpoint } from "@fairseq-ts/trainer";
import { SubwordNmtApplier, parseModelProto } from "@fairseq-ts/tokenizers";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { ConfigFileError, buildProgram, expandConfigFile } from "@fairseq-ts/cli";
import { PyNamespace, PyObject, TorchLoadError, TorchTensor, loadTorchCheckpoint } from "@fairseq-ts/torch-load";
import { fairseqLikePickle, hostilePickles, torchZip } from "./pickles.js";

/** A reader under test: valid inputs to mutate, the reader, and the error types it may throw. */
export interface FuzzTarget {
  name: string;
  seeds: Uint8Array[];
  read(bytes: Uint8Array): void;
  /** Errors the reader is allowed to throw (its own, clear ones). */
  allowed: (e: unknown) => boolean;
  /** Release what the target holds (temp files). */
  dispose?: () => void;
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const bytes = (s: string) => new TextEncoder().encode(s);
const isClass =
  (...classes: (abstract new (...a: never[]) => Error)[]) =>
  (e: unknown) =>
    classes.some((c) => e instanceof c);
/** Readers without an error class of their own: any Error that is not a JS engine error (TypeError, RangeError, …). */
const plainError = (e: unknown) => e instanceof Error && e.constructor === Error && e.message.length > 0;

/** Every tensor reachable from an unpickled object graph; iterative (hostile files nest 100k deep) and cycle-safe. */
export function tensorsIn(root: unknown): TorchTensor[] {
  const out: TorchTensor[] = [];
  const seen = new Set<unknown>();
  const todo: unknown[] = [root];
  while (todo.length) {
    const v = todo.pop();
    if (v === null || typeof v !== "object" || seen.has(v)) continue;
    seen.add(v);
    if (v instanceof TorchTensor) out.push(v);
    else if (v instanceof Map) for (const [k, x] of v) todo.push(k, x);
    else if (Array.isArray(v) || v instanceof Set) for (const x of v) todo.push(x);
    else if (v instanceof PyObject) todo.push(v.args, v.state);
    else if (v instanceof PyNamespace) todo.push(...Object.values(v));
  }
  return out;
}

/**
 * Load a `.pt` and read its tensors the way an importer would. Small tensors are materialized, and so is
 * every view claiming more elements than its storage (stride 0): those are where a size taken on trust
 * would become a huge allocation. The 1.4M-value model's big tensors are skipped to keep inputs fast.
 */
export function readTorchCheckpointFully(b: Uint8Array): void {
  const ckpt = loadTorchCheckpoint(b);
  for (const t of tensorsIn(ckpt.root)) if (t.numel <= 1 << 16 || t.numel > t.storage.numel) ckpt.tensorData(t);
}

/** One fuzz input holding both files of a dataset: [u32 LE length of the .idx][.idx][.bin]. */
export function packIdxBin(idx: Uint8Array, bin: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + idx.length + bin.length);
  new DataView(out.buffer).setUint32(0, idx.length, true);
  out.set(idx, 4);
  out.set(bin, 4 + idx.length);
  return out;
}

const ITEM_BYTES: Record<IndexedDtype, number> = { uint8: 1, int8: 1, int16: 2, uint16: 2, int32: 4, int64: 8, float64: 8 };
/** Item `i` decoded straight from the .bin bytes at the index's pointer: the expectation MMapIndexedDataset.get must meet. */
function expectedItem(bin: Uint8Array, dtype: IndexedDtype, pointer: number, size: number): number[] {
  const dv = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);
  const w = ITEM_BYTES[dtype];
  return Array.from({ length: size }, (_, k) => {
    const o = pointer + k * w;
    if (dtype === "uint8") return dv.getUint8(o);
    if (dtype === "int8") return dv.getInt8(o);
    if (dtype === "int16") return dv.getInt16(o, true);
    if (dtype === "uint16") return dv.getUint16(o, true);
    if (dtype === "int32") return dv.getInt32(o, true);
    if (dtype === "int64") return Number(dv.getBigInt64(o, true));
    return dv.getFloat64(o, true);
  });
}

/**
 * Open a mutated dataset from files (the .idx sizes/pointers may point past the .bin) and read every
 * item. Reading outside the .bin, or returning anything but the bytes at the item's pointer, is a
 * finding (a plain Error, which the target does not allow).
 */
export function readIdxBinPair(input: Uint8Array, dir: string): void {
  const split = Math.min(input.length, 4 + (input.length >= 4 ? new DataView(input.buffer, input.byteOffset).getUint32(0, true) : 0));
  const idx = input.subarray(Math.min(4, input.length), split);
  const bin = input.subarray(split);
  writeFileSync(join(dir, "d.idx"), idx);
  writeFileSync(join(dir, "d.bin"), bin);
  const ds = MMapIndexedDataset.open(join(dir, "d"));
  try {
    const index = parseMMapIndex(idx, "d.idx");
    for (let i = 0; i < ds.length; i++) {
      const got = Array.from(ds.get(i));
      const end = index.pointers[i]! + index.sizes[i]! * ITEM_BYTES[index.dtype];
      if (end > bin.length) throw new Error(`item ${i} read although it ends at byte ${end} of a ${bin.length}-byte .bin`);
      const want = expectedItem(bin, index.dtype, index.pointers[i]!, index.sizes[i]!);
      if (got.length !== want.length || got.some((v, k) => v !== want[k]))
        throw new Error(`item ${i}: read [${got.slice(0, 8)}…], the .bin holds [${want.slice(0, 8)}…]`);
    }
  } finally {
    ds.close();
  }
}

export function fuzzTargets(shared: string): FuzzTarget[] {
  const ref = join(shared, "reference/fairseq/multi30k-de-en/bin");
  const dictText = readFileSync(join(ref, "dict.en.txt"), "utf8").split("\n").slice(0, 300).join("\n") + "\n";
  const safe = encodeSafetensors(
    new Map([
      ["a.weight", f32([2, 3], Float32Array.from([1, 2, 3, 4, 5, 6]))],
      ["b", f32([4], new Float32Array(4))],
    ]),
    { note: "x" },
  );
  const ckptMeta = JSON.stringify({
    format: "fairseq-ts",
    version: 1,
    args: { arch: "transformer" },
    numUpdates: 3,
    optimizer: null,
    lrScheduler: null,
    extraState: {},
  });
  const ckpt = encodeSafetensors(new Map([["model.w", f32([2], Float32Array.from([1, 2]))]]), { fairseq_ts: ckptMeta });
  const codes = "#version: 0.2\nt h\nth e</w>\na n\nan d</w>\ne r\n";
  const program = buildProgram();
  const cfgDir = mkdtempSync(join(tmpdir(), "fsts-fuzz-config-"));
  const modelPt = new Uint8Array(readFileSync(join(shared, "reference/fairseq/multi30k-de-en/model.pt")));
  const smallPt = torchZip(fairseqLikePickle());
  // model.pt is the torch-load package's own fuzz seed; the small and hostile ones mutate much faster
  const ptSeeds = [modelPt, smallPt, smallPt.subarray(0, smallPt.length >> 1), ...Object.values(hostilePickles()).map(torchZip)];
  // the reader opens files: in memory (tmpfs) when there is one, 2-3x more inputs than on disk
  const binDir = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "fsts-fuzz-bin-"));
  const validIdx = readFileSync(join(ref, "valid.de-en.de.idx"));
  const validBin = readFileSync(join(ref, "valid.de-en.de.bin"));
  // the first 200 items of the real valid set (all 1014 make each input ~3 ms)
  const validIndex = parseMMapIndex(validIdx, "valid.de-en.de.idx");
  const idxBinSeeds = [
    packIdxBin(formatMMapIndex(validIndex.dtype, validIndex.sizes.subarray(0, 200)), validBin.subarray(0, validIndex.pointers[200]!)),
    // a small int64 dataset (2^40 is no token id) and an empty one
    packIdxBin(formatMMapIndex("int64", [2, 1]), new Uint8Array(new BigInt64Array([5n, 7n, 1n << 40n]).buffer)),
    packIdxBin(formatMMapIndex("uint16", []), new Uint8Array(0)),
  ];
  return [
    {
      name: ".idx + .bin",
      seeds: idxBinSeeds,
      read: (b) => readIdxBinPair(b, binDir),
      allowed: isClass(IndexedDatasetError),
      dispose: () => rmSync(binDir, { recursive: true, force: true }),
    },
    { name: ".pt (torch zip + pickle)", seeds: ptSeeds, read: readTorchCheckpointFully, allowed: isClass(TorchLoadError) },
    {
      name: "dict.txt",
      seeds: [bytes(dictText), bytes("a 5\nb 3 #fairseq:overwrite\n")],
      read: (b) => void Dictionary.parse(text(b), { source: "fuzz" }),
      allowed: isClass(DictionaryFormatError),
    },
    {
      name: ".idx",
      seeds: [readFileSync(join(ref, "valid.de-en.de.idx")), formatMMapIndex("int32", [3, 1, 4])],
      read: (b) => void parseMMapIndex(b, "fuzz.idx"),
      allowed: isClass(IndexedDatasetError),
    },
    { name: "safetensors", seeds: [safe], read: (b) => void decodeSafetensors(b), allowed: isClass(SafetensorsError) },
    { name: "fairseq-ts checkpoint", seeds: [ckpt], read: (b) => void decodeCheckpoint(b, "fuzz.safetensors"), allowed: isClass(CheckpointError) },
    {
      name: "sentencepiece .model",
      seeds: [readFileSync(join(shared, "reference/sentencepiece/m30k-unigram4k.model"))],
      read: (b) => void parseModelProto(b, "fuzz.model"),
      allowed: plainError,
    },
    { name: "subword-nmt codes", seeds: [bytes(codes)], read: (b) => void new SubwordNmtApplier(text(b)).processLine("the anders other"), allowed: plainError },
    {
      // the CLI's whole --config path: read, YAML/JSON parse, hydra groups, flags checked against `train`
      name: "--config file",
      seeds: [bytes("model:\n  _name: transformer\n  encoder_layers: 2\noptimization:\n  lr: [0.1]\nadam_betas: [0.9, 0.98]\nno_save: true\n")],
      read: (b) => {
        const f = join(cfgDir, "c.yaml");
        writeFileSync(f, b);
        expandConfigFile(["train", "--config", f], program);
      },
      allowed: isClass(ConfigFileError),
    },
  ];
}
