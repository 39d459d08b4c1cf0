#!/usr/bin/env bash
# Soak (issue 14): smpp-load -> tern (redis store) -> smsc-sim and back at
# a steady rate with every receipt, for MINUTES, with tern's RSS (and
# Redis's) sampled every 10 s. Redis runs as docs/operations.md says
# (AOF on, appendfsync everysec, auto-aof-rewrite-min-size 2gb).
# Writes docs/soak/soak-redis.csv (one sample per line: RSS, and whether
# Redis was rewriting its AOF, its keys and its estimate of expired keys
# not yet reclaimed), docs/soak/soak-latency.csv (smpp-load --intervals:
# submit and receipt latency per 10 s window) and, when gnuplot is
# installed, docs/soak/soak-redis.png and soak-latency.png; prints one
# JSON line: the load's
# summary (submit_sm_resp and receipt latency over the whole run, lost,
# duplicates) and tern's RSS trend (least-squares slope after the first
# minute, in KB per minute, and the change it predicts over the run as a
# share of the mean), and how many windows had a receipt p99 over the
# 20 ms goal (and how many of those saw an AOF rewrite).
#   bash bench/soak.sh [minutes] [rate]
# tern runs bench/tern-soak-redis.ini (10 minutes of message states, as
# an operator at this rate would keep; INI= another); REWRITE=no turns
# Redis' automatic AOF rewrite off. NO_BUILD=1 skips the release build.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-30}
rate=${2:-5000}
out=docs/soak
mkdir -p "$out"
[ -n "${NO_BUILD:-}" ] || cargo build --locked --release -p tern -p smsc-sim -p smpp-load >&2
dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

target/release/smsc-sim --port 27783 --threads 1 >/dev/null 2>&1 &
pids+=($!)
rewrite=(--auto-aof-rewrite-min-size 2gb)
if [ "${REWRITE:-yes}" = no ]; then rewrite=(--auto-aof-rewrite-percentage 0); fi
redis-server --port 27782 --bind 127.0.0.1 --save '' --dir "$dir" --appendonly yes \
  --appendfsync everysec "${rewrite[@]}" >/dev/null &
redis=$!; pids+=("$redis")
for _ in $(seq 50); do redis-cli -p 27782 ping >/dev/null 2>&1 && break; sleep 0.1; done
target/release/tern run -c "${INI:-bench/tern-soak-redis.ini}" 2>"$dir/tern.log" &
tern=$!; pids+=("$tern")
sleep 1

target/release/smpp-load --port 27780 -u bench -p bench --binds 4 --window 64 --threads 1 \
  --duration $((minutes * 60)) --rate "$rate" --dlr --json --intervals "$out/soak-latency.csv" \
  >"$dir/load.json" 2>"$dir/load.log" &
load=$!; pids+=("$load")
start=$SECONDS
# INFO field $1 of Redis (empty when it does not answer).
info() { redis-cli -p 27782 info 2>/dev/null | tr -d '\r' | awk -F: -v k="$1" '$1 == k {print $2}'; }
keys() { redis-cli -p 27782 dbsize 2>/dev/null || true; }
echo "seconds,tern_rss_kb,redis_rss_kb,aof_rewriting,redis_keys,expired_stale_perc" >"$out/soak-redis.csv"
while kill -0 "$load" 2>/dev/null; do
  echo "$((SECONDS - start)),$(rss_kb "$tern"),$(rss_kb "$redis"),$(info aof_rewrite_in_progress),$(keys),$(info expired_stale_perc)" \
    >>"$out/soak-redis.csv"
  sleep 10
done
wait "$load" || { echo "soak: smpp-load failed; see $dir/load.log" >&2; exit 1; }
kill -0 "$tern" || { echo "soak: tern died; see $dir/tern.log" >&2; exit 1; }

if command -v gnuplot >/dev/null; then
  gnuplot <<EOF
