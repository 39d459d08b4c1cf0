#!/usr/bin/env bash
# What tern's memory costs (issue 13): RSS (VmRSS of /proc/PID/status) per
# idle bind and per message waiting for a connector that is down. On
# loopback; stops by itself. One release `tern run` with
# bench/tern-memory-rss.ini (memory store, user `bench` without limits,
# max_binds 20000, connector `down` at a port where nothing listens):
#  1. RSS idle; then BINDS (10000) transceivers bound at once by one
#     smpp-load (--count 0 --hold: they bind and stay idle, their sessions
#     answering enquire_link); RSS once tern counts them all bound
#     (tern_binds) and again IDLE_S (10) seconds later: KB per bind. Then
#     they unbind (SIGINT ends the hold) and RSS is read once more.
#  0. First, BINDS (10000) TCP connections that never bind (issue 14),
#     held open by one python process; RSS once tern counts them all
#     (tern_connections) and 5 s later, then they close
#     (sessionInitTimerSecs is 600 s in the bench's configuration).
#  2. In a fresh tern, MESSAGES (1000000) submit_sm of a 100-character GSM text with
#     registered_delivery 1, over 4 binds, all accepted and waiting in the
#     down connector's queue (tern_queue_depth); RSS growth per message in
#     bytes, right after the last response and SETTLE_S (5) seconds later.
# One JSON line per measurement on stdout.
#   bash bench/memory.sh [binds] [messages]
# NO_BUILD=1 skips the build; SMAPS=1 adds tern's /proc/PID/smaps_rollup
# at the end (stderr). Logs of tern and smpp-load go to a temporary
# directory, removed after a run that succeeds.
set -euo pipefail
cd "$(dirname "$0")/.."
binds=${1:-10000}
messages=${2:-1000000}
idle_s=${IDLE_S:-10}
settle_s=${SETTLE_S:-5}
smpp_port=27790
http_port=27791
down_port=27793
text="Your Tern verification code is 482913. It expires in 10 minutes; never share it with anyone. Ref 7Q2X"

[ -n "${NO_BUILD:-}" ] || cargo build --locked --release -p tern -p smpp-load >&2

# One socket per bind on each side (each its own process), plus tern's
# listeners, store and logs.
need=$((binds + 256))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
  hard=$(ulimit -Hn)
  if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
    echo "memory.sh: $binds binds need ulimit -n $need; the hard limit is $hard" >&2
    exit 1
  fi
  ulimit -n "$need"
fi
for p in $smpp_port $http_port $down_port; do
  if ss -Htln "sport = :$p" | grep -q .; then
    echo "memory.sh: port $p is in use" >&2
    exit 1
  fi
done
read -r lo hi < /proc/sys/net/ipv4/ip_local_port_range
if [ $((hi - lo)) -lt "$binds" ]; then
  echo "memory.sh: $binds binds need as many ephemeral ports; $lo-$hi has fewer" >&2
  exit 1
fi

logs=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
anon_kb() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status"; }
# The sum of a metric's samples in tern's /metrics (0 when absent).
metric() {
  curl -sf "http://127.0.0.1:$http_port/metrics" |
    awk -v m="$1" '$1 == m || index($1, m "{") == 1 {s += $2} END {print s + 0}'
}
# Wait up to $3 seconds for metric $1 to equal $2.
wait_metric() {
  local deadline=$((SECONDS + $3)) v
  while :; do
    v=$(metric "$1")
    [ "$v" = "$2" ] && return 0
    if [ $SECONDS -ge $deadline ]; then
      echo "memory.sh: $1 is $v after $3 s, expected $2" >&2
      return 1
    fi
    sleep 0.2
  done
}
# One JSON line: label, items, RSS and RssAnon before and now (KB), unit
# ("KB per bind" or "bytes per message"), goal in that unit, extra fields.
emit() {
  LABEL=$1 ITEMS=$2 RSS0=$3 ANON0=$4 RSS1=$5 ANON1=$6 UNIT=$7 GOAL=$8 EXTRA=${9:-"{}"} \
    LOAD="$(cut -d' ' -f1-3 /proc/loadavg)" python3 - <<'EOF'
import json, os
e = os.environ
n = int(e["ITEMS"]); r0, a0, r1, a1 = (int(e[k]) for k in ("RSS0", "ANON0", "RSS1", "ANON1"))
scale = 1 if e["UNIT"] == "kb_per_bind" else 1024
per = (r1 - r0) * scale / n
line = {"run": e["LABEL"], "items": n, "rss_kb_before": r0, "rss_kb_after": r1,
        "rss_anon_kb_before": a0, "rss_anon_kb_after": a1,
        e["UNIT"]: round(per, 2), e["UNIT"] + "_anon": round((a1 - a0) * scale / n, 2),
        "goal": float(e["GOAL"]), "met": per <= float(e["GOAL"]),
        "loadavg": e["LOAD"]}
line.update(json.loads(e["EXTRA"]))
print(json.dumps(line))
EOF
}

