/**
 * The HTTP server: LibreTranslate's API (`POST /translate`, `GET /languages`), OpenNMT-py's REST API
 * (`POST /translator/translate`, `GET /translator/models`) and `GET /health`, on fastify with JSON-schema-checked
 * bodies. Every error is JSON with its status: 400 malformed, 403 bad API key, 404 unknown model or route,
 * 408 headers/body too slow (Node's own answer), 413 body/text/sentences over the limits, 429 queue full or
 * per-client bound, 503 time limit or draining.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { createServer as createHttpServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import * as tf from "@tensorflow/tfjs-core";
import { BatchQueue, Job, type BatchBounds } from "./batcher.js";
import { InputTooLongError, type ServedHypothesis, type TranslationEngine } from "./engine.js";
import type { ServeOptions } from "./options.js";

/** One model the server offers. */
export interface ServedModel {
  /** OpenNMT-py's model id (`"id"` in its requests). */
  id: number;
  /** A name for people (listed by `/translator/models` and `/health`). */
  name: string;
  /** Language codes: LibreTranslate's `source` / `target` pick the model. */
  source: string;
  target: string;
  engine: TranslationEngine;
  /** Batch bounds: fairseq's `--max-tokens` / `--batch-size` (both null: 64 sentences), `--batch-wait-ms`. */
  bounds: BatchBounds;
}

