/**
 * Python literals as `ast.literal_eval` reads them, for fairseq's `--model-overrides '{"beam": 3, ...}'` (fairseq
 * evaluates the flag's text as a Python dict): strings ('...', "...", triple-quoted, r/u prefixes, escapes, adjacent
 * strings joined), ints (decimal, 0x/0o/0b, underscores), floats, True/False/None, lists, tuples and dicts with string
 * keys, nested. Nothing is executed; anything else (names, calls, sets, bytes, complex numbers) is an error giving
 * the column where the text stops being a literal.
 */

/** A Python literal as a JS value: int/float -> number, str -> string, bool, None -> null, list/tuple -> array, dict -> object. */
export type PyLiteral = number | string | boolean | null | PyLiteral[] | { [key: string]: PyLiteral };

/** Text that is not a Python literal; `column` is 1-based. */
export class PythonLiteralError extends Error {
  override readonly name = "PythonLiteralError";
  constructor(
    readonly reason: string,
    readonly column: number,
  ) {
    super(`${reason} at column ${column}`);
  }
}

const SIMPLE_ESCAPES: Record<string, string> = { "\\": "\\", "'": "'", '"': '"', a: "\x07", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v" };

class Parser {
  private i = 0;
  constructor(private readonly s: string) {}

  fail(reason: string, at = this.i): never {
    throw new PythonLiteralError(reason, at + 1);
  }

  private skipSpace(): void {
    for (;;) {
      const c = this.s[this.i];
      if (c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f") this.i++;
      else if (c === "\\" && this.s[this.i + 1] === "\n")
        this.i += 2; // explicit line joining
      else if (c === "#") while (this.i < this.s.length && this.s[this.i] !== "\n") this.i++;
      else return;
    }
  }

  private peek(): string | undefined {
    this.skipSpace();
    return this.s[this.i];
  }

  private shown(): string {
    if (this.i >= this.s.length) return "the end of the text";
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.s.slice(this.i));
    return `'${word ? word[0] : this.s[this.i]}'`;
  }

  /** The whole text: one value (or a bare tuple `1, 2`), nothing after it. */
  document(): PyLiteral {
    if (this.peek() === undefined) this.fail("empty text: expected a Python literal");
    const first = this.value();
    let result = first;
    if (this.peek() === ",") {
      const items = [first];
      while (this.peek() === ",") {
        this.i++;
        const next = this.peek();
        if (next === undefined) break;
        items.push(this.value());
      }
      result = items;
    }
    if (this.peek() !== undefined) this.fail(`unexpected ${this.shown()} after the literal`);
    return result;
  }

  value(): PyLiteral {
    const c = this.peek();
    if (c === undefined) this.fail("unexpected end of the text: expected a value");
    if (c === "{") return this.dict();
    if (c === "[") return this.sequence("[", "]", "list");
    if (c === "(") return this.parenthesized();
    if (c === "-" || c === "+") {
      const at = this.i;
      this.i++;
      const n = this.peek();
      if (n === undefined || !/[0-9.]/.test(n)) this.fail(`unary ${c} applies only to a number`, at);
      const v = this.number();
      return c === "-" ? -v : v;
    }
    if (/[0-9.]/.test(c)) return this.number();
    if (c === "'" || c === '"' || /^[rRuUbBfF]{1,2}['"]/.test(this.s.slice(this.i, this.i + 3))) return this.strings();
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.s.slice(this.i));
    if (word) {
      const w = word[0];
      const at = this.i;
      this.i += w.length;
      if (w === "True") return true;
      if (w === "False") return false;
      if (w === "None") return null;
      this.fail(`'${w}' is not a literal (only strings, numbers, True, False, None, lists, tuples and dicts)`, at);
    }
    return this.fail(`unexpected ${this.shown()}: expected a value`);
  }

  private dict(): { [key: string]: PyLiteral } {
    const open = this.i;
    this.i++; // {
    const out: { [key: string]: PyLiteral } = {};
    if (this.peek() === "}") {
      this.i++;
      return out;
    }
    for (;;) {
      const keyAt = (this.skipSpace(), this.i);
      const key = this.value();
      const sep = this.peek();
      if (sep === "," || sep === "}") this.fail("sets are not supported (expected ':' after a dict key)");
      if (sep !== ":") this.fail(`expected ':' after the dict key, got ${this.shown()}`);
      if (typeof key !== "string") this.fail(`dict keys must be strings, got ${JSON.stringify(key)}`, keyAt);
      this.i++;
      // (Object.defineProperty: a key "__proto__" is an ordinary key here, as in Python)
      Object.defineProperty(out, key, { value: this.value(), enumerable: true, writable: true, configurable: true });
      const next = this.peek();
      if (next === ",") {
        this.i++;
        if (this.peek() === "}") {
          this.i++;
          return out;
        }
        continue;
      }
      if (next === "}") {
        this.i++;
        return out;
      }
      if (next === undefined) this.fail(`unclosed '{' (opened at column ${open + 1})`);
      this.fail(`expected ',' or '}' after a dict value, got ${this.shown()}`);
    }
  }

  private sequence(openChar: string, close: string, what: string): PyLiteral[] {
    const open = this.i;
    this.i++;
    const out: PyLiteral[] = [];
    for (;;) {
      const c = this.peek();
      if (c === close) {
        this.i++;
        return out;
      }
      if (c === undefined) this.fail(`unclosed '${openChar}' (opened at column ${open + 1})`);
      if (c === ",") this.fail(`unexpected ',' in the ${what}`);
      out.push(this.value());
      const next = this.peek();
      if (next === ",") this.i++;
      else if (next !== close) {
        if (next === undefined) this.fail(`unclosed '${openChar}' (opened at column ${open + 1})`);
        this.fail(`expected ',' or '${close}' in the ${what}, got ${this.shown()}`);
      }
    }
  }

  /** `()` and `(a,)`/`(a, b)` are tuples (arrays); `(a)` is a. */
  private parenthesized(): PyLiteral {
    const open = this.i;
    this.i++;
    if (this.peek() === ")") {
      this.i++;
      return [];
    }
    const first = this.value();
    const next = this.peek();
    if (next === ")") {
      this.i++;
      return first;
    }
    if (next !== ",") {
      if (next === undefined) this.fail(`unclosed '(' (opened at column ${open + 1})`);
      this.fail(`expected ',' or ')' in the tuple, got ${this.shown()}`);
    }
    // the rest of a tuple: what a list's items are, after the first and its comma
    this.i++;
    const items = [first];
    for (;;) {
      const c = this.peek();
      if (c === ")") {
        this.i++;
        return items;
      }
      if (c === undefined) this.fail(`unclosed '(' (opened at column ${open + 1})`);
      items.push(this.value());
      const after = this.peek();
      if (after === ",") this.i++;
      else if (after !== ")") {
        if (after === undefined) this.fail(`unclosed '(' (opened at column ${open + 1})`);
        this.fail(`expected ',' or ')' in the tuple, got ${this.shown()}`);
      }
    }
  }

  private number(): number {
    const start = this.i;
    const rest = this.s.slice(start);
    const radix = /^0([xXoObB])(_?[0-9A-Za-z])+/.exec(rest);
    let text: string;
    let value: number;
    if (radix) {
      text = radix[0];
      const base = { x: 16, o: 8, b: 2 }[radix[1]!.toLowerCase() as "x" | "o" | "b"];
      const digits = text.slice(2).replace(/_/g, "");
      const valid = base === 16 ? /^[0-9a-fA-F]+$/ : base === 8 ? /^[0-7]+$/ : /^[01]+$/;
      if (!valid.test(digits)) this.fail(`invalid ${{ 16: "hexadecimal", 8: "octal", 2: "binary" }[base]} literal '${text}'`, start);
      value = parseInt(digits, base);
    } else {
      const m = /^(?:\d(?:_?\d)*)?(?:\.(?:\d(?:_?\d)*)?)?(?:[eE][+-]?\d(?:_?\d)*)?/.exec(rest);
      text = m ? m[0] : "";
      if (text === "" || text === "." || /^\.[eE]/.test(text)) this.fail(`invalid number`, start);
      const isFloat = /[.eE]/.test(text);
      // Python 3: a decimal integer does not start with 0 (except zeros): 012 is a syntax error
      if (!isFloat && /^0+[1-9]/.test(text.replace(/_/g, ""))) this.fail(`leading zeros in a decimal integer ('${text}'; use 0o for octal)`, start);
      value = Number(text.replace(/_/g, ""));
      if (!isFloat && !Number.isSafeInteger(value)) this.fail(`integer ${text} is too large for a float64 without rounding`, start);
    }
    this.i = start + text.length;
    const after = this.s[this.i];
    if (after === "j" || after === "J") this.fail("complex numbers are not supported", start);
    if (after !== undefined && /[A-Za-z0-9_]/.test(after)) this.fail(`invalid number '${text}${after}'`, start);
    return value;
  }

  /** One string, or adjacent ones joined ('a' "b" -> 'ab'), as Python's parser does. */
  private strings(): string {
    let out = this.string();
    for (;;) {
      const c = this.peek();
      if (c === "'" || c === '"' || (c !== undefined && /^[rRuUbBfF]{1,2}['"]/.test(this.s.slice(this.i, this.i + 3)))) out += this.string();
      else return out;
    }
  }

  private string(): string {
    const start = this.i;
    const prefix = /^[rRuUbBfF]*/.exec(this.s.slice(this.i))![0];
    const p = prefix.toLowerCase();
    if (p.includes("b")) this.fail("bytes literals are not supported", start);
    if (p.includes("f")) this.fail("f-strings are not literals", start);
    if (!["", "r", "u"].includes(p)) this.fail(`invalid string prefix '${prefix}'`, start);
    const raw = p === "r";
    this.i += prefix.length;
    const q = this.s[this.i]!;
    const triple = this.s.startsWith(q.repeat(3), this.i);
    const close = triple ? q.repeat(3) : q;
    this.i += close.length;
    let out = "";
    for (;;) {
      if (this.i >= this.s.length) this.fail(`unterminated string (opened at column ${start + 1})`, start);
      if (this.s.startsWith(close, this.i)) {
        this.i += close.length;
        return out;
      }
      const c = this.s[this.i]!;
      if (c === "\n" && !triple) this.fail(`unterminated string (opened at column ${start + 1})`, start);
      if (c !== "\\") {
        out += c;
        this.i++;
        continue;
      }
      const e = this.s[this.i + 1];
      if (e === undefined) this.fail(`unterminated string (opened at column ${start + 1})`, start);
      if (raw) {
        // a raw string keeps the backslash, and the quote after it does not close the string
        out += c + e;
        this.i += 2;
        continue;
      }
      this.i += 2;
      if (e === "\n") continue;
      if (e in SIMPLE_ESCAPES) out += SIMPLE_ESCAPES[e];
      else if (/[0-7]/.test(e)) {
        const m = /^[0-7]{0,2}/.exec(this.s.slice(this.i))![0];
        out += String.fromCodePoint(parseInt(e + m, 8));
        this.i += m.length;
      } else if (e === "x" || e === "u" || e === "U") {
        const n = e === "x" ? 2 : e === "u" ? 4 : 8;
        const hex = this.s.slice(this.i, this.i + n);
        if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) this.fail(`truncated \\${e} escape (needs ${n} hex digits)`, this.i - 2);
        const cp = parseInt(hex, 16);
        if (cp > 0x10ffff) this.fail(`\\U escape out of Unicode's range`, this.i - 2);
        out += String.fromCodePoint(cp);
        this.i += n;
      } else if (e === "N") this.fail("\\N{...} escapes are not supported", this.i - 2);
      else out += c + e; // Python keeps an unknown escape as it is
    }
  }
}

/** Parse `text` as one Python literal (ast.literal_eval); throws a PythonLiteralError giving the column. */
export function parsePythonLiteral(text: string): PyLiteral {
  return new Parser(text).document();
}

/**
 * fairseq's `--model-overrides` (default `{}`): a Python dict literal whose entries replace the checkpoint's stored
 * args before each model is built (load_model_ensemble's arg_overrides). Throws an Error (no flag named: the caller
 * names it) when the text is not a literal or not a dict.
 */
export function parseModelOverrides(text: string): Record<string, PyLiteral> {
  let v: PyLiteral;
  try {
    v = parsePythonLiteral(text);
  } catch (err) {
    if (err instanceof PythonLiteralError) throw new Error(`not a Python dict literal: ${err.message} of ${JSON.stringify(text)}`);
    throw err;
  }
  if (v === null || typeof v !== "object" || Array.isArray(v))
    throw new Error(`expected a Python dict such as {'dropout': 0.2}, got ${Array.isArray(v) ? "a list/tuple" : JSON.stringify(v)}`);
  return v;
}
