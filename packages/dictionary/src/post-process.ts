import { pyRstrip, pyStrip } from "./text.js";

/**
 * What `--remove-bpe` / `--post-process` can name. `"subword_nmt"` is an alias of `"@@ "`;
 * any other string is removed literally (fairseq's behaviour for a custom BPE symbol).
 */
export type PostProcess = "sentencepiece" | "wordpiece" | "letter" | "silence" | "_EOW" | "subword_nmt" | "@@ " | "@@" | "none" | (string & {});

function replaceAll(s: string, from: string, to: string): string {
  return from === "" ? s : s.split(from).join(to);
}

/**
 * fairseq's `data_utils.post_process`: undo a subword segmentation on a space-joined sentence.
 */
export function postProcess(sentence: string, symbol: PostProcess | null | undefined): string {
  if (symbol == null || symbol === "none") return sentence;
  switch (symbol) {
    case "sentencepiece":
      return pyStrip(replaceAll(replaceAll(sentence, " ", ""), "\u2581", " "));
    case "wordpiece":
      return pyStrip(replaceAll(replaceAll(sentence, " ", ""), "_", " "));
    case "letter":
      return pyStrip(replaceAll(replaceAll(sentence, " ", ""), "|", " "));
    case "silence":
      return pyStrip(replaceAll(replaceAll(sentence, "<SIL>", ""), "  ", " "));
    case "_EOW":
      return pyStrip(replaceAll(replaceAll(sentence, " ", ""), "_EOW", " "));
    case "subword_nmt":
      return pyRstrip(replaceAll(sentence + " ", "@@ ", ""));
    default:
      return pyRstrip(replaceAll(sentence + " ", symbol, ""));
  }
}
