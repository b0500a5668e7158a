/**
 * Both APIs against their documented shapes, with fairseq's own hypotheses (gen-beam5.txt, real fairseq v0.10.2) as
 * the expected translations; every error as JSON with its status.
 */
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTranslationServer, keyDigest, parseApiKeys, type ServedModel, type TranslationServer } from "../src/index.js";
import { fairseqBeam5, limits, referenceModel } from "./reference.js";

const FAIRSEQ = fairseqBeam5();
/** 12 test sentences without <unk> in fairseq's S- line (the source text is then exactly what fairseq encoded). */
const CASES = [...FAIRSEQ.entries()].filter(([, e]) => !e.src.includes("<unk>")).slice(0, 12);

let model: ServedModel;
let dispose: () => void;
let server: TranslationServer;

beforeAll(async () => {
  ({ model, dispose } = await referenceModel({ generator: { beam: 5, nbest: 2 } }));
  server = createTranslationServer([model], limits());
}, 120_000);
afterAll(async () => {
  await server.app.close();
  dispose();
});

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  server.app.inject({
    method: "POST",
    url,
    payload: typeof body === "string" ? body : JSON.stringify(body),
    headers: { "content-type": "application/json", ...headers },
  });

describe("LibreTranslate's API", () => {
  it("POST /translate with q a string returns {translatedText} = fairseq's hypothesis", async () => {
    const [, e] = CASES[0]!;
    const r = await post("/translate", { q: e.src, source: "de", target: "en", format: "text" });
    expect(r.statusCode).toBe(200);
    expect(r.headers["content-type"]).toMatch(/^application\/json/);
    expect(r.json()).toEqual({ translatedText: e.hyp });
  });

  it("q an array returns an array in the same order, each fairseq's hypothesis (translated in one dynamic batch)", async () => {
    const before = server.batchSizes()["de-en"]!.length;
    const r = await post("/translate", { q: CASES.map(([, e]) => e.src), source: "de", target: "en" });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ translatedText: CASES.map(([, e]) => e.hyp) });
    expect(server.batchSizes()["de-en"]!.slice(before)).toEqual([CASES.length]);
  });

  it("alternatives: the next n-best hypotheses", async () => {
    const [, e] = CASES[1]!;
    const r = await post("/translate", { q: e.src, source: "de", target: "en", alternatives: 1 });
    const j = r.json<{ translatedText: string; alternatives: string[] }>();
    expect(j.translatedText).toBe(e.hyp);
    expect(j.alternatives).toHaveLength(1);
    expect(j.alternatives[0]).not.toBe(e.hyp);
  });

  it("format html: the text between tags is translated, tags and surrounding whitespace kept", async () => {
    const [, a] = CASES[2]!;
    const [, b] = CASES[3]!;
    const r = await post("/translate", { q: `<p> ${a.src} </p><br/><b>${b.src}</b>`, source: "de", target: "en", format: "html" });
    expect(r.json()).toEqual({ translatedText: `<p> ${a.hyp} </p><br/><b>${b.hyp}</b>` });
  });

  it("GET /languages returns [{code, name, targets}]", async () => {
    const r = await server.app.inject({ method: "GET", url: "/languages" });
    expect(r.json()).toEqual([{ code: "de", name: "German", targets: ["en"] }]);
  });

  it("a pair no model translates, or source 'auto', is 400 with an error naming it", async () => {
    let r = await post("/translate", { q: "hallo", source: "en", target: "de" });
    expect(r.statusCode).toBe(400);
    expect(r.json<{ error: string }>().error).toMatch(/no model translates en to de \(this server has de->en/);
    r = await post("/translate", { q: "hallo", source: "auto", target: "en" });
    expect(r.statusCode).toBe(400);
    expect(r.json<{ error: string }>().error).toMatch(/'auto'/);
  });
});

