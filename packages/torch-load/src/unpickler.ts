import { TorchLoadError } from "./errors.js";

/** A reference to a Python global (`module.name`) that was named but never called. */
export class PyGlobal {
  constructor(readonly name: string) {}
}

/**
 * An object of a class this reader does not build: its class name and the data it was pickled with.
 * Nothing of the class runs; the data stays inert.
 */
export class PyObject {
  state: unknown = undefined;
  constructor(
    readonly cls: string,
    readonly args: unknown[],
  ) {}
}

/** `argparse.Namespace`: its attributes. */
export class PyNamespace {
  [key: string]: unknown;
}

export type TorchDtype = "float32" | "float64" | "float16" | "bfloat16" | "int64" | "int32" | "int16" | "int8" | "uint8" | "bool";

export const STORAGE_DTYPES: Record<string, TorchDtype> = {
  "torch.FloatStorage": "float32",
  "torch.DoubleStorage": "float64",
  "torch.HalfStorage": "float16",
  "torch.BFloat16Storage": "bfloat16",
  "torch.LongStorage": "int64",
  "torch.IntStorage": "int32",
  "torch.ShortStorage": "int16",
  "torch.CharStorage": "int8",
  "torch.ByteStorage": "uint8",
  "torch.BoolStorage": "bool",
};

export const DTYPE_BYTES: Record<TorchDtype, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** A storage referenced by a checkpoint (its bytes live in `archive/data/<key>`). */
export interface TorchStorage {
  dtype: TorchDtype;
  key: string;
  location: string;
  numel: number;
}

/** A tensor view into a storage (PyTorch's `_rebuild_tensor_v2`). */
export class TorchTensor {
  constructor(
    readonly storage: TorchStorage,
    readonly storageOffset: number,
    readonly shape: number[],
    readonly stride: number[],
    readonly requiresGrad: boolean,
  ) {}
  get dtype(): TorchDtype {
    return this.storage.dtype;
  }
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
}

export interface UnpickleOptions {
  /** Resolve a persistent id tuple (`('storage', type, key, location, numel)`) into a value. */
  persistentLoad: (pid: unknown) => unknown;
  /** Unknown classes become inert `PyObject`s (default) or are an error (`strict`). */
  strict?: boolean;
  /** Maximum memo entries / stack depth guards. */
  maxItems?: number;
}

function isInt(x: unknown): x is number {
  return typeof x === "number" && Number.isInteger(x);
}

function intList(x: unknown, what: string): number[] {
  if (!Array.isArray(x) || !x.every((v) => isInt(v) && v >= 0)) throw new TorchLoadError(`${what} must be a tuple of non-negative ints`);
  return x as number[];
}

/** The callables a checkpoint may call: each builds plain data, nothing else. */
// eslint-disable-next-line @typescript-eslint/no-redundant-type-constituents -- names the sentinel a caller must test for
function callAllowed(name: string, args: unknown[]): unknown | typeof NOT_ALLOWED {
  switch (name) {
    case "torch._utils._rebuild_tensor_v2":
    case "torch._utils._rebuild_tensor": {
      const [storage, offset, size, stride] = args;
      const requiresGrad = name.endsWith("_v2") ? Boolean(args[4]) : false;
      const st = storage as TorchStorage;
      if (!st || typeof st !== "object" || !("dtype" in st) || !("numel" in st)) throw new TorchLoadError(`${name}: first argument is not a storage`);
      if (!isInt(offset) || offset < 0) throw new TorchLoadError(`${name}: bad storage offset`);
      const shape = intList(size, "tensor size");
      const strides = intList(stride, "tensor stride");
      if (shape.length !== strides.length) throw new TorchLoadError(`${name}: size and stride lengths differ`);
      const empty = shape.some((d) => d === 0);
      const extent = empty ? 0 : shape.reduce((acc, d, i) => acc + (d - 1) * strides[i]!, 0) + 1;
      if (offset + extent > st.numel) {
        throw new TorchLoadError(`tensor of shape [${shape}] at offset ${offset} needs ${offset + extent} elements but its storage has ${st.numel}`);
      }
      return new TorchTensor(st, offset, shape, strides, requiresGrad);
    }
    case "torch._utils._rebuild_parameter": {
      const [data, requiresGrad] = args;
      if (!(data instanceof TorchTensor)) throw new TorchLoadError("_rebuild_parameter: data is not a tensor");
      return new TorchTensor(data.storage, data.storageOffset, data.shape, data.stride, Boolean(requiresGrad));
    }
    case "collections.OrderedDict":
      if (args.length > 0 && args[0] !== null) {
        if (args[0] instanceof Map) return new Map(args[0]);
        if (!Array.isArray(args[0])) throw new TorchLoadError("OrderedDict: argument is not a list of pairs");
        const m = new Map<unknown, unknown>();
        for (const kv of args[0]) {
          if (!Array.isArray(kv) || kv.length !== 2) throw new TorchLoadError("OrderedDict: items must be pairs");
          m.set(kv[0], kv[1]);
        }
        return m;
      }
      return new Map();
    case "argparse.Namespace":
      return new PyNamespace();
    case "builtins.set":
    case "builtins.frozenset": {
      const items = args[0];
      if (items === undefined) return new Set();
      if (Array.isArray(items) || items instanceof Set || typeof items === "string") return new Set(items);
      if (items instanceof Map) return new Set(items.keys());
      throw new TorchLoadError(`${name}: argument is not iterable`);
    }
    case "torch.serialization._get_layout":
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- an untrusted pickle's odd layout names a global no allow-list holds
      return new PyGlobal(`torch.${String(args[0] ?? "strided")}`);
    default:
      return NOT_ALLOWED;
  }
}
const NOT_ALLOWED = Symbol("not allowed");

