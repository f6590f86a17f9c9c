#!/usr/bin/env bash
# Makes sure the Node binding's native addon (bindings/node/native/zss.node) is built and not
# older than the Rust sources it is built from; when it is, does nothing (no npm, no cargo).
# Otherwise builds it the way users do: `npm install` in bindings/node (its install script runs
# `napi build --release`; scripts/setup-node.sh first provides the build tools).
set -euo pipefail
cd "$(dirname "$0")/../../.."

addon=bindings/node/native/zss.node
# The addon's sources: the core library (not its programs, core/src/bin) and the napi crate.
sources=(core/src core/Cargo.toml bindings/node/src bindings/node/Cargo.toml bindings/node/build.rs Cargo.lock)
if [[ -f "$addon" ]] &&
   [[ -z "$(find "${sources[@]}" -path core/src/bin -prune -o -newer "$addon" -print -quit)" ]]; then
  exit 0
fi
echo "matrix: building the Node addon ($addon missing or older than its sources)"
bash scripts/setup-node.sh
cd bindings/node
npm install --no-audit --no-fund --loglevel=error </dev/null