describe("OpenNMT-py's REST API", () => {
  it("POST /translator/translate [{src, id}] returns [[{src, tgt, n_best, pred_score}]]: fairseq's hypothesis and H- score first", async () => {
    const picked = CASES.slice(4, 7);
    const r = await post(
      "/translator/translate",
      picked.map(([, e]) => ({ src: e.src, id: 100 })),
    );
    expect(r.statusCode).toBe(200);
    const out = r.json<{ src: string; tgt: string; n_best: number; pred_score: number }[][]>();
    expect(out).toHaveLength(1);
    // n-best 2: two entries per source, best first
    expect(out[0]).toHaveLength(picked.length * 2);
    picked.forEach(([, e], i) => {
      const best = out[0]![2 * i]!;
      expect(Object.keys(best).sort()).toEqual(["n_best", "pred_score", "src", "tgt"]);
      expect(best.src).toBe(e.src);
      expect(best.tgt).toBe(e.hyp);
      expect(best.n_best).toBe(2);
      expect(Math.abs(best.pred_score - e.score)).toBeLessThan(1e-4);
      expect(out[0]![2 * i + 1]!.pred_score).toBeLessThanOrEqual(best.pred_score);
    });
  });

  it("without a content type (curl -d) the body is still JSON, as OpenNMT-py's get_json(force=True)", async () => {
    const [, e] = CASES[7]!;
    const r = await server.app.inject({ method: "POST", url: "/translator/translate", payload: JSON.stringify([{ src: e.src, id: 100 }]) });
    expect(r.json<{ tgt: string }[][]>()[0]![0]!.tgt).toBe(e.hyp);
  });

  it("GET /translator/models lists the models; an unknown id is 404 {error, status: 'error'}", async () => {
    const models = await server.app.inject({ method: "GET", url: "/translator/models" });
    expect(models.json()).toEqual([{ model_id: 100, name: "de-en", source: "de", target: "en", loaded: true, timeout: -1 }]);
    const r = await post("/translator/translate", [{ src: "hallo", id: 7 }]);
    expect(r.statusCode).toBe(404);
    expect(r.json()).toEqual({ error: "no model with id 7 (GET /translator/models lists them)", status: "error" });
  });
});

