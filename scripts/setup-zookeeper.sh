#!/usr/bin/env bash
# ZooKeeper for the registry (zss::registry, `zss broker --registry`) and its tests: Debian's
# zookeeperd (3.8, with a JRE). Idempotent: installs only what is missing. Needs root (or sudo)
# on a fresh machine. We never use the system service (policy-rc.d may keep it from starting):
# scripts/zookeeper.sh runs our own server on loopback.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
apt_install_missing setup-zookeeper zookeeperd
