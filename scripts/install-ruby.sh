#!/usr/bin/env bash
# Builds the Ruby gem from the current source (`gem build`) and installs it (`gem install
# --local`, which compiles the extension with cargo) into a scratch GEM_HOME under
# target/ruby: target/ruby/gems. The system's gems are left alone; use it with
# GEM_HOME=target/ruby/gems. Run from anywhere (it changes to the repository root).
#
# CARGO_TARGET_DIR points the gem's cargo build at target/ruby-ext so repeated installs reuse
# compiled crates; a normal `gem install` builds in the gem's own ext/zss/target and deletes
# it afterwards (extconf.rb).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

for tool in ruby gem cargo; do
  command -v "$tool" >/dev/null || { echo "install-ruby: $tool not found (run scripts/setup-ruby.sh)" >&2; exit 1; }
done

out="$root/target/ruby"
mkdir -p "$out"
export GEM_HOME="$out/gems"
export CARGO_TARGET_DIR="$root/target/ruby-ext"

echo "install-ruby: gem build"
(cd bindings/ruby && gem build --quiet zss.gemspec --output "$out/zss.gem")

echo "install-ruby: gem install --local (cargo build of the extension)"
gem uninstall --all --executables --ignore-dependencies --silent zss >/dev/null 2>&1 || true
gem install --local --no-document "$out/zss.gem"
