#!/usr/bin/env bash
# The suite working, as separate processes over TCP: a broker, a demo echo service, and a few
# client calls (success, 204, an error reply, an unknown service, a timeout).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
cargo build --release --locked --quiet -p zss
ZSS=target/release/zss
FE=${ZSS_DEMO_FRONTEND:-tcp://127.0.0.1:7777}
BE=${ZSS_DEMO_BACKEND:-tcp://127.0.0.1:7776}

pids=()
# Stop the worker first (it says SMI DOWN and waits for the reply), then the broker.
cleanup() { for ((i=${#pids[@]}-1; i>=0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; wait "${pids[i]}" 2>/dev/null || true; done; }
trap cleanup EXIT

$ZSS broker --frontend "$FE" --backend "$BE" --log-level warn & pids+=($!)
$ZSS echo demo --broker "$BE" --log-level warn & pids+=($!)
sleep 0.5

show() {
  echo "\$ zss call $*"
  set +e; $ZSS call --broker "$FE" "$@"; local rc=$?; set -e
  echo "  (exit $rc)"
}
show demo echo '{"hello": "world", "n": [1, 2.5, null]}'
show demo ping
show demo nothing
show demo fail '{"code": 422}'
show nobody anything
show demo sleep '{"ms": 2000}' --timeout 300
echo "demo: done"
