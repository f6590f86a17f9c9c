#!/usr/bin/env bash
# Runs every test suite: Rust (unit + integration over real sockets + msgpack-js byte checks),
# then each binding's suite. Installs what it needs first (scripts/setup.sh). Exits non-zero if
# any suite fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

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

echo
echo "==> summary"
printf '  %s\n' "${results[@]}"
exit $FAILED
