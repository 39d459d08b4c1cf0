#!/usr/bin/env bash
# Installs what `make test` needs when it is missing. Safe to run repeatedly;
# does nothing when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-nextest >/dev/null 2>&1; then
    echo "test-deps: installing cargo-nextest" >&2
    cargo install cargo-nextest --locked
fi

# Python's smpplib: a client nobody on this project wrote, for interop tests.
if ! python3 -c 'import smpplib' >/dev/null 2>&1; then
    echo "test-deps: installing smpplib from PyPI" >&2
    python3 -m pip install --quiet --disable-pip-version-check -r tests/interop/requirements.txt
fi
