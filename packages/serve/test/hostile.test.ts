/**
 * Hostile requests over real sockets: bad JSON, huge fields, wrong types, prototype keys, garbage that is not HTTP,
 * slow bodies (slowloris), abrupt disconnects before and after a request was queued. Each gets its error (or the
 * connection is closed), and afterwards the server still translates correctly with tensors and memory flat.
 * (A bounded count here; `pnpm --filter @fairseq-ts/serve bench` sends 10,000.)
 */
import { connect } from "node:net";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTranslationServer, type ServedModel, type TranslationServer } from "../src/index.js";
import { hostileCase, rawRequest, type HostileCase } from "../bench/hostile-cases.mjs";
import { fairseqBeam5, limits, referenceModel } from "./reference.js";

const [, CHECK] = [...fairseqBeam5().entries()].find(([, e]) => !e.src.includes("<unk>"))!;
const COUNT = 1000;
// (above the longest batch on a loaded machine: a batch blocks the event loop, and a request being received meanwhile must not time out)
const RECEIVE_MS = 1500;

let model: ServedModel;
let dispose: () => void;
let server: TranslationServer;
let port: number;

beforeAll(async () => {
  ({ model, dispose } = await referenceModel());
  server = createTranslationServer([model], limits({ maxBodyBytes: 65_536, maxTextChars: 2000, receiveTimeoutMs: RECEIVE_MS }));
  port = (await server.listen(0, "127.0.0.1")).port;
}, 120_000);
afterAll(async () => {
  await server.app.close();
  dispose();
});

async function translateCheck(): Promise<void> {
  const r = await fetch(`http://127.0.0.1:${port}/translate`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ q: CHECK.src, source: "de", target: "en" }),
  });
  expect(r.status).toBe(200);
  expect(await r.json()).toEqual({ translatedText: CHECK.hyp });
}

describe("hostile requests", () => {
  it(`${COUNT} malformed, huge, wrongly typed, slow and abandoned requests: each refused as it should be, the server unharmed`, async () => {
    await translateCheck();
    const tensors = tf.memory().numTensors;
    const rssBefore = process.memoryUsage().rss;
    // slow bodies first, alongside everything else: each must be cut (408) within the receive timeout, not hold a slot
    const slow = Array.from({ length: 8 }, async () => {
      const t0 = Date.now();
      const r = await rawRequest(port, {
        chunks: ['POST /translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{"q": "ein'],
      });
      return { ...r, ms: Date.now() - t0 };
    });
    const cases: HostileCase[] = Array.from({ length: COUNT }, (_, i) => hostileCase(i));
    const seen = new Map<string, number>();
    let next = 0;
    const workers = Array.from({ length: 16 }, async () => {
      while (next < cases.length) {
        const c = cases[next++]!;
        const r = await rawRequest(port, c);
        seen.set(c.kind, (seen.get(c.kind) ?? 0) + 1);
        if (c.expect !== null) expect(r.status, `${c.kind}: ${r.head}`).toBe(c.expect);
        if (c.expect !== null && c.expect !== 400) expect(r.body, c.kind).toMatch(/^\{"error":"/);
      }
    });
    await Promise.all(workers);
    for (const r of await Promise.all(slow)) {
      expect(r.status).toBe(408);
      expect(r.ms).toBeLessThan(RECEIVE_MS * 10);
    }
    expect([...seen.keys()].sort()).toEqual(
      ["abort-in-body", "abort-queued", "bad-json", "garbage", "huge-body", "huge-text", "proto", "too-many", "wrong-types"].sort(),
    );
    // clients that left while queued: their sentences were dropped or answered into the void, never counted as waiting
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(server.queuedSentences).toBe(0);
    await translateCheck();
    expect(tf.memory().numTensors).toBe(tensors);
    // (RSS moves with V8's heap between collections; a leak of the bodies, 10-100 KB each, would exceed this)
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(96 * 2 ** 20);
  }, 120_000);

  it("a connection that sends nothing is closed within the receive timeout", async () => {
    const t0 = Date.now();
    const closed = await new Promise<number>((resolve, reject) => {
      const s = connect(port, "127.0.0.1");
      s.on("error", reject);
      s.on("close", () => resolve(Date.now() - t0));
      s.resume();
    });
    expect(closed).toBeLessThan(RECEIVE_MS * 10);
  }, 30_000);
});
