import { readFileSync } from "node:fs";
import { parseAlignDict } from "@fairseq-ts/generate";

/** `--replace-unk [FILE]`: null when off; an alignment dictionary (empty = copy the source word) when on. */
export function alignDictOf(replaceUnk: string | null): Map<string, string> | null {
  if (replaceUnk === null) return null;
  if (replaceUnk === "") return parseAlignDict(null);
  try {
    return parseAlignDict(readFileSync(replaceUnk, "utf8"));
  } catch (err) {
    throw new Error(`--replace-unk ${replaceUnk}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}
