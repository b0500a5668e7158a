/**
 * `fairseq-ts serve` as a process: requests arriving together are batched and give interactive's hypotheses for the
 * same inputs and flags (raw text through --tokenizer moses); SIGTERM under load answers every accepted request,
 * refuses the rest with 503 (or a closed listener), and exits 0; --models adds models by id.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BIN, runCli } from "./cli.js";
import { SHARED } from "./shared.js";

const R = join(SHARED, "reference/fairseq/multi30k-de-en");

/** Test-set sources without <unk>, as raw text (Moses detokenized: no space before the final period). */
function rawSources(n: number): string[] {
  const out: string[] = [];
  for (const line of readFileSync(join(R, "gen-beam5.txt"), "utf8").split("\n")) {
    const [tag, src] = line.split("\t");
    if (/^S-\d+$/.test(tag ?? "") && !src!.includes("<unk>") && !src!.includes('"')) out.push(src!.replace(/ \.$/, "."));
    if (out.length === n) break;
  }
  return out;
}

interface Serving {
  proc: ChildProcessWithoutNullStreams;
  url: string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Start `fairseq-ts serve ARGS --port 0` and wait for its address. */
function startServe(args: string[]): Promise<Serving> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [BIN, "serve", ...args, "--port", "0"]);
    let err = "";
    const exited = new Promise<number | null>((r) => proc.on("close", (code) => r(code)));
    proc.stdout.resume();
    proc.stderr.on("data", (d: Buffer) => {
      err += String(d);
      const m = /serve: listening on (http:\/\/\S+) with/.exec(err);
      if (m) resolve({ proc, url: m[1]!, stderr: () => err, exited });
    });
    void exited.then((code) => reject(new Error(`serve exited with ${code} before listening: ${err}`)));
  });
}

const FLAGS = ["--beam", "5", "--nbest", "2", "--tokenizer", "moses", "-s", "de", "-t", "en", "--max-tokens", "400"];

