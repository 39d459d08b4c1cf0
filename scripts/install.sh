#!/usr/bin/env bash
# `make install`: the tern binary, its systemd unit and an example
# configuration (docs/operations.md).
#
#   PREFIX      /usr/local        the binary goes to $PREFIX/bin/tern
#   SYSCONFDIR  /etc              the configuration to $SYSCONFDIR/tern/tern.ini
#   UNITDIR     /etc/systemd/system
#   DESTDIR     (empty)           a staging root (packaging, tests): files go
#                                 under it; no user is made, systemd is not told
#   TERN_BIN    target/release/tern   the binary to install
#
# The configuration is installed only when none is there: an existing
# /etc/tern/tern.ini is never overwritten. Run as root outside DESTDIR, it
# also makes the system user `tern` (no login, no home) and runs
# `systemctl daemon-reload`.
set -euo pipefail
cd "$(dirname "$0")/.."

PREFIX=${PREFIX:-/usr/local}
SYSCONFDIR=${SYSCONFDIR:-/etc}
UNITDIR=${UNITDIR:-/etc/systemd/system}
DESTDIR=${DESTDIR:-}
TERN_BIN=${TERN_BIN:-target/release/tern}

bindir="$PREFIX/bin"
confdir="$SYSCONFDIR/tern"
as_root=no
if [ -z "$DESTDIR" ] && [ "$(id -u)" = 0 ]; then as_root=yes; fi

[ -x "$TERN_BIN" ] || { echo "install: $TERN_BIN is not built (make install builds it)" >&2; exit 1; }

install -d -m 0755 "$DESTDIR$bindir" "$DESTDIR$UNITDIR"
install -m 0755 "$TERN_BIN" "$DESTDIR$bindir/tern"
echo "install: $DESTDIR$bindir/tern"

# The unit names the paths chosen here.
unit=$(mktemp)
trap 'rm -f "$unit"' EXIT
sed -e "s#/usr/local/bin/tern#$bindir/tern#g" -e "s#/etc/tern#$confdir#g" deploy/tern.service >"$unit"
install -m 0644 "$unit" "$DESTDIR$UNITDIR/tern.service"
echo "install: $DESTDIR$UNITDIR/tern.service"

if [ "$as_root" = yes ] && ! getent passwd tern >/dev/null; then
    useradd --system --user-group --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin --comment "Tern SMS gateway" tern
    echo "install: made the system user tern"
fi

# The configuration holds secrets: readable by root and the tern group only.
install -d -m 0750 "$DESTDIR$confdir"
if [ -e "$DESTDIR$confdir/tern.ini" ]; then
    echo "install: $DESTDIR$confdir/tern.ini exists: kept (the example is deploy/tern.ini)"
else
    install -m 0640 deploy/tern.ini "$DESTDIR$confdir/tern.ini"
    echo "install: $DESTDIR$confdir/tern.ini (an example: edit it, then tern check-config)"
fi
if [ "$as_root" = yes ]; then
    chown root:tern "$confdir" "$confdir/tern.ini"
    if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
    echo "install: next: edit $confdir/tern.ini, then systemctl enable --now tern"
fi
