/**
 * The Perl Unicode property classes sacremoses uses (its perluniprops data: Perl's IsAlpha, IsAlnum, IsN,
 * IsLower, IsSc as of an older Unicode), rebuilt from the JS engine's Unicode properties. Their shape:
 * Basic Multilingual Plane only (but IsLower), and IsAlpha/IsAlnum/IsN leave out the CJK ideograph and Hangul syllable
 * blocks and the ideographic number characters (so "日本" splits into "日 本", as in sacremoses).
 * Characters added to Unicode after those lists were made may still differ.
 */

const BMP = 0x10000;

/** U+3400..4DBF, 4E00..9FFF, AC00..D7A3, F900..FAFF, 3005, 3007, 3021..3029, 3038..303B. */
function isIdeographicBlock(cp: number): boolean {
  return (
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    cp === 0x3005 ||
    cp === 0x3007 ||
    (cp >= 0x3021 && cp <= 0x3029) ||
    (cp >= 0x3038 && cp <= 0x303b)
  );
}

/** Viramas (canonical combining class 9) and nuktas (class 7) sacremoses adds to IsAlpha/IsAlnum for Indic scripts. */
const VIRAMAS_NUKTAS = [
  0x094d, 0x09cd, 0x0a4d, 0x0acd, 0x0b4d, 0x0bcd, 0x0c4d, 0x0ccd, 0x0d3b, 0x0d3c, 0x0d4d, 0x0eba, 0x1039, 0x1714, 0x1bab, 0xa8c4, 0xa8f3, 0xa8f4, 0xa953,
  0xaaf6, 0x10a3f, 0x11046, 0x110b9, 0x11133, 0x111c0, 0x11235, 0x112ea, 0x1134d, 0x11442, 0x114c2, 0x115bf, 0x1163f, 0x116b6, 0x11839, 0x119e0, 0x11a34,
  0x11c3f, 0x11d45, 0x11d97, 0x0dca, 0x093c, 0x09bc, 0x0a3c, 0x0abc, 0x0afd, 0x0afe, 0x0aff, 0x0b3c, 0x0cbc, 0x1c37, 0x110ba, 0x11173, 0x111ca, 0x11236,
  0x112e9, 0x1133c, 0x11446, 0x114c3, 0x115c0, 0x116b7, 0x1183a, 0x11d42, 0x1e94a,
];

/** A set of code points with a regex character-class body for it. */
export class CharClass {
  private readonly bmp: Uint8Array;
  private readonly astral: Set<number>;
  /** For classes that extend beyond the BMP by a Unicode property (IsLower): tests astral code points. */
  astralTest: RegExp | null = null;
  /** The class body (ranges as \u{...}) for a RegExp with the u flag. */
  readonly source: string;

  constructor(bmp: Uint8Array, astral: number[] = []) {
    this.bmp = bmp;
    this.astral = new Set(astral);
    const parts: string[] = [];
    const hex = (cp: number): string => `\\u{${cp.toString(16)}}`;
    for (let cp = 0; cp < BMP; cp++) {
      if (!bmp[cp]) continue;
      let end = cp;
      while (end + 1 < BMP && bmp[end + 1]) end++;
      parts.push(end === cp ? hex(cp) : `${hex(cp)}-${hex(end)}`);
      cp = end;
    }
    for (const cp of [...this.astral].sort((a, b) => a - b)) parts.push(hex(cp));
    this.source = parts.join("");
  }

  has(cp: number): boolean {
    if (cp < BMP) return this.bmp[cp] === 1;
    return this.astral.has(cp) || (this.astralTest !== null && this.astralTest.test(String.fromCodePoint(cp)));
  }

  /** Union with extra code points. */
  plus(cps: number[]): CharClass {
    const bmp = this.bmp.slice();
    const astral = [...this.astral];
    for (const cp of cps) {
      if (cp < BMP) bmp[cp] = 1;
      else astral.push(cp);
    }
    return new CharClass(bmp, astral);
  }
}

function bmpClass(test: RegExp, keep: (cp: number) => boolean, extra: number[] = []): CharClass {
  const bmp = new Uint8Array(BMP);
  for (let cp = 0; cp < BMP; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    if (test.test(String.fromCharCode(cp)) && keep(cp)) bmp[cp] = 1;
  }
  for (const cp of extra) bmp[cp] = 1;
  return new CharClass(bmp);
}

export interface MosesClasses {
  /** Perl IsAlpha (the detokenizer's). */
  alpha: CharClass;
  /** Perl IsAlnum (the detokenizer's). */
  alnum: CharClass;
  /** The tokenizer's IsAlpha / IsAlnum: with viramas and nuktas. */
  alphaTok: CharClass;
  alnumTok: CharClass;
  n: CharClass;
  lower: CharClass;
  sc: CharClass;
}

let classes: MosesClasses | null = null;

/** Builds the classes once (about 10 ms). */
export function mosesClasses(): MosesClasses {
  if (classes !== null) return classes;
  const notIdeo = (cp: number): boolean => !isIdeographicBlock(cp);
  const malayalamFractions = (cp: number): boolean => !((cp >= 0x0d58 && cp <= 0x0d5e) || (cp >= 0x0d76 && cp <= 0x0d78));
  // U+25CC DOTTED CIRCLE and U+135F are in Perl's lists; Georgian Mkhedruli became lowercase only in Unicode 11
  const alpha = bmpClass(/\p{Alphabetic}/u, notIdeo, [0x135f, 0x25cc]);
  const alnum = bmpClass(/[\p{Alphabetic}\p{Nd}]/u, notIdeo, [0x135f, 0x25cc]);
  const lower = bmpClass(/\p{Lowercase}/u, (cp) => !(cp >= 0x10d0 && cp <= 0x10ff), [0x0295, 0x25cc]);
  lower.astralTest = /^\p{Lowercase}$/u; // Perl's IsLower list goes beyond the BMP
  classes = {
    alpha,
    alnum,
    alphaTok: alpha.plus(VIRAMAS_NUKTAS),
    alnumTok: alnum.plus(VIRAMAS_NUKTAS),
    n: bmpClass(/\p{N}/u, (cp) => notIdeo(cp) && malayalamFractions(cp)),
    lower,
    sc: bmpClass(/\p{Sc}/u, () => true),
  };
  return classes;
}
