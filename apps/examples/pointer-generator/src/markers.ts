/**
 * fairseq's examples/pointer_generator/preprocess.py, postprocess.py and the README's dictionary loop: words outside
 * the vocabulary become `<unk-N>` (N = the word's first position in the source), the model copies those markers, and
 * postprocessing puts the source words back. Words are split as Python's `str.split()` (fairseq's `tokenize_line`).
 */
import { compareCodePoints, tokenizeLine } from "@fairseq-ts/dictionary";

/** `<unk-N>`, the marker of source position N. */
export const positionMarker = (position: number): string => `<unk-${position}>`;

/** One example after preprocessing. */
export interface MarkedExample {
  source: string;
  /** Only when a target was given. */
  target?: string;
}

/**
 * preprocess.py's `replace_oovs` on one example: each source word not in `vocabulary` becomes the marker of the
 * position where the word first occurs in the source; each target word that occurs in the source as such an
 * out-of-vocabulary word becomes that marker (other target words are kept: the binarizer maps them to `<unk>`).
 * `vocabulary` holds the dictionary's words, markers included (preprocess.py reads `cut -d' ' -f1 dict.pg.txt`).
 */
export function replaceOovs(source: string, target: string | undefined, vocabulary: ReadonlySet<string>): MarkedExample {
  const wordToPos = new Map<string, number>();
  const src = tokenizeLine(source).map((token, position) => {
    if (vocabulary.has(token)) return token;
    let pos = wordToPos.get(token);
    if (pos === undefined) {
      pos = position;
      wordToPos.set(token, pos);
    }
    return positionMarker(pos);
  });
  if (target === undefined) return { source: src.join(" ") };
  const tgt = tokenizeLine(target).map((token) => {
    const pos = wordToPos.get(token);
    return pos === undefined ? token : positionMarker(pos);
  });
  return { source: src.join(" "), target: tgt.join(" ") };
}

/** postprocess.py's error: a marker points past the end of its source. */
export class OovIndexError extends RangeError {
  constructor(
    readonly sourcePos: number,
    readonly sourceSeq: string,
    readonly targetSeq: string,
    readonly line?: number,
  ) {
    super(
      `${line === undefined ? "" : `line ${line}: `}<unk-${sourcePos}> in the target refers to a position outside the source (${tokenizeLine(sourceSeq).length} words): ` +
        "the source and target files do not match, or the model pointed past the end of the source",
    );
    this.name = "OovIndexError";
  }
}

const MARKER = /^<unk-([0-9]+)>$/;

/**
 * postprocess.py's `replace_oovs` on one line: every `<unk-N>` of the hypothesis becomes word N of the original
 * (unprocessed) source. Throws OovIndexError when N is past the source's end.
 */
export function restoreOovs(source: string, hypothesis: string, line?: number): string {
  const posToWord = tokenizeLine(source);
  return tokenizeLine(hypothesis)
    .map((token) => {
      const m = MARKER.exec(token);
      if (!m) return token;
      const pos = Number(m[1]);
      if (pos >= posToWord.length) throw new OovIndexError(pos, source, hypothesis, line);
      return posToWord[pos]!;
    })
    .join(" ");
}

// tr -s '[:space:]' '\n' under LC_ALL=C splits on the six ASCII space characters only
const C_SPACE = /[ \t\n\v\f\r]+/;

/**
 * The README's dictionary: the `vocabSize - 4` most frequent words of `lines` (the 4 leave room for the dictionary's
 * `<s> <pad> </s> <unk>`), count descending and ties in byte order (`LC_ALL=C sort -k1,1bnr -k2`: UTF-8 bytes order as code points), then
 * `<unk-0> 0` .. `<unk-(markers-1)> 0`. Returns dict.txt's text ("word count" lines).
 */
export function buildPointerGeneratorDictionary(lines: Iterable<string>, vocabSize: number, markers: number): string {
  if (!Number.isInteger(vocabSize) || vocabSize < 4) throw new Error(`vocabulary size ${vocabSize}: must be an integer ≥ 4`);
  if (!Number.isInteger(markers) || markers < 0) throw new Error(`source position markers ${markers}: must be a non-negative integer`);
  const counts = new Map<string, number>();
  for (const line of lines) for (const w of line.split(C_SPACE)) if (w.length > 0) counts.set(w, (counts.get(w) ?? 0) + 1);
  const words = [...counts].sort((a, b) => b[1] - a[1] || compareCodePoints(a[0], b[0])).slice(0, vocabSize - 4);
  const out = words.map(([w, c]) => `${w} ${c}\n`);
  for (let n = 0; n < markers; n++) out.push(`${positionMarker(n)} 0\n`);
  return out.join("");
}

/** The words of a dict.txt (first field of each line, as `cut -d' ' -f1`), for `replaceOovs`. */
export function dictionaryWords(dictText: string): Set<string> {
  const words = new Set<string>();
  for (const line of dictText.split("\n")) if (line.length > 0) words.add(line.split(" ")[0]!);
  return words;
}
