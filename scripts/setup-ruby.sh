#!/usr/bin/env bash
# Ruby binding prerequisites (bindings/ruby): Debian's Ruby 3.1 with its headers, minitest and
# rake from Debian (RubyGems is not reachable, so nothing comes from it), and libclang, which
# the rb-sys crate's bindgen needs to read Ruby's headers. Idempotent: installs only what is
# missing. Needs root (or sudo) on a fresh machine.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
apt_install_missing setup-ruby ruby ruby-dev ruby-minitest rake libclang-dev
