import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { build, preview, type PreviewServer, type Rollup } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stageModel } from "../scripts/stage-model.js";
import { runCli, trainTinyModel } from "./tiny-model.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const ARTIFACTS = join(root, "artifacts");
const SENTENCES = ["wir suche vier alte hunde .", "ich habe viele kleine katzen ."];
const BEAM = 5;
const NBEST = 2;

interface Hyp {
  text: string;
  score: number;
}

/** `fairseq-ts interactive`'s H- lines, per input sentence (S- ids are in input order). */
function parseInteractive(stdout: string): Hyp[][] {
  const out: Hyp[][] = [];
  for (const line of stdout.split("\n")) {
    const m = /^H-(\d+)\t(\S+)\t(.*)$/.exec(line);
    if (m) (out[Number(m[1])] ??= []).push({ score: Number(m[2]), text: m[3]! });
  }
  return out;
}

/** What the page shows: per sentence, its n-best list with full-precision scores. */
async function pageHypotheses(page: Page): Promise<Hyp[][]> {
  return page.$$eval(".sentence", (boxes) =>
    boxes.map((box) =>
      Array.from(box.querySelectorAll("li"), (li) => ({
        text: li.querySelector(".hyp")!.textContent!,
        score: Number((li.querySelector(".score") as HTMLElement).dataset.score),
      })),
    ),
  );
}

async function translateOnPage(page: Page, text: string, beam: number, nbest: number): Promise<void> {
  await page.fill("#source", text);
  await page.fill("#beam", String(beam));
  await page.fill("#nbest", String(nbest));
  await page.click("#translate");
  await page.waitForSelector("body[data-state=ready], body[data-state=error]");
}

