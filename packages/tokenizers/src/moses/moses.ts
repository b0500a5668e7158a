import { PY_SPACE_CHARS, pyStrip, tokenizeLine } from "@fairseq-ts/dictionary";
import { boolOption, type EncoderOptions, stringOption, type Tokenizer } from "../registry.js";
import { mosesClasses } from "./classes.js";
import { nonbreakingPrefixes, type Prefixes } from "./prefixes.js";

const SPACES = `[${PY_SPACE_CHARS}]+`;

type Rule = [RegExp, string];

function checkLang(lang: string, flag: string): Prefixes {
  const p = nonbreakingPrefixes(lang);
  if (p === null) throw new Error(`${flag} ${JSON.stringify(lang)}: the Moses tokenizer supports en and de`);
  return p;
}

export interface MosesTokenizeOptions {
  /** Split hyphens between alphanumerics: "foo-bar" -> "foo @-@ bar" (default false, as sacremoses). */
  aggressiveDashSplits?: boolean;
  /** Escape & | < > ' " [ ] as XML entities (default true). */
  escape?: boolean;
  /** Regular expressions whose matches are kept as single tokens (e.g. MosesTokenizer.BASIC_PROTECTED_PATTERNS). */
  protectedPatterns?: RegExp[];
}

/**
 * Moses' tokenizer.perl as ported by sacremoses (MosesTokenizer.tokenize) for English and German:
 * separates punctuation from words, keeps decimals, multi-dots and nonbreaking prefixes ("Dr.") together,
 * English apostrophe rules, optional aggressive dash splitting and XML escaping.
 */
export class MosesTokenizer {
  readonly lang: string;
  private readonly prefixes: Prefixes;
  private readonly padNotAlnum: RegExp;
  private readonly hyphen: RegExp;
  private readonly commas: Rule[];
  private readonly apostrophes: Rule[];
  private readonly isAlpha: (cp: number) => boolean;
  private readonly isLower: (cp: number) => boolean;

  /** URLs, e-mail addresses and XML tags (sacremoses' BASIC_PROTECTED_PATTERNS). */
  static readonly BASIC_PROTECTED_PATTERNS: readonly RegExp[] = [
    /<\/?\S+\/?>/giu,
    /<\S+( [a-zA-Z0-9]+="?[^"]")+ ?\/?>/giu,
    /<\S+( [a-zA-Z0-9]+='?[^']')+ ?\/?>/giu,
    /[\p{L}\p{N}_\-.]+@([\p{L}\p{N}_-]+\.)+[a-zA-Z]{2,}/giu,
    /(http[s]?|ftp):\/\/[^:/\s]+(\/[\p{L}\p{N}_]+)*\/[\p{L}\p{N}_\-.]+/giu,
  ];

