#!/usr/bin/env bash
# Which tests keep a vitest worker busy without yielding? For each package directory given (default: all
# packages and apps), runs its tests with scripts/test-blocking/setup.ts, which records the longest event-loop
# stall of every test, and prints the stalls over $MIN seconds (default 2), longest first.
#   bash scripts/test-blocking.sh [packages/models apps/web ...]
# Run it under load (e.g. two `sh -c 'while :; do :; done' &`) to see what CI sees on a busy machine.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${FAIRSEQ_TS_BLOCKING_OUT:-$(mktemp -t test-blocking.XXXXXX.tsv)}"
min="${MIN:-2}"
[ $# -gt 0 ] || set -- "$root"/packages/* "$root"/apps/*
for dir in "$@"; do
  dir="$(cd "$dir" && pwd)"
  [ -f "$dir/vitest.config.ts" ] || continue
  cfg="$dir/.vitest.blocking.config.ts"
  # the package's own config plus the recording setup file
  cat >"$cfg" <<CFG
import { defineConfig, mergeConfig } from "vitest/config";
import own from "./vitest.config.ts";
export default mergeConfig(own, defineConfig({ test: { setupFiles: ["$root/scripts/test-blocking/setup.ts"] } }));
CFG
  echo "== ${dir#$root/}" >&2
  (cd "$dir" && FAIRSEQ_TS_BLOCKING_OUT="$out" npx vitest run --config "$cfg" --reporter=dot >&2)
  echo "   exit $?" >&2
  rm -f "$cfg"
done
echo "longest event-loop stall (s) | test duration (s) | package | test   (all rows: $out)"
awk -F'\t' -v min="$min" -v root="$root/" '$3 + 0 >= min { sub(root, "", $1); printf "%8s %8s  %s  %s\n", $3, $4, $1, $2 }' "$out" | sort -rn
