/**
 * fairseq's pointer-generator example as a model package. Load it into the CLI with
 * `fairseq-ts train --user-dir <this package> --arch transformer_pointer_generator ...` (the CLI imports
 * dist/index.js and calls `register()`), or call `register()` yourself. The `<unk-N>` preprocessing and
 * postprocessing are library functions here (fairseq's preprocess.py / postprocess.py).
 */
import { registerArchitecture, registerModel, upgradeTransformerStateDict } from "@fairseq-ts/models";
import { buildPointerGenerator, pointerGeneratorArchitectures, pointerGeneratorOptions, sourcePositionMarkers, type PointerGeneratorArgs } from "./model.js";

export {
  PointerGeneratorDecoder,
  PointerGeneratorEncoder,
  PointerGeneratorModel,
  buildPointerGenerator,
  mixPointerDistribution,
  pointerGeneratorArchitectures,
  pointerGeneratorOptions,
  scatterAddOverSource,
  sourcePositionMarkers,
  transformerPointerGenerator,
  transformerPointerGeneratorIwsltDeEn,
  transformerPointerGeneratorVaswaniWmtEnDeBig,
  type PointerGeneratorArgs,
} from "./model.js";
export { OovIndexError, buildPointerGeneratorDictionary, dictionaryWords, positionMarker, replaceOovs, restoreOovs, type MarkedExample } from "./markers.js";

let registered = false;

/** Register `transformer_pointer_generator` and its architectures (idempotent; nothing happens at import). */
export function register(): void {
  if (registered) return;
  registered = true;
  registerModel("transformer_pointer_generator", {
    build: buildPointerGenerator,
    options: pointerGeneratorOptions,
    upgradeStateDict: (args, state) => upgradeTransformerStateDict(args, state),
    // fairseq's build_embedding: len(dictionary) - source_position_markers rows (the <unk-N> markers have none), so
    // a fairseq .pt's embeddings are that much smaller than the dictionary it was trained with
    dictionarySize: (args, rows) => rows + sourcePositionMarkers(args as unknown as PointerGeneratorArgs),
  });
  for (const [name, preset] of Object.entries(pointerGeneratorArchitectures)) registerArchitecture("transformer_pointer_generator", name, preset);
}
