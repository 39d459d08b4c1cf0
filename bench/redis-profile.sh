#!/usr/bin/env bash
# What the redis store costs Redis per message (issue 13): one flat-out
# run of smpp-load -> tern (redis store) -> smsc-sim with every receipt,
# then Redis' own counters. Prints one JSON line: messages/s with every
# receipt, CPU µs per message of tern and of redis-server, the calls per
# message of each Redis command (INFO commandstats; the commands scripts
# run are counted too), and the append-only file's bytes per message.
#   bash bench/redis-profile.sh [count] [binds]
# Redis runs with AOF on (appendfsync everysec), as an operator runs it;
# REWRITE=no turns the automatic AOF rewrite off (its fork and child
# share the 2 cores: the difference is that cost). RATE=N paces the
# load at N messages/s (its latency figures are in the JSON too).
# NO_BUILD=1 skips the release build.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-100000}
binds=${2:-4}
[ -n "${NO_BUILD:-}" ] || cargo build --locked --release -p tern -p smsc-sim -p smpp-load >&2
pids=()
dir=$(mktemp -d)
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

target/release/smsc-sim --port 27783 --threads 1 >/dev/null 2>&1 &
pids+=($!)
rewrite=()
if [ "${REWRITE:-yes}" = no ]; then rewrite=(--auto-aof-rewrite-percentage 0); fi
redis-server --port 27782 --bind 127.0.0.1 --save '' --dir "$dir" \
  --appendonly yes --appendfsync everysec "${rewrite[@]}" >/dev/null &
redis=$!; pids+=("$redis")
for _ in $(seq 50); do redis-cli -p 27782 ping >/dev/null 2>&1 && break; sleep 0.1; done
target/release/tern run -c bench/tern-receipts-redis.ini 2>/dev/null &
tern=$!; pids+=("$tern")
sleep 1
redis-cli -p 27782 config resetstat >/dev/null
aof0=$(redis-cli -p 27782 info persistence | tr -d '\r' | awk -F: '$1 == "aof_current_size" {print $2}')
r0=$(ticks "$redis"); t0=$(ticks "$tern")
pace=()
if [ -n "${RATE:-}" ]; then pace=(--rate "$RATE"); fi
load=$(target/release/smpp-load --port 27780 -u bench -p bench --binds "$binds" --window 64 \
  --threads 1 --count "$count" "${pace[@]}" --dlr --json)
r1=$(ticks "$redis"); t1=$(ticks "$tern")
stats=$(redis-cli -p 27782 info commandstats | tr -d '\r')
persistence=$(redis-cli -p 27782 info persistence | tr -d '\r')
forks=$(redis-cli -p 27782 info stats | tr -d '\r' | grep -E '^(total_forks|latest_fork_usec):')
COUNT=$count TCK=$(getconf CLK_TCK) LOAD=$load STATS=$stats PERSIST=$persistence FORKS=$forks \
  AOF0=$aof0 R=$((r1 - r0)) T=$((t1 - t0)) REWRITE=${REWRITE:-yes} RATE=${RATE:-} python3 - <<'EOF'
import json, os
n = int(os.environ["COUNT"])
tck = int(os.environ["TCK"])
load = json.loads(os.environ["LOAD"])
calls = {}
for line in os.environ["STATS"].splitlines():
    if not line.startswith("cmdstat_"):
        continue
    name, rest = line[len("cmdstat_"):].split(":", 1)
    fields = dict(f.split("=") for f in rest.split(","))
    c = int(fields["calls"]) / n
    if c >= 0.005 and not name.startswith("config"):
        calls[name] = round(c, 3)
persist = dict(l.split(":", 1) for l in os.environ["PERSIST"].splitlines() if ":" in l)
forks = dict(l.split(":", 1) for l in os.environ["FORKS"].splitlines() if ":" in l)
aof_bytes = int(persist["aof_current_size"]) - int(os.environ["AOF0"])
out = {
    "run": f"redis profile, {load['binds']} binds" + (f" at {os.environ['RATE']}/s" if os.environ["RATE"] else ""),
    "aof_rewrite": os.environ["REWRITE"],
    "messages": n,
    "lost": load["lost"],
    "duplicates": load["duplicates"],
    "messages_per_s_with_receipts": load["dlr_per_s"],
    "submit_resp_ms": load.get("submit_latency_ms"),
    "receipt_latency_ms": load.get("dlr_latency_ms"),
    "cpu_us_per_message": {
        "tern": round(int(os.environ["T"]) * 1e6 / tck / n, 1),
        "redis-server": round(int(os.environ["R"]) * 1e6 / tck / n, 1),
    },
    "redis_calls_per_message": dict(sorted(calls.items(), key=lambda kv: -kv[1])),
    # Since the start of the run; after a rewrite the file starts again
    # from the rewritten base, so this is meaningful with REWRITE=no.
    "aof_bytes_per_message": round(aof_bytes / n, 1),
    "aof_rewrites": int(persist.get("aof_rewrites", 0)),
    "forks": int(forks.get("total_forks", 0)),
    "latest_fork_ms": round(int(forks.get("latest_fork_usec", 0)) / 1000, 2),
}
print(json.dumps(out))
EOF
