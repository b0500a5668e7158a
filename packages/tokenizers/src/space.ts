import { normalizeSpace } from "@fairseq-ts/dictionary";
import type { Tokenizer } from "./registry.js";

/** fairseq's SpaceTokenizer: every run of whitespace (Python's `\s+`) becomes one space; decode is the identity. */
export class SpaceTokenizer implements Tokenizer {
  encode(line: string): string {
    return normalizeSpace(line);
  }

  decode(line: string): string {
    return line;
  }
}
