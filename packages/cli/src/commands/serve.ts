import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { OptionError } from "@fairseq-ts/config";
import { SequenceGenerator, chunkOptionsFrom, generationOptions, generatorOptionsFrom } from "@fairseq-ts/generate";
import { TranslationEngine, createTranslationServer, parseApiKeys, serveOptions, type ServeOptions, type ServedModel } from "@fairseq-ts/serve";
import { setupTranslation } from "../load-model.js";
import { textCodec } from "../encoders.js";
import type { CommandSpec, ParsedCommand } from "../spec.js";
import {
  encoderSelectors,
  inferenceGroups,
  scoringSelector,
  taskSelector,
  translationInferenceConfig,
  translationSetupOf,
  type TranslationInferenceConfig,
} from "../command-groups.js";
import { parseCommand } from "../main.js";

/** The typed options of one `serve` command line. */
export interface ServeConfig extends TranslationInferenceConfig {
  serve: ServeOptions;
}

export function serveConfig(p: ParsedCommand): ServeConfig {
  return { ...translationInferenceConfig(p), serve: p.options.serve as ServeOptions };
}

const NOT_HERE = "serve answers with detokenized translations and their scores (no reference, no scoring, no printed lines)";
const NOT_CONSTRAINED = "serve translates plain sentences: its APIs carry no constraints";

/** `fairseq-ts serve DATA --path CKPT [--port 8080] [--host 127.0.0.1]`: LibreTranslate's and OpenNMT-py's APIs over HTTP. */
export const serveSpec: CommandSpec = {
  name: "serve",
  description: "translate over HTTP: LibreTranslate's and OpenNMT-py's REST APIs, with dynamic batching",
  positional: { name: "data", help: "path to data directory (for the dictionaries)" },
  groups: [
    ...inferenceGroups("serve", { decodesText: true }),
    {
      group: generationOptions,
      unused: [
        { keys: ["scoreReference", "sacrebleu", "replaceUnk", "prefixSize", "quiet", "resultsPath", "printAlignment"], reason: NOT_HERE },
        { keys: ["constraints"], reason: NOT_CONSTRAINED },
      ],
    },
    { group: serveOptions },
  ],
  selectors: [taskSelector, ...encoderSelectors, { ...scoringSelector, unused: "serve does not score its hypotheses" }],
  required: [{ group: "generation", key: "path" }],
  run: (p) => runServe(serveConfig(p)),
};

/** Load one model as interactive does and wrap it for the server (the caller disposes `dispose`). */
async function loadServedModel(c: ServeConfig, id: number, name: string | null): Promise<{ model: ServedModel; dispose: () => void }> {
  if (c.common.task !== "translation") throw new OptionError("common", "task", `serve translates: '${c.common.task}' is not supported here`);
  const g = c.generation;
  const { task, ensemble, lm } = await setupTranslation(c.data, translationSetupOf(c, null), "serve");
  const dispose = () => {
    ensemble.dispose();
    lm?.dispose();
  };
  try {
    const tgt = task.targetDictionary;
    const codec = textCodec(c.common, c.tokenizer, c.bpe, { source: task.sourceLang, target: task.targetLang });
    const generator = new SequenceGenerator(ensemble, { pad: tgt.pad(), eos: tgt.eos(), unk: tgt.unk() }, tgt.length, {
      ...generatorOptionsFrom(g, c.common.seed),
      lmModel: lm,
    });
    const engine = new TranslationEngine({
      generator,
      srcDict: task.sourceDictionary,
      tgtDict: tgt,
      encode: (s) => codec.encode(s),
      decode: (s) => codec.decode(s),
      removeBpe: g.removeBpe,
      chunking: chunkOptionsFrom(g),
      modelMaxPositions: ensemble.maxPositions(),
      sizes: { maxSourcePositions: c.task.maxSourcePositions, maxTargetPositions: c.task.maxTargetPositions },
    });
    const model: ServedModel = {
      id,
      name: name ?? `${task.sourceLang}-${task.targetLang}`,
      source: task.sourceLang,
      target: task.targetLang,
      engine,
      bounds: { maxTokens: c.dataset.maxTokens, batchSize: c.dataset.batchSize, waitMs: c.serve.batchWaitMs },
    };
    return { model, dispose };
  } catch (err) {
    dispose();
    throw err;
  }
}

