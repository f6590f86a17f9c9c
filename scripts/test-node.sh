#!/usr/bin/env bash
# Builds the Node binding from source the way users get it, then runs its test suite
# (node --test: real broker, services and clients over real sockets). Run from the repo root
# (or anywhere: it changes there). Exits non-zero on any failure.
#
# 1. `npm install <repo>/bindings/node` from a scratch project: npm links the folder and runs
#    its install script, which builds the addon with cargo (release, napi-rs CLI; the workspace's
#    target/ directory is reused, so only changed crates are recompiled). Then the installed
#    package must load through require() and import.
# 2. `node --test` in bindings/node.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

bash scripts/setup-node.sh
# test/failover.test.js runs `zss broker` processes.
cargo build --quiet -p zss </dev/null
export ZSS_BIN="$root/target/debug/zss"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"
echo '{"name":"zss-install-check","version":"0.0.0","private":true}' > package.json
echo "==> npm install $root/bindings/node (builds the native addon)"
npm install --no-audit --no-fund --loglevel=error "$root/bindings/node"
node -e '
  const zss = require("zss");
  for (const name of ["Client", "Service", "Broker", "ZssError"]) {
    if (typeof zss[name] !== "function") throw new Error(`require("zss").${name} is missing`);
  }
  console.log(`require("zss") ok: core ${zss.coreVersion}`);
'
node --input-type=module -e '
  import zss, { Client } from "zss";
  if (zss.Client !== Client) throw new Error("ESM and CommonJS exports differ");
  console.log("import \"zss\" ok");
'

cd "$root/bindings/node"
echo "==> node --test"
node --test --test-reporter=spec test/*.test.js test/*.test.mjs