/** The server options {@link createTranslationServer} uses (the `serve` group; port and host go to `listen`). */
export type ServerLimits = Omit<ServeOptions, "port" | "host" | "models" | "modelId" | "apiKeys" | "batchWaitMs"> & {
  /** sha256 digests of the accepted API keys (null: no keys needed). */
  apiKeyDigests: readonly Buffer[] | null;
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** LibreTranslate's language names for the codes people use most (others are listed by their code). */
const LANGUAGE_NAMES: Readonly<Record<string, string>> = {
  ar: "Arabic",
  cs: "Czech",
  de: "German",
  en: "English",
  es: "Spanish",
  fi: "Finnish",
  fr: "French",
  hi: "Hindi",
  it: "Italian",
  ja: "Japanese",
  ko: "Korean",
  nl: "Dutch",
  pl: "Polish",
  pt: "Portuguese",
  ro: "Romanian",
  ru: "Russian",
  sv: "Swedish",
  tr: "Turkish",
  uk: "Ukrainian",
  zh: "Chinese",
};

/** sha256 of a key: equal-length values for `timingSafeEqual`, and the file's keys are not kept in memory. */
export const keyDigest = (key: string): Buffer => createHash("sha256").update(key, "utf8").digest();

/** API keys from a file's text: one a line, blank lines and `#` comments ignored. */
export function parseApiKeys(text: string, source: string): Buffer[] {
  const keys = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  if (keys.length === 0) throw new Error(`--api-keys ${source}: no keys in the file (one a line)`);
  return keys.map(keyDigest);
}

/** Constant-time: every stored digest is compared, whatever matched. */
function keyAccepted(given: string, digests: readonly Buffer[]): boolean {
  const d = keyDigest(given);
  let ok = false;
  for (const k of digests) ok = timingSafeEqual(d, k) || ok;
  return ok;
}

const stringOrStrings = { anyOf: [{ type: "string" }, { type: "array", items: { type: "string" } }] };
const libreTranslateBody = {
  type: "object",
  required: ["q", "source", "target"],
  properties: {
    q: stringOrStrings,
    source: { type: "string" },
    target: { type: "string" },
    format: { type: "string", enum: ["text", "html"] },
    api_key: { type: "string" },
    alternatives: { type: "integer", minimum: 0 },
  },
};
const openNmtBody = {
  type: "array",
  items: { type: "object", required: ["src"], properties: { src: { type: "string" }, id: { type: "integer" } } },
};
interface LibreTranslateRequest {
  q: string | string[];
  source: string;
  target: string;
  format?: "text" | "html";
  api_key?: string;
  alternatives?: number;
}
type OpenNmtRequest = { src: string; id?: number }[];

/** `format: "html"`: the text between tags is translated, the tags and the whitespace around each text kept. */
function htmlSegments(html: string): { parts: string[]; textAt: number[] } {
  const parts = html.split(/(<[^>]*>)/);
  const textAt: number[] = [];
  parts.forEach((p, i) => {
    if (i % 2 === 0 && p.trim() !== "") textAt.push(i);
  });
  return { parts, textAt };
}

function withOuterWhitespace(original: string, translated: string): string {
  const m = /^(\s*)[\s\S]*?(\s*)$/.exec(original)!;
  return `${m[1]}${translated}${m[2]}`;
}

export interface ServerStats {
  /** Translation requests that passed every check and were queued. */
  accepted: number;
  /** Of those, the ones answered with their translations. */
  answered: number;
  /** Of those, the ones answered 503 because of the time limit. */
  timedOut: number;
  /** Of those, the ones whose client left before the answer. */
  abandoned: number;
}

/** A running translation server (build it with {@link createTranslationServer}). */
export class TranslationServer {
  readonly app: FastifyInstance;
  readonly stats: ServerStats = { accepted: 0, answered: 0, timedOut: 0, abandoned: 0 };
  private readonly queues = new Map<ServedModel, BatchQueue>();
  private queued = 0;
  private readonly queuedByClient = new Map<string, number>();
  private draining = false;

  constructor(
    readonly models: readonly ServedModel[],
    readonly limits: ServerLimits,
  ) {
    if (models.length === 0) throw new Error("serve: no model to serve");
    const ids = new Set<number>();
    for (const m of models) {
      if (ids.has(m.id)) throw new Error(`serve: two models have the id ${m.id} (ids pick the model in OpenNMT-py requests)`);
      ids.add(m.id);
      const bounds = m.bounds.maxTokens === null && m.bounds.batchSize === null ? { ...m.bounds, batchSize: 64 } : m.bounds;
      this.queues.set(m, new BatchQueue(m.engine, bounds));
    }
    const receive = limits.receiveTimeoutMs;
    this.app = Fastify({
      bodyLimit: limits.maxBodyBytes,
      // slow clients: Node answers 408 and closes once the headers or the body take longer than this; it checks
      // every connection at this interval (its default, 30 s, would let slowloris connections pile up meanwhile)
      serverFactory: (handler) =>
        createHttpServer(
          { requestTimeout: receive, headersTimeout: receive, connectionsCheckingInterval: Math.max(50, Math.min(1000, receive / 4)), keepAliveTimeout: 5000 },
          handler,
        ),
      forceCloseConnections: "idle",
      return503OnClosing: true,
      // wrong types are 400, not silently coerced ("q": 5 is not the string "5")
      ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    });
    this.routes();
  }

  /** The underlying Node server (for its address). */
  get server(): Server {
    return this.app.server;
  }

  async listen(port: number, host: string): Promise<AddressInfo> {
    await this.app.listen({ port, host });
    return this.app.server.address() as AddressInfo;
  }

  /** Sentences waiting in all queues. */
  get queuedSentences(): number {
    return this.queued;
  }

  /** Batch sizes translated so far, per model name. */
  batchSizes(): Record<string, readonly number[]> {
    return Object.fromEntries([...this.queues].map(([m, q]) => [m.name, q.batchSizes]));
  }

  /**
   * Graceful shutdown: new requests get 503, everything accepted is translated and answered, then the server
   * closes (idle keep-alive connections at once, the others after their answer).
   */
  async drain(): Promise<void> {
    this.draining = true;
    await Promise.all([...this.queues.values()].map((q) => q.idle()));
    await this.app.close();
  }

  private modelByLanguages(source: string, target: string): ServedModel {
    if (source === "auto") throw new HttpError(400, "source: language detection ('auto') is not supported: give the source language code");
    const m = this.models.find((x) => x.source === source && x.target === target);
    if (!m) {
      const pairs = this.models.map((x) => `${x.source}->${x.target}`).join(", ");
      throw new HttpError(400, `no model translates ${source} to ${target} (this server has ${pairs}; GET /languages lists them)`);
    }
    return m;
  }

  private modelById(id: number | undefined): ServedModel {
    const m = id === undefined ? this.models[0]! : this.models.find((x) => x.id === id);
    if (!m) throw new HttpError(404, `no model with id ${id} (GET /translator/models lists them)`);
    return m;
  }

  private clientOf(req: FastifyRequest, body: { api_key?: unknown } | null): string {
    const digests = this.limits.apiKeyDigests;
    if (digests === null) return `addr:${req.ip}`;
    const auth = req.headers.authorization;
    const header = req.headers["x-api-key"];
    const query = (req.query as Record<string, unknown> | undefined)?.api_key;
    const given =
      typeof body?.api_key === "string"
        ? body.api_key
        : typeof header === "string"
          ? header
          : typeof auth === "string" && auth.startsWith("Bearer ")
            ? auth.slice(7)
            : typeof query === "string"
              ? query
              : null;
    if (given === null) throw new HttpError(403, "an API key is required (api_key, X-API-Key or Authorization: Bearer)");
    if (!keyAccepted(given, digests)) throw new HttpError(403, "invalid API key");
    return `key:${keyDigest(given).toString("hex").slice(0, 16)}`;
  }

  /** Queue `texts` for `model` and wait for their hypotheses, within every limit. */
  private async translate(
    req: FastifyRequest,
    reply: FastifyReply,
    client: string,
    model: ServedModel,
    texts: readonly string[],
  ): Promise<ServedHypothesis[][]> {
    const l = this.limits;
    if (texts.length > l.maxRequestSentences)
      throw new HttpError(413, `${texts.length} sentences in one request: at most ${l.maxRequestSentences} (--max-request-sentences)`);
    texts.forEach((t, i) => {
      if (t.length > l.maxTextChars) throw new HttpError(413, `sentence ${i + 1} has ${t.length} characters: at most ${l.maxTextChars} (--max-text-chars)`);
    });
    let sources: Int32Array[];
    try {
      sources = texts.map((t) => model.engine.encode(t));
    } catch (err) {
      if (err instanceof InputTooLongError) throw new HttpError(413, err.message);
      throw err;
    }
    const n = sources.length;
    const mine = this.queuedByClient.get(client) ?? 0;
    if (this.queued + n > l.maxQueue) throw new HttpError(429, `the queue is full (${this.queued} sentences waiting, at most ${l.maxQueue}): retry later`);
    if (mine + n > l.maxClientQueue) throw new HttpError(429, `you have ${mine} sentences waiting, at most ${l.maxClientQueue} per client: retry later`);
    this.queued += n;
    this.queuedByClient.set(client, mine + n);
    this.stats.accepted++;
    const job = new Job(sources);
    const gone = () => {
      if (!job.done && !reply.sent) {
        job.cancelled = true;
        this.stats.abandoned++;
        job.fail(new HttpError(499, "client closed the connection"));
      }
    };
    reply.raw.on("close", gone);
    const timer = setTimeout(() => {
      if (job.done) return;
      job.cancelled = true;
      this.stats.timedOut++;
      job.fail(new HttpError(503, `not translated within the time limit (${l.timeLimitMs} ms, --time-limit-ms): the server is busy, retry later`));
    }, l.timeLimitMs);
    try {
      this.queues.get(model)!.submit(job);
      const out = await job.promise;
      this.stats.answered++;
      return out;
    } finally {
      clearTimeout(timer);
      reply.raw.off("close", gone);
      this.queued -= n;
      const left = (this.queuedByClient.get(client) ?? n) - n;
      if (left > 0) this.queuedByClient.set(client, left);
      else this.queuedByClient.delete(client);
    }
  }

  private routes(): void {
    const app = this.app;
    // OpenNMT-py's server parses the body as JSON whatever its content type (get_json(force=True)), and
    // `curl -d` sends application/x-www-form-urlencoded, fetch a string as text/plain: every body is parsed as JSON
    app.removeContentTypeParser("text/plain");
    app.addContentTypeParser("*", { parseAs: "string" }, app.getDefaultJsonParser("error", "error"));

    app.addHook("onRequest", async (req, reply) => {
      if (this.draining) {
        reply.header("connection", "close");
        const body = req.url === "/health" ? { status: "draining" } : { error: "the server is shutting down: retry on another instance" };
        await reply.code(503).send(body);
      }
    });
    app.addHook("onSend", async (_req, reply, payload) => {
      if (this.draining) reply.header("connection", "close");
      return payload;
    });

    app.setErrorHandler((err: FastifyError | HttpError, req, reply) => {
      const status =
        err instanceof HttpError ? err.status : err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
      if (status === 500) req.log.error(err);
      const message = status === 500 ? "internal error" : err.message;
      const body = req.url.startsWith("/translator/") ? { error: message, status: "error" } : { error: message };
      return reply.code(status).send(body);
    });
    app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no route ${req.method} ${req.url.split("?")[0]}` }));

    app.get("/health", () => ({
      status: "ok",
      models: this.models.map((m) => ({ id: m.id, name: m.name, source: m.source, target: m.target })),
      queued: this.queued,
      stats: this.stats,
      batches: Object.fromEntries(
        [...this.queues].map(([m, q]) => [m.name, { count: q.batchSizes.length, sentences: q.batchSizes.reduce((a, b) => a + b, 0) }]),
      ),
      memory: { rss: process.memoryUsage().rss, tensors: tf.memory().numTensors },
    }));

    app.get("/languages", () => {
      const sources = [...new Set(this.models.map((m) => m.source))];
      return sources.map((code) => ({
        code,
        name: LANGUAGE_NAMES[code] ?? code,
        targets: [...new Set(this.models.filter((m) => m.source === code).map((m) => m.target))],
      }));
    });

    app.post<{ Body: LibreTranslateRequest }>("/translate", { schema: { body: libreTranslateBody } }, async (req, reply) => {
      const b = req.body;
      const client = this.clientOf(req, b);
      const model = this.modelByLanguages(b.source, b.target);
      const qs = Array.isArray(b.q) ? b.q : [b.q];
      const html = b.format === "html";
      const docs = html ? qs.map(htmlSegments) : null;
      const texts = docs ? docs.flatMap((d) => d.textAt.map((i) => d.parts[i]!.trim())) : qs;
      const hyps = await this.translate(req, reply, client, model, texts);
      let out: string[];
      if (docs) {
        let k = 0;
        out = docs.map((d) => {
          const parts = [...d.parts];
          for (const i of d.textAt) parts[i] = withOuterWhitespace(parts[i]!, hyps[k++]![0]?.text ?? "");
          return parts.join("");
        });
      } else out = hyps.map((h) => h[0]?.text ?? "");
      const alternatives = b.alternatives ?? 0;
      if (alternatives > 0 && !docs) {
        const alts = hyps.map((h) => h.slice(1, 1 + alternatives).map((x) => x.text));
        return { translatedText: Array.isArray(b.q) ? out : out[0], alternatives: Array.isArray(b.q) ? alts : alts[0] };
      }
      return { translatedText: Array.isArray(b.q) ? out : out[0] };
    });

    app.get("/translator/models", () =>
      this.models.map((m) => ({ model_id: m.id, name: m.name, source: m.source, target: m.target, loaded: true, timeout: -1 })),
    );

    app.post<{ Body: OpenNmtRequest }>("/translator/translate", { schema: { body: openNmtBody } }, async (req, reply) => {
      const client = this.clientOf(req, null);
      const items = req.body;
      // each model's sentences go to its queue; the answer keeps the request's order, n-best hypotheses in a row
      const byModel = new Map<ServedModel, number[]>();
      items.forEach((it, i) => {
        const m = this.modelById(it.id);
        byModel.set(m, [...(byModel.get(m) ?? []), i]);
      });
      const hyps: ServedHypothesis[][] = items.map(() => []);
      await Promise.all(
        [...byModel].map(async ([m, rows]) => {
          const got = await this.translate(
            req,
            reply,
            client,
            m,
            rows.map((i) => items[i]!.src),
          );
          rows.forEach((i, k) => (hyps[i] = got[k]!));
        }),
      );
      return [items.flatMap((it, i) => hyps[i]!.map((h) => ({ src: it.src, tgt: h.text, n_best: hyps[i]!.length, pred_score: h.score })))];
    });
  }
}

/** Build the server (call `listen` to start it). */
export function createTranslationServer(models: readonly ServedModel[], limits: ServerLimits): TranslationServer {
  return new TranslationServer(models, limits);
}
