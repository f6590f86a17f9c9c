#!/usr/bin/env bash
# Builds and installs the Python binding from the current source into .venv, then runs its
# tests. Run from the repo root (or anywhere: it changes there). Exits non-zero on failure.
#
# `pip install ./bindings/python` runs maturin (fetched from PyPI into pip's isolated build
# environment) inside the cargo workspace, so the build reuses the workspace's `target/`
# directory: only the binding crate is recompiled after a change. Set CARGO_TARGET_DIR to put
# it elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-python.sh
# tests/test_failover.py runs `zss broker` processes.
cargo build --quiet -p zss </dev/null
export ZSS_BIN="$PWD/target/debug/zss"
# --force-reinstall --no-deps: the version does not change between edits, so pip would
# otherwise keep the wheel it installed last time.
.venv/bin/python -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps ./bindings/python
# Run from the tests directory so `import zss` is the installed package, not the source tree.
cd bindings/python
exec ../../.venv/bin/python -m pytest -p no:cacheprovider "$@"
