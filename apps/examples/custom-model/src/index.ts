/**
 * A model package of your own: it depends only on @fairseq-ts/models' public API and adds
 * architectures to its registries. Load it into the CLI with `fairseq-ts train --user-dir <this package>`
 * (the CLI imports dist/index.js and calls `register()`), or call `register()` yourself in a program.
 */
import { lstmBase, registerArchitecture, transformerBase, type ModelArgs } from "@fairseq-ts/models";

/** A deliberately small transformer for CPUs: 2+2 layers, d=64, tied embeddings, pre-norm. */
export function transformerPocket(a: ModelArgs): void {
  a.encoder_layers ??= 2;
  a.decoder_layers ??= 2;
  a.encoder_embed_dim ??= 64;
  a.decoder_embed_dim ??= 64;
  a.encoder_ffn_embed_dim ??= 128;
  a.decoder_ffn_embed_dim ??= 128;
  a.encoder_attention_heads ??= 4;
  a.decoder_attention_heads ??= 4;
  a.encoder_normalize_before ??= true;
  a.decoder_normalize_before ??= true;
  a.share_decoder_input_output_embed ??= true;
  transformerBase(a);
}

/** A small bidirectional LSTM with attention (fairseq's lstm model, other sizes). */
export function lstmPocket(a: ModelArgs): void {
  a.encoder_embed_dim ??= 64;
  a.encoder_bidirectional ??= true;
  a.decoder_embed_dim ??= 64;
  a.decoder_hidden_size ??= 128;
  a.decoder_out_embed_dim ??= 64;
  a.dropout ??= 0.1;
  lstmBase(a);
}

let registered = false;

/** Register this package's architectures (idempotent; no side effects at import). */
export function register(): void {
  if (registered) return;
  registered = true;
  registerArchitecture("transformer", "transformer_pocket", transformerPocket);
  registerArchitecture("lstm", "lstm_pocket", lstmPocket);
}
