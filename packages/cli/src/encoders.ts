import { buildBpe, buildTokenizer, type Encoder } from "@fairseq-ts/tokenizers";

/** fairseq's encode_fn / decode_fn: tokenizer then BPE on the way in, BPE then tokenizer on the way out. */
export interface TextCodec {
  encode(line: string): string;
  decode(line: string): string;
  readonly active: boolean;
}

/**
 * The `--tokenizer` and `--bpe` selected in `common`, built with their own options (the moses tokenizer's
 * languages default to the task's).
 */
export function textCodec(
  common: { tokenizer: string | null; bpe: string | null },
  tokenizerOptions: Record<string, unknown>,
  bpeOptions: Record<string, unknown>,
  langs: { source?: string; target?: string } = {},
): TextCodec {
  const context = { sourceLang: langs.source, targetLang: langs.target };
  const tokenizer: Encoder | null = common.tokenizer !== null ? buildTokenizer(common.tokenizer, { ...context, ...tokenizerOptions }) : null;
  const bpe: Encoder | null = common.bpe !== null ? buildBpe(common.bpe, { ...context, ...bpeOptions }) : null;
  return {
    active: tokenizer !== null || bpe !== null,
    encode(line: string): string {
      let x = line;
      if (tokenizer) x = tokenizer.encode(x);
      if (bpe) x = bpe.encode(x);
      return x;
    },
    decode(line: string): string {
      let x = line;
      if (bpe) x = bpe.decode(x);
      if (tokenizer) x = tokenizer.decode(x);
      return x;
    },
  };
}
