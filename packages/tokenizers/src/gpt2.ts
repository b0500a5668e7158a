import { readTextSync } from "./node-fs.js";
import { tokenizeLine } from "@fairseq-ts/dictionary";
import { type Bpe, type EncoderOptions, stringOption } from "./registry.js";

/**
 * GPT-2's byte-to-unicode table (bytes_to_unicode): printable Latin-1 bytes map to themselves, the other
 * 68 bytes to U+0100.. in order, so every byte string is a string of visible characters.
 */
function bytesToUnicode(): string[] {
  const table = new Array<string>(256);
  const printable = (b: number): boolean => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let n = 0;
  for (let b = 0; b < 256; b++) table[b] = printable(b) ? String.fromCharCode(b) : String.fromCharCode(256 + n++);
  return table;
}

const BYTE_ENCODER = bytesToUnicode();
const BYTE_DECODER = new Map<string, number>(BYTE_ENCODER.map((c, b) => [c, b]));

// The `regex` module's \s is Unicode White_Space (not JS's \s, which adds U+FEFF and lacks U+0085).
const PRETOKENIZE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu;

const utf8 = new TextEncoder();
const utf8Lenient = new TextDecoder("utf-8", { ignoreBOM: true }); // U+FFFD for invalid sequences, like errors="replace"

/**
 * GPT-2's byte-level BPE (fairseq/data/encoders/gpt2_bpe_utils.py Encoder): pre-tokenizes with GPT-2's
 * pattern, maps UTF-8 bytes to characters, merges by rank from vocab.bpe, looks pieces up in encoder.json.
 */
export class Gpt2BpeEncoder {
  private readonly encoder: Map<string, number>;
  private readonly decoder: Map<number, string>;
  private readonly ranks = new Map<string, number>();
  private readonly cache = new Map<string, string[]>();

  constructor(encoder: Record<string, number>, merges: [string, string][]) {
    this.encoder = new Map(Object.entries(encoder));
    this.decoder = new Map([...this.encoder].map(([k, v]) => [v, k]));
    merges.forEach(([a, b], i) => this.ranks.set(`${a} ${b}`, i)); // a repeated merge keeps its last rank
  }

  /** From the contents of encoder.json and vocab.bpe; `what` names them in errors. */
  static fromText(encoderJson: string, vocabBpe: string, what = ["encoder.json", "vocab.bpe"]): Gpt2BpeEncoder {
    let encoder: unknown;
    try {
      encoder = JSON.parse(encoderJson);
    } catch (e) {
      throw new Error(`${what[0]}: not JSON (${(e as Error).message})`);
    }
    if (encoder === null || typeof encoder !== "object" || Array.isArray(encoder)) throw new Error(`${what[0]}: expected an object of token -> id`);
    for (const [k, v] of Object.entries(encoder)) {
      if (!Number.isInteger(v)) throw new Error(`${what[0]}: the id of ${JSON.stringify(k)} is not an integer`);
    }
    // bpe_data.split("\n")[1:-1]: the first line is a header, the last element follows the final newline
    const lines = vocabBpe.split("\n").slice(1, -1);
    const merges = lines.map((line, i): [string, string] => {
      const parts = tokenizeLine(line);
      if (parts.length !== 2) throw new Error(`${what[1]}: line ${i + 2} is not a merge of two symbols: ${JSON.stringify(line)}`);
      return [parts[0]!, parts[1]!];
    });
    return new Gpt2BpeEncoder(encoder as Record<string, number>, merges);
  }

