#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for a bounded time (FUZZ_SECONDS each,
# default 30) with cargo fuzz on the stable toolchain. Installs cargo-fuzz
# when it is missing. Exits non-zero on the first crash, leak of time
# (an input over 10 s) or memory (over 2 GiB); libFuzzer leaves the input
# that did it in fuzz/artifacts/<target>/, to be turned into a unit test.
# Each target starts from the hand-written seeds in fuzz/seeds/<target>
# and keeps what it learns in fuzz/corpus/<target> (not committed).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-30}"
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --version 0.13.2
fi
# Only what this build of cargo-fuzz needs: no sanitizer (the code under
# test forbids unsafe), so no nightly -Z flags.
cargo fuzz build -s none
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
for target in ${FUZZ_TARGETS:-$(cargo fuzz list)}; do
  mkdir -p "fuzz/corpus/$target"
  echo "== fuzz $target for ${seconds}s"
  status=0
  cargo fuzz run -s none "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  grep -E '^(Done [0-9]+ runs|stat::peak_rss_mb)' "$log" || true
  if [ "$status" -ne 0 ]; then
    tail -n 60 "$log"
    echo "fuzz $target failed (exit $status); the input is in fuzz/artifacts/$target/"
    exit 1
  fi
done
