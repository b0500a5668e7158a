#!/usr/bin/env node
// Build the optional MPI binding (install step). Never fails the install: without an MPI compiler wrapper
// (mpicc) it says so, and MpiProcessGroup reports what is missing when a run asks for it.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "build", "fairseq_ts_mpi.node");

function log(msg) {
  console.log(`@fairseq-ts/distributed-mpi: ${msg}`);
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

if (process.env.FAIRSEQ_TS_NO_NATIVE === "1") {
  log("skipped (FAIRSEQ_TS_NO_NATIVE=1)");
  process.exit(0);
}
const headers = findNodeHeaders();
// mpicc knows its MPI's include and library flags (Open MPI and MPICH both ship it); MPICC overrides.
const mpicc = process.env.MPICC || "mpicc";
let hasMpicc = true;
try {
  execFileSync(mpicc, ["--version"], { stdio: "ignore" });
} catch {
  hasMpicc = false;
}
if (!headers || !hasMpicc) {
  log(
    `not built (${!headers ? "Node headers" : `${mpicc} (an MPI compiler wrapper)`} not found); --distributed-backend mpi is unavailable. ` +
      "To enable: install MPI (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev), then reinstall.",
  );
  process.exit(0);
}
mkdirSync(join(root, "build"), { recursive: true });
const tmp = `${out}.tmp`;
const args = [
  "-O2",
  "-shared",
  "-fPIC",
  "-std=gnu11",
  "-DNODE_GYP_MODULE_NAME=fairseq_ts_mpi",
  `-I${headers}`,
  join(root, "native", "mpi.c"),
  "-o",
  tmp,
  "-ldl",
];
try {
  execFileSync(mpicc, args, { stdio: ["ignore", "pipe", "pipe"] });
  renameSync(tmp, out);
  log(`built ${out}`);
} catch (err) {
  const msg = err && err.stderr ? String(err.stderr).split("\n").slice(0, 3).join(" ") : String(err);
  log(`not built (${mpicc} failed: ${msg}); --distributed-backend mpi is unavailable.`);
}
