#!/usr/bin/env bash
# Soak run (hours; not part of CI): traffic through a `zss broker` process while worker
# processes are restarted (SIGTERM and SIGKILL in turn); prints served calls, answers by status
# and the broker's memory every 10 s.
#   scripts/soak.sh [MINUTES=60] [RESTART_EVERY_S=30] [CLIENTS=8]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q -p zss --bin zss --example soak
exec target/release/examples/soak "$@"
