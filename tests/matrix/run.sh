#!/usr/bin/env bash
# The cross-language matrix: makes sure each language's programs can run (builds the Rust and C
# ones, checks the bindings are installed — each language's prepare.sh), then runs run.py with
# the given arguments (--clients, --services: comma-separated subsets of rust,c,python,node,ruby;
# --curve: everything encrypted, a key pair per program).
set -euo pipefail
cd "$(dirname "$0")/../.."

langs="rust,c,python,node,ruby"
clients=$langs services=$langs
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --clients) clients=${args[i+1]:-} ;;
    --clients=*) clients=${args[i]#--clients=} ;;
    --services) services=${args[i+1]:-} ;;
    --services=*) services=${args[i]#--services=} ;;
  esac
done

echo "matrix: cargo build (zss, the Rust matrix programs)"
cargo build --locked -q -p zss -p zss-matrix --bins </dev/null
for lang in $(tr ',' '\n' <<<"$clients,$services" | sort -u); do
  [[ -z "$lang" || "$lang" == rust ]] && continue
  prepare="tests/matrix/$lang/prepare.sh"
  if [[ -f "$prepare" ]]; then
    echo "matrix: preparing $lang"
    bash "$prepare"
  fi
done
exec python3 tests/matrix/run.py "$@"
