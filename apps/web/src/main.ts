import { parseBackendParam } from "./backend.js";
import { MainThreadEngine, WorkerEngine, type PageEngine } from "./engine.js";
import type { SentenceResult } from "./model.js";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const modelUrl = $<HTMLInputElement>("model-url");
const status = $<HTMLParagraphElement>("status");
const source = $<HTMLTextAreaElement>("source");
const beamInput = $<HTMLInputElement>("beam");
const nbestInput = $<HTMLInputElement>("nbest");
const translateButton = $<HTMLButtonElement>("translate");
const results = $<HTMLElement>("results");
const progress = $<HTMLProgressElement>("progress");

const params = new URLSearchParams(location.search);
modelUrl.value = params.get("model") ?? "model/";
// `?worker=0`: translate on the page's thread (the page then paints only between sentences)
const engine: PageEngine = params.get("worker") === "0" ? new MainThreadEngine() : new WorkerEngine();
document.body.dataset.mode = engine.mode;
$("mode").textContent = engine.mode === "worker" ? "a Web Worker" : "the page's thread";
let loaded = false;

/** `data-state` on <body> (loading / ready / busy / error) tells scripts and tests when the page is idle. */
function setStatus(state: "loading" | "ready" | "busy" | "error", text: string): void {
  document.body.dataset.state = state;
  status.textContent = text;
  status.classList.toggle("error", state === "error");
  translateButton.disabled = state !== "ready" || !loaded;
}

function showTensors(): void {
  $("tensors").textContent = String(engine.tensors());
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

async function load(): Promise<void> {
  setStatus("loading", `Loading ${modelUrl.value}…`);
  loaded = false;
  try {
    const t = await engine.load(new URL(modelUrl.value.endsWith("/") ? modelUrl.value : `${modelUrl.value}/`, document.baseURI).href);
    loaded = true;
    setStatus("ready", `Loaded ${modelUrl.value}: ${t.srcTypes} source and ${t.tgtTypes} target types.`);
  } catch (err) {
    setStatus("error", `Could not load the model: ${errorText(err)}`);
  }
  showTensors();
}

function render(r: SentenceResult, index: number): HTMLElement {
  const box = document.createElement("article");
  box.className = "sentence";
  box.dataset.index = String(index);
  const src = document.createElement("p");
  src.className = "src";
  src.textContent = r.sourceTokens;
  const list = document.createElement("ol");
  for (const h of r.hypotheses) {
    const li = document.createElement("li");
    const text = document.createElement("span");
    text.className = "hyp";
    text.textContent = h.text;
    const score = document.createElement("span");
    score.className = "score";
    score.dataset.score = String(h.score); // full precision for scripts; shown rounded
    score.textContent = h.score.toFixed(4);
    score.title = "log₂ probability per token (fairseq's H- score)";
    li.append(text, score);
    list.append(li);
  }
  const time = document.createElement("p");
  time.className = "time";
  time.textContent = `${r.milliseconds.toFixed(1)} ms`;
  box.append(src, list, time);
  return box;
}

async function translateAll(): Promise<void> {
  if (!loaded) return;
  const beam = Number(beamInput.value);
  const nbest = Number(nbestInput.value);
  if (!Number.isInteger(beam) || beam < 1) return setStatus("error", "beam must be a positive integer");
  if (!Number.isInteger(nbest) || nbest < 1 || nbest > beam) return setStatus("error", `nbest must be between 1 and beam (${beam})`);
  const lines = source.value
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  results.replaceChildren();
  setStatus("busy", `Translating ${lines.length} sentence${lines.length === 1 ? "" : "s"}…`);
  progress.max = Math.max(1, lines.length);
  progress.value = 0;
  try {
    const { milliseconds } = await engine.translate(lines, { beam, nbest }, (r, i) => {
      results.append(render(r, i));
      progress.value = i + 1;
      status.textContent = `Translating ${lines.length} sentence${lines.length === 1 ? "" : "s"}… ${i + 1}/${lines.length}`;
    });
    setStatus("ready", `Translated ${lines.length} sentence${lines.length === 1 ? "" : "s"} in ${milliseconds.toFixed(1)} ms (beam ${beam}).`);
  } catch (err) {
    setStatus("error", `Translation failed: ${errorText(err)}`);
  }
  showTensors();
}

$<HTMLFormElement>("model-form").addEventListener("submit", (e) => {
  e.preventDefault();
  void load();
});
$<HTMLFormElement>("translate-form").addEventListener("submit", (e) => {
  e.preventDefault();
  void translateAll();
});
// Enter adds a line in the textarea; Ctrl/Cmd+Enter translates.
source.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && !translateButton.disabled) {
    e.preventDefault();
    void translateAll();
  }
});

try {
  setStatus("loading", "Choosing a TensorFlow.js backend…");
  const choice = await engine.init(parseBackendParam(params.get("backend")));
  $("backend").textContent = choice.name;
  if (choice.renderer) $("backend").title = choice.renderer;
  $("backend-note").textContent = choice.skipped.length ? `(passed over: ${choice.skipped.join("; ")})` : "";
  document.body.dataset.backend = choice.name;
  await load();
} catch (err) {
  setStatus("error", errorText(err));
}