describe("fairseq-ts serve", () => {
  it("requests that arrive together are batched by length and give interactive's hypotheses (both APIs)", async () => {
    const sources = rawSources(40);
    const inter = await runCli(["interactive", join(R, "bin"), "--path", join(R, "model.pt"), ...FLAGS, "--buffer-size", "40"], {
      input: `${sources.join("\n")}\n`,
    });
    expect(inter.status, inter.stderr).toBe(0);
    // D- lines: id -> [score, detokenized text] per hypothesis, best first
    const want = new Map<number, [number, string][]>();
    for (const l of inter.stdout.split("\n")) {
      const [tag, score, text] = l.split("\t");
      const m = /^D-(\d+)$/.exec(tag ?? "");
      if (m) want.set(Number(m[1]), [...(want.get(Number(m[1])) ?? []), [Number(score), text!]]);
    }
    expect(want.size).toBe(40);

    const s = await startServe([join(R, "bin"), "--path", join(R, "model.pt"), ...FLAGS, "--batch-wait-ms", "300"]);
    try {
      // one request per sentence, all at once: even ids through LibreTranslate, odd ids through OpenNMT-py
      const got = await Promise.all(
        sources.map(async (src, id) => {
          if (id % 2 === 0) {
            const r = await fetch(`${s.url}/translate`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ q: src, source: "de", target: "en", alternatives: 1 }),
            });
            const j = (await r.json()) as { translatedText: string; alternatives: string[] };
            return [j.translatedText, ...j.alternatives].map((t) => [NaN, t] as [number, string]);
          }
          const r = await fetch(`${s.url}/translator/translate`, { method: "POST", body: JSON.stringify([{ src, id: 100 }]) });
          const j = (await r.json()) as { tgt: string; pred_score: number }[][];
          return j[0]!.map((h) => [h.pred_score, h.tgt] as [number, string]);
        }),
      );
      got.forEach((hyps, id) => {
        const w = want.get(id)!;
        expect(
          hyps.map((h) => h[1]),
          sources[id],
        ).toEqual(w.map((h) => h[1]));
        // (another batch, other padding: the scores agree to float rounding)
        if (id % 2 === 1) hyps.forEach((h, k) => expect(Math.abs(h[0] - w[k]![0])).toBeLessThan(1e-4));
      });
      // they were translated in batches bounded by --max-tokens, not one at a time
      const health = (await (await fetch(`${s.url}/health`)).json()) as {
        stats: { accepted: number; answered: number };
        batches: Record<string, { count: number; sentences: number }>;
      };
      expect(health.stats).toMatchObject({ accepted: 40, answered: 40 });
      expect(health.batches["de-en"]!.sentences).toBe(40);
      expect(health.batches["de-en"]!.count).toBeLessThan(10);
    } finally {
      s.proc.kill("SIGTERM");
      expect(await s.exited).toBe(0);
    }
    expect(s.stderr()).toMatch(/serve: drained: 40 requests accepted, 40 answered/);
  }, 180_000);

  it("SIGTERM under load: every accepted request is answered with its translation, the rest get 503 or a closed door; exit 0", async () => {
    const sources = rawSources(24);
    const s = await startServe([join(R, "bin"), "--path", join(R, "model.pt"), "--beam", "2", "--tokenizer", "moses", "-s", "de", "-t", "en"]);
    const expected = new Map<string, string>();
    // the translations when nothing is in the way
    const base = (await (
      await fetch(`${s.url}/translate`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ q: sources, source: "de", target: "en" }),
      })
    ).json()) as { translatedText: string[] };
    sources.forEach((src, i) => expected.set(src, base.translatedText[i]!));
    const outcome = { ok: 0, wrong: 0, draining: 0, refused: 0, other: [] as string[] };
    let stopAt = Infinity;
    let sent = 0;
    const client = async (c: number) => {
      for (let k = 0; Date.now() < stopAt; k++) {
        const src = sources[(c * 7 + k) % sources.length]!;
        sent++;
        try {
          const r = await fetch(`${s.url}/translate`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ q: src, source: "de", target: "en" }),
          });
          const j = (await r.json()) as { translatedText?: string; error?: string };
          if (r.status === 200) {
            if (j.translatedText === expected.get(src)) outcome.ok++;
            else outcome.wrong++;
          } else if (r.status === 503) outcome.draining++;
          else outcome.other.push(`${r.status} ${JSON.stringify(j)}`);
        } catch {
          // the listener is closed (or closed this idle keep-alive connection): nothing was accepted
          outcome.refused++;
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      }
    };
    const clients = Array.from({ length: 12 }, (_, c) => client(c));
    // let the load build (a dozen answers, however loaded the machine), then SIGTERM while requests are queued and translating
    for (let waited = 0; outcome.ok < 12 && waited < 60_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
    s.proc.kill("SIGTERM");
    const code = await s.exited;
    stopAt = Date.now() + 300;
    await Promise.all(clients);
    expect(code, s.stderr()).toBe(0);
    const m = /serve: drained: (\d+) requests accepted, (\d+) answered, 0 over the time limit, 0 abandoned/.exec(s.stderr());
    expect(m, s.stderr()).not.toBeNull();
    // accepted = answered, and every answer reached its client with the right translation (+1: the baseline request)
    expect(Number(m![2])).toBe(Number(m![1]));
    expect(outcome.ok + 1).toBe(Number(m![1]));
    expect(outcome.wrong).toBe(0);
    expect(outcome.other).toEqual([]);
    expect(outcome.ok).toBeGreaterThan(10);
    expect(outcome.refused + outcome.draining).toBeGreaterThan(0);
    expect(outcome.ok + outcome.draining + outcome.refused).toBe(sent);
  }, 180_000);

  it("--models adds models by OpenNMT-py id; bad files and flags are errors naming them", async () => {
    const dir = mkdtempSync(join(tmpdir(), "serve-"));
    const models = join(dir, "models.json");
    writeFileSync(models, JSON.stringify({ models: [{ id: 7, name: "de-en-beam1", args: [join(R, "bin"), "--path", join(R, "model.pt"), "--beam", "1"] }] }));
    const s = await startServe([join(R, "bin"), "--path", join(R, "model.pt"), "--models", models]);
    try {
      const list = (await (await fetch(`${s.url}/translator/models`)).json()) as { model_id: number; name: string }[];
      expect(list.map((m) => [m.model_id, m.name])).toEqual([
        [100, "de-en"],
        [7, "de-en-beam1"],
      ]);
      const beam1 = readFileSync(join(R, "gen-beam1.txt"), "utf8");
      const src = /^S-398\t(.*)$/m.exec(beam1)![1]!;
      const r = (await (await fetch(`${s.url}/translator/translate`, { method: "POST", body: JSON.stringify([{ src, id: 7 }]) })).json()) as {
        tgt: string;
      }[][];
      expect(r[0]![0]!.tgt).toBe(/^H-398\t\S+\t(.*)$/m.exec(beam1)![1]);
    } finally {
      s.proc.kill("SIGTERM");
      expect(await s.exited).toBe(0);
    }
    writeFileSync(models, JSON.stringify({ models: [{ id: "x", args: [] }] }));
    const bad = await runCli(["serve", join(R, "bin"), "--path", join(R, "model.pt"), "--models", models, "--port", "0"]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(`--models ${models}: models[0]: "id" must be an integer (the OpenNMT-py model id)`);
    const keys = await runCli(["serve", join(R, "bin"), "--path", join(R, "model.pt"), "--api-keys", join(dir, "none.txt")]);
    expect(keys.status).toBe(1);
    expect(keys.stderr).toContain(`--api-keys ${join(dir, "none.txt")}: cannot read (ENOENT)`);
    const port = await runCli(["serve", join(R, "bin"), "--path", join(R, "model.pt"), "--port", "70000"]);
    expect(port.status).toBe(2);
    expect(port.stderr).toContain("error: option '--port': must be a TCP port (0 to 65535), not 70000");
  }, 180_000);
});
