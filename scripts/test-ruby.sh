#!/usr/bin/env bash
# Ruby binding tests: builds and installs the gem into a scratch GEM_HOME under target/ruby
# (scripts/install-ruby.sh: `gem build`, then `gem install --local`, which compiles the
# extension with cargo), then runs the minitest suite against the INSTALLED gem, not the
# source tree. Real sockets, real broker.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

bash scripts/install-ruby.sh
# test/test_failover.rb runs `zss broker` processes.
cargo build --quiet -p zss </dev/null
export ZSS_BIN="$root/target/debug/zss"
export GEM_HOME="$root/target/ruby/gems"

echo "test-ruby: minitest against the installed gem ($(gem contents zss | head -1 | sed 's|/lib/.*||;s|/ext/.*||'))"
# No -I of the source tree: `require "zss"` must resolve to the installed gem. Running from
# the scratch dir keeps the repository's lib/ off any relative path.
cd "$root/target/ruby"
ruby -e 'gem "zss"; dir = ARGV.shift; Dir[dir + "/test_*.rb"].sort.each { |f| require f }' \
  "$root/bindings/ruby/test" "$@"
