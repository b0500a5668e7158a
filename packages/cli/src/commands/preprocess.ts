import { preprocess, preprocessOptions, type PreprocessFlags } from "@fairseq-ts/data";
import { commonOptions } from "../options.js";
import type { CommandSpec, ParsedCommand } from "../spec.js";

const NOT_HERE = "fairseq-preprocess parses it but does not use it";

/** The typed options of one `preprocess` command line. */
export function preprocessConfig(p: ParsedCommand): { preprocess: PreprocessFlags } {
  return { preprocess: p.options.preprocess as PreprocessFlags };
}

/** `fairseq-ts preprocess`: fairseq-preprocess's flags, names and defaults. */
export const preprocessSpec: CommandSpec = {
  name: "preprocess",
  description: "build dictionaries and binarize a parallel or monolingual corpus (fairseq-preprocess)",
  groups: [
    {
      group: commonOptions,
      unused: [
        { keys: ["tokenizer", "bpe"], reason: `${NOT_HERE} (tokenize and apply BPE to the text before preprocessing)` },
        { keys: "all", reason: NOT_HERE },
      ],
    },
    { group: preprocessOptions },
  ],
  run: async (p) => {
    await preprocess(preprocessConfig(p).preprocess);
  },
};
