type NodeProcess = { versions?: { node?: string }; getBuiltinModule?: (id: string) => unknown };

/** This process when it is Node's; otherwise an error naming the Node-only feature and the module. */
function nodeProcess(id: `node:${string}`, what: string): NodeProcess {
  const proc = (globalThis as { process?: NodeProcess }).process;
  if (!proc?.versions?.node) throw new Error(`${what} needs Node.js (${id}); in a browser, pass the contents instead of a path`);
  return proc;
}

/**
 * A Node built-in module, loaded only when a Node-only feature runs and never through an import a bundler
 * would follow: browser bundles of the packages using it then hold no `node:` module (Vite would swap each
 * for a stub and warn). `what` names the Node-only feature in the error a browser gets.
 */
export async function nodeBuiltin<T>(id: `node:${string}`, what: string): Promise<T> {
  const proc = nodeProcess(id, what);
  // process.getBuiltinModule is Node >= 20.16; older Nodes import it, by a non-literal specifier bundlers leave alone.
  return (proc.getBuiltinModule?.(id) ?? (await import(/* @vite-ignore */ /* webpackIgnore: true */ id))) as T;
}

/**
 * {@link nodeBuiltin} for code that cannot await (the tokenizer and BPE factories are synchronous, as
 * fairseq's are). Needs Node >= 20.16, whose `process.getBuiltinModule` loads a module synchronously.
 */
export function nodeBuiltinSync<T>(id: `node:${string}`, what: string): T {
  const mod = nodeProcess(id, what).getBuiltinModule?.(id);
  if (mod === undefined) throw new Error(`${what} needs Node.js >= 20.16 to load ${id} synchronously; pass the contents instead of a path`);
  return mod as T;
}
