#!/usr/bin/env bash
# Prepares the Python binding's test environment: a virtualenv at .venv in the repo root with
# pytest and its plugins. Idempotent; run from anywhere. Only PyPI is used.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
    "pytest>=7" "pytest-asyncio>=0.23" "pytest-timeout>=2"
