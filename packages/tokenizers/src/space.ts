import type { Tokenizer } from "./registry.js";

// Python's re `\s` on str patterns: Unicode whitespace (str.isspace) plus \x1c-\x1f.
const PY_WHITESPACE =
  /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/g;

/** fairseq's SpaceTokenizer: every run of whitespace becomes one space; decode is the identity. */
export class SpaceTokenizer implements Tokenizer {
  encode(line: string): string {
    return line.replace(PY_WHITESPACE, " ");
  }

  decode(line: string): string {
    return line;
  }
}
