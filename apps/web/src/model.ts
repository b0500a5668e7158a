import { toBase2, translatorFromFiles, type Translator } from "@fairseq-ts/generate";

/** The files a model folder holds (what `pnpm stage-model` writes). */
export const MODEL_FILES = { checkpoint: "checkpoint.safetensors", srcDict: "dict.src.txt", tgtDict: "dict.tgt.txt" } as const;

async function fetchOk(url: URL): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (err) {
    throw new Error(`cannot fetch ${url.href}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!res.ok) throw new Error(`cannot fetch ${url.href}: HTTP ${res.status} ${res.statusText}`.trimEnd());
  // Single-page-app servers answer a missing file with their index.html and status 200.
  if (res.headers.get("content-type")?.startsWith("text/html")) throw new Error(`cannot fetch ${url.href}: the server sent an HTML page (is the file there?)`);
  return res;
}

/**
 * Fetch a fairseq-ts checkpoint (safetensors) and its two dictionaries from the folder `base` (a URL,
 * relative to the page allowed on the page, absolute in a worker) and build a Translator on the current tfjs backend.
 */
export async function loadTranslator(base: string): Promise<Translator> {
  // (in a worker there is no document: the page sends an absolute URL)
  const folder = new URL(base.endsWith("/") ? base : `${base}/`, typeof document === "undefined" ? undefined : document.baseURI);
  const [ck, sd, td] = await Promise.all([
    fetchOk(new URL(MODEL_FILES.checkpoint, folder)).then((r) => r.arrayBuffer()),
    fetchOk(new URL(MODEL_FILES.srcDict, folder)).then((r) => r.text()),
    fetchOk(new URL(MODEL_FILES.tgtDict, folder)).then((r) => r.text()),
  ]);
  return translatorFromFiles({ checkpoint: new Uint8Array(ck), srcDict: sd, tgtDict: td });
}

export interface WebHypothesis {
  text: string;
  /** Length-normalised log-probability in base 2: the number on fairseq-interactive's H- line. */
  score: number;
}

export interface SentenceResult {
  source: string;
  /** The source as the model sees it (unknown words become <unk>), like the S- line. */
  sourceTokens: string;
  hypotheses: WebHypothesis[];
  milliseconds: number;
}

/** Translate one line the way `fairseq-ts interactive` does without --tokenizer/--bpe. */
export function translateLine(t: Translator, line: string, o: { beam: number; nbest: number }): SentenceResult {
  const start = performance.now();
  const ids = t.srcDict.encodeLine(t.encodeText(line), { addIfNotExist: false });
  const hyps = t.generate([ids], { beam: o.beam, nbest: o.nbest })[0]!;
  const hypotheses = hyps.map((h) => ({ text: t.decodeText(t.tgtDict.string(h.tokens)), score: toBase2(h.score) }));
  return { source: line, sourceTokens: t.srcDict.string(ids), hypotheses, milliseconds: performance.now() - start };
}
