export { serveOptions, type ServeOptions } from "./options.js";
export { TranslationEngine, InputTooLongError, type EngineParts, type ServedHypothesis } from "./engine.js";
export { BatchQueue, Job, cutBatches, type BatchBounds } from "./batcher.js";
export { TranslationServer, createTranslationServer, keyDigest, parseApiKeys, type ServedModel, type ServerLimits, type ServerStats } from "./server.js";
