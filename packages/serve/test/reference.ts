import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { initBackend } from "@fairseq-ts/backend";
import { SequenceGenerator, fromPretrained, type GeneratorOptions } from "@fairseq-ts/generate";
import { TranslationEngine, serveOptions, type BatchBounds, type ServedModel, type ServerLimits } from "../src/index.js";

/** ../shared beside the checkout (override with FAIRSEQ_TS_SHARED). Tests fail, never skip, without it. */
export const SHARED = process.env.FAIRSEQ_TS_SHARED ?? resolve(dirname(fileURLToPath(import.meta.url)), "../../../../shared");
if (!existsSync(SHARED)) throw new Error(`reference material not found at ${SHARED} (set FAIRSEQ_TS_SHARED)`);
/** fairseq's Multi30k de→en transformer and its data-bin (COMMANDS.md). */
export const REF = join(SHARED, "reference/fairseq/multi30k-de-en");

/** fairseq-generate's beam-5 output on the test set: id -> source, hypothesis, score (base 2). */
export function fairseqBeam5(): Map<number, { src: string; hyp: string; score: number }> {
  const out = new Map<number, { src: string; hyp: string; score: number }>();
  for (const line of readFileSync(join(REF, "gen-beam5.txt"), "utf8").split("\n")) {
    const [tag, a, b] = line.split("\t");
    const m = /^([SH])-(\d+)$/.exec(tag ?? "");
    if (!m) continue;
    const id = Number(m[2]);
    const e = out.get(id) ?? { src: "", hyp: "", score: NaN };
    if (m[1] === "S") e.src = a!;
    else {
      e.score = Number(a);
      e.hyp = b ?? "";
    }
    out.set(id, e);
  }
  return out;
}

/** The reference model served (no tokenizer or BPE: its text is tokenized and lowercased already). */
export async function referenceModel(
  o: { generator?: GeneratorOptions; bounds?: Partial<BatchBounds>; id?: number } = {},
): Promise<{ model: ServedModel; dispose: () => void }> {
  await initBackend({ backend: "wasm", log: null });
  const t = await fromPretrained(join(REF, "model.pt"), { dataDir: join(REF, "bin"), sourceLang: "de", targetLang: "en" });
  const tgt = t.tgtDict;
  const generator = new SequenceGenerator(t.ensemble, { pad: tgt.pad(), eos: tgt.eos(), unk: tgt.unk() }, tgt.length, { beam: 5, ...o.generator });
  const engine = new TranslationEngine({
    generator,
    srcDict: t.srcDict,
    tgtDict: tgt,
    encode: (s) => s,
    decode: (s) => s,
    removeBpe: null,
    chunking: { beam: o.generator?.beam ?? 5, maxTokens: 0, independentRows: true },
    modelMaxPositions: t.ensemble.maxPositions(),
  });
  return {
    model: { id: o.id ?? 100, name: "de-en", source: "de", target: "en", engine, bounds: { maxTokens: null, batchSize: 64, waitMs: 5, ...o.bounds } },
    dispose: () => t.dispose(),
  };
}

/** The serve group's defaults as server limits (tests override some). */
export function limits(over: Partial<ServerLimits> = {}): ServerLimits {
  return { ...serveOptions.defaults(), apiKeyDigests: null, ...over };
}
