import type { Dictionary } from "@fairseq-ts/dictionary";
import { readLines } from "../binarizer.js";
import type { TokenSequenceDataset } from "./mmap-indexed-dataset.js";

/**
 * fairseq's `IndexedRawTextDataset` (`--dataset-impl raw`): a text file encoded with a dictionary at
 * load time (no adds, eos appended), one item per line.
 */
export class RawTextDataset implements TokenSequenceDataset {
  readonly sizes: Int32Array;
  private readonly items: Int32Array[];
  /** The lines as read (fairseq's get_original_text: `--replace-unk` copies unknown words from them). */
  readonly lines: string[] = [];

  constructor(path: string, dictionary: Dictionary, options: { appendEos?: boolean; reverseOrder?: boolean } = {}) {
    // readLines streams the file and names it (and the line) in its errors.
    this.items = [];
    for (const line of readLines(path)) {
      this.lines.push(line);
      this.items.push(dictionary.encodeLine(line, { addIfNotExist: false, appendEos: options.appendEos ?? true, reverseOrder: options.reverseOrder ?? false }));
    }
    this.sizes = Int32Array.from(this.items, (x) => x.length);
  }

  get length(): number {
    return this.items.length;
  }

  getOriginalText(i: number): string {
    const line = this.lines[i];
    if (line === undefined) throw new RangeError(`index ${i} out of range (${this.lines.length} items)`);
    return line;
  }

  get(i: number): Int32Array {
    const item = this.items[i];
    if (!item) throw new RangeError(`index ${i} out of range (${this.items.length} items)`);
    return item;
  }
}
