import * as tf from "@tensorflow/tfjs-core";
import type { ModuleContext, ParamStore, SeededRandom } from "./modules.js";

/** Parameters, train/eval mode and state_dict handling shared by every model. */
export abstract class BaseModel {
  protected readonly ctx: ModuleContext;
  private isTraining = false;
  /** --retain-dropout: null when off; else the module names whose dropout stays on (null: all). */
  private retained: { modules: ReadonlySet<string> | null } | null = null;

  constructor(
    protected readonly store: ParamStore,
    readonly rng: SeededRandom,
  ) {
    this.ctx = {
      store,
      rng,
      training: () => this.isTraining,
      retainsDropout: (module) => this.retained !== null && (this.retained.modules === null || this.retained.modules.has(module)),
    };
  }

  /**
   * fairseq's `prepare_for_inference_` with `retain_dropout`: dropout stays on outside training (Monte Carlo dropout)
   * in the modules named (fairseq's class names, see {@link dropoutModules}), in all of them when `modules` is null.
   * `retain` false turns it off again. Draws from this model's seeded stream (see {@link setSeed}).
   */
  setRetainDropout(retain: boolean, modules: readonly string[] | null = null): void {
    this.retained = retain ? { modules: modules === null ? null : new Set(modules) } : null;
  }

  /** The class names of the fairseq modules whose dropout (FairseqDropout) this model has: what --retain-dropout-modules names. */
  dropoutModules(): readonly string[] {
    return [];
  }

  get training(): boolean {
    return this.isTraining;
  }
  train(mode = true): void {
    this.isTraining = mode;
  }
  eval(): void {
    this.isTraining = false;
  }

  /** Reseed dropout (fairseq seeds every update with `seed + num_updates`, which makes resume exact). */
  setSeed(seed: number): void {
    this.rng.reset(seed);
  }

  /** Trainable parameters by fairseq name (tied copies appear once, under their owner's name). */
  namedParameters(): Map<string, tf.Variable> {
    return new Map(this.store.params);
  }

  /** fairseq's state_dict names, tied aliases included (they point at the same variable). */
  stateDict(): Map<string, tf.Tensor> {
    const out = new Map<string, tf.Tensor>(this.store.params);
    // an alias may name another alias (shared all: decoder.output_projection -> decoder.embed_tokens -> encoder.embed_tokens)
    const resolve = (name: string): tf.Tensor => this.store.params.get(name) ?? resolve(this.store.aliases.get(name)!);
    for (const alias of this.store.aliases.keys()) out.set(alias, resolve(alias));
    return out;
  }

  /** Number of trainable values. */
  numParameters(): number {
    let n = 0;
    for (const v of this.store.params.values()) n += v.size;
    return n;
  }

  /**
   * Assign values by fairseq name. `strict` (default): every parameter must be given, nothing unknown
   * (besides fairseq's bookkeeping keys), shapes equal. Aliases are accepted and must equal their owner.
   */
  loadStateDict(state: Map<string, tf.Tensor>, options: { strict?: boolean } = {}): void {
    const strict = options.strict ?? true;
    const ignorable = (k: string) => k.endsWith(".version") || k.endsWith("._float_tensor");
    const problems: string[] = [];
    for (const [name, v] of this.store.params) {
      const t = state.get(name);
      if (!t) {
        if (strict) problems.push(`missing ${name}`);
        continue;
      }
      if (!tf.util.arraysEqual(t.shape, v.shape)) {
        problems.push(`${name}: shape [${t.shape}] in the checkpoint, [${v.shape}] in the model`);
        continue;
      }
    }
    if (strict) {
      for (const k of state.keys()) {
        if (!this.store.params.has(k) && !this.store.aliases.has(k) && !ignorable(k)) problems.push(`unexpected ${k}`);
      }
    }
    if (problems.length > 0) throw new Error(`state dict does not fit the model:\n  ${problems.slice(0, 20).join("\n  ")}`);
    for (const [name, v] of this.store.params) {
      const t = state.get(name);
      if (t) v.assign(t.dtype === "float32" ? t : tf.cast(t, "float32"));
    }
  }

  dispose(): void {
    for (const v of this.store.params.values()) v.dispose();
    this.store.params.clear();
  }
}
