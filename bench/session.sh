#!/usr/bin/env bash
# smpp-load -> smsc-sim on loopback, window 64, receipts on, 1 and 4 binds;
# then the npm `smpp` pair (bench/npm-smpp) in the same run, and each of our
# ends against the other library's. Prints one labelled JSON line per run.
# Each process runs one tokio worker thread (--threads 1): the two share the
# machine's 2 cores, and one thread each avoids cross-thread wake-ups.
# Every configuration runs RUNS times (default 3).
# Usage: bench/session.sh [COUNT (default 500000)] [NPM_COUNT (default 50000)]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-500000}
npm_count=${2:-50000}
runs=${RUNS:-3}

cargo build --locked --release -p smsc-sim -p smpp-load >&2
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
target/release/smsc-sim --port "$port" --log warn --threads 1 >/dev/null &
sim=$!
trap 'kill $sim 2>/dev/null || true' EXIT
sleep 0.5

for binds in 1 4; do
  for _ in $(seq "$runs"); do
    printf 'tern smpp-load -> smsc-sim, binds %s: ' "$binds"
    target/release/smpp-load --port "$port" -u bench -p bench --binds "$binds" --window 64 \
      --count "$count" --dlr --json --threads 1
  done
done
kill $sim; wait $sim 2>/dev/null || true

for binds in 1 4; do
  for _ in $(seq "$runs"); do
    printf 'npm esme.js -> npm smsc.js, binds %s: ' "$binds"
    bench/npm-smpp/run.sh --binds "$binds" --window 64 --count "$npm_count"
  done
done

# Cross-library: our load generator against the npm SMSC, and the npm ESME
# against our simulator.
node bench/npm-smpp/smsc.js --host 127.0.0.1 --port "$port" >/dev/null 2>&1 &
npm_smsc=$!
trap 'kill $npm_smsc 2>/dev/null || true' EXIT
sleep 1
printf 'tern smpp-load -> npm smsc.js, binds 1: '
target/release/smpp-load --port "$port" -u bench -p bench --binds 1 --window 64 --count "$npm_count" --dlr --json --threads 1
kill $npm_smsc; wait $npm_smsc 2>/dev/null || true

target/release/smsc-sim --port "$port" --log warn --threads 1 >/dev/null &
sim=$!
trap 'kill $sim 2>/dev/null || true' EXIT
sleep 0.5
printf 'npm esme.js -> tern smsc-sim, binds 1: '
node bench/npm-smpp/esme.js --host 127.0.0.1 --port "$port" --binds 1 --window 64 --count "$npm_count"
kill $sim; wait $sim 2>/dev/null || true
