import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** ../shared beside the checkout (override with FAIRSEQ_TS_SHARED). Tests fail, never skip, without it. */
export const SHARED = process.env.FAIRSEQ_TS_SHARED ?? resolve(dirname(fileURLToPath(import.meta.url)), "../../../../shared");
if (!existsSync(SHARED)) throw new Error(`reference material not found at ${SHARED} (set FAIRSEQ_TS_SHARED)`);
export const MULTI30K = resolve(SHARED, "data/multi30k");
export const REF_BIN = resolve(SHARED, "reference/fairseq/multi30k-de-en/bin");

/** A 1+1-layer, 32-dim transformer: the model of the CLI's training tests (a few updates on the reference data). */
export const TINY_TRANSFORMER_FLAGS: readonly string[] = (
  "--arch transformer --encoder-layers 1 --decoder-layers 1 --encoder-embed-dim 32 --decoder-embed-dim 32 " +
  "--encoder-ffn-embed-dim 64 --decoder-ffn-embed-dim 64 --encoder-attention-heads 2 --decoder-attention-heads 2"
).split(" ");
