#!/usr/bin/env bash
# The C ABI's test command: builds libzss (debug), checks include/zss.h against a fresh cbindgen
# generation, installs into a scratch prefix with scripts/install-c.sh, then builds against
# that install through pkg-config exactly as a user would and runs:
#   - the C test programs in tests/c/ under valgrind (any leak or invalid access fails;
#     test_failover.c also runs two `zss broker` processes and SIGKILLs one),
#   - one test program linked statically (zss-static.pc),
#   - the header compiled as C++ (extern "C" guards),
#   - the examples in examples/c/ built with plain cc and run end to end as processes.
# Prints "N passed, M failed" last (N counts the C test cases and the checks above).
#
#   scripts/test-c.sh                  # from the repository root
#   ZSS_C_VALGRIND=0 scripts/test-c.sh # without valgrind (faster; for debugging only)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VALGRIND="${ZSS_C_VALGRIND:-1}"
WORK="$ROOT/target/c-tests"
PREFIX="$WORK/prefix"
rm -rf "$WORK"
mkdir -p "$WORK"

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok - $1"; }
fail() { failed=$((failed + 1)); echo "not ok - $1"; }

# cargo gets no standard input: its rustc probe reads "-" and must see an empty stream.
echo "== build libzss and the zss program (cargo, debug)"
cargo build -p zss-ffi -p zss </dev/null
# tests/c/test_failover.c runs `zss broker` processes.
export ZSS_BIN="$ROOT/target/debug/zss"

echo "== header drift: include/zss.h vs a fresh cbindgen generation"
if cargo test -p zss-ffi --test header </dev/null; then pass "header_matches_cbindgen"; else fail "header_matches_cbindgen"; fi

echo "== Rust unit tests of the boundary (panic -> ZSS_RESULT_PANIC, error mapping)"
if cargo test -p zss-ffi --lib </dev/null; then pass "ffi_boundary_unit_tests"; else fail "ffi_boundary_unit_tests"; fi

echo "== install into $PREFIX"
PREFIX="$PREFIX" PROFILE=debug ZSS_SKIP_BUILD=1 scripts/install-c.sh
export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig"
export LD_LIBRARY_PATH="$PREFIX/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
CFLAGS=(-std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -g)
read -r -a ZSS_FLAGS <<<"$(pkg-config --cflags --libs zss)"
read -r -a ZSS_STATIC_FLAGS <<<"$(pkg-config --cflags --libs zss-static)"

VG=()
if [[ "$VALGRIND" == 1 ]]; then
  VG=(valgrind -q --error-exitcode=97 --leak-check=full --errors-for-leak-kinds=definite,possible
      --show-leak-kinds=definite,possible --suppressions="$ROOT/tests/c/valgrind.supp")
fi

# Runs one test program; its "ok -"/"not ok -" lines are the test cases. A crash, a non-zero
# exit or a valgrind error fails the program as one more case.
run_program() {
  local name="$1"; shift
  local log="$WORK/$name.log" status=0
  timeout 600 "$@" >"$log" 2>&1 || status=$?
  cat "$log"
  local ok notok
  ok=$(grep -c '^ok - ' "$log" || true)
  notok=$(grep -c '^not ok - ' "$log" || true)
  passed=$((passed + ok))
  failed=$((failed + notok))
  if [[ $status -eq 97 ]]; then
    fail "$name: valgrind found errors or leaks"
  elif [[ $status -ne 0 && $notok -eq 0 ]]; then
    fail "$name: exited with status $status"
  fi
}

echo "== C tests (shared libzss via pkg-config${VG:+, under valgrind})"
for src in tests/c/test_*.c; do
  name="$(basename "$src" .c)"
  if cc "${CFLAGS[@]}" "$src" "${ZSS_FLAGS[@]}" -lpthread -o "$WORK/$name"; then
    run_program "$name" "${VG[@]}" "$WORK/$name"
  else
    fail "$name: does not compile"
  fi
done

echo "== static link (zss-static.pc)"
if cc "${CFLAGS[@]}" tests/c/test_roundtrip.c "${ZSS_STATIC_FLAGS[@]}" -lpthread -o "$WORK/static_roundtrip" &&
   ! ldd "$WORK/static_roundtrip" | grep -q libzss &&
   timeout 300 "$WORK/static_roundtrip" >"$WORK/static_roundtrip.log" 2>&1; then
  pass "static_link_round_trip"
else
  cat "$WORK/static_roundtrip.log" 2>/dev/null || true
  fail "static_link_round_trip"
fi

echo "== header as C++"
cat >"$WORK/cxx_check.cpp" <<'CXX'
#include <zss.h>
#include <cstdio>
int main() { std::printf("%s\n", zss_version()); return zss_result_name(ZSS_RESULT_OK)[0] == 'Z' ? 0 : 1; }
CXX
if c++ -Wall -Werror "$WORK/cxx_check.cpp" "${ZSS_FLAGS[@]}" -o "$WORK/cxx_check" && "$WORK/cxx_check" >/dev/null; then
  pass "header_compiles_as_cxx"
else
  fail "header_compiles_as_cxx"
fi

echo "== examples: plain cc against the install, then run end to end"
examples_built=1
for ex in broker worker client; do
  if ! cc examples/c/$ex.c $(pkg-config --cflags --libs zss) -o "$WORK/example_$ex"; then
    examples_built=0
  fi
done
if [[ $examples_built == 1 ]]; then pass "examples_compile"; else fail "examples_compile"; fi

run_examples() {
  local broker_pid worker_pid fe="" be="" out
  "$WORK/example_broker" 'tcp://127.0.0.1:*' 'tcp://127.0.0.1:*' >"$WORK/example_broker.log" 2>&1 &
  broker_pid=$!
  for _ in $(seq 100); do
    fe=$(sed -n 's/^frontend //p' "$WORK/example_broker.log")
    be=$(sed -n 's/^backend //p' "$WORK/example_broker.log")
    [[ -n "$fe" && -n "$be" ]] && break
    sleep 0.1
  done
  [[ -n "$fe" ]] || { kill "$broker_pid"; wait "$broker_pid" || true; return 1; }
  "$WORK/example_worker" "$be" >"$WORK/example_worker.log" 2>&1 &
  worker_pid=$!
  local ok=1 status
  # Until the worker has registered the broker answers 404 (exit status 2).
  for _ in $(seq 50); do
    status=0
    out=$("$WORK/example_client" "$fe" demo hello '{"name": "Ada"}' 2>&1) || status=$?
    [[ $status -eq 0 ]] && break
    sleep 0.1
  done
  echo "$out"
  grep -q 'payload {"greeting":"hello, Ada"}' <<<"$out" || ok=0
  status=0
  out=$("$WORK/example_client" "$fe" demo fail '{}' 2>&1) || status=$?
  echo "$out"
  [[ $status -eq 2 ]] && grep -q '^error 422: That cannot be done.' <<<"$out" || ok=0
  kill -TERM "$worker_pid"; wait "$worker_pid" || ok=0
  kill -TERM "$broker_pid"; wait "$broker_pid" || ok=0
  cat "$WORK/example_worker.log" "$WORK/example_broker.log"
  grep -q '^stopped after [0-9]* requests' "$WORK/example_worker.log" || ok=0
  [[ $ok == 1 ]]
}
if [[ $examples_built == 1 ]] && run_examples; then pass "examples_end_to_end"; else fail "examples_end_to_end"; fi

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
