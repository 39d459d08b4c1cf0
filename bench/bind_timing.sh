#!/usr/bin/env bash
# Bind timing, unknown user vs wrong password (issue 14): a release `tern
# run` (memory store, no connector) with user `hashed` (an argon2id hash
# made by `tern hash-password`, its default parameters) and user `plain`
# (plain text), bind_fail_limit raised so no cool-down starts; then
# bench/bind_timing.py times COUNT (200) refused binds of each kind and
# prints one JSON object (milliseconds per kind). Also prints tern's
# tern_password_verifications_total: one argon2 check per refused bind,
# whatever the kind.
#   bash bench/bind_timing.sh [count]
# NO_BUILD=1 skips the build.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-200}
smpp_port=27795
http_port=27796
[ -n "${NO_BUILD:-}" ] || cargo build --locked --release -p tern >&2
dir=$(mktemp -d)
trap 'kill "${tern:-}" 2>/dev/null || true; rm -rf "$dir"' EXIT
hash=$(printf '%s' 'G00dPw9x' | target/release/tern hash-password)
cat > "$dir/tern.ini" <<INI
[smpp-server]
bind = 127.0.0.1
port = $smpp_port
bind_fail_limit = 100000
[http-api]
bind = 127.0.0.1
port = $http_port
[store]
backend = memory
[log]
level = warn
[user:hashed]
password = $hash
[user:plain]
password = G00dPw9y
INI
target/release/tern run -c "$dir/tern.ini" 2>"$dir/tern.log" &
tern=$!
for _ in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/$smpp_port) 2>/dev/null && break
  sleep 0.1
done
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 bench/bind_timing.py "$smpp_port" "$count"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 - "$http_port" <<'PY' >&2
import sys, urllib.request
text = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1]).read().decode()
for line in text.splitlines():
    if line.startswith(("tern_password_verifications_total", "tern_bind_failures_total")):
        print(line)
PY
