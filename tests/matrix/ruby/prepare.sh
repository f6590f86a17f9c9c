#!/usr/bin/env bash
# Makes sure the zss gem is installed in GEM_HOME=target/ruby/gems and current (run.sh runs
# this from the repository root; run.py runs the Ruby programs with that GEM_HOME). Fast when
# it is: it only compares the installed gem's time with the sources it is built from;
# otherwise it installs Ruby if missing (scripts/setup-ruby.sh) and builds and installs the
# gem (scripts/install-ruby.sh).
set -euo pipefail
cd "$(dirname "$0")/../../.."

export GEM_HOME="$PWD/target/ruby/gems"
version=$(sed -n 's/.*VERSION *= *"\([^"]*\)".*/\1/p' bindings/ruby/lib/zss/version.rb | head -1)
spec="$GEM_HOME/specifications/zss-$version.gemspec"

stale=""
if ! command -v ruby >/dev/null || ! command -v gem >/dev/null; then
  stale="ruby is not installed"
  bash scripts/setup-ruby.sh
elif [[ ! -f $spec ]] || ! ruby -e 'require "zss"; ZSS::Response' 2>/dev/null; then
  stale="not installed"
else
  # Anything the gem is built from that changed after the installation.
  newer=$(find bindings/ruby/lib bindings/ruby/ext/zss/src bindings/ruby/ext/zss/Cargo.toml bindings/ruby/ext/zss/Cargo.lock \
               bindings/ruby/ext/zss/extconf.rb bindings/ruby/ext/zss/stage.rb bindings/ruby/zss.gemspec core/src core/Cargo.toml \
               -path core/src/bin -prune -o -type f -newer "$spec" -print -quit)
  [[ -n $newer ]] && stale="$newer changed since it was installed"
fi

if [[ -n $stale ]]; then
  echo "ruby prepare: installing the gem into target/ruby/gems ($stale)"
  bash scripts/install-ruby.sh
fi
