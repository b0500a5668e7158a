import { createReadStream, existsSync } from "node:fs";
import { createInterface } from "node:readline";
import type { Command } from "commander";
import * as tf from "@tensorflow/tfjs-core";
import { parseBackendName } from "@fairseq-ts/backend";
import { collateTokens } from "@fairseq-ts/data";
import { SequenceGenerator, extractHardAlignment, formatD, formatH, formatP, inferenceSizeCheck } from "@fairseq-ts/generate";
import type { EncoderDecoderModel } from "@fairseq-ts/models";
import { int } from "../flags.js";
import { setupTranslation } from "../load-model.js";
import { addGenerationFlags, generatorOptions, removeBpeSymbol } from "../generation-flags.js";
import { addEncoderFlags, textCodec } from "../encoders.js";

/** `fairseq-ts interactive DATA --path CKPT`: translate raw lines from stdin or --input (fairseq-interactive). */
export function registerInteractive(program: Command): void {
  addEncoderFlags(addGenerationFlags(
    program
    .command("interactive")
    .description("translate lines from standard input (fairseq-interactive)")
    .argument("<data>", "path to data directory (for the dictionaries)")
    .requiredOption("--path <FILE>", "path to model file (fairseq .pt or fairseq-ts .safetensors)")
    .option("-s, --source-lang <SRC>", "source language")
    .option("-t, --target-lang <TARGET>", "target language")
    .option("--input <FILE>", "file to read from; - for stdin", "-")
    .option("--buffer-size <N>", "read this many sentences into a buffer before processing them", int, 1)
    .option("--cpu", "accepted for compatibility")
    .option("--user-dir <DIR>", "a module that registers custom models/architectures")
    .option("--backend <NAME>", "tensorflow.js backend: auto, tensorflow, wasm, cpu", (v) => parseBackendName(v))
  )).action(async (data: string, o: Record<string, unknown>) => {
      const { task, model } = await setupTranslation(data, o, "interactive");
      // disposed on every path: main() may run many times in one process (tests, embedding)
      try {
        const src = task.sourceDictionary;
        const tgt = task.targetDictionary;
        const removeBpe = removeBpeSymbol(o);
        // raw text in: --tokenizer then --bpe; D- lines: BPE removed then detokenized (fairseq's decode_fn)
        const codec = textCodec(o, { source: task.sourceLang, target: task.targetLang });
        const gen = new SequenceGenerator(model as EncoderDecoderModel, { pad: tgt.pad(), eos: tgt.eos(), unk: tgt.unk() }, tgt.length, generatorOptions(o));
        // (a stream's open error names the file but not the flag, and arrives only once reading starts)
        if (o.input !== "-" && !existsSync(o.input as string)) throw new Error(`--input ${o.input as string}: cannot read (no such file)`);
        const input = o.input === "-" ? process.stdin : createReadStream(o.input as string, "utf8");
        const rl = createInterface({ input, crlfDelay: Infinity });
        let nextId = 0;
        let buffer: string[] = [];
        const translate = (lines: string[]) => {
          const encoded = lines.map((l) => src.encodeLine(codec.encode(l), { addIfNotExist: false }));
          // fairseq-interactive's size check: too long stops the run (or is skipped, its id still counted)
          const kept = inferenceSizeCheck(encoded, (model as EncoderDecoderModel).maxPositions(), { maxSourcePositions: o.maxSourcePositions as number | undefined, maxTargetPositions: o.maxTargetPositions as number | undefined, skipInvalidSizeInputsValidTest: o.skipInvalidSizeInputsValidTest as boolean | undefined, warn: (w) => process.stderr.write(`${w}\n`) });
          const ids = kept.map((i) => encoded[i]!);
          const firstId = nextId;
          nextId += lines.length;
          if (ids.length === 0) return;
          const m = collateTokens(ids, src.pad(), { leftPad: true });
          const srcT = tf.tensor2d(m.data, [m.rows, m.cols], "int32");
          const lens = tf.tensor1d(ids.map((x) => x.length), "int32");
          let hyps;
          try {
            hyps = gen.generate(srcT, lens);
          } finally {
            // also when generation throws (e.g. --min-len above the maximum length)
            tf.dispose([srcT, lens]);
          }
          const out: string[] = [];
          kept.forEach((line, r) => {
            const id = firstId + line;
            out.push(`S-${id}\t${src.string(ids[r]!, { bpeSymbol: removeBpe })}`);
            for (const h of hyps[r]!) {
              const hs = tgt.string(h.tokens, { bpeSymbol: removeBpe });
              out.push(formatH(id, h.score, hs), formatD(id, h.score, codec.decode(hs)), formatP(id, h.positionalScores));
              if (o.printAlignment && h.attention) {
                const srcRow = m.data.subarray(r * m.cols, (r + 1) * m.cols);
                out.push(`A-${id}\t${extractHardAlignment(h.attention, srcRow, h.tokens, tgt.pad(), tgt.eos()).map(([a, b]) => `${a}-${b}`).join(" ")}`);
              }
            }
          });
          process.stdout.write(`${out.join("\n")}\n`);
        };
        if (process.stdin.isTTY && o.input === "-") process.stderr.write("Type the input sentence and press return:\n");
        for await (const line of rl) {
          buffer.push(line);
          if (buffer.length >= (o.bufferSize as number)) {
            translate(buffer);
            buffer = [];
          }
        }
        if (buffer.length) translate(buffer);
      } finally {
        model.dispose();
      }
    });
}
