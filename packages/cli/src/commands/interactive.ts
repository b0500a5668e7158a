import { createReadStream, existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { OptionError } from "@fairseq-ts/config";
import { pyStrip, type Dictionary } from "@fairseq-ts/dictionary";
import {
  SequenceGenerator,
  chunkOptionsFrom,
  generateForSources,
  extractHardAlignment,
  formatD,
  formatH,
  formatP,
  generationOptions,
  generatorOptionsFrom,
  inferenceSizeCheck,
  interactiveOptions,
  type InteractiveOptions,
} from "@fairseq-ts/generate";
import { setupTranslation } from "../load-model.js";
import { textCodec } from "../encoders.js";
import type { CommandSpec, ParsedCommand } from "../spec.js";
import {
  encoderSelectors,
  inferenceGroups,
  scoringSelector,
  taskSelector,
  translationInferenceConfig,
  translationSetupOf,
  type TranslationInferenceConfig,
} from "../command-groups.js";

/** The typed options of one `interactive` command line, one object per option group. */
export interface InteractiveConfig extends TranslationInferenceConfig {
  interactive: InteractiveOptions;
}

export function interactiveConfig(p: ParsedCommand): InteractiveConfig {
  return { ...translationInferenceConfig(p), interactive: p.options.interactive as InteractiveOptions };
}

const NOT_HERE = "interactive translates its input lines and prints them (fairseq-interactive ignores it too)";

/** An input line: the source text and, with --constraints, its target-side constraints as token ids. */
interface InputLine {
  text: string;
  constraints: Int32Array[];
}

/**
 * fairseq-interactive's make_batches with --constraints: the (stripped) line is split at tabs, the first field is
 * the source, each further field a constraint, encoded like the source (--tokenizer, --bpe) with the target
 * dictionary, no eos. Without --constraints a tab is just whitespace in the source.
 */
function parseInputLine(line: string, lineNo: number, constrained: boolean, encode: (s: string) => string, tgt: Dictionary): InputLine {
  if (!constrained) return { text: line, constraints: [] };
  const [text, ...fields] = pyStrip(line).split("\t");
  const constraints = fields.map((field, i) => {
    const ids = tgt.encodeLine(encode(field), { appendEos: false, addIfNotExist: false });
    // (fairseq asserts on an empty constraint: the trie needs a token)
    if (ids.length === 0) throw new Error(`--constraints: input line ${lineNo}: constraint ${i + 1} is empty (tab-separated fields after the source)`);
    return ids;
  });
  return { text: text!, constraints };
}

/** `fairseq-ts interactive DATA --path CKPT`: translate raw lines from stdin or --input (fairseq-interactive). */
export const interactiveSpec: CommandSpec = {
  name: "interactive",
  description: "translate lines from standard input (fairseq-interactive)",
  positional: { name: "data", help: "path to data directory (for the dictionaries)" },
  groups: [
    ...inferenceGroups("interactive", { decodesText: true }),
    { group: generationOptions, unused: [{ keys: ["scoreReference", "sacrebleu", "replaceUnk", "prefixSize", "quiet", "resultsPath"], reason: NOT_HERE }] },
    { group: interactiveOptions },
  ],
  selectors: [taskSelector, ...encoderSelectors, { ...scoringSelector, unused: "interactive does not score its hypotheses" }],
  required: [{ group: "generation", key: "path" }],
  run: (p) => runInteractive(interactiveConfig(p)),
};

async function runInteractive(c: InteractiveConfig): Promise<void> {
  if (c.common.task !== "translation") throw new OptionError("common", "task", `interactive translates: '${c.common.task}' is not supported here`);
  const g = c.generation;
  const input = c.interactive.input;
  // fairseq: a buffer size below 1 means 1; batches never hold more than --batch-size sentences or --max-tokens tokens
  const bufferSize = Math.max(1, c.interactive.bufferSize);
  const { task, ensemble, lm } = await setupTranslation(c.data, translationSetupOf(c, null), "interactive");
  // disposed on every path: main() may run many times in one process (tests, embedding)
  try {
    const src = task.sourceDictionary;
    const tgt = task.targetDictionary;
    const removeBpe = g.removeBpe;
    // raw text in: --tokenizer then --bpe; D- lines: BPE removed then detokenized (fairseq's decode_fn)
    const codec = textCodec(c.common, c.tokenizer, c.bpe, { source: task.sourceLang, target: task.targetLang });
    const gen = new SequenceGenerator(ensemble, { pad: tgt.pad(), eos: tgt.eos(), unk: tgt.unk() }, tgt.length, {
      ...generatorOptionsFrom(g, c.common.seed),
      lmModel: lm,
    });
    const chunking = chunkOptionsFrom(g);
    // (a stream's open error names the file but not the flag, and arrives only once reading starts)
    if (input !== "-" && !existsSync(input)) throw new Error(`--input ${input}: cannot read (no such file)`);
    const rl = createInterface({ input: input === "-" ? process.stdin : createReadStream(input, "utf8"), crlfDelay: Infinity });
    let nextId = 0;
    let lineNo = 0;
    let buffer: InputLine[] = [];
    const constrained = g.constraints !== null;
    const translateBatch = (lines: InputLine[]) => {
      const encoded = lines.map((l) => src.encodeLine(codec.encode(l.text), { addIfNotExist: false }));
      // fairseq-interactive's size check: too long stops the run (or is skipped, its id still counted)
      const kept = inferenceSizeCheck(encoded, ensemble.maxPositions(), {
        maxSourcePositions: c.task.maxSourcePositions,
        maxTargetPositions: c.task.maxTargetPositions,
        skipInvalidSizeInputsValidTest: c.dataset.skipInvalidSizeInputsValidTest,
        warn: (w) => process.stderr.write(`${w}\n`),
      });
      const ids = kept.map((i) => encoded[i]!);
      const firstId = nextId;
      nextId += lines.length;
      if (ids.length === 0) return;
      const { hypotheses: hyps, srcTokens: m } = generateForSources(gen, ids, src.pad(), chunking, constrained ? kept.map((i) => lines[i]!.constraints) : null);
      const out: string[] = [];
      kept.forEach((line, r) => {
        const id = firstId + line;
        out.push(`S-${id}\t${src.string(ids[r]!, { bpeSymbol: removeBpe })}`);
        for (const c of lines[line]!.constraints) out.push(`C-${id}\t${tgt.string(c, { bpeSymbol: removeBpe })}`);
        for (const h of hyps[r]!) {
          const hs = tgt.string(h.tokens, { bpeSymbol: removeBpe });
          out.push(formatH(id, h.score, hs), formatD(id, h.score, codec.decode(hs)), formatP(id, h.positionalScores));
          if (g.printAlignment && h.attention) {
            const srcRow = m.data.subarray(r * m.cols, (r + 1) * m.cols);
            out.push(
              `A-${id}\t${extractHardAlignment(h.attention, srcRow, h.tokens, tgt.pad(), tgt.eos())
                .map(([a, b]) => `${a}-${b}`)
                .join(" ")}`,
            );
          }
        }
      });
      process.stdout.write(`${out.join("\n")}\n`);
    };
    // fairseq batches the buffer by --batch-size and --max-tokens (padded: rows x longest); outputs stay in input order
    const { batchSize, maxTokens } = c.dataset;
    const translate = (lines: InputLine[]) => {
      let batch: InputLine[] = [];
      let longest = 0;
      for (const line of lines) {
        const len = src.encodeLine(codec.encode(line.text), { addIfNotExist: false }).length;
        const wider = Math.max(longest, len);
        if (batch.length && ((batchSize !== null && batch.length + 1 > batchSize) || (maxTokens !== null && (batch.length + 1) * wider > maxTokens))) {
          translateBatch(batch);
          batch = [];
          longest = 0;
        }
        batch.push(line);
        longest = Math.max(longest, len);
      }
      if (batch.length) translateBatch(batch);
    };
    if (process.stdin.isTTY && input === "-") process.stderr.write("Type the input sentence and press return:\n");
    for await (const line of rl) {
      buffer.push(parseInputLine(line, ++lineNo, constrained, (x) => codec.encode(x), tgt));
      if (buffer.length >= bufferSize) {
        translate(buffer);
        buffer = [];
      }
    }
    if (buffer.length) translate(buffer);
  } finally {
    ensemble.dispose();
    lm?.dispose();
  }
}
