#!/usr/bin/env bash
# Installs the zss C library: header, libzss.so (+ SONAME links), libzss.a and pkg-config files.
#
#   PREFIX=/usr/local scripts/install-c.sh          # builds (release) and installs
#   PREFIX=$HOME/.local PROFILE=debug scripts/install-c.sh   # debug build
#   ZSS_SKIP_BUILD=1 ...                                     # install what is already built
#   DESTDIR=/tmp/stage PREFIX=/usr scripts/install-c.sh   # staged install for packaging
#
# Cargo builds the library as libzss_ffi (the core crate's library is already named zss);
# this script installs it under its C name, libzss. Run from anywhere inside the repository.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="${PREFIX:-/usr/local}"
DESTDIR="${DESTDIR:-}"
PROFILE="${PROFILE:-release}"
LIBDIR="${LIBDIR:-$PREFIX/lib}"
INCLUDEDIR="${INCLUDEDIR:-$PREFIX/include}"
PKGCONFIGDIR="${PKGCONFIGDIR:-$LIBDIR/pkgconfig}"

cd "$ROOT"
# PROFILE is a cargo profile; "debug" (cargo's directory name for "dev") is accepted too.
case "$PROFILE" in
  debug | dev) CARGO_PROFILE=dev OUT_NAME=debug ;;
  *) CARGO_PROFILE="$PROFILE" OUT_NAME="$PROFILE" ;;
esac
if [[ "${ZSS_SKIP_BUILD:-0}" != 1 ]]; then
  cargo build -p zss-ffi --profile "$CARGO_PROFILE" </dev/null
fi
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps </dev/null | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
OUT="$TARGET_DIR/$OUT_NAME"

VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)"
MAJOR="${VERSION%%.*}"
[[ -n "$VERSION" ]] || { echo "install-c.sh: cannot read the workspace version" >&2; exit 1; }
for f in "$OUT/libzss_ffi.so" "$OUT/libzss_ffi.a" include/zss.h; do
  [[ -f "$f" ]] || { echo "install-c.sh: missing $f" >&2; exit 1; }
done

install -d "$DESTDIR$LIBDIR" "$DESTDIR$INCLUDEDIR" "$DESTDIR$PKGCONFIGDIR"
install -m 0644 include/zss.h "$DESTDIR$INCLUDEDIR/zss.h"
install -m 0755 "$OUT/libzss_ffi.so" "$DESTDIR$LIBDIR/libzss.so.$VERSION"
ln -sfn "libzss.so.$VERSION" "$DESTDIR$LIBDIR/libzss.so.$MAJOR"
ln -sfn "libzss.so.$MAJOR" "$DESTDIR$LIBDIR/libzss.so"
install -m 0644 "$OUT/libzss_ffi.a" "$DESTDIR$LIBDIR/libzss.a"

# What the static library needs besides itself: the system libzmq, and the Rust standard
# library's system dependencies (`rustc --print native-static-libs` for this target).
STATIC_DEPS="-lzmq -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"
for pc in zss zss-static; do
  sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@LIBDIR@|$LIBDIR|g" -e "s|@INCLUDEDIR@|$INCLUDEDIR|g" \
      -e "s|@VERSION@|$VERSION|g" -e "s|@STATIC_DEPS@|$STATIC_DEPS|g" \
      "ffi/$pc.pc.in" > "$DESTDIR$PKGCONFIGDIR/$pc.pc"
done
echo "installed zss $VERSION C library into $DESTDIR$PREFIX"
