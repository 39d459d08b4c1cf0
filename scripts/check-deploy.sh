#!/usr/bin/env bash
# `make check-deploy` (part of `make lint`): the files in deploy/ are sound.
#
# - `make install` into a temporary DESTDIR puts binary, unit and config
#   in place, and a second run keeps a config that is there;
# - the installed config passes `tern check-config`;
# - `systemd-analyze verify` accepts the installed unit (Debian's systemd
#   package; skipped, and said so, where it is not installed);
# - `promtool check config`, `check rules` and `test rules` pass on
#   deploy/prometheus (Debian's prometheus package, a 19 MB download, is
#   not installed by CI: skipped, and said so, where promtool is missing);
# - the Grafana dashboard is JSON, and every tern_* metric the alerts and
#   the dashboard use is one docs/metrics.md lists.
#
# TERN_BIN (default target/debug/tern, built if missing) is the binary
# installed.
set -euo pipefail
cd "$(dirname "$0")/.."

TERN_BIN=${TERN_BIN:-target/debug/tern}
if [ ! -x "$TERN_BIN" ]; then
    cargo build --locked -p tern
fi
fail() { echo "check-deploy: $*" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# make install, staged.
make --no-print-directory install DESTDIR="$stage" TERN_BIN="$TERN_BIN" >/dev/null
for f in usr/local/bin/tern etc/systemd/system/tern.service etc/tern/tern.ini; do
    [ -e "$stage/$f" ] || fail "make install did not put /$f"
done
[ -x "$stage/usr/local/bin/tern" ] || fail "/usr/local/bin/tern is not executable"
[ "$(stat -c %a "$stage/etc/tern/tern.ini")" = 640 ] || fail "/etc/tern/tern.ini is not mode 0640"
echo "; edited by the operator" >>"$stage/etc/tern/tern.ini"
make --no-print-directory install DESTDIR="$stage" TERN_BIN="$TERN_BIN" >/dev/null
grep -q "edited by the operator" "$stage/etc/tern/tern.ini" || fail "a second make install overwrote /etc/tern/tern.ini"
# PREFIX moves the binary and the unit follows.
make --no-print-directory install DESTDIR="$stage/p" PREFIX=/opt/tern TERN_BIN="$TERN_BIN" >/dev/null
grep -q '^ExecStart=/opt/tern/bin/tern run -c /etc/tern/tern.ini$' "$stage/p/etc/systemd/system/tern.service" \
    || fail "PREFIX=/opt/tern: the unit does not start /opt/tern/bin/tern"
echo "check-deploy: make install (DESTDIR, PREFIX, config kept): ok"

"$stage/usr/local/bin/tern" check-config -c deploy/tern.ini >/dev/null \
    || fail "deploy/tern.ini does not pass tern check-config"
echo "check-deploy: tern check-config deploy/tern.ini: ok"

if command -v systemd-analyze >/dev/null 2>&1; then
    # verify looks for the binaries the unit runs: point it at the staged one.
    mkdir -p "$stage/verify"
    sed "s#/usr/local/bin/tern#$stage/usr/local/bin/tern#g" "$stage/etc/systemd/system/tern.service" \
        >"$stage/verify/tern.service"
    out=$(systemd-analyze verify "$stage/verify/tern.service" 2>&1) || fail "systemd-analyze verify: $out"
    [ -z "$out" ] || fail "systemd-analyze verify warns: $out"
    echo "check-deploy: systemd-analyze verify deploy/tern.service: ok"
else
    echo "check-deploy: systemd-analyze not installed (Debian: systemd): unit not verified"
fi

if command -v promtool >/dev/null 2>&1; then
    promtool check config deploy/prometheus/prometheus.yml >/dev/null
    promtool check rules deploy/prometheus/tern-alerts.yml >/dev/null
    promtool test rules deploy/prometheus/tern-alerts.test.yml >/dev/null
    echo "check-deploy: promtool check config, check rules, test rules: ok"
else
    echo "check-deploy: promtool not installed (Debian: prometheus): alert rules not checked"
fi

python3 -m json.tool deploy/grafana/tern-dashboard.json >/dev/null || fail "deploy/grafana/tern-dashboard.json is not JSON"
if [ -e docs/metrics.md ]; then
    missing=""
    for m in $(grep -ohE '\btern_[a-z_]+' deploy/prometheus/tern-alerts.yml deploy/grafana/tern-dashboard.json \
        | sed -E 's/_(bucket|count|sum)$//' | sort -u); do
        grep -q "\b$m\b" docs/metrics.md || missing="$missing $m"
    done
    [ -z "$missing" ] || fail "metrics used in deploy/ but not in docs/metrics.md:$missing"
    echo "check-deploy: every metric deploy/ uses is in docs/metrics.md: ok"
else
    echo "check-deploy: no docs/metrics.md yet: metric names in deploy/ not checked"
fi
