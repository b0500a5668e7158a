#!/usr/bin/env bash
# Optional system packages: OpenBLAS (headers + library) for @fairseq-ts/kernels-native.
# Without them everything still installs and runs on the wasm kernels; with them training is ~3x faster.
# Needs root and apt (Debian/Ubuntu); elsewhere it prints what to install and exits 0.
set -u
if [ -f /usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h ] || [ -f /usr/include/openblas/cblas.h ] || [ -f /usr/include/cblas.h ]; then
  echo "system deps: OpenBLAS already installed"; exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "system deps: installing libopenblas-dev (apt-get)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libopenblas-dev >/dev/null) \
    || echo "system deps: apt-get failed; the wasm kernels will be used"
else
  echo "system deps: install OpenBLAS (e.g. 'apt-get install libopenblas-dev' or 'brew install openblas') for the native kernels; continuing without"
fi
exit 0
