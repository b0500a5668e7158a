/**
 * A bounded load test on loopback with autocannon (the bench sends 10 s per row): 1, 8 and 64 concurrent clients, one
 * test-set sentence per LibreTranslate request. Every answer must be fairseq's hypothesis for its sentence, none may
 * fail or time out, latencies are reported, and tensors stay flat across the rows.
 */
import * as tf from "@tensorflow/tfjs-core";
import autocannon from "autocannon";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTranslationServer, type ServedModel, type TranslationServer } from "../src/index.js";
import { fairseqBeam5, limits, referenceModel } from "./reference.js";

/** Test sentences without <unk> in fairseq's S- line (the source text is then exactly what fairseq encoded). */
const CASES = [...fairseqBeam5().values()].filter((e) => !e.src.includes("<unk>")).slice(0, 64);

let model: ServedModel;
let dispose: () => void;
let server: TranslationServer;
let url: string;

beforeAll(async () => {
  ({ model, dispose } = await referenceModel());
  server = createTranslationServer([model], limits());
  const { port } = await server.listen(0, "127.0.0.1");
  url = `http://127.0.0.1:${port}`;
}, 120_000);
afterAll(async () => {
  await server.app.close();
  dispose();
});

describe("load on loopback (autocannon, bounded)", () => {
  it("1, 8 and 64 concurrent clients: every answer is fairseq's hypothesis, no error or timeout, tensors flat", async () => {
    let tensorsAfterFirstRow = -1;
    for (const connections of [1, 8, 64]) {
      const amount = Math.max(16, connections);
      // requests are numbered as they are sent; each client has one request in flight, so its answer belongs to the
      // sentence its context recorded when the request was set up
      let sent = 0;
      let answered = 0;
      const wrong: string[] = [];
      const result = await autocannon({
        url,
        connections,
        amount,
        timeout: 120,
        requests: [
          {
            method: "POST",
            path: "/translate",
            headers: { "content-type": "application/json" },
            setupRequest: (req: autocannon.Request, context: Record<string, unknown>) => {
              const k = sent++ % CASES.length;
              context["k"] = k;
              return { ...req, body: JSON.stringify({ q: CASES[k]!.src, source: "de", target: "en" }) };
            },
            onResponse: (status: number, body: string, context: Record<string, unknown>) => {
              answered++;
              const want = CASES[context["k"] as number]!.hyp;
              const got = status === 200 ? (JSON.parse(body) as { translatedText: string }).translatedText : `HTTP ${status}`;
              if (got !== want) wrong.push(`${String(context["k"])}: ${got} (want ${want})`);
            },
          },
        ],
      });
      expect(result.non2xx, `${connections} clients`).toBe(0);
      expect(result.errors, `${connections} clients`).toBe(0);
      expect(result.timeouts, `${connections} clients`).toBe(0);
      expect(result.requests.total, `${connections} clients`).toBe(amount);
      expect(answered, `${connections} clients`).toBe(amount);
      expect(wrong, `${connections} clients`).toEqual([]);
      expect(result.latency.p50).toBeGreaterThan(0);
      expect(result.latency.p99).toBeGreaterThanOrEqual(result.latency.p50);
      console.log(
        `serve load: ${connections} clients, ${amount} requests: ${result.requests.average.toFixed(1)} req/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms`,
      );
      if (tensorsAfterFirstRow < 0) tensorsAfterFirstRow = tf.memory().numTensors;
      else expect(tf.memory().numTensors, `${connections} clients`).toBe(tensorsAfterFirstRow);
    }
  }, 600_000);
});