set terminal pngcairo size 900,500
set output "$out/soak-redis.png"
set datafile separator ","
set title "tern RSS, ${minutes} min at ${rate} msg/s with receipts (redis store)"
set xlabel "seconds"
set ylabel "tern RSS (MB)"
set y2label "redis-server RSS (MB)"
set ytics nomirror
set y2tics
set key left top
plot "$out/soak-redis.csv" every ::1 using 1:(\$2/1024) with lines title "tern" axis x1y1, \
     "" every ::1 using 1:(\$3/1024) with lines title "redis-server" axis x1y2
set output "$out/soak-latency.png"
set termoption noenhanced
set xrange [0:*]
set title "latency per 10 s window, ${minutes} min at ${rate} msg/s (redis store); bars: AOF rewrite"
set ylabel "p99 (ms, log)"
set logscale y
unset y2label
unset y2tics
set style fill transparent solid 0.25 noborder
plot "$out/soak-redis.csv" every ::1 using 1:(\$4 > 0 ? 100000 : 1/0):(10) with boxes lc rgb "grey" title "AOF rewrite", \
     "$out/soak-latency.csv" every ::1 using 1:8 with lines title "receipt p99", \
     "" every ::1 using 1:4 with lines title "submit_sm_resp p99", \
     20 with lines dt 2 title "goal (receipt p99 20 ms)"
EOF
fi

INI="${INI:-bench/tern-soak-redis.ini}" REWRITE="${REWRITE:-yes}" \
MINUTES=$minutes RATE=$rate CSV="$out/soak-redis.csv" LAT="$out/soak-latency.csv" \
  LOAD="$(cat "$dir/load.json")" \
  LOADAVG="$(cut -d' ' -f1-3 /proc/loadavg)" python3 - <<'EOF'
import csv, json, os
rows = [(int(r["seconds"]), int(r["tern_rss_kb"]), int(r["redis_rss_kb"]))
        for r in csv.DictReader(open(os.environ["CSV"]))]
tail = [r for r in rows if r[0] >= 60] or rows
xs = [r[0] / 60 for r in tail]
ys = [r[1] for r in tail]
n = len(xs)
mx, my = sum(xs) / n, sum(ys) / n
sxx = sum((x - mx) ** 2 for x in xs)
slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
span = (xs[-1] - xs[0]) if n > 1 else 0
load = json.loads(os.environ["LOAD"])
# Windows whose receipt p99 missed the goal, and those that overlapped a
# sample (taken every 10 s) that saw Redis rewriting its AOF.
rewriting = [int(r["seconds"]) for r in csv.DictReader(open(os.environ["CSV"]))
             if r.get("aof_rewriting") == "1"]
windows = [r for r in csv.DictReader(open(os.environ["LAT"])) if r["receipt_p99_ms"]]
over = [r for r in windows if float(r["receipt_p99_ms"]) > 20.0]
near_rewrite = [r for r in over
                if any(abs(float(r["seconds"]) - t) <= 15 for t in rewriting)]
print(json.dumps({
    "run": f"soak, redis, {os.environ['MINUTES']} min at {os.environ['RATE']}/s",
    "messages": load["sent"], "ok": load["ok"], "receipts": load["dlr_received"],
    "lost": load["lost"], "duplicates": load["duplicates"],
    "submit_resp_ms": load["submit_latency_ms"], "receipt_latency_ms": load["dlr_latency_ms"],
    "samples": len(rows),
    "tern_rss_kb": {"first": rows[0][1], "min": min(r[1] for r in rows),
                    "max": max(r[1] for r in rows), "last": rows[-1][1]},
    "tern_rss_slope_kb_per_min": round(slope, 1),
    "tern_rss_trend_share_of_mean": round(slope * span / my, 4) if my else 0,
    "redis_rss_kb": {"first": rows[0][2], "max": max(r[2] for r in rows), "last": rows[-1][2]},
    "windows": len(windows), "windows_receipt_p99_over_20ms": len(over),
    "of_those_near_an_aof_rewrite": len(near_rewrite),
    "samples_rewriting": len(rewriting),
    "ini": os.environ["INI"], "aof_rewrite": os.environ["REWRITE"],
    "loadavg_end": os.environ["LOADAVG"],
}))
EOF
