export { Dictionary, DictionaryFormatError, type DictionaryOptions, type EncodeLineOptions, type FinalizeOptions, type StringOptions } from "./dictionary.js";
export { postProcess, type PostProcess } from "./post-process.js";
export { PY_SPACE_CHARS, compareCodePoints, hasPySpace, normalizeSpace, pyRstrip, pyStrip, splitLines, tokenizeLine } from "./text.js";
