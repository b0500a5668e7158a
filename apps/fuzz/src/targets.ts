import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Dictionary, DictionaryFormatError } from "@fairseq-ts/dictionary";
import { IndexedDatasetError, formatMMapIndex, parseMMapIndex } from "@fairseq-ts/data";
import { SafetensorsError, decodeSafetensors, encodeSafetensors, f32 } from "@fairseq-ts/models";
import { CheckpointFileError, decodeCheckpoint } from "@fairseq-ts/trainer";
import { SubwordNmtApplier, parseModelProto } from "@fairseq-ts/tokenizers";
import { mkdtempSync, writeFileSync } from "node:fs";
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
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const bytes = (s: string) => new TextEncoder().encode(s);
const isClass = (...classes: (abstract new (...a: never[]) => Error)[]) => (e: unknown) => classes.some((c) => e instanceof c);
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

export function fuzzTargets(shared: string): FuzzTarget[] {
  const ref = join(shared, "reference/fairseq/multi30k-de-en/bin");
  const dictText = readFileSync(join(ref, "dict.en.txt"), "utf8").split("\n").slice(0, 300).join("\n") + "\n";
  const safe = encodeSafetensors(new Map([["a.weight", f32([2, 3], Float32Array.from([1, 2, 3, 4, 5, 6]))], ["b", f32([4], new Float32Array(4))]]), { note: "x" });
  const ckptMeta = JSON.stringify({ format: "fairseq-ts", version: 1, args: { arch: "transformer" }, numUpdates: 3, optimizer: null, lrScheduler: null, extraState: {} });
  const ckpt = encodeSafetensors(new Map([["model.w", f32([2], Float32Array.from([1, 2]))]]), { fairseq_ts: ckptMeta });
  const codes = "#version: 0.2\nt h\nth e</w>\na n\nan d</w>\ne r\n";
  const program = buildProgram();
  const cfgDir = mkdtempSync(join(tmpdir(), "fsts-fuzz-config-"));
  const modelPt = new Uint8Array(readFileSync(join(shared, "reference/fairseq/multi30k-de-en/model.pt")));
  const smallPt = torchZip(fairseqLikePickle());
  // model.pt is the torch-load package's own fuzz seed; the small and hostile ones mutate much faster
  const ptSeeds = [modelPt, smallPt, smallPt.subarray(0, smallPt.length >> 1), ...Object.values(hostilePickles()).map(torchZip)];
  return [
    { name: ".pt (torch zip + pickle)", seeds: ptSeeds, read: readTorchCheckpointFully, allowed: isClass(TorchLoadError) },
    { name: "dict.txt", seeds: [bytes(dictText), bytes("a 5\nb 3 #fairseq:overwrite\n")], read: (b) => void Dictionary.parse(text(b), { source: "fuzz" }), allowed: isClass(DictionaryFormatError) },
    {
      name: ".idx",
      seeds: [readFileSync(join(ref, "valid.de-en.de.idx")), formatMMapIndex("int32", [3, 1, 4])],
      read: (b) => void parseMMapIndex(b, "fuzz.idx"),
      allowed: isClass(IndexedDatasetError),
    },
    { name: "safetensors", seeds: [safe], read: (b) => void decodeSafetensors(b), allowed: isClass(SafetensorsError) },
    { name: "fairseq-ts checkpoint", seeds: [ckpt], read: (b) => void decodeCheckpoint(b, "fuzz.safetensors"), allowed: isClass(CheckpointFileError) },
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
