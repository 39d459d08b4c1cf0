#!/usr/bin/env bash
# TLS beside plain (issue 12): smpp-load -> tern -> smsc-sim and back on
# the memory store, every message asking for a receipt, as
# bench/receipts.sh, four ways: all plain; smpp-load over TLS to tern's
# tls_port; tern's connector over TLS to a TLS smsc-sim; both. The
# certificates (EC P-256, one CA) are made with docs/tls.md's openssl
# commands in a temporary directory. One labelled JSON line per run:
# messages/s with every receipt delivered, receipt latency, CPU time per
# message of tern, smsc-sim and smpp-load.
#   bash bench/receipts-tls.sh [count] [binds]
# NO_BUILD=1 skips the build.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-200000}
binds=${2:-4}
[ -n "${NO_BUILD:-}" ] || cargo build --locked --release -p tern -p smsc-sim -p smpp-load >&2
tck=$(getconf CLK_TCK)
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT

(
  cd "$dir"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout ca.key -out ca.pem -days 30 -subj "/CN=bench CA" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout key.pem -out server.csr -subj "/CN=localhost" 2>/dev/null
  printf 'subjectAltName = DNS:localhost, IP:127.0.0.1\n' > server.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
      -out cert.pem -days 30 -extfile server.ext 2>/dev/null
)

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run() { # label, smpp-load's port and options, then the pids to account
  local label=$1 port=$2 tls_opts=$3; shift 3
  local before=() p
  for p in "$@"; do before+=("$(ticks "$p")"); done
  local out
  # shellcheck disable=SC2086
  out=$( { /usr/bin/time -f 'LOADCPU %U %S' target/release/smpp-load --port "$port" $tls_opts \
      -u bench -p bench --binds "$binds" --window 64 --threads 1 --count "$count" --dlr --json; } 2>&1 )
  local after=()
  for p in "$@"; do after+=("$(ticks "$p")"); done
  LABEL=$label COUNT=$count TCK=$tck NAMES="tern smsc-sim" BEFORE="${before[*]}" AFTER="${after[*]}" OUT="$out" python3 bench/load_summary.py
}

start_tern() { # connector TLS keys; sets $tern
  cat > "$dir/tern.ini" <<INI
[smpp-server]
bind = 127.0.0.1
port = 27790
tls_port = 27794
tls_cert = $dir/cert.pem
tls_key = $dir/key.pem
[http-api]
port = 27791
[store]
backend = memory
[user:bench]
password = bench
max_binds = 16
[connector:sim]
host = 127.0.0.1
port = $1
username = u
password = p
window = 256
sessions = 2
$2
[mt-route:0]
type = default
connectors = sim
INI
  target/release/tern run -c "$dir/tern.ini" 2>/dev/null &
  tern=$!; pids+=("$tern")
  sleep 1
}

target/release/smsc-sim --port 27793 --threads 1 >/dev/null 2>&1 &
sim=$!; pids+=("$sim")
target/release/smsc-sim --port 27795 --threads 1 --tls-cert "$dir/cert.pem" --tls-key "$dir/key.pem" >/dev/null 2>&1 &
tls_sim=$!; pids+=("$tls_sim")
sleep 0.5
front="--tls-ca $dir/ca.pem --tls-name localhost"
upstream="tls = yes
tls_ca = $dir/ca.pem
tls_server_name = localhost"

start_tern 27793 ""
run "plain, $binds binds" 27790 "" "$tern" "$sim"
run "TLS front end, $binds binds" 27794 "$front" "$tern" "$sim"
kill "$tern"; wait "$tern" 2>/dev/null || true

start_tern 27795 "$upstream"
run "TLS connector, $binds binds" 27790 "" "$tern" "$tls_sim"
run "TLS front end and connector, $binds binds" 27794 "$front" "$tern" "$tls_sim"
kill "$tern"; wait "$tern" 2>/dev/null || true
