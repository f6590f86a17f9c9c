#!/usr/bin/env bash
# Prepares the Node binding's tools: checks Node (>= 20.17, what @napi-rs/cli 3 needs) and
# installs the package's npm dependencies (the napi build CLI, TypeScript for the type tests)
# into bindings/node/node_modules from the committed lockfile, without building anything yet.
# Idempotent; run from anywhere. Only the npm registry is used. Building the addon needs cargo,
# pkg-config and libzmq3-dev (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "setup-node: node and npm are required (Node >= 20.17)" >&2
    exit 1
fi
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=17)?0:1)'; then
    echo "setup-node: Node >= 20.17 is required, found $(node --version)" >&2
    exit 1
fi
if ! pkg-config --exists libzmq 2>/dev/null && command -v apt-get >/dev/null; then
    apt-get install -y -qq pkg-config libzmq3-dev >/dev/null
fi
cd bindings/node
# --ignore-scripts: tools only; the addon is built by the install step of scripts/test-node.sh.
# `npm ci`: exactly the committed lock file, which it never rewrites (a clean tree after CI).
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
