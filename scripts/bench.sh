#!/usr/bin/env bash
# The benchmark run behind the README's performance section (issue 7), in one go:
#   1. `zss bench`: raw ZeroMQ hops, the broker's floor, zss sync/pipelined/payload sizes,
#      latency at half the peak, broker memory            → target/bench/bench.json
#   2. client overhead per binding: the Rust client, then the C, Python, Node and Ruby ones,
#      each making synchronous calls against the same broker and worker → target/bench/clients.json
#   3. the plot                                            → target/bench/bench.svg
#
#   scripts/bench.sh            full run, release build (~3 min; quiet machine for honest figures)
#   scripts/bench.sh --smoke    a fraction of a second per case on the debug build: checks that
#                               every part still runs and prints figures (the test command uses it)
# Extra arguments go to `zss bench` (e.g. --memory-requests 10000000).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
root=$PWD
out=$root/target/bench
mkdir -p "$out"

smoke=0
if [[ "${1:-}" == "--smoke" ]]; then smoke=1; shift; fi
if [[ $smoke == 1 ]]; then
  profile=debug seconds=0.3 client_seconds=0.3
  bench_args=(--matrix 1x1,4x2 --sizes 16,1024 --memory-requests 20000)
else
  profile=release seconds=${ZSS_BENCH_SECONDS:-2} client_seconds=${ZSS_BENCH_CLIENT_SECONDS:-3}
  bench_args=()
fi
profile_flag=(); [[ $profile == release ]] && profile_flag=(--release)
cargo build "${profile_flag[@]}" --locked -q -p zss --bin zss </dev/null
cargo build "${profile_flag[@]}" --locked -q -p zss-ffi </dev/null  # libzss for the C client
zss=$root/target/$profile/zss

echo "==> zss bench ($profile build, $seconds s per case)"
"$zss" --log-level warn bench --seconds "$seconds" "${bench_args[@]}" --json "$out/bench.json" "$@"

echo
echo "==> client overhead per binding (synchronous calls, one broker and one worker for all)"
start_echo_service "$zss" BENCH

results=$out/clients.jsonl
: >"$results"
missing=()
run_client() {  # name, command...: the command gets FRONTEND SID SECONDS appended
  local name=$1; shift
  echo "  $name client"
  "$@" "$frontend" BENCH "$client_seconds" >>"$results" || { echo "bench: the $name client failed" >&2; return 1; }
}
rust_client() {
  echo "  rust client"
  "$zss" --log-level warn bench-client --broker "$frontend" --sid BENCH --seconds "$client_seconds" >>"$results"
}

rust_client
PREFIX="$out/prefix" PROFILE=$profile ZSS_SKIP_BUILD=1 scripts/install-c.sh >/dev/null
cc -std=c11 -O2 -Wall -Werror bench/clients/client.c \
  $(PKG_CONFIG_PATH="$out/prefix/lib/pkgconfig" pkg-config --cflags --libs zss) \
  -Wl,-rpath,"$out/prefix/lib" -o "$out/c-client"
run_client c "$out/c-client"
# A binding that is not installed is reported as not measured, never faked.
if [[ -x .venv/bin/python ]] && .venv/bin/python -c 'import zss' 2>/dev/null; then
  run_client python .venv/bin/python bench/clients/client.py
else missing+=("python (run scripts/test-python.sh first)"); fi
if [[ -f bindings/node/native/zss.node ]]; then
  run_client node node bench/clients/client.js
else missing+=("node (run scripts/test-node.sh first)"); fi
if command -v ruby >/dev/null && GEM_HOME=$root/target/ruby/gems ruby -e 'require "zss"' 2>/dev/null; then
  run_client ruby env GEM_HOME="$root/target/ruby/gems" ruby bench/clients/client.rb
else missing+=("ruby (run scripts/test-ruby.sh first)"); fi
# The Rust client again: the two Rust runs bracket the others and show how much the machine drifted.
rust_client

python3 scripts/bench_report.py "$out/bench.json" "$results" "$out/bench.svg"
if [[ $smoke == 1 && ${#missing[@]} -gt 0 ]]; then
  echo "bench: not measured: ${missing[*]}" >&2
  exit 1
fi
