#!/usr/bin/env bash
# The migration guides' examples as tests (tests/interop/guides): the original-API Node code
# on the originals and on ours, each behind the original broker and ours; the zss 0.3 gem style
# Ruby code on our gem behind both brokers, calling an original service too.
set -euo pipefail
cd "$(dirname "$0")/../../.."
root=$PWD
orig=$root/tests/interop/original/node_modules
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
failed=0
start_broker() {   # start_broker orig|zss NAME → sets fe/be
  fe=ipc://$work/$2-fe be=ipc://$work/$2-be
  if [ "$1" = orig ]; then
    MICRO_BROKER_FE_ADDR=$fe MICRO_BROKER_BE_ADDR=$be MICRO_BROKER_LOG_LEVEL=warn \
      node "$orig/zmq-service-suite-broker/bin/zss-broker" >"$work/$2.log" 2>&1 & pids+=($!)
  else
    target/debug/zss broker --frontend "$fe" --backend "$be" --log-level warn >"$work/$2.log" 2>&1 & pids+=($!)
  fi
  sleep 0.5
}
for broker in orig zss; do
  for impl in orig zss; do
    start_broker "$broker" "node-$broker-$impl"
    echo "guides: original-API Node code on the $impl packages, $broker broker"
    NODE_PATH=$orig timeout 60 node tests/interop/guides/node-original-api.js "$impl" "$fe" "$be" || failed=1
  done
  if [ -f tests/interop/guides/ruby-gem-03.rb ]; then
    start_broker "$broker" "ruby-$broker"
    NODE_PATH=$orig node tests/interop/original/service.js "$be" GUIDE-ORIG >"$work/ruby-$broker-svc.log" 2>&1 & pids+=($!)
    echo "guides: zss 0.3 gem style Ruby code on our gem, $broker broker (and an original service)"
    GEM_HOME=$root/target/ruby/gems timeout 60 ruby tests/interop/guides/ruby-gem-03.rb "$fe" "$be" || failed=1
  fi
done
[ $failed = 0 ] && echo "guides: all passed" || { echo "guides: FAILED" >&2; exit 1; }
