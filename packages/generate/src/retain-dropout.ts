/**
 * fairseq's `--retain-dropout` / `--retain-dropout-modules` (Monte Carlo dropout at inference): generate calls
 * `model.prepare_for_inference_(args)` on every model (ensemble members and the --lm-path model), which turns on
 * `apply_during_inference` of each FairseqDropout whose module_name (its module's class name) is listed, or of all
 * of them when no list is given. Here the models keep their dropout on through `setRetainDropout`, each drawing its
 * masks from its own seeded stream, seeded from --seed (member i: seed + i), so that a run is repeatable.
 */
import { OptionError } from "@fairseq-ts/config";
import type { FairseqModel } from "@fairseq-ts/models";

export interface RetainDropoutOptions {
  retainDropout: boolean;
  /** Module class names (fairseq's, e.g. TransformerEncoderLayer); null: every dropout module. */
  retainDropoutModules: readonly string[] | null;
  /** --seed: the masks' stream (model i of the list draws from seed + i). */
  seed: number;
}

/**
 * Keep dropout on at inference in `models` (fairseq's prepare_for_inference_ with retain_dropout). Throws an OptionError
 * (the CLI names the flag) when a model cannot (no dropout plumbing: a plugin model) or when a listed module name is a dropout
 * module of none of the models (fairseq would keep no dropout on for it, silently: a misspelling here is an error).
 * `sources` name the models in errors (their --path). Without --retain-dropout, nothing is changed.
 */
export function retainDropoutAtInference(models: readonly FairseqModel[], o: RetainDropoutOptions, sources: readonly string[] = []): void {
  if (!o.retainDropout) return;
  const known = new Set<string>();
  models.forEach((m, i) => {
    if (!m.setRetainDropout || !m.dropoutModules)
      throw new OptionError(
        "generation",
        "retainDropout",
        `the model ${sources[i] ?? `#${i + 1}`} has no dropout that can stay on at inference (not a fairseq-ts built-in model)`,
      );
    for (const name of m.dropoutModules()) known.add(name);
  });
  if (o.retainDropoutModules !== null) {
    const unknown = o.retainDropoutModules.filter((name) => !known.has(name));
    if (unknown.length > 0)
      throw new OptionError(
        "generation",
        "retainDropoutModules",
        `${unknown.map((n) => `'${n}'`).join(", ")}: no such dropout module in the model(s) (fairseq class names: ${[...known].join(", ")})`,
      );
  }
  models.forEach((m, i) => {
    m.setRetainDropout!(true, o.retainDropoutModules);
    m.setSeed(o.seed + i);
  });
}
