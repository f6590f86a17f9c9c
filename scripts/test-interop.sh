#!/usr/bin/env bash
# Wire compatibility against the ORIGINAL Node packages themselves (tests/interop): installs
# them if missing (scripts/setup-interop.sh), makes sure our programs are built (the matrix's
# prepare steps), then runs tests/interop/run.py: the scenario table in every role combination,
# SMI/TTL/instances/load, and the migration guides' examples (tests/interop/guides).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-interop.sh
cargo build --locked -q -p zss -p zss-matrix --bins </dev/null
for lang in c node python ruby; do
  bash "tests/matrix/$lang/prepare.sh"
done
python3 tests/interop/run.py "$@"
if [ -f tests/interop/guides/run.sh ]; then
  bash tests/interop/guides/run.sh
fi