# A fresh tern in $tern, its HTTP API up and settled.
start_tern() {
  target/release/tern run -c bench/tern-memory-rss.ini 2>>"$logs/tern.log" &
  tern=$!; pids+=("$tern")
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$http_port/health" >/dev/null 2>&1 && break
    sleep 0.1
  done
  sleep 2
}
# SIGKILL: on SIGTERM a memory store waits up to 30 s for the connector
# to send its queue, and this one never comes up.
stop_tern() { kill -KILL "$tern"; wait "$tern" 2>/dev/null || true; }

# 0. Connections that never bind, in their own tern.
start_tern
rss0=$(rss_kb "$tern"); anon0=$(anon_kb "$tern")
python3 - "$smpp_port" "$binds" > "$logs/holder.out" <<'PY' &
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
print("open", flush=True)
time.sleep(3600)
PY
holder=$!; pids+=("$holder")
wait_metric 'tern_connections{listener="smpp"}' "$binds" 120
rss1=$(rss_kb "$tern"); anon1=$(anon_kb "$tern")
emit "$binds connections that never bind, all open" "$binds" "$rss0" "$anon0" "$rss1" "$anon1" kb_per_bind 30
sleep 5
rss2=$(rss_kb "$tern"); anon2=$(anon_kb "$tern")
emit "$binds connections that never bind, 5 s later" "$binds" "$rss0" "$anon0" "$rss2" "$anon2" kb_per_bind 30
kill "$holder"; wait "$holder" 2>/dev/null || true
wait_metric 'tern_connections{listener="smpp"}' 0 60
stop_tern

# 1. Idle binds.
start_tern
rss0=$(rss_kb "$tern"); anon0=$(anon_kb "$tern")
target/release/smpp-load --port $smpp_port -u bench -p bench --binds "$binds" --count 0 \
  --hold 3600 --threads 2 --json >/dev/null 2>"$logs/smpp-load.log" &
load=$!; pids+=("$load")
t0=$SECONDS
wait_metric tern_binds "$binds" 300
bind_s=$((SECONDS - t0))
rss1=$(rss_kb "$tern"); anon1=$(anon_kb "$tern")
emit "$binds idle binds, all bound" "$binds" "$rss0" "$anon0" "$rss1" "$anon1" kb_per_bind 30 \
  "{\"seconds_to_bind\": $bind_s}"
sleep "$idle_s"
[ "$(metric tern_binds)" = "$binds" ] || { echo "memory.sh: binds dropped while idle" >&2; exit 1; }
rss2=$(rss_kb "$tern"); anon2=$(anon_kb "$tern")
emit "$binds idle binds, after ${idle_s} s idle" "$binds" "$rss0" "$anon0" "$rss2" "$anon2" kb_per_bind 30
kill -INT "$load"
wait "$load" || { echo "memory.sh: smpp-load (idle binds) failed; see $logs/smpp-load.log" >&2; exit 1; }
wait_metric tern_binds 0 60
sleep 2
rss_closed=$(rss_kb "$tern"); anon_closed=$(anon_kb "$tern")
emit "$binds binds closed again (what the allocator keeps)" "$binds" "$rss0" "$anon0" "$rss_closed" "$anon_closed" \
  kb_per_bind 30

stop_tern

# 2. Messages waiting for a connector that is down, in a fresh tern: the
# allocator keeps what the closed sessions freed (it is reused, not
# returned at once), and the messages would fill it unseen.
start_tern
rss3=$(rss_kb "$tern"); anon3=$(anon_kb "$tern")
out=$(target/release/smpp-load --port $smpp_port -u bench -p bench --binds 4 --window 64 \
  --threads 1 --count "$messages" --dlr --dlr-timeout 0 --text "$text" --json 2>>"$logs/smpp-load.log") ||
  [ $? -eq 2 ] # exit 2: no receipt came, as the connector is down
ok=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["ok"])' "$out")
if [ "$ok" != "$messages" ]; then
  echo "memory.sh: $ok of $messages accepted: $out" >&2
  exit 1
fi
wait_metric tern_queue_depth "$messages" 30
rss4=$(rss_kb "$tern"); anon4=$(anon_kb "$tern")
rate=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["submit_per_s"])' "$out")
emit "$messages messages waiting, after the last response" "$messages" "$rss3" "$anon3" "$rss4" "$anon4" \
  bytes_per_message 1024 "{\"text_chars\": ${#text}, \"submit_per_s\": $rate}"
sleep "$settle_s"
rss5=$(rss_kb "$tern"); anon5=$(anon_kb "$tern")
emit "$messages messages waiting, after ${settle_s} s" "$messages" "$rss3" "$anon3" "$rss5" "$anon5" \
  bytes_per_message 1024 "{\"queue_depth\": $(metric tern_queue_depth)}"
if [ -n "${SMAPS:-}" ]; then
  grep -E '^(Rss|Anonymous|Private_Dirty)' "/proc/$tern/smaps_rollup" >&2
fi
stop_tern
rm -r "$logs"
