#!/usr/bin/env bash
# smpp-load -> tern -> smsc-sim and back (issue 6): every message asks for
# a receipt; a run ends when the last receipt reached smpp-load. For the
# memory and the redis store: messages/s with every receipt delivered,
# receipt latency (submit -> receipt at the ESME) p50/p99, and CPU time
# per message of every process (tern, smsc-sim, redis-server, smpp-load),
# all on this machine; then the same at a fixed rate below saturation
# (10 s; MEMORY_RATE, REDIS_RATE) for the latency of a gateway that keeps
# up. One labelled JSON line per run. First, the direct pair (smpp-load
# straight to smsc-sim, the same load): the physical limit of the load
# generator and simulator on this machine, which the gateway's figures
# are read against as a ratio (DIRECT=0 skips it).
#   bash bench/receipts.sh [count] [binds]
# BACKENDS="memory" (or "redis") runs one; NO_BUILD=1 skips the build.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-200000}
binds=${2:-4}
[ -n "${NO_BUILD:-}" ] || cargo build --locked --release -p tern -p smsc-sim -p smpp-load >&2
tck=$(getconf CLK_TCK)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "${aof_dir:-}" ]; then rm -rf "$aof_dir"; fi
}
trap cleanup EXIT

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run() { # label, then the pids to account; $RATE: messages/s (else flat out)
  local label=$1; shift
  local n=$count pace=()
  if [ -n "${RATE:-}" ]; then n=$((RATE * 10)); pace=(--rate "$RATE"); fi
  local before=() p
  for p in "$@"; do before+=("$(ticks "$p")"); done
  local out
  out=$( { /usr/bin/time -f 'LOADCPU %U %S' target/release/smpp-load --port "${PORT:-27780}" -u bench -p bench \
      --binds "$binds" --window 64 --threads 1 --count "$n" "${pace[@]}" --dlr --json; } 2>&1 )
  local after=()
  for p in "$@"; do after+=("$(ticks "$p")"); done
  LABEL=$label COUNT=$n TCK=$tck NAMES="$NAMES" BEFORE="${before[*]}" AFTER="${after[*]}" OUT="$out" python3 bench/load_summary.py
}

target/release/smsc-sim --port 27783 --threads 1 >/dev/null 2>&1 &
sim=$!; pids+=("$sim")
sleep 0.5

if [ "${DIRECT:-1}" != 0 ]; then
  PORT=27783 NAMES="smsc-sim" run "direct pair, $binds binds" "$sim"
fi

backends=${BACKENDS:-memory redis}
if [[ " $backends " == *" memory "* ]]; then
  target/release/tern run -c bench/tern-receipts-memory.ini 2>/dev/null &
  tern=$!; pids+=("$tern")
  sleep 1
  NAMES="tern smsc-sim" run "memory, $binds binds" "$tern" "$sim"
  NAMES="tern smsc-sim" RATE=${MEMORY_RATE:-15000} run "memory, $binds binds at ${MEMORY_RATE:-15000}/s" "$tern" "$sim"
  kill "$tern"; wait "$tern" 2>/dev/null || true
fi
[[ " $backends " == *" redis "* ]] || exit 0

# As an operator runs it (issue 13): the append-only file, fsync'd every
# second, in a directory of its own. AOF=no for the figures before
# 2026-12-03, which ran without it.
aof_dir=$(mktemp -d)
redis-server --port 27782 --bind 127.0.0.1 --save '' --dir "$aof_dir" \
  --appendonly "${AOF:-yes}" --appendfsync everysec >/dev/null &
redis=$!; pids+=("$redis")
sleep 0.5
target/release/tern run -c bench/tern-receipts-redis.ini 2>/dev/null &
tern=$!; pids+=("$tern")
sleep 1
NAMES="tern smsc-sim redis-server" run "redis, $binds binds" "$tern" "$sim" "$redis"
NAMES="tern smsc-sim redis-server" RATE=${REDIS_RATE:-4000} run "redis, $binds binds at ${REDIS_RATE:-4000}/s" "$tern" "$sim" "$redis"
