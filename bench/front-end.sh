#!/usr/bin/env bash
# smpp-load -> tern front end (issue 5): accepted submits/s and
# submit_sm_resp latency on the memory and the redis store, 1 and 8 binds
# flat out, then at half the goal rate for the p99. Receipts are not
# requested (connectors arrive with issue 6). One labelled JSON line per run.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-300000}
cargo build --locked --release -p tern -p smpp-load >&2

run() { # label, port, extra args...
  local label=$1 port=$2; shift 2
  printf '%s: ' "$label"
  target/release/smpp-load --port "$port" -u bench -p bench --window 64 --json --threads 1 "$@"
}

target/release/tern run -c bench/tern-memory.ini 2>/dev/null &
tern=$!
trap 'kill $tern 2>/dev/null || true' EXIT
sleep 1
run "memory, 1 bind" 27750 --binds 1 --count "$count"
run "memory, 8 binds" 27750 --binds 8 --count "$count"
run "memory, 8 binds at 25000/s" 27750 --binds 8 --rate 25000 --duration 10
kill $tern; wait $tern 2>/dev/null || true

redis-server --port 27760 --bind 127.0.0.1 --save '' --appendonly no >/dev/null &
redis=$!
sleep 0.5
target/release/tern run -c bench/tern-redis.ini 2>/dev/null &
tern=$!
trap 'kill $tern $redis 2>/dev/null || true' EXIT
sleep 1
run "redis, 1 bind" 27752 --binds 1 --count "$count"
run "redis, 8 binds" 27752 --binds 8 --count "$count"
run "redis, 8 binds at 12500/s" 27752 --binds 8 --rate 12500 --duration 10
kill $tern; wait $tern 2>/dev/null || true
kill $redis; wait $redis 2>/dev/null || true