describe("errors are JSON with their status", () => {
  it("400: malformed JSON, empty body, wrong types, missing fields (no coercion of 5 into '5')", async () => {
    const bad: [string, unknown][] = [
      ["/translate", '{"q": "x", "source": "de"'],
      ["/translate", ""],
      ["/translate", { q: 5, source: "de", target: "en" }],
      ["/translate", { q: ["a", 1], source: "de", target: "en" }],
      ["/translate", { q: "a", target: "en" }],
      ["/translate", { q: "a", source: "de", target: "en", format: "pdf" }],
      ["/translate", [1, 2]],
      ["/translator/translate", { src: "a" }],
      ["/translator/translate", [{ src: 3 }]],
      ["/translator/translate", [{ src: "a", id: "100" }]],
    ];
    for (const [url, body] of bad) {
      const r = await post(url, body);
      expect(r.statusCode, JSON.stringify(body)).toBe(400);
      expect(typeof r.json<{ error: string }>().error).toBe("string");
    }
  });

  it("413: a body over --max-body-bytes, a text over --max-text-chars, too many sentences, a sentence over the model's positions", async () => {
    const small = createTranslationServer([model], limits({ maxBodyBytes: 2000, maxTextChars: 50, maxRequestSentences: 3 }));
    try {
      const send = (body: unknown) =>
        small.app.inject({ method: "POST", url: "/translate", payload: JSON.stringify(body), headers: { "content-type": "application/json" } });
      let r = await send({ q: "a".repeat(3000), source: "de", target: "en" });
      expect([r.statusCode, r.json<{ error: string }>().error]).toEqual([413, expect.stringMatching(/too large/i)]);
      r = await send({ q: "ein ".repeat(20), source: "de", target: "en" });
      expect(r.statusCode).toBe(413);
      expect(r.json<{ error: string }>().error).toBe("sentence 1 has 80 characters: at most 50 (--max-text-chars)");
      r = await send({ q: ["a", "b", "c", "d"], source: "de", target: "en" });
      expect(r.statusCode).toBe(413);
      expect(r.json<{ error: string }>().error).toBe("4 sentences in one request: at most 3 (--max-request-sentences)");
    } finally {
      await small.app.close();
    }
    // fairseq's model holds 1024 positions: 1100 tokens do not fit (fairseq's size check, told per sentence)
    const r = await post("/translate", { q: "ein ".repeat(1100), source: "de", target: "en" });
    expect(r.statusCode).toBe(413);
    expect(r.json<{ error: string }>().error).toMatch(/^Size of a sentence of 1101 tokens is invalid .*max_positions=\(1024, 1024\)/);
  });

  it("404 for an unknown route, as JSON", async () => {
    const r = await server.app.inject({ method: "GET", url: "/nope?x=1" });
    expect(r.statusCode).toBe(404);
    expect(r.json()).toEqual({ error: "no route GET /nope" });
  });

  it("429: the queue full (--max-queue) and one client's bound (--max-client-queue, per API key)", async () => {
    const keys = parseApiKeys("# keys\nalpha\n\nbeta\n", "keys.txt");
    const s = createTranslationServer(
      [{ ...model, bounds: { ...model.bounds, waitMs: 200 } }],
      limits({ maxQueue: 5, maxClientQueue: 2, apiKeyDigests: keys }),
    );
    try {
      const send = (q: string[], key: string) =>
        s.app.inject({
          method: "POST",
          url: "/translate",
          payload: JSON.stringify({ q, source: "de", target: "en", api_key: key }),
          headers: { "content-type": "application/json" },
        });
      const [a, b, a2, c] = await Promise.all([
        send(["ein mann .", "eine frau ."], "alpha"),
        send(["ein hund .", "eine katze ."], "beta"),
        send(["ein kind ."], "alpha"),
        // 4 waiting + 2 > 5
        send(["zwei männer .", "zwei frauen ."], "beta"),
      ]);
      expect(a.statusCode).toBe(200);
      expect(b.statusCode).toBe(200);
      expect(a2.statusCode).toBe(429);
      expect(a2.json<{ error: string }>().error).toBe("you have 2 sentences waiting, at most 2 per client: retry later");
      expect(c.statusCode).toBe(429);
      expect(c.json<{ error: string }>().error).toMatch(/^the queue is full \(4 sentences waiting, at most 5\)/);
      // all four accepted sentences went in one batch; nothing is left counted
      expect(s.batchSizes()["de-en"]).toEqual([4]);
      expect(s.queuedSentences).toBe(0);
    } finally {
      await s.app.close();
    }
  });

  it("403 without a valid key (body api_key, X-API-Key or Bearer); /languages and /health need none", async () => {
    const s = createTranslationServer([model], limits({ apiKeyDigests: [keyDigest("secret-1"), keyDigest("secret-2")] }));
    try {
      const [, e] = CASES[8]!;
      const body = { q: e.src, source: "de", target: "en" };
      const send = (b: unknown, headers: Record<string, string> = {}) =>
        s.app.inject({ method: "POST", url: "/translate", payload: JSON.stringify(b), headers: { "content-type": "application/json", ...headers } });
      let r = await send(body);
      expect([r.statusCode, r.json()]).toEqual([403, { error: "an API key is required (api_key, X-API-Key or Authorization: Bearer)" }]);
      for (const wrong of ["secret-3", "secret-", "secret-10", ""]) {
        r = await send({ ...body, api_key: wrong });
        expect([r.statusCode, r.json()]).toEqual([403, { error: "invalid API key" }]);
      }
      r = await send({ ...body, api_key: "secret-2" });
      expect(r.json()).toEqual({ translatedText: e.hyp });
      r = await send(body, { "x-api-key": "secret-1" });
      expect(r.statusCode).toBe(200);
      r = await s.app.inject({
        method: "POST",
        url: "/translator/translate",
        payload: JSON.stringify([{ src: e.src }]),
        headers: { authorization: "Bearer secret-1" },
      });
      expect(r.json<{ tgt: string }[][]>()[0]![0]!.tgt).toBe(e.hyp);
      r = await s.app.inject({
        method: "POST",
        url: "/translator/translate",
        payload: JSON.stringify([{ src: e.src }]),
        headers: { authorization: "Bearer nope" },
      });
      expect(r.json()).toEqual({ error: "invalid API key", status: "error" });
      expect((await s.app.inject({ method: "GET", url: "/languages" })).statusCode).toBe(200);
      expect((await s.app.inject({ method: "GET", url: "/health" })).statusCode).toBe(200);
    } finally {
      await s.app.close();
    }
    expect(() => parseApiKeys("# only a comment\n\n", "k.txt")).toThrow("--api-keys k.txt: no keys in the file (one a line)");
  });

  it("503 past --time-limit-ms: the sentences leave the queue untranslated", async () => {
    const s = createTranslationServer([{ ...model, bounds: { ...model.bounds, waitMs: 300 } }], limits({ timeLimitMs: 20 }));
    try {
      const r = await s.app.inject({
        method: "POST",
        url: "/translate",
        payload: JSON.stringify({ q: "ein mann .", source: "de", target: "en" }),
        headers: { "content-type": "application/json" },
      });
      expect(r.statusCode).toBe(503);
      expect(r.json<{ error: string }>().error).toMatch(/^not translated within the time limit \(20 ms, --time-limit-ms\)/);
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(s.batchSizes()["de-en"]).toEqual([]);
      expect(s.stats).toMatchObject({ accepted: 1, answered: 0, timedOut: 1 });
    } finally {
      await s.app.close();
    }
  });

  it("GET /health: status, models, queue, memory; tensors flat across requests", async () => {
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await post("/translate", { q: CASES.map(([, e]) => e.src).slice(0, 4), source: "de", target: "en" });
    expect(tf.memory().numTensors).toBe(before);
    const h = (await server.app.inject({ method: "GET", url: "/health" })).json<{
      status: string;
      models: unknown[];
      queued: number;
      memory: { tensors: number };
    }>();
    expect(h.status).toBe("ok");
    expect(h.models).toEqual([{ id: 100, name: "de-en", source: "de", target: "en" }]);
    expect(h.queued).toBe(0);
    expect(h.memory.tensors).toBe(before);
  });
});
