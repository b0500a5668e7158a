/**
 * The page's translator in a Web Worker (the same library bundle as the main-thread mode): beam search runs here, so
 * the page keeps painting and answering input while a long batch translates; each finished sentence is posted back
 * at once (progress).
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Translator } from "@fairseq-ts/generate";
import { chooseBackend } from "./backend.js";
import { loadTranslator, translateLine } from "./model.js";
import type { FromWorker, ToWorker } from "./protocol.js";

// (the DOM typings describe a window's postMessage; a worker's takes the message alone)
const scope = self as unknown as { postMessage(m: FromWorker): void; addEventListener(type: "message", f: (e: MessageEvent<ToWorker>) => void): void };
const post = (m: FromWorker) => scope.postMessage(m);
const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));
let translator: Translator | null = null;

async function handle(m: ToWorker): Promise<void> {
  switch (m.type) {
    case "init": {
      try {
        const c = await chooseBackend(m.backend);
        post({ type: "backend", name: c.name, skipped: c.skipped, renderer: c.renderer });
      } catch (err) {
        post({ type: "error", stage: "init", message: errorText(err), tensors: tf.memory().numTensors });
      }
      return;
    }
    case "load": {
      translator?.dispose();
      translator = null;
      try {
        translator = await loadTranslator(m.url);
        post({ type: "loaded", srcTypes: translator.srcDict.length, tgtTypes: translator.tgtDict.length, tensors: tf.memory().numTensors });
      } catch (err) {
        post({ type: "error", stage: "load", message: errorText(err), tensors: tf.memory().numTensors });
      }
      return;
    }
    case "translate": {
      const t = translator;
      if (!t) return post({ type: "error", stage: "translate", message: "no model loaded", tensors: tf.memory().numTensors });
      let total = 0;
      try {
        for (const [index, line] of m.lines.entries()) {
          const result = translateLine(t, line, { beam: m.beam, nbest: m.nbest });
          total += result.milliseconds;
          post({ type: "progress", id: m.id, index, total: m.lines.length, result });
        }
        post({ type: "done", id: m.id, milliseconds: total, tensors: tf.memory().numTensors });
      } catch (err) {
        post({ type: "error", stage: "translate", message: errorText(err), tensors: tf.memory().numTensors });
      }
      return;
    }
  }
}

// messages are handled one after another (a translation does not interleave with a model load)
let queue = Promise.resolve();
scope.addEventListener("message", (e) => {
  queue = queue.then(() => handle(e.data));
});
