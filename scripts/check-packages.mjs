#!/usr/bin/env node
// Release check on what npm would receive: every publishable package under packages/ (no "private": true) is packed
// with `pnpm pack` (workspace:* rewritten and `files` applied, as publishing does) and the tarball — not the folder —
// is checked with publint and @arethetypeswrong/core. One line per package, the findings under it; exit 1 on any.
//
//   node scripts/check-packages.mjs [package-dir ...]     (after the build; no names = every package)
//
// What fails, and why:
// - publint: errors, warnings and suggestions alike. Its rules are about a consumer getting the wrong file, format or
//   types, or about metadata the registry shows; the packages have no finding at any level, so keeping them at zero
//   costs nothing and a new finding shows the day it appears.
// - attw: every problem under every resolution kind (node10, node16-cjs, node16-esm, bundler), i.e. its "strict"
//   profile. node10 is kept: it is what TypeScript still picks for `"module": "commonjs"` without a
//   moduleResolution, so many CJS consumers resolve that way. Our packages pass it through their top-level "types"
//   (they export only "." and ./package.json, so no subpath needs typesVersions).
// - "sideEffects" must be true to the files: an ESM file in dist/ that the field declares free of side effects may have
//   no top-level statement but declarations, imports and exports (a bundler drops such a module when nothing of it is
//   used; one that registers kernels or runs a worker at load must be listed). CJS files mirror the ESM ones.
// - install scripts (kernels-native compiles its N-API addon at install): the tarball is unpacked and its preinstall/
//   install/postinstall scripts run there, as npm would, and must exit 0; every addon (*.node) the workspace's install
//   built must be built there too, from the packed files alone, and must load; no *.node may be packed (it would be
//   built for this machine). On a machine where the workspace built none (no compiler or OpenBLAS), the line says so.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { publint } from "publint";
import { formatMessage } from "publint/utils";
import { checkPackage, createPackageFromTarballData } from "@arethetypeswrong/core";
import { problemKindInfo } from "@arethetypeswrong/core/problems";
import ts from "typescript";

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const started = performance.now();
const INSTALL_HOOKS = ["preinstall", "install", "postinstall"];

// pnpm itself: the one running this script under `pnpm test` / `pnpm check:packages`, else the pinned one through npx.
const execpath = process.env.npm_execpath ?? "";
const [pnpmCmd, pnpmArgs] = /pnpm\.c?js$/.test(execpath) ? [process.execPath, [execpath]] : ["npx", ["-y", "pnpm@9.15.9"]];

const only = process.argv.slice(2);
const all = readdirSync(join(root, "packages")).filter((d) => existsSync(join(root, "packages", d, "package.json")));
for (const name of only) if (!all.includes(name)) usage(`no package packages/${name} (have: ${all.join(", ")})`);
const dirs = only.length > 0 ? only : all;

