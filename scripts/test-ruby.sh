#!/usr/bin/env bash
# Ruby binding tests: builds the gem (`gem build`), installs it (`gem install --local`, which
# compiles the extension with cargo) into a scratch GEM_HOME under target/ruby, then runs the
# minitest suite against the INSTALLED gem, not the source tree. Real sockets, real broker.
#
# The system's gems are left alone. CARGO_TARGET_DIR points the gem's cargo build at
# target/ruby-ext so repeated runs reuse compiled crates; a normal `gem install` builds in the
# gem's own ext/zss/target and deletes it afterwards (extconf.rb).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

for tool in ruby gem cargo; do
  command -v "$tool" >/dev/null || { echo "test-ruby: $tool not found (run scripts/setup-ruby.sh)" >&2; exit 1; }
done

out="$root/target/ruby"
mkdir -p "$out"
export GEM_HOME="$out/gems"
export CARGO_TARGET_DIR="$root/target/ruby-ext"

echo "test-ruby: gem build"
(cd bindings/ruby && gem build --quiet zss.gemspec --output "$out/zss.gem")

echo "test-ruby: gem install --local (cargo build of the extension)"
gem uninstall --all --executables --ignore-dependencies --silent zss >/dev/null 2>&1 || true
gem install --local --no-document "$out/zss.gem"

echo "test-ruby: minitest against the installed gem ($(gem contents zss | head -1 | sed 's|/lib/.*||;s|/ext/.*||'))"
# No -I of the source tree: `require "zss"` must resolve to the installed gem. Running from
# the scratch dir keeps the repository's lib/ off any relative path.
cd "$out"
ruby -e 'gem "zss"; dir = ARGV.shift; Dir[dir + "/test_*.rb"].sort.each { |f| require f }' \
  "$root/bindings/ruby/test" "$@"
