#!/usr/bin/env bash
# The HTTP API's /send (issue 11): wrk (Debian's) with keep-alive on
# loopback -> tern -> smsc-sim, for the memory and the redis store (the
# receipts bench's configs: user bench, one connector to smsc-sim).
# Each /send is a whole submit: credentials, validation, routing, the
# store; the simulator answers and sends receipts, which tern queues for
# the user (nobody binds, so they wait in the store). Prints wrk's
# summary and a JSON line per store: /send per second, latency p50/p99,
# non-2xx answers, CPU µs per /send of tern, smsc-sim, redis and wrk.
#   bash bench/http.sh [seconds] [connections]
# BACKENDS="memory" (or "redis") runs one; NO_BUILD=1 skips the build.
# CALLBACKS=1: every /send asks for its receipt at a dlr-url (level 2) on
# http-sink (smpp-load's, counting and answering 200): after wrk, waits
# until every receipt was called back, and adds callbacks, callbacks per
# second (over wrk's time and the drain after it), the drain's seconds
# and http-sink's CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-64}
command -v wrk >/dev/null || { echo "bench/http.sh needs wrk (apt-get install wrk)" >&2; exit 1; }
[ -n "${NO_BUILD:-}" ] || cargo build --locked --release -p tern -p smsc-sim -p smpp-load >&2
tck=$(getconf CLK_TCK)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
url='http://127.0.0.1:27781/send?username=bench&password=bench&to=447700900123&from=Tern&content=Hello%20from%20wrk&dlr=yes'
sinkout=$(mktemp)
if [ -n "${CALLBACKS:-}" ]; then
  url="$url&dlr-level=2&dlr-url=http%3A%2F%2F127.0.0.1%3A27790%2Fdlr"
  target/release/http-sink --port 27790 >"$sinkout" &
  sink=$!; pids+=("$sink")
fi
calls() { # http-sink's count now
  local n; n=$(wc -l <"$sinkout"); kill -USR1 "$sink"
  while [ "$(wc -l <"$sinkout")" -le "$n" ]; do sleep 0.05; done
  tail -1 "$sinkout" | python3 -c 'import json,sys; print(json.load(sys.stdin)["calls"])'
}
run() { # label, then pids to account
  local label=$1; shift
  local before=() p calls0=0 calls1=0 drain=0
  [ -z "${CALLBACKS:-}" ] || { set -- "$@" "$sink"; NAMES="$NAMES http-sink"; calls0=$(calls); }
  for p in "$@"; do before+=("$(ticks "$p")"); done
  local out
  out=$( { /usr/bin/time -f 'WRKCPU %U %S' wrk -t1 -c"$conns" -d"${secs}s" --latency "$url"; } 2>&1 )
  echo "$out" >&2
  if [ -n "${CALLBACKS:-}" ]; then
    local sent t0; sent=$(echo "$out" | sed -n 's/.* \([0-9]*\) requests in.*/\1/p'); t0=$(date +%s%N)
    while calls1=$(calls); [ $((calls1 - calls0)) -lt "$sent" ]; do
      [ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 120000 ] || break
      sleep 0.2
    done
    drain=$(( ($(date +%s%N) - t0) / 1000000 ))
  fi
  local after=()
  for p in "$@"; do after+=("$(ticks "$p")"); done
  CALLBACKS=${CALLBACKS:-} CALLS=$((calls1 - calls0)) DRAIN=$drain SECS=$secs \
  LABEL=$label TCK=$tck NAMES="$NAMES" BEFORE="${before[*]}" AFTER="${after[*]}" OUT="$out" python3 - <<'PY'
import json, os, re
out = os.environ["OUT"]
total = int(re.search(r"(\d+) requests in", out).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
def ms(label):
    m = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", out)
    v, unit = float(m.group(1)), m.group(2)
    return round(v / 1000 if unit == "us" else v * 1000 if unit == "s" else v, 3)
u, sy = re.search(r"WRKCPU ([\d.]+) ([\d.]+)", out).groups()
tck = int(os.environ["TCK"])
cpu = {n: (int(a) - int(b)) / tck for n, b, a in zip(
    os.environ["NAMES"].split(), os.environ["BEFORE"].split(), os.environ["AFTER"].split())}
cpu["wrk"] = float(u) + float(sy)
summary = {"run": os.environ["LABEL"], "requests": total, "send_per_s": rps,
    "non_2xx": non2xx, "latency_ms": {"p50": ms(50), "p99": ms(99)},
    "cpu_us_per_send": {k: round(v * 1e6 / max(total, 1), 1) for k, v in cpu.items()}}
if os.environ.get("CALLBACKS"):
    calls, drain = int(os.environ["CALLS"]), int(os.environ["DRAIN"]) / 1000
    summary["callbacks"] = calls
    summary["callbacks_per_s"] = round(calls / (float(os.environ["SECS"]) + drain), 1)
    summary["drain_s"] = round(drain, 2)
print(json.dumps(summary))
PY
}

target/release/smsc-sim --port 27783 --threads 1 >/dev/null 2>&1 &
sim=$!; pids+=("$sim")
sleep 0.5
backends=${BACKENDS:-memory redis}
if [[ " $backends " == *" memory "* ]]; then
  target/release/tern run -c bench/tern-receipts-memory.ini 2>/dev/null &
  tern=$!; pids+=("$tern")
  sleep 1
  NAMES="tern smsc-sim" run "memory, $conns connections" "$tern" "$sim"
  kill "$tern"; wait "$tern" 2>/dev/null || true
fi
[[ " $backends " == *" redis "* ]] || exit 0
redis-server --port 27782 --bind 127.0.0.1 --save '' --appendonly no >/dev/null &
redis=$!; pids+=("$redis")
sleep 0.5
target/release/tern run -c bench/tern-receipts-redis.ini 2>/dev/null &
tern=$!; pids+=("$tern")
sleep 1
NAMES="tern smsc-sim redis-server" run "redis, $conns connections" "$tern" "$sim" "$redis"