const scratch = mkdtempSync(join(tmpdir(), "fsts-check-packages-"));
let failed = 0;
try {
  // packing spawns pnpm (I/O and a child process), attw and publint run here: two at a time overlaps them
  const checked = await mapLimited(dirs, Math.max(2, availableParallelism()), (dir) =>
    checkOne(dir).catch((err) => ({ line: `✗ packages/${dir}`, findings: [`could not be checked: ${err.message}`] })),
  );
  for (const { line, findings } of checked) {
    console.log(line);
    for (const f of findings) console.log(`    ${f}`);
    if (findings.length > 0) failed++;
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(`check-packages: ${dirs.length} packages, ${failed ? `${failed} FAILED` : "all clean"} (publint + attw on pnpm pack tarballs, ${seconds} s)`);
process.exit(failed ? 1 : 0);

/** Packs and checks one package; returns its summary line and its findings. */
async function checkOne(dir) {
  const pkgDir = join(root, "packages", dir);
  const manifest = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
  const name = manifest.name ?? `packages/${dir}`;
  if (manifest.private === true) return { line: `- ${name}: private, not published, not checked`, findings: [] };
  if (!existsSync(join(pkgDir, "dist"))) return { line: `✗ ${name}`, findings: [`packages/${dir}/dist is missing: build first (pnpm build)`] };

  const dest = join(scratch, dir);
  await run(pnpmCmd, [...pnpmArgs, "pack", "--pack-destination", dest], { cwd: pkgDir, encoding: "utf8" });
  const tarballs = readdirSync(dest).filter((f) => f.endsWith(".tgz"));
  if (tarballs.length !== 1) throw new Error(`packages/${dir}: pnpm pack left ${tarballs.length} tarballs in ${dest}`);
  const tarball = readFileSync(join(dest, tarballs[0]));
  const findings = [];

  // publint on the tarball's files (unpacked into its virtual file system; the package folder is not read)
  const lint = await publint({ pack: { tarball: tarball.buffer.slice(tarball.byteOffset, tarball.byteOffset + tarball.byteLength) }, level: "suggestion" });
  for (const m of lint.messages) findings.push(`publint ${m.type} ${m.code}: ${formatMessage(m, lint.pkg, { color: false }) ?? m.path.join(".")}`);

  // attw on the same bytes
  const typed = createPackageFromTarballData(new Uint8Array(tarball));
  const analysis = await checkPackage(typed);
  if (analysis.types === false) findings.push("attw: the package ships no types");
  else
    for (const p of analysis.problems) {
      const where =
        "entrypoint" in p
          ? ` ${p.entrypoint} (${p.resolutionKind})`
          : "typesFileName" in p
            ? ` ${p.typesFileName} / ${p.implementationFileName}`
            : "fileName" in p
              ? ` ${p.fileName}`
              : "";
      findings.push(`attw ${p.kind}${where}: ${problemKindInfo[p.kind].shortDescription}`);
    }

  // the packed files, by path inside the package, and the manifest as packed (workspace:* rewritten)
  const prefix = `/node_modules/${name}/`;
  const files = typed.listFiles().map((f) => f.slice(prefix.length));
  const packed = JSON.parse(typed.readFile(`${prefix}package.json`));
  findings.push(...sideEffectFindings(packed, files, (f) => typed.readFile(prefix + f)));

  let installNote = "";
  const hooks = INSTALL_HOOKS.filter((h) => packed.scripts?.[h]);
  if (hooks.length > 0) {
    const { note, findings: more } = await checkInstallScripts(dir, pkgDir, packed, hooks, files, dest, tarballs[0]);
    installNote = `; ${note}`;
    findings.push(...more);
  }

  const entrypoints = analysis.types === false ? "" : ` [${Object.keys(analysis.entrypoints).join(" ")}]`;
  const counts = `publint ${lint.messages.length}, attw ${analysis.types === false ? "untyped" : analysis.problems.length}${entrypoints}`;
  const line = `${findings.length ? "✗" : "✓"} ${name}@${manifest.version}: ${files.length} files, ${(tarball.length / 1024).toFixed(0)} KiB packed; ${counts}${installNote}`;
  return { line, findings };
}

/**
 * ESM files in dist/ that "sideEffects" declares free of side effects whose top level holds anything but imports,
 * exports, declarations and directives. Variable initializers are not inspected (a `const x = f()` is how a module
 * builds its own tables); a bare call, `void main()`, `Object.defineProperty(...)` or a top-level await is a side effect.
 */
function sideEffectFindings(manifest, files, read) {
  const declared = manifest.sideEffects;
  if (declared !== false && !Array.isArray(declared)) return []; // undeclared (publint reports it) or true: nothing promised
  const patterns = (Array.isArray(declared) ? declared : []).map(globToRegExp);
  const esm = (f) => f.endsWith(".mjs") || (f.endsWith(".js") && manifest.type === "module");
  const out = [];
  for (const f of files.filter((f) => f.startsWith("dist/") && esm(f) && !patterns.some((re) => re.test(f)))) {
    const source = ts.createSourceFile(f, read(f), ts.ScriptTarget.Latest, false, ts.ScriptKind.JS);
    const effect = source.statements.find((s) => !isDeclarative(s));
    if (effect) {
      const { line } = source.getLineAndCharacterOfPosition(effect.getStart(source));
      const text = effect.getText(source).split("\n")[0].slice(0, 80);
      out.push(`sideEffects: ${f}:${line + 1} runs \`${text}\` at load, but "sideEffects" (${JSON.stringify(declared)}) says it has none`);
    }
  }
  return out;
}

function isDeclarative(s) {
  if (ts.isExpressionStatement(s)) return ts.isStringLiteral(s.expression); // "use strict" and other directives
  return (
    ts.isImportDeclaration(s) ||
    ts.isExportDeclaration(s) ||
    ts.isExportAssignment(s) ||
    ts.isFunctionDeclaration(s) ||
    ts.isClassDeclaration(s) ||
    ts.isVariableStatement(s) ||
    ts.isEmptyStatement(s)
  );
}

/** A "sideEffects" glob as bundlers read it: relative to the package root; a pattern without "/" matches any base name. */
function globToRegExp(glob) {
  const rel = glob.replace(/^\.\//, "");
  const body = rel
    .split(/(\*\*\/|\*\*|\*)/)
    .map((part) => (part === "**/" ? "(?:.*/)?" : part === "**" ? ".*" : part === "*" ? "[^/]*" : part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(rel.includes("/") ? `^${body}$` : `(?:^|/)${body}$`);
}

/** Runs the install hooks in the unpacked tarball, as npm does after unpacking a dependency. */
async function checkInstallScripts(dir, pkgDir, packed, hooks, files, dest, tarball) {
  const findings = [];
  for (const f of files) if (f.endsWith(".node")) findings.push(`packs a compiled addon ${f}: it would be built for this machine; the install step builds it`);
  const unpacked = join(dest, "unpacked");
  mkdirSync(unpacked);
  await run("tar", ["-xzf", join(dest, tarball), "-C", unpacked]);
  const pkg = join(unpacked, "package");
  // FAIRSEQ_TS_NO_NATIVE=1 would skip the build: the point here is whether the packed files suffice to build
  const env = { ...process.env };
  delete env.FAIRSEQ_TS_NO_NATIVE;
  const said = []; // what the hooks print: build-native says why it did not build
  for (const hook of hooks) {
    try {
      const { stdout } = await run("sh", ["-c", packed.scripts[hook]], { cwd: pkg, encoding: "utf8", env: { ...env, npm_lifecycle_event: hook } });
      said.push(...stdout.trim().split("\n").filter(Boolean));
    } catch (err) {
      const why = String(err.stderr || err.message)
        .trim()
        .split("\n")[0];
      findings.push(`${hook} script \`${packed.scripts[hook]}\` failed in the unpacked tarball: ${why}`);
    }
  }
  // the addons the workspace's own install built: the tarball alone must build the same ones, loadable
  const addons = listFiles(pkgDir, ["node_modules", "dist", "src", "test"]).filter((f) => f.endsWith(".node"));
  const ran = `${hooks.join("+")} script run from the tarball`;
  if (addons.length === 0) return { note: `${ran}; the workspace built no addon on this machine (no C compiler or OpenBLAS), so none expected`, findings };
  const before = findings.length;
  for (const addon of addons) {
    const built = join(pkg, addon);
    if (!existsSync(built)) {
      findings.push(`the workspace's install built packages/${dir}/${addon}, the tarball's did not: ${said.at(-1) ?? "(it printed nothing)"}`);
      continue;
    }
    try {
      process.dlopen({ exports: {} }, built);
    } catch (err) {
      findings.push(`${addon} built from the tarball does not load: ${err.message}`);
    }
  }
  return { note: findings.length === before ? `${ran} rebuilt ${addons.join(", ")}, which loads` : ran, findings };
}

function listFiles(base, skip, rel = "") {
  return readdirSync(join(base, rel), { withFileTypes: true }).flatMap((e) => {
    const path = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) return skip.includes(path) ? [] : listFiles(base, skip, path);
    return e.isFile() ? [path] : [];
  });
}

/** fn over items, at most `limit` at a time, results in input order. */
async function mapLimited(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function usage(msg) {
  console.error(`check-packages: ${msg}\nusage: node scripts/check-packages.mjs [package-dir ...]`);
  process.exit(2);
}
