#!/usr/bin/env bash
# Where a synchronous zss call spends the machine's time (issue 7): a whole-system perf profile
# of `zss bench-client` calling an echo worker through `zss broker` (three processes, release
# build), as a flame graph and as a table of time per process, thread and library.
#
#   scripts/profile.sh [SECONDS]     → target/profile/sync.svg (flame graph), sync.txt (tables)
#
# Installs what it needs when missing: perf (Debian's linux-perf) and inferno (cargo install,
# for the flame graph). Needs perf_event_paranoid ≤ 1 or root, as any system-wide profile.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
seconds=${1:-5}
out=target/profile
mkdir -p "$out"

command -v perf >/dev/null || apt_install_missing profile linux-perf
command -v inferno-flamegraph >/dev/null || cargo install --locked -q inferno
cargo build --release --locked -q -p zss --bin zss </dev/null
zss=$PWD/target/release/zss

port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
frontend=tcp://127.0.0.1:$(port) backend=tcp://127.0.0.1:$(port)
pids=()
cleanup() {  # the worker first (its DOWN needs the broker), then the broker
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; wait "${pids[i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
"$zss" --log-level warn broker --frontend "$frontend" --backend "$backend" & pids+=($!)
"$zss" --log-level warn echo BENCH --broker "$backend" --concurrency 4 & pids+=($!)
for _ in $(seq 100); do
  "$zss" --log-level error services --broker "$frontend" --json 2>/dev/null | grep -q '"BENCH"' && break
  sleep 0.1
done

echo "==> profiling $seconds s of synchronous calls (perf record, all CPUs)"
"$zss" --log-level warn bench-client --broker "$frontend" --sid BENCH --seconds $((seconds + 2)) >"$out/client.json" &
client=$!
sleep 1  # past the client's warm-up
perf record -q -a -F 999 --call-graph dwarf,16384 -o "$out/perf.data" -- sleep "$seconds" 2>/dev/null
wait "$client"
calls=$(python3 -c 'import json,sys; l=json.load(open(sys.argv[1]))["latency"]; print(round(l["rps"]*float(sys.argv[2])))' "$out/client.json" "$seconds")

perf script -i "$out/perf.data" 2>/dev/null | inferno-collapse-perf --all >"$out/sync.folded"
inferno-flamegraph --title "zss: one synchronous call at a time, client → broker → worker (all CPUs)" \
  --countname samples --minwidth 0.1 <"$out/sync.folded" >"$out/sync.svg"

{
  echo "zss profile: $seconds s of synchronous calls, about $calls calls ($(cat "$out/client.json"))"
  echo
  echo "== time by process and thread (idle CPU is 'swapper')"
  perf report -i "$out/perf.data" --no-children --sort comm -q -g none 2>/dev/null | head -20
  echo
  echo "== time by library (the kernel is [kernel.kallsyms])"
  perf report -i "$out/perf.data" --no-children --sort dso -q -g none 2>/dev/null | head -12
  echo
  echo "== hottest symbols"
  perf report -i "$out/perf.data" --no-children --sort dso,sym -q -g none 2>/dev/null | head -25
} >"$out/sync.txt"
cat "$out/sync.txt"
echo
echo "flame graph: $out/sync.svg"