/** `--models FILE`: `{"models": [{"id": 101, "name": "en-de", "args": ["DATA", "--path", "CKPT", ...]}]}`, paths relative to the file. */
async function modelsFromFile(file: string, served: ServeConfig): Promise<{ id: number; name: string | null; config: ServeConfig }[]> {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`--models ${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const list = (doc as { models?: unknown } | null)?.models;
  if (!Array.isArray(list)) throw new Error(`--models ${file}: expected {"models": [{"id": N, "name": "...", "args": ["DATA", "--path", "CKPT", ...]}, ...]}`);
  const out: { id: number; name: string | null; config: ServeConfig }[] = [];
  for (const [i, entry] of list.entries()) {
    const e = entry as { id?: unknown; name?: unknown; args?: unknown };
    const where = `--models ${file}: models[${i}]`;
    if (!Number.isSafeInteger(e.id)) throw new Error(`${where}: "id" must be an integer (the OpenNMT-py model id)`);
    if (e.name !== undefined && typeof e.name !== "string") throw new Error(`${where}: "name" must be a string`);
    if (!Array.isArray(e.args) || !e.args.every((a) => typeof a === "string"))
      throw new Error(`${where}: "args" must be a list of strings (DATA --path CKPT ...)`);
    const args = e.args as string[];
    // the model's own command line, parsed by serve's flags; DATA and --path are relative to the file
    const base = dirname(resolve(file));
    const rel = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
    const fixed = args.map((a, k) => (k === 0 && !a.startsWith("-") ? rel(a) : args[k - 1] === "--path" ? a.split(":").map(rel).join(":") : a));
    let parsed: ParsedCommand;
    try {
      parsed = await parseCommand(["serve", ...fixed]);
    } catch (err) {
      throw new Error(`${where}: ${(err as Error).message}`);
    }
    const config = serveConfig(parsed);
    // the server-wide options are the command line's
    out.push({ id: e.id as number, name: (e.name as string | undefined) ?? null, config: { ...config, serve: served.serve } });
  }
  return out;
}

async function runServe(c: ServeConfig): Promise<void> {
  const s = c.serve;
  for (const [key, v] of Object.entries({ batchWaitMs: s.batchWaitMs, timeLimitMs: s.timeLimitMs, receiveTimeoutMs: s.receiveTimeoutMs })) {
    if (v < 0) throw new OptionError("serve", key, `must be at least 0, not ${v}`);
  }
  for (const [key, v] of Object.entries({
    maxQueue: s.maxQueue,
    maxClientQueue: s.maxClientQueue,
    maxBodyBytes: s.maxBodyBytes,
    maxRequestSentences: s.maxRequestSentences,
  })) {
    if (v < 1) throw new OptionError("serve", key, `must be at least 1, not ${v}`);
  }
  if (s.port < 0 || s.port > 65535) throw new OptionError("serve", "port", `must be a TCP port (0 to 65535), not ${s.port}`);
  let apiKeyDigests: Buffer[] | null = null;
  if (s.apiKeys !== null) {
    let text: string;
    try {
      text = readFileSync(s.apiKeys, "utf8");
    } catch (err) {
      throw new Error(`--api-keys ${s.apiKeys}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    apiKeyDigests = parseApiKeys(text, s.apiKeys);
  }
  // (the file is read and its command lines parsed before any model is loaded)
  const more = s.models !== null ? await modelsFromFile(s.models, c) : [];
  const loaded: { model: ServedModel; dispose: () => void }[] = [];
  try {
    loaded.push(await loadServedModel(c, s.modelId, null));
    for (const m of more) loaded.push(await loadServedModel(m.config, m.id, m.name));
    const server = createTranslationServer(
      loaded.map((l) => l.model),
      { ...s, apiKeyDigests },
    );
    const address = await server.listen(s.port, s.host);
    const models = loaded.map((l) => `${l.model.name} (id ${l.model.id}, ${l.model.source}->${l.model.target})`).join(", ");
    process.stderr.write(`serve: listening on http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port} with ${models}\n`);
    // SIGTERM / Ctrl-C: stop accepting, answer everything accepted, then return (exit 0)
    await new Promise<void>((done, fail) => {
      const stop = (signal: string) => {
        process.off("SIGTERM", onTerm);
        process.off("SIGINT", onInt);
        process.stderr.write(`serve: ${signal}: draining (new requests get 503)\n`);
        server.drain().then(() => {
          const st = server.stats;
          process.stderr.write(
            `serve: drained: ${st.accepted} requests accepted, ${st.answered} answered, ${st.timedOut} over the time limit, ${st.abandoned} abandoned by their client\n`,
          );
          done();
        }, fail);
      };
      const onTerm = () => stop("SIGTERM");
      const onInt = () => stop("SIGINT");
      process.on("SIGTERM", onTerm);
      process.on("SIGINT", onInt);
    });
  } finally {
    for (const l of loaded) l.dispose();
  }
}
