#!/usr/bin/env bash
# Makes sure the Python binding is installed in .venv and current (run.sh runs this from the
# repository root). Fast when it is: it only compares the installed extension's time with the
# sources it is built from; otherwise it sets up .venv (scripts/setup-python.sh) and installs
# the binding from source, as scripts/test-python.sh does.
set -euo pipefail
cd "$(dirname "$0")/../../.."

python=.venv/bin/python
installed=""
if [[ -x $python ]]; then
  # The installed extension module, if `import zss` works and has the API the programs use.
  installed=$("$python" -c 'import zss, zss._native as n; zss.Response; print(n.__file__)' 2>/dev/null || true)
fi

stale=""
if [[ -z $installed ]]; then
  stale="not installed"
else
  # Anything the wheel is built from that changed after the installation.
  newer=$(find bindings/python/src bindings/python/python bindings/python/Cargo.toml bindings/python/pyproject.toml \
               core/src core/Cargo.toml Cargo.lock -path core/src/bin -prune -o -type f -newer "$installed" -print -quit)
  [[ -n $newer ]] && stale="$newer changed since it was installed"
fi

if [[ -n $stale ]]; then
  echo "python prepare: installing the binding into .venv ($stale)"
  [[ -x $python ]] || bash scripts/setup-python.sh
  "$python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps ./bindings/python
fi
