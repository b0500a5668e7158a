export {
  registerTokenizer,
  registerBpe,
  buildTokenizer,
  buildBpe,
  tokenizerNames,
  bpeNames,
  type Encoder,
  type Tokenizer,
  type Bpe,
  type EncoderOptions,
  type TokenizerFactory,
  type BpeFactory,
} from "./registry.js";
export { SpaceTokenizer } from "./space.js";

import { registerTokenizer } from "./registry.js";
import { SpaceTokenizer } from "./space.js";

registerTokenizer("space", () => new SpaceTokenizer());
