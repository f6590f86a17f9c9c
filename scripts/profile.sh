#!/usr/bin/env bash
# Where a synchronous zss call spends the machine's time (issue 7): a whole-system perf profile
# of `zss bench-client` calling an echo worker through `zss broker` (three processes, release
# build), as a flame graph and as a table of time per process, thread and library.
#
#   scripts/profile.sh [SECONDS]     → target/profile/sync.svg (flame graph), sync.txt (tables)
#   scripts/profile.sh --pipelined [SECONDS]
#       → target/profile/peak.txt: the broker process alone at its pipelined peak (hand-written
#         clients and workers, `zss bench-broker-alone --pipelined-only`): its threads,
#         libraries, kernel activity and hottest symbols, and the cost per request
#
# Installs what it needs when missing: perf (Debian's linux-perf) and inferno (cargo install,
# for the flame graph). Needs perf_event_paranoid ≤ 1 or root, as any system-wide profile.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
mode=sync
[ "${1:-}" = "--pipelined" ] && { mode=pipelined; shift; }
seconds=${1:-5}
out=target/profile
mkdir -p "$out"

command -v perf >/dev/null || apt_install_missing profile linux-perf
[ $mode = pipelined ] || command -v inferno-flamegraph >/dev/null || cargo install --locked -q inferno
cargo build --release --locked -q -p zss --bin zss </dev/null
zss=$PWD/target/release/zss

if [ $mode = pipelined ]; then
  "$zss" --log-level error bench-broker-alone --pipelined-only --seconds $((seconds + 2)) >"$out/peak.json" &
  bench=$!
  broker=""
  for _ in $(seq 50); do
    broker=$(pgrep -n -f "zss broker --frontend tcp://127.0.0.1" || true)
    [ -n "$broker" ] && break
    sleep 0.1
  done
  [ -n "$broker" ] || { echo "profile: no broker process found" >&2; exit 1; }
  sleep 1  # past the ramp-up
  echo "==> profiling the broker (pid $broker) for $seconds s at its pipelined peak"
  perf stat -e task-clock,context-switches,instructions -p "$broker" -o "$out/peak.stat" -- sleep "$seconds" 2>/dev/null &
  stat=$!
  perf record -q -F 999 -g -p "$broker" -o "$out/peak.data" -- sleep "$seconds" 2>/dev/null
  wait "$stat" || true
  wait "$bench"
  python3 - "$out/peak.json" "$out/peak.stat" "$seconds" <<'PY' >"$out/peak.txt"
import json, re, sys
rps = json.load(open(sys.argv[1]))["pipelined"]["rps"]
seconds = float(sys.argv[3])
requests = rps * seconds
print(f"broker alone at its pipelined peak: {rps:,.0f} requests/s (4 clients x 32 in flight, 2 workers)")
for line in open(sys.argv[2]):
    m = re.match(r"\s*([\d,.]+)\s+(msec task-clock|context-switches|instructions)", line)
    if m:
        value = float(m.group(1).replace(",", ""))
        unit = {"msec task-clock": "µs of CPU", "context-switches": "context switches", "instructions": "instructions"}[m.group(2)]
        scale = 1000.0 if unit == "µs of CPU" else 1.0
        print(f"  {value * scale / requests:10.2f} {unit} per request")
PY
  {
    echo
    echo "== the broker's time by thread and library"
    perf report -i "$out/peak.data" --no-children --sort comm,dso -q -g none --stdio 2>/dev/null | sed -n 1,12p
    echo
    echo "== hottest symbols"
    perf report -i "$out/peak.data" --no-children --sort dso,sym -q -g none --stdio 2>/dev/null | sed -n 1,30p
  } >>"$out/peak.txt"
  cat "$out/peak.txt"
  exit 0
fi

start_echo_service "$zss" BENCH

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

# The zss processes' busy time (idle CPU, perf and kernel threads left out), by thread and by
# library; then the hottest symbols of everything, idle included.
summary() {
  perf report -i "$out/perf.data" --no-children --sort comm,dso -q -g none --stdio 2>/dev/null | python3 -c '
import collections, re, sys
by_thread, by_lib = collections.Counter(), collections.Counter()
for line in sys.stdin:
    m = re.match(r"\s*([\d.]+)%\s+(.+?)\s{2,}(\S.*?)\s*$", line)
    if not m or not m.group(2).startswith(("zss", "ZMQbg")):
        continue
    pct, comm, lib = float(m.group(1)), m.group(2).strip(), m.group(3)
    by_thread[comm] += pct
    by_lib["kernel" if lib.startswith("[kernel") else lib] += pct
busy = sum(by_thread.values())
print(f"the zss processes were busy {busy:.1f}% of the sampled CPU time; of that:")
for title, table in (("by thread", by_thread), ("by library", by_lib)):
    print(f"  {title}:")
    for name, pct in table.most_common(8):
        print(f"    {100 * pct / busy:5.1f}%  {name}")
'
}
# The same busy time by what the kernel was doing, from the folded stacks: waking another
# thread (eventfd, pipe, futex: ZeroMQ's and our hand-offs), going to sleep and switching in,
# the TCP/IP loopback path, the rest of the kernel, and user space.
activity() {
  python3 - "$out/sync.folded" <<'PY'
import collections, sys
shares, total = collections.Counter(), 0
for line in open(sys.argv[1]):
    stack, n = line.rsplit(" ", 1)
    frames = stack.split(";")
    if not frames[0].startswith(("zss", "ZMQbg")):
        continue
    n, total = int(n), total + int(n)
    names = " ".join(f[:-4] for f in frames if f.endswith("_[k]"))
    if not names:
        shares["user space (zss, libzmq, libc)"] += n
    elif "schedule" in names or "finish_task_switch" in names:
        shares["kernel: going to sleep, switching in"] += n
    elif "wake" in names or "eventfd_write" in names or "ttwu" in names:
        shares["kernel: waking another thread (eventfd, pipe, futex)"] += n
    elif "tcp_" in names or "ip_" in names or "net_rx" in names:
        shares["kernel: TCP/IP over loopback"] += n
    else:
        shares["kernel: the rest (poll, epoll, syscall entry)"] += n
print("  by activity:")
for name, n in shares.most_common():
    print(f"    {100 * n / total:5.1f}%  {name}")
PY
}
{
  echo "zss profile: $seconds s of synchronous calls, about $calls calls ($(cat "$out/client.json"))"
  echo
  summary
  activity
  echo
  echo "== hottest symbols, all CPUs (pv_native_safe_halt/default_idle: idle)"
  perf report -i "$out/perf.data" --no-children --sort dso,sym -q -g none 2>/dev/null | sed -n 1,25p
} >"$out/sync.txt"
cat "$out/sync.txt"
echo
echo "flame graph: $out/sync.svg"