  constructor(lang = "en") {
    this.lang = lang;
    this.prefixes = checkLang(lang, "--moses-source-lang");
    const c = mosesClasses();
    const alnum = c.alnumTok.source;
    const n = c.n.source;
    const alpha = c.alphaTok.source;
    this.isAlpha = (cp) => c.alphaTok.has(cp);
    this.isLower = (cp) => c.lower.has(cp);
    this.padNotAlnum = new RegExp(`([^${alnum}${PY_SPACE_CHARS}.'\`,\\-])`, "gu");
    this.hyphen = new RegExp(`([${alnum}])-(?=[${alnum}])`, "gu");
    this.commas = [
      [new RegExp(`([^${n}]),`, "gu"), "$1 , "],
      [new RegExp(`,([^${n}])`, "gu"), " , $1"],
      [new RegExp(`([${n}]),$`, "u"), "$1 , "],
    ];
    this.apostrophes =
      lang === "en"
        ? [
            [new RegExp(`([^${alpha}])'([^${alpha}])`, "gu"), "$1 ' $2"],
            [new RegExp(`([^${alpha}${n}])'([${alpha}])`, "gu"), "$1 ' $2"],
            [new RegExp(`([${alpha}])'([^${alpha}])`, "gu"), "$1 ' $2"],
            [new RegExp(`([${alpha}])'([${alpha}])`, "gu"), "$1 '$2"],
            [new RegExp(`([${n}])'(s)`, "gu"), "$1 '$2"],
          ]
        : [[/'/gu, " ' "]];
  }

  /** Tokenizes one line; tokens are separated by single spaces. */
  tokenize(text: string, opts: MosesTokenizeOptions = {}): string {
    // eslint-disable-next-line no-control-regex -- sacremoses deletes the ASCII control characters
    text = text.replace(new RegExp(SPACES, "gu"), " ").replace(/[\x00-\x1f]/gu, "");
    const protectedTokens: string[] = [];
    if (opts.protectedPatterns) {
      for (const p of opts.protectedPatterns) {
        const re = new RegExp(p.source, p.flags.includes("g") ? p.flags : `${p.flags}g`);
        for (const m of text.matchAll(re)) protectedTokens.push(m[0]);
      }
      protectedTokens.forEach((tok, i) => {
        text = text.replaceAll(tok, `THISISPROTECTED${String(i).padStart(3, "0")}`);
      });
    }
    text = pyStrip(text);
    text = text.replace(this.padNotAlnum, " $1 ");
    if (opts.aggressiveDashSplits) text = text.replace(this.hyphen, "$1 @-@ ");
    text = replaceMultidots(text);
    for (const [re, sub] of this.commas) text = text.replace(re, sub);
    for (const [re, sub] of this.apostrophes) text = text.replace(re, sub);
    text = this.handleNonbreakingPrefixes(text);
    text = pyStrip(text.replace(new RegExp(SPACES, "gu"), " "));
    text = text.replace(/\.' ?$/u, " . ' ");
    protectedTokens.forEach((tok, i) => {
      text = text.replaceAll(`THISISPROTECTED${String(i).padStart(3, "0")}`, tok);
    });
    text = restoreMultidots(text);
    if (opts.escape ?? true) text = escapeXml(text);
    return text;
  }

  /** handles_nonbreaking_prefixes: "word." at a sentence end becomes "word ." unless it is a known prefix. */
  private handleNonbreakingPrefixes(text: string): string {
    const tokens = tokenizeLine(text);
    const n = tokens.length;
    for (let i = 0; i < n; i++) {
      const token = tokens[i]!;
      if (!(token.length >= 2 && token.endsWith("."))) continue;
      const prefix = token.slice(0, -1);
      const next = i + 1 < n ? tokens[i + 1]! : "";
      const keep =
        (prefix.includes(".") && [...prefix].some((ch) => this.isAlpha(ch.codePointAt(0) as number))) ||
        (this.prefixes.nonbreaking.has(prefix) && !this.prefixes.numericOnly.has(prefix)) ||
        (i !== n - 1 && next !== "" && this.isLower(next.codePointAt(0) as number));
      if (keep) continue;
      if (this.prefixes.numericOnly.has(prefix) && i + 1 < n && /^[0-9]+/.test(next)) continue;
      tokens[i] = `${prefix} .`;
    }
    return tokens.join(" ");
  }
}

function replaceMultidots(text: string): string {
  text = text.replace(/\.(\.+)/gu, " DOTMULTI$1");
  while (/DOTMULTI\./u.test(text)) {
    text = text.replace(/DOTMULTI\.([^.])/gu, "DOTDOTMULTI $1");
    text = text.replace(/DOTMULTI\./gu, "DOTDOTMULTI");
  }
  return text;
}

function restoreMultidots(text: string): string {
  while (text.includes("DOTDOTMULTI")) text = text.replaceAll("DOTDOTMULTI", "DOTMULTI.");
  return text.replaceAll("DOTMULTI", ".");
}

const XML_ESCAPES: [string, string][] = [
  ["&", "&amp;"],
  ["|", "&#124;"],
  ["<", "&lt;"],
  [">", "&gt;"],
  ["'", "&apos;"],
  ['"', "&quot;"],
  ["[", "&#91;"],
  ["]", "&#93;"],
];

export function escapeXml(text: string): string {
  for (const [a, b] of XML_ESCAPES) text = text.replaceAll(a, b);
  return text;
}

const XML_UNESCAPES: [string, string][] = [
  ["&bar;", "|"],
  ["&#124;", "|"],
  ["&lt;", "<"],
  ["&gt;", ">"],
  ["&bra;", "["],
  ["&ket;", "]"],
  ["&quot;", '"'],
  ["&apos;", "'"],
  ["&#91;", "["],
  ["&#93;", "]"],
  ["&amp;", "&"],
];

export function unescapeXml(text: string): string {
  for (const [a, b] of XML_UNESCAPES) text = text.replaceAll(a, b);
  return text;
}

const CJK_RANGES: [number, number][] = [
  [4352, 4607],
  [11904, 42191],
  [43072, 43135],
  [44032, 55215],
  [63744, 64255],
  [65072, 65103],
  [65381, 65500],
  [94208, 101119],
  [110592, 110895],
  [110960, 111359],
  [131072, 196607],
];

function isCjk(cp: number): boolean {
  return CJK_RANGES.some(([a, b]) => a <= cp && cp <= b);
}

const firstCp = (s: string): number => s.codePointAt(0) as number;
const lastCp = (s: string): number => {
  const c = s.charCodeAt(s.length - 1);
  return c >= 0xdc00 && c <= 0xdfff && s.length >= 2 ? (s.codePointAt(s.length - 2) as number) : c;
};

/**
 * Moses' detokenizer.perl as ported by sacremoses (MosesDetokenizer.detokenize) for English and German:
 * undoes "@-@", XML escapes, and attaches punctuation, currency, contractions and quotes to their words.
 */
export class MosesDetokenizer {
  readonly lang: string;
  private readonly currency: RegExp;
  private readonly contraction: RegExp;

  constructor(lang = "en") {
    this.lang = lang;
    checkLang(lang, "--moses-target-lang");
    const c = mosesClasses();
    this.currency = new RegExp(`^[${c.sc.source}([{¿¡]+$`, "u");
    this.contraction = new RegExp(`^'[${c.alpha.source}]`, "u");
  }

  detokenize(tokensIn: string[], opts: { unescape?: boolean } = {}): string {
    let text = ` ${tokensIn.join(" ")} `;
    text = text.replaceAll(" @-@ ", "-");
    if (opts.unescape ?? true) text = unescapeXml(text);
    const quoteCounts = new Map<string, number>([
      ["'", 0],
      ['"', 0],
      ["``", 0],
      ["`", 0],
      ["''", 0],
    ]);
    let prependSpace = " ";
    let out = "";
    const tokens = tokenizeLine(text);
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i]!;
      if (isCjk(firstCp(token))) {
        if (i > 0 && isCjk(lastCp(tokens[i - 1]!))) out += token;
        else out += prependSpace + token;
        prependSpace = " ";
      } else if (this.currency.test(token)) {
        out += prependSpace + token;
        prependSpace = "";
      } else if (/^[,.?!:;\\%}\])]+$/u.test(token)) {
        out += token;
        prependSpace = " ";
      } else if (this.lang === "en" && i > 0 && this.contraction.test(token)) {
        out += token;
        prependSpace = " ";
      } else if (/^['"„“`]+$/u.test(token)) {
        const quo = /^[„“”]+$/u.test(token) ? '"' : token;
        const count = quoteCounts.get(quo) ?? 0;
        if (count % 2 === 0) {
          if (this.lang === "en" && token === "'" && i > 0 && tokens[i - 1]!.endsWith("s")) {
            out += token;
            prependSpace = " ";
            quoteCounts.set(quo, count);
          } else {
            out += prependSpace + token;
            prependSpace = "";
            quoteCounts.set(quo, count + 1);
          }
        } else {
          out += token;
          prependSpace = " ";
          quoteCounts.set(quo, count + 1);
        }
      } else {
        out += prependSpace + token;
        prependSpace = " ";
      }
    }
    return pyStrip(out.replace(/ {2,}/gu, " "));
  }
}

