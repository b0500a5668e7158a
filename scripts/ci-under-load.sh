#!/usr/bin/env bash
# Runs CI (`.ci/run`, README command 2) in a fresh clone of this repository's HEAD while busy loops keep
# cores occupied, and prints the wall time and exit code: the check that the suite holds on a busy machine.
#   bash scripts/ci-under-load.sh            # 2 busy loops; the clone goes in a new folder beside this checkout
#   LOOPS=0 bash scripts/ci-under-load.sh    # the same on a quiet machine
# The clone sits beside this checkout so that the tests find the reference material in ../shared. It is removed
# afterwards unless KEEP=1; the log stays in /tmp.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
loops="${LOOPS:-2}"
commit="$(git -C "$root" rev-parse HEAD)"
stamp="$(date -u +%Y%m%d-%H%M%S)"
dest="$(dirname "$root")/ci-under-load-$stamp"
log="/tmp/ci-under-load-$stamp.log"

busy=()
cleanup() {
  for pid in "${busy[@]}"; do kill "$pid" 2>/dev/null; done
  [ "${KEEP:-0}" = 1 ] || rm -rf "$dest"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

git clone --quiet --no-checkout "$root" "$dest" && git -C "$dest" checkout --quiet --detach "$commit" || exit 1
for _ in $(seq 1 "$loops"); do
  sh -c 'while :; do :; done' &
  busy+=("$!")
done
echo "ci-under-load: $commit in $dest with $loops busy loop(s) (pids ${busy[*]:-none}); log $log"
start=$(date +%s)
(cd "$dest" && CI=true bash .ci/run) >"$log" 2>&1
code=$?
wall=$(($(date +%s) - start))
grep -E "Tasks:|Failed:|ERROR|Timeout calling" "$log" | tail -n 5
echo "ci-under-load: exit $code, wall $((wall / 60)) min $((wall % 60)) s ($loops busy loops, $(nproc) cores)"
exit "$code"
