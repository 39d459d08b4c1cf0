#!/usr/bin/env bash
# Installs what `make test` needs when it is missing. Safe to run repeatedly.
set -euo pipefail

if ! command -v cargo-nextest >/dev/null 2>&1; then
    echo "test-deps: installing cargo-nextest" >&2
    cargo install cargo-nextest --locked
fi
