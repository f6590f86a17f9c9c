#!/usr/bin/env bash
# Builds the matrix's C programs against the C ABI as a user would: libzss (cargo, debug)
# installed into target/matrix/prefix by scripts/install-c.sh, then target/matrix/c-service
# and target/matrix/c-client compiled with cc through pkg-config. The driver runs them with
# LD_LIBRARY_PATH=target/matrix/prefix/lib. Cargo rebuilds only what changed; the install and
# the two compiles take a second or two.
set -euo pipefail
cd "$(dirname "$0")/../../.."
root=$PWD
prefix=$root/target/matrix/prefix
here=tests/matrix/c

# cargo gets no standard input: its rustc probe reads "-" and must see an empty stream.
cargo build -q -p zss-ffi </dev/null
PREFIX="$prefix" PROFILE=debug ZSS_SKIP_BUILD=1 scripts/install-c.sh >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
read -r -a zss_flags <<<"$(pkg-config --cflags --libs zss)"
for program in service client; do
  out=$root/target/matrix/c-$program
  cc -std=c11 -Wall -Wextra -Werror -g "$here/$program.c" "$here/json.c" "${zss_flags[@]}" -o "$out.tmp"
  mv "$out.tmp" "$out"
done
