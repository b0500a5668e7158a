import { tokenizeLine } from "@fairseq-ts/dictionary";

/** fairseq's get_token_to_word_mapping: 1-based word number of every token (excluded tokens repeat the previous one). */
function tokenToWord(tokens: ArrayLike<number>, exclude: number[]): number[] {
  const out: number[] = [];
  let w = 0;
  for (let i = 0; i < tokens.length; i++) {
    if (!exclude.includes(tokens[i]!)) w++;
    out.push(w);
  }
  return out;
}

/**
 * fairseq's `utils.extract_hard_alignment` (what `--print-alignment` prints as `A-` lines): for every
 * target token that is not pad/eos, the source position of highest attention among the source tokens
 * that are not pad/eos, as (source word, target word) pairs counted from 0.
 * `attention[t][s]`: target position t's attention over source position s (left-padded source).
 */
export function extractHardAlignment(
  attention: readonly Float32Array[],
  srcTokens: ArrayLike<number>,
  tgtTokens: ArrayLike<number>,
  pad: number,
  eos: number,
): [number, number][] {
  const tgtValid: number[] = [];
  for (let t = 0; t < tgtTokens.length; t++) if (tgtTokens[t] !== pad && tgtTokens[t] !== eos) tgtValid.push(t);
  const srcValid: boolean[] = Array.from({ length: srcTokens.length }, (_, s) => srcTokens[s] !== pad && srcTokens[s] !== eos);
  const srcWord = tokenToWord(srcTokens, [eos, pad]);
  const tgtWord = tokenToWord(tgtTokens, [eos, pad]);
  const out: [number, number][] = [];
  if (tgtValid.length === 0 || !srcValid.some(Boolean)) return out;
  for (const t of tgtValid) {
    const row = attention[t]!;
    let best = -1;
    for (let s = 0; s < srcTokens.length; s++) {
      // torch's max returns the first index of the maximum; invalid positions are -inf
      if (srcValid[s] && (best < 0 || row[s]! > row[best]!)) best = s;
    }
    out.push([srcWord[best]! - 1, tgtWord[t]! - 1]);
  }
  return out;
}

/**
 * For each target token, the source word it attends to most (counted among the source's non-pad
 * tokens, eos included as the last position): the alignment `--replace-unk` uses.
 */
export function attentionArgmax(attention: readonly Float32Array[], srcTokens: ArrayLike<number>, pad: number): number[] {
  let first = 0;
  while (first < srcTokens.length && srcTokens[first] === pad) first++;
  return attention.map((row) => {
    let best = first;
    for (let s = first; s < srcTokens.length; s++) if (srcTokens[s] !== pad && row[s]! > row[best]!) best = s;
    return best - first;
  });
}

/**
 * fairseq's `utils.replace_unk`: every `unk` word of the hypothesis becomes the source word aligned to
 * it, translated through `alignDict` when it has an entry (`--replace-unk [dict]`), else copied.
 */
export function replaceUnk(hypoStr: string, srcStr: string, alignment: readonly number[], alignDict: ReadonlyMap<string, string>, unk: string): string {
  const hypo = tokenizeLine(hypoStr);
  const src = [...tokenizeLine(srcStr), "<eos>"];
  for (let i = 0; i < hypo.length; i++) {
    if (hypo[i] !== unk) continue;
    const s = src[alignment[i] ?? src.length - 1] ?? "<eos>";
    hypo[i] = alignDict.get(s) ?? s;
  }
  return hypo.join(" ");
}

/** fairseq's `load_align_dict`: "src tgt" per line; without a file, an empty dictionary (copy the source word). */
export function parseAlignDict(text: string | null): Map<string, string> {
  const d = new Map<string, string>();
  if (text === null) return d;
  for (const line of text.split("\n")) {
    const cols = tokenizeLine(line);
    if (cols.length >= 2) d.set(cols[0]!, cols[1]!);
  }
  return d;
}
