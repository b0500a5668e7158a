/**
 * A fairseq-written pointer-generator checkpoint (transformer_pg.py's state_dict: embeddings of len(dict) -
 * source_position_markers rows, the tied output projection stored under its own name, project_p_gens, the version and
 * positional-embedding buffers) through fairseq-ts' `.pt` importer: the dictionary size is read back from the rows,
 * the model rebuilt with fairseq's shapes, every weight lands where it came from.
 */
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "@fairseq-ts/backend";
import { buildModel, importFairseqCheckpoint, type EncoderDecoderModel } from "@fairseq-ts/models";
import { PyNamespace, TorchTensor, type TorchCheckpoint } from "@fairseq-ts/torch-load";
import { register, type PointerGeneratorModel } from "../src/index.js";

beforeAll(async () => {
  await initBackend({ backend: "cpu", log: null });
  register();
});

/** 4 specials + 5 words + 3 markers <unk-0..2>. */
const NUM_TYPES = 12;
const MARKERS = 3;
const D = 8;
const args = {
  arch: "transformer_pointer_generator",
  encoder_layers: 1,
  decoder_layers: 2,
  encoder_embed_dim: D,
  decoder_embed_dim: D,
  encoder_ffn_embed_dim: 16,
  decoder_ffn_embed_dim: 16,
  encoder_attention_heads: 2,
  decoder_attention_heads: 2,
  share_all_embeddings: true,
  source_position_markers: MARKERS,
  max_source_positions: 1024,
  max_target_positions: 1024,
  dropout: 0,
};

/** What torch.load gives for a fairseq checkpoint whose state dict is `state` (float32 tensors) and args `ns`. */
function torchCheckpoint(ns: Record<string, unknown>, state: Map<string, { shape: number[]; data: Float32Array }>): TorchCheckpoint {
  const data = new Map<TorchTensor, Float32Array>();
  const model = new Map<string, TorchTensor>();
  let key = 0;
  for (const [name, t] of state) {
    const numel = t.data.length;
    const stride = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
    const tensor = new TorchTensor({ dtype: "float32", key: String(key++), location: "cpu", numel }, 0, t.shape, stride, false);
    data.set(tensor, t.data);
    model.set(name, tensor);
  }
  const namespace = Object.assign(new PyNamespace(), ns);
  return {
    root: new Map<string, unknown>([
      ["args", namespace],
      ["model", model],
    ]),
    tensorData: (t) => data.get(t)!,
  };
}

describe("transformer_pointer_generator from a fairseq .pt", () => {
  it("names and shapes as transformer_pg.py writes them round-trip through importFairseqCheckpoint; outputs equal", () => {
    const original = buildModel({ ...args }, { srcVocabSize: NUM_TYPES, tgtVocabSize: NUM_TYPES, padIdx: 1 }, { seed: 5 }) as PointerGeneratorModel;
    const state = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [name, t] of original.stateDict()) state.set(name, { shape: t.shape, data: t.dataSync() as Float32Array });
    // fairseq's own expectations, independent of fairseq-ts: num_embeddings = len(dictionary) - source_position_markers;
    // output_projection.weight is the embedding (share_input_output_embed); p_gen_input_size = input_embed_dim + output_embed_dim
    expect(state.get("encoder.embed_tokens.weight")!.shape).toEqual([NUM_TYPES - MARKERS, D]);
    expect(state.get("decoder.embed_tokens.weight")!.shape).toEqual([NUM_TYPES - MARKERS, D]);
    expect(state.get("decoder.output_projection.weight")!.shape).toEqual([NUM_TYPES - MARKERS, D]);
    expect(state.get("decoder.project_p_gens.weight")!.shape).toEqual([1, 2 * D]);
    expect(state.get("decoder.project_p_gens.bias")!.shape).toEqual([1]);
    // the buffers fairseq's state_dict has besides the parameters
    for (const b of ["encoder.version", "decoder.version"]) state.set(b, { shape: [1], data: Float32Array.of(3) });
    for (const b of ["encoder.embed_positions._float_tensor", "decoder.embed_positions._float_tensor"]) state.set(b, { shape: [1], data: Float32Array.of(0) });

    const ckpt = torchCheckpoint(args, state);
    const { model } = importFairseqCheckpoint(ckpt, { srcVocabSize: NUM_TYPES, tgtVocabSize: NUM_TYPES, padIdx: 1 });
    const imported = model as EncoderDecoderModel;
    try {
      const params = imported.namedParameters();
      expect([...params.keys()].sort()).toEqual([...original.namedParameters().keys()].sort());
      for (const [name, v] of original.namedParameters()) expect(Array.from(params.get(name)!.dataSync()), name).toEqual(Array.from(v.dataSync()));
      // the same distribution over all 12 types (markers included) for a source holding markers
      const run = (m: EncoderDecoderModel) =>
        tf.tidy(() => {
          m.eval();
          const [probs] = m.forward(tf.tensor2d([[4, 9, 5, 10, 2]], [1, 5], "int32"), tf.tensor1d([5], "int32"), tf.tensor2d([[2, 11, 6]], [1, 3], "int32"));
          expect(probs.shape).toEqual([1, 3, NUM_TYPES]);
          return Array.from(probs.dataSync());
        });
      expect(run(imported)).toEqual(run(original));
      // without a dictionary to check against, the size is read back from the rows: len(dict) = rows + markers
      const bare = importFairseqCheckpoint(ckpt).model;
      expect(bare.namedParameters().get("encoder.embed_tokens.weight")!.shape).toEqual([NUM_TYPES - MARKERS, D]);
      bare.dispose();
      // another dictionary: the error says both the rows and the dictionary they stand for
      expect(() => importFairseqCheckpoint(ckpt, { srcVocabSize: NUM_TYPES + 1, tgtVocabSize: NUM_TYPES + 1, padIdx: 1 })).toThrow(
        `vocabulary size mismatch: the checkpoint's src embedding has ${NUM_TYPES - MARKERS} rows (a dictionary of ${NUM_TYPES} symbols) but the dictionary has ${NUM_TYPES + 1} symbols`,
      );
    } finally {
      imported.dispose();
      original.dispose();
    }
  });
});
