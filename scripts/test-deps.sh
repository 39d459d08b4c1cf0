#!/usr/bin/env bash
# Installs what `make test` needs when it is missing. Safe to run repeatedly;
# does nothing when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-nextest >/dev/null 2>&1; then
    echo "test-deps: installing cargo-nextest" >&2
    cargo install cargo-nextest --locked
fi

# redis-server for the redis store's tests (Debian's; 6.2 or later). Tests
# start their own on free loopback ports; the system service is not used.
if ! command -v redis-server >/dev/null 2>&1; then
    echo "test-deps: installing redis-server" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq redis-server >/dev/null
    # Debian starts the service on install; tests do not want it.
    if command -v systemctl >/dev/null 2>&1; then systemctl disable --now redis-server >/dev/null 2>&1 || true; fi
fi

# Python's smpplib and prometheus_client: code nobody on this project
# wrote, for interop tests (an SMPP client; a Prometheus text parser).
if ! python3 -c 'import smpplib, prometheus_client' >/dev/null 2>&1; then
    echo "test-deps: installing smpplib and prometheus-client from PyPI" >&2
    python3 -m pip install --quiet --disable-pip-version-check -r tests/interop/requirements.txt
fi

# systemd-analyze for `make check-deploy` (verifies deploy/tern.service;
# Debian's systemd package, about 3 MB). promtool (Debian's prometheus,
# about 19 MB) is not installed here: its checks run where it is.
if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "test-deps: installing systemd (systemd-analyze)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends systemd >/dev/null
fi

# openssl (the command) makes the TLS tests' certificates with the same
# commands docs/tls.md gives operators.
if ! command -v openssl >/dev/null 2>&1; then
    echo "test-deps: installing openssl" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends openssl >/dev/null
fi