describe("apps/web in headless Chromium", () => {
  let work: string;
  let server: PreviewServer;
  let browser: BrowserContext;
  let base: string;
  let cli: Hyp[][];
  const buildWarnings: string[] = [];
  const collectWarning = (w: Rollup.RollupLog) => void buildWarnings.push(w.message);

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "fsts-web-"));
    const model = await trainTinyModel(work);
    const inter = await runCli(
      ["interactive", model.dataBin, "--path", model.checkpoint, "--beam", String(BEAM), "--nbest", String(NBEST)],
      SENTENCES.join("\n") + "\n",
    );
    if (inter.status !== 0) throw new Error(`fairseq-ts interactive failed:\n${inter.out}`);
    cli = parseInteractive(inter.stdout);
    await build({ root, logLevel: "warn", build: { rollupOptions: { onwarn: collectWarning } } });
    stageModel({ data: model.dataBin, checkpoint: model.checkpoint, out: join(root, "dist/model") });
    server = await preview({ root, logLevel: "warn", preview: { host: "127.0.0.1", port: 0, strictPort: false } });
    base = server.resolvedUrls!.local[0]!;
    // A persistent context is how playwright takes a fresh --user-data-dir (it refuses the flag in args);
    // without the networking flags Chromium tries to reach hosts that do not exist here.
    browser = await chromium.launchPersistentContext(mkdtempSync(join(work, "chromium-profile-")), {
      executablePath: "/usr/bin/chromium",
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("the CLI's n-best lists are the reference: one per sentence, best first", () => {
    expect(cli.map((h) => h.length)).toEqual([NBEST, NBEST]);
    // the toy language is word for word: a trained model gets it right ('suche' → 'seek')
    expect(cli.map((h) => h[0]!.text)).toEqual(["we seek four old dogs .", "i have many small cats ."]);
  });

  it("bundles dictionary, models, generate and backend for the browser without node: modules", () => {
    // Vite swaps a node: import for a stub that throws when used, warning "externalized for browser compatibility"
    expect(buildWarnings).toEqual([]);
    const assets = join(root, "dist/assets");
    const js = readdirSync(assets).filter((f) => f.endsWith(".js"));
    expect(js.length).toBeGreaterThan(0);
    for (const f of js) expect(readFileSync(join(assets, f), "utf8")).not.toMatch(/__vite-browser-external|from\s*["']node:|import\(\s*["']node:/);
    // the wasm binaries ship with the page (tfjs fetches them at run time)
    expect(readdirSync(assets).filter((f) => f.endsWith(".wasm"))).toHaveLength(3);
  });

  it("keeps import-time registrations (tokenizers of a sideEffects:false package) in a browser bundle; Node-only calls say so", async () => {
    const out = join(work, "probe");
    await build({
      configFile: false,
      root,
      logLevel: "warn",
      build: {
        outDir: out,
        emptyOutDir: true,
        lib: { entry: join(root, "test/fixtures/registry-probe.ts"), formats: ["es"], fileName: "probe" },
        rollupOptions: { onwarn: collectWarning },
      },
    });
    expect(buildWarnings).toEqual([]);
    const page = await browser.newPage();
    await page.goto(`${base}?model=none/`); // any page of the site: the probe needs a browser, not the model
    await page.addScriptTag({ content: readFileSync(join(out, "probe.js"), "utf8"), type: "module" });
    await page.waitForFunction(() => (globalThis as { registryProbe?: unknown }).registryProbe !== undefined);
    // fairseq's moses tokenizer splits punctuation off and its detokenizer joins it back
    expect(await page.evaluate(() => (globalThis as { registryProbe?: unknown }).registryProbe)).toEqual({
      moses: "Hello , world !",
      mosesBack: "Hello, world!",
      space: "Hello, world!",
      nodeOnly: "fromPretrained needs Node.js (node:fs/promises); in a browser, pass the contents instead of a path",
    });
    await page.close();
  });

  /** Open the page (optionally forcing a backend), wait for the model, return the backend it shows. */
  async function openPage(query = ""): Promise<{ page: Page; backend: string; errors: string[] }> {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${base}${query}`);
    await page.waitForSelector("body[data-state=ready], body[data-state=error]");
    expect(await page.textContent("#status")).toMatch(/^Loaded model\/: \d+ source and \d+ target types\.$/);
    return { page, backend: (await page.textContent("#backend"))!, errors };
  }

  async function expectSameAsCli(page: Page): Promise<void> {
    await translateOnPage(page, SENTENCES.join("\n"), BEAM, NBEST);
    expect(await page.getAttribute("body", "data-state"), (await page.textContent("#status")) ?? "").toBe("ready");
    const web = await pageHypotheses(page);
    expect(web.map((s) => s.map((h) => h.text))).toEqual(cli.map((s) => s.map((h) => h.text)));
    web.forEach((s, i) => s.forEach((h, j) => expect(Math.abs(h.score - cli[i]![j]!.score), `sentence ${i} hypothesis ${j}`).toBeLessThan(1e-3)));
  }

  it("picks the fastest backend that works and translates typed sentences exactly as `fairseq-ts interactive` does", async () => {
    const { page, backend, errors } = await openPage();
    // --disable-gpu leaves WebGL on SwiftShader (software) at best, which the page passes over for WASM
    expect(backend).toBe("wasm");
    expect(await page.textContent("#backend-note")).toMatch(/^\(passed over: webgl: /);
    await expectSameAsCli(page);
    const times = await page.$$eval(".sentence .time", (els) => els.map((e) => e.textContent));
    expect(times).toHaveLength(SENTENCES.length);
    for (const t of times) expect(t).toMatch(/^\d+\.\d ms$/);
    expect(await page.textContent(".sentence[data-index='0'] .src")).toBe(SENTENCES[0]);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, "translate.png"), fullPage: true });

    // translating again leaves as many tensors alive as before: beam search frees what it allocates
    const tensorsBefore = Number(await page.textContent("#tensors"));
    await translateOnPage(page, SENTENCES.join("\n"), BEAM, NBEST);
    await page.fill("#source", SENTENCES[0]!);
    await page.fill("#beam", "3");
    await page.fill("#nbest", "3");
    await page.press("#source", "Control+Enter"); // the keyboard way
    await page.waitForSelector("body[data-state=ready] .sentence li:nth-child(3)");
    expect(await page.$$eval(".sentence li", (els) => els.length)).toBe(3);
    expect(Number(await page.textContent("#tensors"))).toBe(tensorsBefore);
    expect(errors).toEqual([]);
    await page.close();
  });

  it.each(["webgl", "cpu"])("?backend=%s runs headless and gives the CLI's n-best lists too", async (name) => {
    const { page, backend, errors } = await openPage(`?backend=${name}`);
    expect(backend).toBe(name);
    await expectSameAsCli(page);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("?worker=0 translates on the page's own thread, with the same n-best lists", async () => {
    const { page, errors } = await openPage("?worker=0&backend=wasm");
    expect(await page.getAttribute("body", "data-mode")).toBe("main");
    expect(await page.textContent("#mode")).toBe("the page's thread");
    await expectSameAsCli(page);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("translates in a Web Worker: progress per sentence, and the page keeps painting while a long batch translates", async () => {
    const { page, errors } = await openPage();
    expect(await page.getAttribute("body", "data-mode")).toBe("worker");
    expect(await page.textContent("#mode")).toBe("a Web Worker");
    // a requestAnimationFrame counter (with the longest gap between frames) and the page thread's long tasks
    await page.evaluate(() => {
      const w = window as unknown as { paint: { frames: number; maxGap: number; last: number; longTasks: number[] } };
      w.paint = { frames: 0, maxGap: 0, last: performance.now(), longTasks: [] };
      const tick = (t: number) => {
        w.paint.frames++;
        w.paint.maxGap = Math.max(w.paint.maxGap, t - w.paint.last);
        w.paint.last = t;
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) w.paint.longTasks.push(e.duration);
      }).observe({ type: "longtask" });
    });
    const LONG = 200;
    const lines = Array.from({ length: LONG }, (_, i) => SENTENCES[i % SENTENCES.length]!);
    await page.fill("#source", lines.join("\n"));
    await page.fill("#beam", "5");
    await page.fill("#nbest", "1");
    const paint = () => page.evaluate(() => ({ ...(window as unknown as { paint: { frames: number; maxGap: number; longTasks: number[] } }).paint }));
    await page.evaluate(() => {
      const w = window as unknown as { paint: { maxGap: number; last: number; longTasks: number[] } };
      w.paint.maxGap = 0;
      w.paint.longTasks = [];
    });
    const t0 = Date.now();
    const start = await paint();
    await page.click("#translate");
    // progress: the sentences appear one by one while the page is busy, the bar and the status follow
    await page.waitForFunction(() => document.body.dataset.state === "busy" && document.querySelectorAll(".sentence").length >= 3);
    const mid = await page.evaluate(() => ({
      shown: document.querySelectorAll(".sentence").length,
      bar: (document.getElementById("progress") as HTMLProgressElement).value,
      status: document.getElementById("status")!.textContent,
    }));
    expect(mid.shown).toBeLessThan(LONG);
    expect(mid.bar).toBeGreaterThanOrEqual(3);
    expect(mid.status).toMatch(new RegExp(`^Translating ${LONG} sentences… \\d+/${LONG}$`));
    await page.waitForSelector("body[data-state=ready]", { timeout: 120_000 });
    const ms = Date.now() - t0;
    const end = await paint();
    expect(await page.$$eval(".sentence", (els) => els.length)).toBe(LONG);
    expect(await page.$eval("#progress", (p) => (p as HTMLProgressElement).value)).toBe(LONG);
    // the worker's hypotheses are the CLI's
    const web = await pageHypotheses(page);
    web.forEach((s, i) => expect(s[0]!.text).toBe(cli[i % SENTENCES.length]![0]!.text));
    // the page painted all along: frames at least every 250 ms on average and never a gap of a second (a busy
    // shared machine delays frames; translating on the page's thread stops them for a sentence at a time)
    const frames = end.frames - start.frames;
    console.log(
      `worker mode: ${LONG} sentences in ${ms} ms, ${frames} frames, longest gap ${end.maxGap.toFixed(0)} ms, page long tasks ${JSON.stringify(end.longTasks.map(Math.round))}`,
    );
    expect(ms).toBeGreaterThan(500);
    expect(frames).toBeGreaterThan(ms / 250);
    expect(end.maxGap).toBeLessThan(1000);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("reports a missing model folder and a bad nbest instead of failing silently", async () => {
    const page = await browser.newPage();
    await page.goto(`${base}?model=no-such-model/`);
    await page.waitForSelector("body[data-state=error]");
    expect(await page.textContent("#status")).toMatch(/Could not load the model: cannot fetch .*no-such-model\/checkpoint\.safetensors: HTTP 404 Not Found$/);
    expect(await page.isDisabled("#translate")).toBe(true);
    await page.goto(`${base}?backend=cpu`);
    await page.waitForSelector("body[data-state=ready]");
    await translateOnPage(page, SENTENCES[0]!, 2, 3);
    expect(await page.textContent("#status")).toBe("nbest must be between 1 and beam (2)");
    await page.close();
  });
});
