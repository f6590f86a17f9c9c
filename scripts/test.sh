#!/usr/bin/env bash
# Runs every test suite: Rust (unit + integration over real sockets + msgpack-js byte checks),
# then each binding's suite. Installs what it needs first (scripts/setup.sh). Exits non-zero if
# any suite fails.
set -euo pipefail
cd "$(dirname "$0")/.."
# /dev/null must be the character device: a root process that writes an output file there
# (e.g. `cc -o /dev/null`) replaces it with a regular file, and every later reader of
# /dev/null (rustc's target probe among them) then reads garbage. Repair it if we can, and
# fail the run if one of our suites breaks it.
check_dev_null() {
  [ -c /dev/null ] && return 0
  echo "test: /dev/null is not a character device ($1)" >&2
  if [ "$(id -u)" -eq 0 ]; then
    rm -f /dev/null && mknod -m 666 /dev/null c 1 3 && echo "test: restored /dev/null" >&2
  fi
  return 1
}
check_dev_null "before the tests" || [ -c /dev/null ] || exit 1

bash scripts/setup.sh

# ZooKeeper for the registry tests (core/tests/registry.rs, the failover tests): our own on
# loopback, started once for every suite and stopped at the end, even on failure. A server the
# suites did not start here (already running) is left running.
zookeeper_was_running=0
bash scripts/zookeeper.sh status >/dev/null 2>&1 && zookeeper_was_running=1
ZSS_ZOOKEEPER=$(bash scripts/zookeeper.sh start)
export ZSS_ZOOKEEPER
stop_zookeeper() { [ "$zookeeper_was_running" = 1 ] || bash scripts/zookeeper.sh stop; }
trap stop_zookeeper EXIT

declare -a results=()
run_suite() {
  local name=$1; shift
  echo
  echo "==> $name: $*"
  local start=$SECONDS
  if "$@"; then
    results+=("$name: ok ($((SECONDS - start)) s)")
  else
    results+=("$name: FAILED")
    echo "==> $name FAILED" >&2
    FAILED=1
  fi
}
FAILED=0

run_suite rust cargo test --workspace --locked
# The bundled-libzmq build must keep working too (separate target dir: different libzmq).
run_suite rust-vendored env CARGO_TARGET_DIR=target/vendored \
  cargo test --locked -p zss --features vendored --test calls --test broker
for suite in scripts/test-*.sh; do
  [ -e "$suite" ] || continue
  name=$(basename "$suite" .sh); name=${name#test-}
  run_suite "$name" bash "$suite"
done

# Every client language against every service language, through one broker (tests/matrix).
# Last: it uses the bindings the suites above built and installed.
run_suite matrix bash tests/matrix/run.sh
# The same, every program with its own CURVE key on the broker's allow list.
run_suite matrix-curve bash tests/matrix/run.sh --curve
# The benchmark, a fraction of a second per case (debug build): proves it still runs end to end.
run_suite bench-smoke bash scripts/bench.sh --smoke

if ! check_dev_null "after the suites: one of them replaced it"; then
  results+=("dev-null: FAILED (a suite replaced /dev/null)")
  FAILED=1
fi

echo
echo "==> summary"
printf '  %s\n' "${results[@]}"
exit $FAILED
