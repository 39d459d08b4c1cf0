#!/usr/bin/env bash
# `make run`: the SMSC simulator on 127.0.0.1:2776 and tern on etc/tern.ini
# (SMPP 127.0.0.1:2775, embedded store). Bind as demo/demo. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked --release -p tern -p smsc-sim
target/release/tern check-config -c etc/tern.ini

pids=()
stop() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap stop EXIT INT TERM

target/release/smsc-sim --port 2776 --system-id smppclient1 --password password --dlr-delay-ms 500 --log info &
pids+=($!)
target/release/tern run -c etc/tern.ini &
pids+=($!)
echo "make run: tern on 127.0.0.1:2775 (bind as demo/demo), smsc-sim on 127.0.0.1:2776; Ctrl-C stops both" >&2
wait -n "${pids[@]}"
