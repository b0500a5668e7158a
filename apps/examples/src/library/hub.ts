/**
 * Library use: load a trained model (a fairseq .pt or a fairseq-ts .safetensors) with the hub API and
 * translate, score and sample, in a dozen lines.
 *
 *   tsx src/library/hub.ts CHECKPOINT DATA_DIR "sentence to translate" [--tokenizer moses]
 */
import { initBackend } from "@fairseq-ts/backend";
import { fromPretrained } from "@fairseq-ts/generate";

const [checkpoint, dataDir, sentence] = process.argv.slice(2);
if (!checkpoint || !dataDir || !sentence) {
  console.error('usage: hub.ts CHECKPOINT DATA_DIR "sentence" [--tokenizer moses]');
  process.exit(2);
}
await initBackend({ log: null }); // tfjs-node when installed, else wasm, else cpu
const tokenizer = process.argv.includes("--tokenizer") ? process.argv[process.argv.indexOf("--tokenizer") + 1] : undefined;
const translator = await fromPretrained(checkpoint, { dataDir, beam: 5, tokenizer });
const translation = translator.translate(sentence);
const [scored] = translator.score(sentence, translation);
console.log(JSON.stringify({ translation, score: scored!.score, sample: translator.sample(sentence, { samplingTopk: 10, seed: 1 }) }));
translator.dispose();
