#!/usr/bin/env bash
# Run the npm-smpp baseline pair on loopback: smsc.js (server) + esme.js (load).
# Usage: ./run.sh [esme.js options...]   e.g. ./run.sh --binds 1 --window 64 --count 50000
# Env:   SMSC_DLR_DELAY_MS (receipt delay in the SMSC, default 0)
# Prints esme.js's single JSON line on stdout; exit status is esme.js's.
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -d node_modules/smpp ]; then
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

tmp=$(mktemp -d)
smsc_pid=
cleanup() {
  if [ -n "$smsc_pid" ] && kill -0 "$smsc_pid" 2>/dev/null; then
    kill "$smsc_pid" 2>/dev/null || true
    wait "$smsc_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

: >"$tmp/smsc.out"
# Port 0: the kernel picks a free loopback port; smsc.js reports it.
node smsc.js --host 127.0.0.1 --port 0 --dlr-delay-ms "${SMSC_DLR_DELAY_MS:-0}" \
  >"$tmp/smsc.out" 2>"$tmp/smsc.err" &
smsc_pid=$!

port=
for _ in $(seq 1 100); do
  if read -r tag _host p 2>/dev/null <"$tmp/smsc.out" && [ "$tag" = LISTENING ]; then
    port=$p
    break
  fi
  if ! kill -0 "$smsc_pid" 2>/dev/null; then break; fi
  sleep 0.05
done
if [ -z "$port" ]; then
  echo "run.sh: smsc.js did not start" >&2
  cat "$tmp/smsc.err" >&2
  exit 2
fi

rc=0
node esme.js --host 127.0.0.1 --port "$port" "$@" || rc=$?
if [ -s "$tmp/smsc.err" ]; then
  echo "run.sh: smsc.js stderr:" >&2
  cat "$tmp/smsc.err" >&2
fi
exit "$rc"
