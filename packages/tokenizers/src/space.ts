import { collapseSpaces } from "./pystr.js";
import type { Tokenizer } from "./registry.js";

/** fairseq's SpaceTokenizer: every run of whitespace (Python's `\s+`) becomes one space; decode is the identity. */
export class SpaceTokenizer implements Tokenizer {
  encode(line: string): string {
    return collapseSpaces(line);
  }

  decode(line: string): string {
    return line;
  }
}