/**
 * fairseq's `--tokenizer moses` (MosesTokenizer): encode = sacremoses tokenize with
 * aggressive_dash_splits = !--moses-no-dash-splits and escape = !--moses-no-escape;
 * decode = detokenize(x.split()).
 */
export class FairseqMosesTokenizer implements Tokenizer {
  readonly tok: MosesTokenizer;
  readonly detok: MosesDetokenizer;
  readonly aggressiveDashSplits: boolean;
  readonly escape: boolean;

  constructor(opts: EncoderOptions = {}) {
    const source = stringOption(opts, "mosesSourceLang", "--moses-source-lang") ?? stringOption(opts, "sourceLang", "--source-lang", "en");
    const target = stringOption(opts, "mosesTargetLang", "--moses-target-lang") ?? stringOption(opts, "targetLang", "--target-lang", "en");
    this.tok = new MosesTokenizer(source);
    this.detok = new MosesDetokenizer(target);
    const noDash = boolOption(opts, "mosesNoDashSplit", "--moses-no-dash-split") || boolOption(opts, "mosesNoDashSplits", "--moses-no-dash-splits");
    this.aggressiveDashSplits = !noDash;
    this.escape = !boolOption(opts, "mosesNoEscape", "--moses-no-escape");
  }

  encode(line: string): string {
    return this.tok.tokenize(line, { aggressiveDashSplits: this.aggressiveDashSplits, escape: this.escape });
  }

  decode(line: string): string {
    return this.detok.detokenize(tokenizeLine(line));
  }
}
