#!/usr/bin/env bash
# zss's broker next to NATS, from one run on this machine: the same request-reply shapes through
# Debian's nats-server (a small async-nats requester and responder, bench/nats) and through the
# zss broker with hand-written ZeroMQ clients and workers (`zss bench-broker-alone`, so no zss
# client or worker library is measured: the broker alone).
#   synchronous: one request at a time; pipelined: 4 clients × 32 requests outstanding.
# Prints a table and writes target/bench/nats.json. Loopback only; everything stops on exit.
#   scripts/bench-nats.sh [--seconds S]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=3
[ "${1:-}" = "--seconds" ] && seconds=$2
. scripts/lib.sh
apt_install_missing bench-nats nats-server
cargo build --release --locked -q -p zss
(cd bench/nats && cargo build --release --locked -q)
zss=$root/target/release/zss
nats_bench=$root/bench/nats/target/release/zss-nats-bench
out=$root/target/bench
mkdir -p "$out"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
nats-server -a 127.0.0.1 -p "$port" -l "$out/nats-server.log" & pids+=($!)
url=nats://127.0.0.1:$port
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
coproc RESPONDER { exec "$nats_bench" respond "$url"; }
pids+=($RESPONDER_PID)
read -r ready <&"${RESPONDER[0]}"
[ "$ready" = ready ] || { echo "bench-nats: the responder did not start" >&2; exit 1; }

echo "==> NATS $(nats-server --version | head -1) request-reply ($seconds s per case)"
nats_json=$("$nats_bench" request "$url" --seconds "$seconds" --clients 4 --in-flight 32)
echo "==> zss broker, hand-written clients and workers ($seconds s per case)"
zss_json=$("$zss" --log-level error bench-broker-alone --seconds "$seconds" --clients 4 --workers 2 --in-flight 32)

python3 - "$nats_json" "$zss_json" "$out/nats.json" <<'PY'
import json, sys
nats, zss = json.loads(sys.argv[1]), json.loads(sys.argv[2])
json.dump({"nats": nats, "zss_broker_alone": zss}, open(sys.argv[3], "w"), indent=2)
rows = [("synchronous (1 in flight), calls/s", nats["sync"]["rps"], zss["sync"]["rps"]),
        ("synchronous p50, µs", nats["sync"]["p50_us"], zss["sync"]["p50_us"]),
        ("pipelined (4 clients × 32), calls/s", nats["pipelined"]["rps"], zss["pipelined"]["rps"])]
print(f"\n{'':40} {'NATS':>10} {'zss broker':>11} {'zss / NATS':>11}")
for name, n, z in rows:
    print(f"{name:40} {n:>10.1f} {z:>11.1f} {z / n:>10.2f}×")
ratio = zss["pipelined"]["rps"] / nats["pipelined"]["rps"]
print(f"\ntarget: the broker alone ≥ 0.9× NATS's pipelined request-reply rate: {ratio:.2f}× {'ok' if ratio >= 0.9 else 'MISSED'}")
PY
