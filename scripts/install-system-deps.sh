#!/usr/bin/env bash
# Optional system packages, installed with apt when missing (idempotent: no apt call when all are present):
# - OpenBLAS (headers + library) for @fairseq-ts/kernels-native. Without it everything still installs and
#   runs on the wasm kernels; with it training is ~3x faster.
# - sentencepiece (spm_train/spm_encode) for @fairseq-ts/tokenizers' tests, which compare with spm_encode
#   on a BPE model trained at test time.
# - Chromium (/usr/bin/chromium) for @fairseq-ts/web's end-to-end test (headless, driven by playwright-core).
# - Open MPI (mpirun + mpi.h) for @fairseq-ts/distributed-mpi (training across machines) and its tests. Open MPI
#   refuses to run as root unless told: the tests set OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1.
# - iproute2 (`ip`) for the CLI's two-host MPI test, which joins two network namespaces with a veth pair (as root).
# Needs root and apt (Debian/Ubuntu); elsewhere it prints what to install and exits 0.
set -u
missing=()
if [ -f /usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h ] || [ -f /usr/include/openblas/cblas.h ] || [ -f /usr/include/cblas.h ]; then
  echo "system deps: OpenBLAS already installed"
else
  missing+=(libopenblas-dev)
fi
if command -v spm_train >/dev/null 2>&1 && command -v spm_encode >/dev/null 2>&1; then
  echo "system deps: sentencepiece already installed"
else
  missing+=(sentencepiece)
fi
if [ -x /usr/bin/chromium ]; then
  echo "system deps: chromium already installed"
else
  missing+=(chromium)
fi
if command -v mpirun >/dev/null 2>&1 && command -v mpicc >/dev/null 2>&1; then
  echo "system deps: Open MPI already installed"
else
  missing+=(openmpi-bin libopenmpi-dev)
fi
if command -v ip >/dev/null 2>&1; then
  echo "system deps: iproute2 already installed"
else
  missing+=(iproute2)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "system deps: installing ${missing[*]} (apt-get)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null) \
    || echo "system deps: apt-get failed; the wasm kernels will be used, the tokenizers' spm_encode comparison and the web page's Chromium test fail, the MPI transport is not built"
else
  echo "system deps: install ${missing[*]} (e.g. 'apt-get install ${missing[*]}' or 'brew install openblas sentencepiece');" \
    "continuing without (wasm kernels; the tokenizers' spm_encode comparison and the web page's Chromium test fail, no MPI transport)"
fi
exit 0
