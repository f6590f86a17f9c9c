#!/usr/bin/env bash
# Installs everything the build, the demo and the test suites need. Idempotent: run it as often
# as you like; it only installs what is missing. Needs root (or sudo) for apt on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: libzmq (with CURVE) to link against and pkg-config to find it; cmake to build
# the bundled libzmq (`--features zss/vendored`); valgrind for the C tests. Rust, gcc, Python 3
# and Node are expected on the machine.
. scripts/lib.sh
apt_install_missing setup libzmq3-dev pkg-config cmake valgrind

for tool in cargo node npm python3; do
  command -v "$tool" >/dev/null || { echo "setup: $tool is required but not installed" >&2; exit 1; }
done

# The reference msgpack-js@0.3.0 the codec tests check our bytes against.
if [ ! -d tests/msgpack-js/node_modules/msgpack-js ]; then
  echo "setup: installing msgpack-js@0.3.0 (test oracle)"
  (cd tests/msgpack-js && npm ci --no-audit --no-fund --silent)
fi

# Per-binding set-up (virtualenvs, npm packages, gems), each owned by its binding.
for s in scripts/setup-*.sh; do
  [ -e "$s" ] || continue
  bash "$s"
done
echo "setup: done"
