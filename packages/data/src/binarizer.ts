import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { tokenizeLine, type Dictionary } from "@fairseq-ts/dictionary";

/** A text input could not be read or decoded; `file` (and `line` when known) say where. */
export class TextInputError extends Error {
  override name = "TextInputError";
  constructor(
    message: string,
    readonly file: string,
    readonly line?: number,
  ) {
    super(`${file}${line !== undefined ? `:${line}` : ""}: ${message}`);
  }
}

function openForRead(path: string): number {
  try {
    const fd = openSync(path, "r");
    // open(2) succeeds on a directory; the read would then fail with an EISDIR that names no file
    if (fstatSync(fd).isDirectory()) {
      closeSync(fd);
      throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
    }
    return fd;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "is a directory" : String(code ?? err);
    throw new TextInputError(`cannot read (${why})`, path);
  }
}

/**
 * fairseq's `Binarizer.find_offsets`: split a file into `numChunks` byte ranges that start at line
 * starts (Python universal newlines). `offsets[numChunks]` is 0, meaning "to the end".
 */
export function findOffsets(path: string, numChunks: number): number[] {
  const fd = openForRead(path);
  try {
    const size = fstatSync(fd).size;
    const chunk = Math.floor(size / numChunks);
    const offsets = new Array<number>(numChunks + 1).fill(0);
    const buf = new Uint8Array(64 * 1024);
    for (let i = 1; i < numChunks; i++) {
      let pos = chunk * i;
      let found = -1;
      while (found < 0 && pos < size) {
        const n = readSync(fd, buf, 0, buf.length, pos);
        if (n === 0) break;
        for (let j = 0; j < n; j++) {
          const c = buf[j]!;
          if (c === 10) {
            found = pos + j + 1;
            break;
          }
          if (c === 13) {
            // "\r\n" is one terminator; look at the next byte (it may be in the next read).
            const next = new Uint8Array(1);
            const m = readSync(fd, next, 0, 1, pos + j + 1);
            found = pos + j + 1 + (m === 1 && next[0] === 10 ? 1 : 0);
            break;
          }
        }
        if (found < 0) pos += n;
      }
      offsets[i] = found < 0 ? size : found;
    }
    return offsets;
  } finally {
    closeSync(fd);
  }
}

export interface ReadLinesOptions {
  /** First byte to read (a line start). */
  offset?: number;
  /** Stop before this byte (a line start); 0 = end of file, as in fairseq. */
  end?: number;
}

/**
 * The lines of a UTF-8 text file, streamed in 1 MiB chunks, split like Python's text-mode reading
 * (`\n`, `\r\n`, lone `\r`). Invalid UTF-8 is a `TextInputError` naming the file and line (counted
 * from `offset`).
 */
export function* readLines(path: string, options: ReadLinesOptions = {}): Generator<string> {
  const fd = openForRead(path);
  const decoder = new TextDecoder("utf-8", { fatal: true });
  try {
    const size = fstatSync(fd).size;
    const start = options.offset ?? 0;
    const stop = options.end && options.end > 0 ? Math.min(options.end, size) : size;
    let pos = start;
    let carry: Uint8Array = new Uint8Array(0);
    let lineNo = 0;
    const CHUNK = 1 << 20;
    const decodeLines = (bytes: Uint8Array, final: boolean): string[] => {
      let text: string;
      try {
        text = decoder.decode(bytes);
      } catch {
        throw new TextInputError("invalid UTF-8", path, lineNo + firstBadLine(bytes));
      }
      const lines = text.split(/\r\n|\r|\n/);
      // A complete region ends with a terminator, so its last piece is "" and is not a line.
      if (!final || lines[lines.length - 1] === "") lines.pop();
      lineNo += lines.length;
      return lines;
    };
    while (pos < stop) {
      const want = Math.min(CHUNK, stop - pos);
      const buf = new Uint8Array(carry.length + want);
      buf.set(carry, 0);
      let got = 0;
      while (got < want) {
        const n = readSync(fd, buf, carry.length + got, want - got, pos + got);
        if (n === 0) break;
        got += n;
      }
      pos += got;
      const data = got === want ? buf : buf.subarray(0, carry.length + got);
      const atEnd = pos >= stop || got === 0;
      // Cut after the last terminator; hold back a trailing "\r" (its "\n" may come next).
      let cut = -1;
      for (let j = data.length - 1; j >= 0; j--) {
        const c = data[j]!;
        if (c === 10 || c === 13) {
          cut = j + 1;
          if (c === 13 && j === data.length - 1 && !atEnd) cut = j;
          break;
        }
      }
      if (atEnd) {
        if (data.length > 0) yield* decodeLines(data, true);
        carry = new Uint8Array(0);
        break;
      }
      if (cut <= 0) {
        carry = data.slice();
        continue;
      }
      yield* decodeLines(data.subarray(0, cut), false);
      carry = data.slice(cut);
    }
    if (carry.length > 0) yield* decodeLines(carry, true);
  } finally {
    closeSync(fd);
  }
}

/** 1-based line (within `bytes`) of the first invalid UTF-8 sequence. */
function firstBadLine(bytes: Uint8Array): number {
  const dec = new TextDecoder("utf-8", { fatal: true });
  let line = 1;
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    const c = bytes[i];
    if (i === bytes.length || c === 10 || c === 13) {
      try {
        dec.decode(bytes.subarray(start, i));
      } catch {
        return line;
      }
      if (c === 13 && bytes[i + 1] === 10) i++;
      line++;
      start = i + 1;
    }
  }
  return line;
}

export interface BinarizeStats {
  /** Sentences. */
  nseq: number;
  /** Tokens, eos included. */
  ntok: number;
  /** Words replaced by `<unk>` (not counting literal `<unk>` words). */
  nunk: number;
  /** Replacement counts per word. */
  replaced: Map<string, number>;
}

/**
 * fairseq's `Binarizer.binarize`: encode each line of a byte range with a fixed dictionary (no adds,
 * eos appended) and hand the ids to `consumer`.
 */
export function binarize(
  path: string,
  dict: Dictionary,
  consumer: (ids: Int32Array) => void,
  options: ReadLinesOptions & { appendEos?: boolean; reverseOrder?: boolean } = {},
): BinarizeStats {
  const replaced = new Map<string, number>();
  let nseq = 0;
  let ntok = 0;
  let nunk = 0;
  const unk = dict.unkIndex;
  const unkWord = dict.unkWord;
  const onWord = (word: string, id: number) => {
    if (id === unk && word !== unkWord) {
      replaced.set(word, (replaced.get(word) ?? 0) + 1);
      nunk++;
    }
  };
  for (const line of readLines(path, options)) {
    const ids = dict.encodeLine(line, {
      addIfNotExist: false,
      consumer: onWord,
      appendEos: options.appendEos ?? true,
      reverseOrder: options.reverseOrder ?? false,
    });
    nseq++;
    ntok += ids.length;
    consumer(ids);
  }
  return { nseq, ntok, nunk, replaced };
}

/** Count words (and one eos per line) of a file range, as fairseq's dictionary building does. */
export function countWords(path: string, eosWord: string, options: ReadLinesOptions = {}, into = new Map<string, number>()): Map<string, number> {
  let lines = 0;
  for (const line of readLines(path, options)) {
    lines++;
    for (const w of tokenizeLine(line)) into.set(w, (into.get(w) ?? 0) + 1);
  }
  into.set(eosWord, (into.get(eosWord) ?? 0) + lines);
  return into;
}
