#!/usr/bin/env bash
# Prepares the Python binding's test environment: a virtualenv at .venv in the repo root with
# pytest, its plugins and mypy (the typing tests run it). Idempotent; run from anywhere.
# Only PyPI is used. Building the binding itself needs cargo and libzmq (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    # Debian's python3 ships venv/ensurepip separately.
    if ! "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null && command -v apt-get >/dev/null; then
        . scripts/lib.sh
        apt_install_missing setup-python python3-venv
    fi
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
    "pytest>=7" "pytest-asyncio>=0.23" "pytest-timeout>=2" "mypy>=1.8"
