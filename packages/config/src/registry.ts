/**
 * One registry for every kind of pluggable part (models, architectures, criterions, optimizers, lr schedulers,
 * tokenizers, BPEs, tasks): fairseq's `registry.py` as an object. Built-in entries are registered lazily, the first
 * time the registry is read, so importing a package registers nothing (bundlers may drop what is unused, and
 * `--user-dir` plugins register into the same registry before or after the built-ins appear).
 */

/** An unknown or duplicate name; the message lists the known names. */
export class RegistryError extends Error {
  override readonly name = "RegistryError";
  constructor(
    /** What the registry holds (`architecture`, `optimizer`). */
    readonly registryKind: string,
    readonly entryName: string,
    message: string,
  ) {
    super(message);
  }
}

export class Registry<T> {
  private readonly entries = new Map<string, T>();
  private builtinsLoaded: boolean;

  /**
   * @param kind what it holds, singular (`optimizer`), for error messages
   * @param builtins registers the built-in entries; called once, on first read or registration
   */
  constructor(
    readonly kind: string,
    private readonly builtins?: (registry: Registry<T>) => void,
  ) {
    this.builtinsLoaded = builtins === undefined;
  }

  private load(): void {
    if (this.builtinsLoaded) return;
    this.builtinsLoaded = true;
    this.builtins!(this);
  }

  /** Add an entry; a name registered twice is an error (as in fairseq). */
  register(name: string, entry: T): this {
    this.load();
    if (this.entries.has(name)) throw new RegistryError(this.kind, name, `${this.kind} '${name}' is already registered`);
    this.entries.set(name, entry);
    return this;
  }

  has(name: string): boolean {
    this.load();
    return this.entries.has(name);
  }

  /** The entry; an unknown name is an error that lists the known ones. */
  get(name: string): T {
    this.load();
    const entry = this.entries.get(name);
    if (entry === undefined) throw new RegistryError(this.kind, name, `unknown ${this.kind} '${name}' (known: ${[...this.entries.keys()].join(", ")})`);
    return entry;
  }

  /** Registered names, in registration order (built-ins first). */
  names(): string[] {
    this.load();
    return [...this.entries.keys()];
  }
}
