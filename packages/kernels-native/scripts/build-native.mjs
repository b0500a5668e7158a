#!/usr/bin/env node
// Build the optional native kernels (install step). Never fails the install: when no compiler or no
// CBLAS is found it says so and the wasm kernels are used instead.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "build", "fairseq_ts_kernels.node");

function log(msg) {
  console.log(`@fairseq-ts/kernels-native: ${msg}`);
}

function findNodeHeaders() {
  const candidates = [
    process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, "include", "node"),
    join(dirname(dirname(process.execPath)), "include", "node"),
    "/usr/include/node",
    "/usr/local/include/node",
  ].filter(Boolean);
  return candidates.find((d) => existsSync(join(d, "node_api.h")));
}

function findCblas() {
  const dirs = [
    "/usr/include/x86_64-linux-gnu/openblas-pthread",
    "/usr/include/aarch64-linux-gnu/openblas-pthread",
    "/usr/include/openblas",
    "/usr/include",
    "/usr/local/include",
    "/opt/homebrew/opt/openblas/include",
  ];
  return dirs.find((d) => existsSync(join(d, "cblas.h")));
}

if (process.env.FAIRSEQ_TS_NO_NATIVE === "1") {
  log("skipped (FAIRSEQ_TS_NO_NATIVE=1)");
  process.exit(0);
}
const headers = findNodeHeaders();
const cblas = findCblas();
if (!headers || !cblas) {
  log(
    `not built (${!headers ? "Node headers" : "cblas.h"} not found); the wasm kernels will be used. ` +
      "To enable: install a C compiler and OpenBLAS (Debian/Ubuntu: apt-get install libopenblas-dev), then reinstall.",
  );
  process.exit(0);
}
mkdirSync(join(root, "build"), { recursive: true });
const tmp = `${out}.tmp`;
const cc = process.env.CC || "cc";
const args = [
  // no trapping math / errno: lets the compiler vectorize exp's branch-free selects (same results)
  "-O3",
  "-fno-trapping-math",
  "-fno-math-errno",
  "-shared",
  "-fPIC",
  "-std=c11",
  "-DNODE_GYP_MODULE_NAME=fairseq_ts_kernels",
  "-DFAIRSEQ_TS_OPENBLAS",
  `-I${headers}`,
  `-I${cblas}`,
  join(root, "native", "kernels.c"),
  "-o",
  tmp,
  "-lopenblas",
  "-lm",
];
try {
  execFileSync(cc, args, { stdio: ["ignore", "pipe", "pipe"] });
  renameSync(tmp, out);
  log(`built ${out} (OpenBLAS)`);
} catch (err) {
  const msg = err && err.stderr ? String(err.stderr).split("\n").slice(0, 3).join(" ") : String(err);
  log(`not built (${cc} failed: ${msg}); the wasm kernels will be used. Install libopenblas-dev and a C compiler to enable.`);
}
