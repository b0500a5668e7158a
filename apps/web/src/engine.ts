/**
 * Where the page's translator runs: in a Web Worker (the default: the page keeps painting while it translates) or,
 * with `?worker=0`, on the page's own thread (yielding between sentences only). Both load the same model files and
 * give the same n-best lists.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Translator } from "@fairseq-ts/generate";
import { chooseBackend, type WebBackend } from "./backend.js";
import { loadTranslator, translateLine, type SentenceResult } from "./model.js";
import type { FromWorker, ToWorker } from "./protocol.js";

export interface BackendInfo {
  name: WebBackend;
  skipped: string[];
  renderer: string | null;
}

export interface PageEngine {
  readonly mode: "worker" | "main";
  init(forced: WebBackend | undefined): Promise<BackendInfo>;
  /** Load the model folder `url` (absolute); returns the dictionaries' sizes. */
  load(url: string): Promise<{ srcTypes: number; tgtTypes: number }>;
  /** Translate `lines`; `onSentence` gets each result as soon as it is done. */
  translate(lines: string[], o: { beam: number; nbest: number }, onSentence: (r: SentenceResult, index: number) => void): Promise<{ milliseconds: number }>;
  /** Tensors alive where the model is (the worker's tfjs, or the page's). */
  tensors(): number;
}

export class MainThreadEngine implements PageEngine {
  readonly mode = "main";
  private translator: Translator | null = null;

  async init(forced: WebBackend | undefined): Promise<BackendInfo> {
    const c = await chooseBackend(forced);
    return { name: c.name, skipped: c.skipped, renderer: c.renderer };
  }

  async load(url: string): Promise<{ srcTypes: number; tgtTypes: number }> {
    this.translator?.dispose();
    this.translator = null;
    this.translator = await loadTranslator(url);
    return { srcTypes: this.translator.srcDict.length, tgtTypes: this.translator.tgtDict.length };
  }

  async translate(
    lines: string[],
    o: { beam: number; nbest: number },
    onSentence: (r: SentenceResult, index: number) => void,
  ): Promise<{ milliseconds: number }> {
    if (!this.translator) throw new Error("no model loaded");
    let total = 0;
    for (const [i, line] of lines.entries()) {
      const r = translateLine(this.translator, line, o);
      total += r.milliseconds;
      onSentence(r, i);
      await new Promise((resolve) => setTimeout(resolve)); // let the page paint between sentences
    }
    return { milliseconds: total };
  }

  tensors(): number {
    return tf.memory().numTensors;
  }
}

export class WorkerEngine implements PageEngine {
  readonly mode = "worker";
  private readonly worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
  private lastTensors = 0;
  private nextId = 0;
  private listener: ((m: FromWorker) => void) | null = null;

  constructor() {
    this.worker.addEventListener("message", (e: MessageEvent<FromWorker>) => {
      if ("tensors" in e.data) this.lastTensors = e.data.tensors;
      this.listener?.(e.data);
    });
  }

  /** Send `m` and resolve with the first answer `pick` accepts (an error answer rejects). */
  private ask<T>(m: ToWorker, pick: (r: FromWorker) => T | undefined): Promise<T> {
    return new Promise((resolve, reject) => {
      this.listener = (r) => {
        if (r.type === "error") {
          this.listener = null;
          reject(new Error(r.message));
          return;
        }
        const v = pick(r);
        if (v !== undefined) {
          this.listener = null;
          resolve(v);
        }
      };
      this.worker.postMessage(m);
    });
  }

  init(forced: WebBackend | undefined): Promise<BackendInfo> {
    return this.ask({ type: "init", backend: forced }, (r) => (r.type === "backend" ? { name: r.name, skipped: r.skipped, renderer: r.renderer } : undefined));
  }

  load(url: string): Promise<{ srcTypes: number; tgtTypes: number }> {
    return this.ask({ type: "load", url }, (r) => (r.type === "loaded" ? { srcTypes: r.srcTypes, tgtTypes: r.tgtTypes } : undefined));
  }

  translate(lines: string[], o: { beam: number; nbest: number }, onSentence: (r: SentenceResult, index: number) => void): Promise<{ milliseconds: number }> {
    const id = this.nextId++;
    return this.ask({ type: "translate", id, lines, ...o }, (r) => {
      if (r.type === "progress" && r.id === id) onSentence(r.result, r.index);
      return r.type === "done" && r.id === id ? { milliseconds: r.milliseconds } : undefined;
    });
  }

  tensors(): number {
    return this.lastTensors;
  }
}