/**
 * A pickle virtual machine (protocols 0–5) that never imports or calls Python code: GLOBAL only names
 * things, and REDUCE/NEWOBJ only run the data builders above. Every length is checked against the
 * remaining input before anything is allocated.
 */
export function unpickle(data: Uint8Array, options: UnpickleOptions): unknown {
  const n = data.length;
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const maxItems = options.maxItems ?? 50_000_000;
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let p = 0;
  const latin1 = new TextDecoder("latin1");
  const utf8 = new TextDecoder("utf-8", { fatal: true });

  const need = (k: number) => {
    if (k < 0 || p + k > n) throw new TorchLoadError(`pickle truncated: need ${k} bytes at offset ${p}, have ${n - p}`);
  };
  const take = (k: number) => {
    need(k);
    const out = data.subarray(p, p + k);
    p += k;
    return out;
  };
  const line = () => {
    const start = p;
    while (p < n && data[p] !== 0x0a) p++;
    if (p >= n) throw new TorchLoadError("pickle truncated inside a text line");
    const s = latin1.decode(data.subarray(start, p));
    p++;
    return s;
  };
  const pop = () => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1]!)) throw new TorchLoadError(`pickle stack underflow at offset ${p}`);
    return stack.pop();
  };
  const top = () => {
    if (stack.length === 0) throw new TorchLoadError(`pickle stack underflow at offset ${p}`);
    return stack[stack.length - 1];
  };
  const popMark = () => {
    const m = marks.pop();
    if (m === undefined) throw new TorchLoadError(`pickle: no MARK at offset ${p}`);
    return stack.splice(m);
  };
  const push = (v: unknown) => {
    if (stack.length >= maxItems) throw new TorchLoadError("pickle stack too deep");
    stack.push(v);
  };
  const memoPut = (k: number) => {
    if (memo.size >= maxItems) throw new TorchLoadError("pickle memo too large");
    memo.set(k, top());
  };
  const memoGet = (k: number) => {
    if (!memo.has(k)) throw new TorchLoadError(`pickle memo key ${k} missing`);
    push(memo.get(k));
  };
  const str = (bytes: Uint8Array) => {
    try {
      return utf8.decode(bytes);
    } catch {
      throw new TorchLoadError("pickle: invalid UTF-8 in a string");
    }
  };
  const setItem = (d: unknown, k: unknown, v: unknown) => {
    if (d instanceof Map) d.set(k, v);
    else if (d instanceof PyNamespace && typeof k === "string") d[k] = v;
    else if (d instanceof PyObject) {
      if (!(d.state instanceof Map)) d.state = new Map();
      (d.state as Map<unknown, unknown>).set(k, v);
    } else throw new TorchLoadError("pickle: SETITEM on a non-dict");
  };
  const append = (l: unknown, v: unknown) => {
    if (Array.isArray(l)) l.push(v);
    else if (l instanceof PyObject) l.args.push(v);
    else throw new TorchLoadError("pickle: APPEND on a non-list");
  };
  // Work bound: the memo lets a few bytes reference a big tuple again and again, so calls (which read their
  // arguments, and copy them into inert placeholders) are charged per element read. A real checkpoint
  // builds each argument tuple from its own bytes and stays far below the limit; a hostile one would
  // otherwise cost (tuple size x references) — 4e9 element copies from a 1 MB pickle.
  const workLimit = (1 << 20) + 8 * n;
  let work = 0;
  const charge = (k: number) => {
    work += k;
    if (work > workLimit)
      throw new TorchLoadError(
        `pickle: more than ${workLimit} elements read by calls in a ${n}-byte pickle (memo references amplifying a large object; refused)`,
      );
  };
  const shallowSize = (v: unknown) => (Array.isArray(v) ? v.length : v instanceof Map || v instanceof Set ? v.size : 0);
  const call = (fn: unknown, args: unknown, how: string) => {
    if (!Array.isArray(args)) throw new TorchLoadError(`pickle: ${how} arguments are not a tuple`);
    charge(1 + args.length);
    for (const a of args) charge(shallowSize(a));
    if (!(fn instanceof PyGlobal)) throw new TorchLoadError(`pickle: ${how} of a non-global (refused)`);
    const r = callAllowed(fn.name, args);
    if (r !== NOT_ALLOWED) return r;
    if (options.strict) throw new TorchLoadError(`pickle: refusing to call ${fn.name}`);
    return new PyObject(fn.name, [...(args as unknown[])]);
  };
  const global = (module: string, name: string) => {
    const full = `${module}.${name}`;
    if (full.length > 512) throw new TorchLoadError("pickle: global name too long");
    return new PyGlobal(full);
  };
  const readLong = (bytes: Uint8Array): number | bigint => {
    if (bytes.length === 0) return 0;
    let v = 0n;
    for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
    if (bytes[bytes.length - 1]! & 0x80) v -= 1n << BigInt(8 * bytes.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const len8 = () => {
    need(8);
    const v = dv.getBigUint64(p, true);
    p += 8;
    if (v > BigInt(n - p)) throw new TorchLoadError(`pickle: length ${v} exceeds the remaining ${n - p} bytes`);
    return Number(v);
  };
  const len4 = () => {
    need(4);
    const v = dv.getUint32(p, true);
    p += 4;
    if (v > n - p) throw new TorchLoadError(`pickle: length ${v} exceeds the remaining ${n - p} bytes`);
    return v;
  };

  for (;;) {
    need(1);
    const op = data[p++]!;
    switch (op) {
      case 0x80: // PROTO
        take(1);
        break;
      case 0x95: // FRAME
        take(8);
        break;
      case 0x2e: // STOP
        if (stack.length !== 1) throw new TorchLoadError("pickle: STOP with a malformed stack");
        return stack.pop();
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP
        if (marks.length > 0 && marks[marks.length - 1] === stack.length) marks.pop();
        else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        push(top());
        break;
      case 0x4e: // NONE
        push(null);
        break;
      case 0x88: // NEWTRUE
        push(true);
        break;
      case 0x89: // NEWFALSE
        push(false);
        break;
      case 0x4a: // BININT
        need(4);
        push(dv.getInt32(p, true));
        p += 4;
        break;
      case 0x4b: // BININT1
        push(take(1)[0]!);
        break;
      case 0x4d: // BININT2
        need(2);
        push(dv.getUint16(p, true));
        p += 2;
        break;
      case 0x49: {
        // INT (text); "01"/"00" are True/False in protocol 0
        const s = line().trim();
        if (s === "01") push(true);
        else if (s === "00") push(false);
        else if (/^[+-]?\d+$/.test(s)) push(Number(s));
        else throw new TorchLoadError("pickle: bad INT");
        break;
      }
      case 0x4c: {
        // LONG (text)
        const s = line().trim().replace(/L$/, "");
        if (!/^[+-]?\d+$/.test(s) || s.length > 4300) throw new TorchLoadError("pickle: bad LONG");
        const b = BigInt(s);
        push(b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b);
        break;
      }
      case 0x8a: // LONG1
        push(readLong(take(take(1)[0]!)));
        break;
      case 0x8b: {
        // LONG4
        const k = len4();
        if (k > 1 << 16) throw new TorchLoadError("pickle: LONG4 too long");
        push(readLong(take(k)));
        break;
      }
      case 0x46: {
        // FLOAT (text)
        const v = Number(line().trim());
        if (Number.isNaN(v)) throw new TorchLoadError("pickle: bad FLOAT");
        push(v);
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        need(8);
        push(dv.getFloat64(p, false));
        p += 8;
        break;
      case 0x53: {
        // STRING (text, quoted)
        const s = line();
        const m = /^(['"])(.*)\1$/s.exec(s);
        if (!m) throw new TorchLoadError("pickle: bad STRING");
        push(m[2]);
        break;
      }
      case 0x54: // BINSTRING
        push(latin1.decode(take(len4())));
        break;
      case 0x55: // SHORT_BINSTRING
        push(latin1.decode(take(take(1)[0]!)));
        break;
      case 0x56: // UNICODE (raw-unicode-escape line)
        push(line().replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, a: string | undefined, b: string) => String.fromCodePoint(parseInt(a ?? b, 16))));
        break;
      case 0x58: // BINUNICODE
        push(str(take(len4())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        push(str(take(take(1)[0]!)));
        break;
      case 0x8d: // BINUNICODE8
        push(str(take(len8())));
        break;
      case 0x42: // BINBYTES
        push(take(len4()).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        push(take(take(1)[0]!).slice());
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        push(take(len8()).slice());
        break;
      case 0x5d: // EMPTY_LIST
        push([]);
        break;
      case 0x61: {
        // APPEND
        const v = pop();
        append(top(), v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const l = top();
        for (const v of items) append(l, v);
        break;
      }
      case 0x6c: // LIST
        push(popMark());
        break;
      case 0x29: // EMPTY_TUPLE
        push([]);
        break;
      case 0x74: // TUPLE
        push(popMark());
        break;
      case 0x85: // TUPLE1
        push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        push([a, b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        push([a, b, c]);
        break;
      }
      case 0x7d: // EMPTY_DICT
        push(new Map());
        break;
      case 0x64: {
        // DICT
        const items = popMark();
        if (items.length % 2) throw new TorchLoadError("pickle: DICT with an odd number of items");
        const m = new Map();
        for (let i = 0; i < items.length; i += 2) m.set(items[i], items[i + 1]);
        push(m);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItem(top(), k, v);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        if (items.length % 2) throw new TorchLoadError("pickle: SETITEMS with an odd number of items");
        const d = top();
        for (let i = 0; i < items.length; i += 2) setItem(d, items[i], items[i + 1]);
        break;
      }
      case 0x8f: // EMPTY_SET
        push(new Set());
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof Set)) throw new TorchLoadError("pickle: ADDITEMS on a non-set");
        for (const v of items) s.add(v);
        break;
      }
      case 0x91: // FROZENSET
        push(new Set(popMark()));
        break;
      case 0x70: // PUT
        memoPut(Number(line()));
        break;
      case 0x71: // BINPUT
        memoPut(take(1)[0]!);
        break;
      case 0x72: // LONG_BINPUT
        need(4);
        memoPut(dv.getUint32(p, true));
        p += 4;
        break;
      case 0x94: // MEMOIZE
        memoPut(memo.size);
        break;
      case 0x67: // GET
        memoGet(Number(line()));
        break;
      case 0x68: // BINGET
        memoGet(take(1)[0]!);
        break;
      case 0x6a: // LONG_BINGET
        need(4);
        memoGet(dv.getUint32(p, true));
        p += 4;
        break;
      case 0x63: {
        // GLOBAL
        const module = line();
        const name = line();
        push(global(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string") throw new TorchLoadError("pickle: STACK_GLOBAL needs strings");
        push(global(module, name));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        push(call(fn, args, "REDUCE"));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        const cls = pop();
        push(call(cls, args, "NEWOBJ"));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        pop(); // kwargs
        const args = pop();
        const cls = pop();
        push(call(cls, args, "NEWOBJ_EX"));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        const obj = top();
        if (obj instanceof PyNamespace) {
          charge(shallowSize(state));
          const entries = state instanceof Map ? [...state] : [];
          for (const [k, v] of entries) if (typeof k === "string") obj[k] = v;
        } else if (obj instanceof PyObject) {
          obj.state = state;
        } else if (obj instanceof TorchTensor || obj instanceof Map) {
          // Tensor/OrderedDict state (e.g. _metadata): data only, kept out of the result.
        } else {
          throw new TorchLoadError("pickle: BUILD on an object that cannot take state (refused)");
        }
        break;
      }
      case 0x51: // BINPERSID
        push(options.persistentLoad(pop()));
        break;
      case 0x50: // PERSID
        push(options.persistentLoad(line()));
        break;
      case 0x69: // INST
      case 0x6f: // OBJ
      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: // EXT4
      case 0x97: // NEXT_BUFFER
      case 0x98: // READONLY_BUFFER
        throw new TorchLoadError(`pickle opcode 0x${op.toString(16)} is not allowed`);
      default:
        throw new TorchLoadError(`unknown pickle opcode 0x${op.toString(16)} at offset ${p - 1}`);
    }
  }
}
