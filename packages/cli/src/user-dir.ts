import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const imported = new Set<string>();

/**
 * fairseq's `--user-dir`: import a module (a directory with package.json/index.js, or a .js/.mjs file)
 * that registers its own models, architectures or criterions into the public registries.
 */
export async function importUserDir(dir: string | undefined): Promise<void> {
  if (!dir) return;
  const p = resolve(dir);
  // the CLI imports it before parsing (its models bring their flags) and commands may ask again: once per process
  if (imported.has(p)) return;
  if (!existsSync(p)) throw new Error(`--user-dir ${dir}: no such file or directory`);
  let entry = p;
  if (statSync(p).isDirectory()) {
    const candidates = ["index.js", "index.mjs", "dist/index.js"].map((f) => join(p, f));
    const found = candidates.find((c) => existsSync(c));
    if (!found) throw new Error(`--user-dir ${dir}: no index.js, index.mjs or dist/index.js to import`);
    entry = found;
  }
  let mod: { register?: () => unknown };
  try {
    mod = (await import(pathToFileURL(entry).href)) as typeof mod;
  } catch (err) {
    // e.g. ERR_UNKNOWN_FILE_EXTENSION for a .txt, a SyntaxError in the plugin: say which flag and file
    throw new Error(`--user-dir ${dir}: cannot import ${entry} (${(err as Error).message})`, { cause: err });
  }
  // A plugin may register at import or export a register() function (preferred: no import side effects).
  if (typeof mod.register === "function") {
    try {
      await mod.register();
    } catch (err) {
      throw new Error(`--user-dir ${dir}: register() failed (${(err as Error).message})`, { cause: err });
    }
  }
  imported.add(p);
}
