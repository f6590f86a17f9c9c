#!/usr/bin/env bash
# Installs the ORIGINAL Node packages (zmq-service-suite-broker@1.0.1, -client@1.0.3,
# -service@1.0.1) into tests/interop/original/node_modules (ignored by git) from the committed
# lock file, for the interop suite (tests/interop). Their zeromq@4.2.1 cannot fetch its
# prebuilt binary here and does not compile on Node 20 as published, so, as
# ../shared/build-notes.md ("Running the original Node packages") records: npm ci
# --ignore-scripts, point zeromq at Debian's libzmq (4.3.4), fix the two removed V8 calls in
# binding.cc, and build the addon with npm's bundled node-gyp. The ZSS packages' own code is
# not modified. Idempotent: does nothing when the addon is built and loads.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

dir=tests/interop/original
zeromq=$dir/node_modules/zeromq
if [ -f "$zeromq/build/Release/zmq.node" ] &&
   (cd "$dir" && node -e 'require("zeromq"); require("zmq-service-suite-service"); require("zmq-service-suite-client")') 2>/dev/null; then
  exit 0
fi

apt_install_missing setup-interop libzmq3-dev g++ make python3 pkg-config
echo "setup-interop: installing the original zmq-service-suite-* packages into $dir"
(cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)

libzmq=$(pkg-config --variable=libdir libzmq)/libzmq.so
[ -e "$libzmq" ] || libzmq=/usr/lib/x86_64-linux-gnu/libzmq.so
mkdir -p "$zeromq/zmq/lib"
ln -sfn "$(pkg-config --variable=includedir libzmq 2>/dev/null || echo /usr/include)" "$zeromq/zmq/include"
ln -sfn "$libzmq" "$zeromq/zmq/lib/libzmq.a"   # binding.gyp names the .a; the linker goes by content
sed -i 's/batch->Get(i)\.As/Nan::Get(batch, i).ToLocalChecked().As/; s/batch->Get(i + 1)\.As/Nan::Get(batch, i + 1).ToLocalChecked().As/' \
  "$zeromq/binding.cc"
grep -q 'Nan::Get(batch, i + 1)' "$zeromq/binding.cc" || { echo "setup-interop: binding.cc patch did not apply" >&2; exit 1; }
gyp="$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js"
log=$(mktemp)
if ! (cd "$zeromq" && node "$gyp" rebuild --nodedir=/usr) >"$log" 2>&1; then
  tail -40 "$log" >&2; echo "setup-interop: building the zeromq@4.2.1 addon failed" >&2; exit 1
fi
rm -f "$log"
(cd "$dir" && node -e 'console.log("setup-interop: original packages ready, zeromq addon on libzmq " + require("zeromq").version)')