  /** The BPE of one pre-token (already byte-encoded), as space-free pieces. */
  private bpe(token: string): string[] {
    const cached = this.cache.get(token);
    if (cached !== undefined) return cached;
    let word = Array.from(token);
    if (word.length < 2) return word;
    const ranks = this.ranks;
    for (;;) {
      let best = Infinity;
      let first = "";
      let second = "";
      for (let i = 0; i + 1 < word.length; i++) {
        const r = ranks.get(`${word[i]} ${word[i + 1]}`);
        if (r !== undefined && r < best) {
          best = r;
          first = word[i]!;
          second = word[i + 1]!;
        }
      }
      if (best === Infinity) break;
      const next: string[] = [];
      for (let i = 0; i < word.length;) {
        if (word[i] === first && i < word.length - 1 && word[i + 1] === second) {
          next.push(first + second);
          i += 2;
        } else {
          next.push(word[i]!);
          i += 1;
        }
      }
      word = next;
      if (word.length === 1) break;
    }
    this.cache.set(token, word);
    return word;
  }

  /** Token ids of `text`. */
  encode(text: string): number[] {
    const ids: number[] = [];
    for (const m of text.matchAll(PRETOKENIZE)) {
      let token = "";
      for (const b of utf8.encode(m[0])) token += BYTE_ENCODER[b];
      for (const piece of this.bpe(token)) {
        const id = this.encoder.get(piece);
        if (id === undefined) throw new Error(`gpt2 bpe: ${JSON.stringify(piece)} is not in encoder.json`);
        ids.push(id);
      }
    }
    return ids;
  }

  /** Text of token ids (strings such as "<unk>" pass through as text). */
  decode(tokens: readonly (number | string)[]): string {
    let chars = "";
    for (const t of tokens) {
      if (typeof t === "string") chars += t;
      else {
        const s = this.decoder.get(t);
        if (s === undefined) throw new Error(`gpt2 bpe: id ${t} is not in encoder.json`);
        chars += s;
      }
    }
    const bytes = new Uint8Array(chars.length);
    let n = 0;
    for (const c of chars) {
      const b = BYTE_DECODER.get(c);
      if (b === undefined) throw new Error(`gpt2 bpe: cannot decode character ${JSON.stringify(c)}`);
      bytes[n++] = b;
    }
    return utf8Lenient.decode(bytes.subarray(0, n));
  }
}

/**
 * fairseq's `--bpe gpt2` (GPT2BPE): encode = token ids joined by spaces; decode = the text of those ids
 * ("<unk>" and "<mask>" kept as text); a token begins a word if its text starts with a space.
 */
export class Gpt2Bpe implements Bpe {
  constructor(readonly bpe: Gpt2BpeEncoder) {}

  /** Options: `gpt2EncoderJson` and `gpt2VocabBpe` (local paths; fairseq's default URLs are not fetched). */
  static fromOptions(opts: EncoderOptions): Gpt2Bpe {
    const json = stringOption(opts, "gpt2EncoderJson", "--gpt2-encoder-json");
    const vocab = stringOption(opts, "gpt2VocabBpe", "--gpt2-vocab-bpe");
    if (!json || json.startsWith("http")) throw new Error("--gpt2-encoder-json: pass the path of a local encoder.json (nothing is downloaded)");
    if (!vocab || vocab.startsWith("http")) throw new Error("--gpt2-vocab-bpe: pass the path of a local vocab.bpe (nothing is downloaded)");
    return new Gpt2Bpe(
      Gpt2BpeEncoder.fromText(readTextSync(json, "--gpt2-encoder-json"), readTextSync(vocab, "--gpt2-vocab-bpe"), [
        `--gpt2-encoder-json ${json}`,
        `--gpt2-vocab-bpe ${vocab}`,
      ]),
    );
  }

  encode(line: string): string {
    return this.bpe.encode(line).join(" ");
  }

  decode(line: string): string {
    return this.bpe.decode(
      tokenizeLine(line).map((tok) => {
        if (tok === "<unk>" || tok === "<mask>") return tok;
        const v = tok.trim().replaceAll("_", "");
        if (!/^[+-]?\d+$/.test(v)) throw new Error(`--bpe=gpt2: cannot decode token ${JSON.stringify(tok)} (not an id)`);
        return Number(v);
      }),
    );
  }

  isBeginningOfWord(token: string): boolean {
    return this.decode(token).startsWith(" ");
  }
}
