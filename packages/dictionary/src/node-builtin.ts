/**
 * A Node built-in module, loaded only when a Node-only feature runs and never through an import a bundler
 * would follow: browser bundles of this package then hold no `node:` module (Vite would swap each for a
 * stub and warn). `what` names the Node-only feature in the error a browser gets.
 */
export async function nodeBuiltin<T>(id: `node:${string}`, what: string): Promise<T> {
  const proc = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?: (id: string) => unknown } }).process;
  if (!proc?.versions?.node) throw new Error(`${what} needs Node.js (${id}); in a browser, pass the contents instead of a path`);
  // process.getBuiltinModule is Node >= 20.16; older Nodes import it, by a non-literal specifier bundlers leave alone.
  return (proc.getBuiltinModule?.(id) ?? (await import(/* @vite-ignore */ /* webpackIgnore: true */ id))) as T;
}
