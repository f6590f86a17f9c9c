#!/usr/bin/env bash
# Runs the cargo-fuzz targets for a set time each (default 60 s): codec (msgpack dialect) and
# frames (message parser), seeded with the protocol's captured examples in fuzz/corpus.
#   scripts/fuzz.sh [SECONDS]
# Needs cargo-fuzz (`cargo install cargo-fuzz`). On a stable toolchain the sanitizer is off
# (libFuzzer's coverage guidance still works); with nightly, set SANITIZER=address.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${1:-60}
command -v cargo-fuzz >/dev/null || { echo "fuzz: cargo install cargo-fuzz first" >&2; exit 1; }
for target in codec frames; do
  mkdir -p "corpus/$target"
  echo "==> fuzzing $target for ${secs}s"
  cargo fuzz run --sanitizer "${SANITIZER:-none}" "$target" "corpus/$target" -- -max_total_time="$secs" -max_len=4096
done
