#!/usr/bin/env bash
# Ruby binding prerequisites (bindings/ruby): Debian's Ruby 3.1 with its headers, minitest and
# rake from Debian (RubyGems is not reachable, so nothing comes from it), and libclang, which
# the rb-sys crate's bindgen needs to read Ruby's headers. Idempotent: installs only what is
# missing. Needs root (or sudo) on a fresh machine.
set -euo pipefail

PACKAGES=(ruby ruby-dev ruby-minitest rake libclang-dev)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup-ruby: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
