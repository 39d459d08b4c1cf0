#!/usr/bin/env python3
"""Bind timing by kind (issue 14): how long tern takes to refuse a bind
for an unknown system_id, a wrong password of an argon2id user and a
wrong password of a plain-text user. Measured, not asserted.

Each bind is a bind_transceiver on a new TCP connection; the clock runs
from the PDU's last byte written to the response header read. Binds go
one at a time (no queueing behind argon2's permits), kinds interleaved
(unknown, wrong_phc, wrong_plain, unknown, ...) so drifts in the
machine's load fall on all kinds alike, each from the next of 200
source addresses 127.0.0.2..201 (a bench config may raise
bind_fail_limit as well). First WARMUP binds of each kind are dropped.
One JSON object on stdout: per kind n, mean, p50, p90, p99, min, max in
milliseconds, and the statuses answered.

    bind_timing.py PORT [COUNT]   (COUNT per kind, default 200)
"""
import json
import socket
import statistics
import struct
import sys
import time

BIND_TRANSCEIVER = 0x00000009
WARMUP = 10

KINDS = {
    "unknown_user": ("nosuchusr", "Wr0ngPw1"),
    "wrong_password_argon2id": ("hashed", "Wr0ngPw1"),
    "wrong_password_plain": ("plain", "Wr0ngPw1"),
}


def bind_pdu(seq, system_id, password):
    body = (system_id.encode() + b"\0" + password.encode() + b"\0"
            + b"\0" + bytes([0x34, 0, 0]) + b"\0")
    return struct.pack(">IIII", 16 + len(body), BIND_TRANSCEIVER, 0, seq) + body


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed before the bind response")
        buf += chunk
    return buf


def one_bind(port, source, system_id, password):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((source, 0))
    sock.settimeout(30)
    sock.connect(("127.0.0.1", port))
    pdu = bind_pdu(1, system_id, password)
    start = time.perf_counter()
    sock.sendall(pdu)
    header = read_exact(sock, 16)
    elapsed = time.perf_counter() - start
    length, _command, status, _seq = struct.unpack(">IIII", header)
    read_exact(sock, length - 16)
    sock.close()
    return elapsed * 1000.0, status


def percentile(sorted_values, q):
    i = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[i]


def main():
    port = int(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    times = {k: [] for k in KINDS}
    statuses = {k: {} for k in KINDS}
    n = 0
    for i in range(count + WARMUP):
        for kind, (system_id, password) in KINDS.items():
            source = "127.0.0.%d" % (2 + n % 200)
            n += 1
            ms, status = one_bind(port, source, system_id, password)
            key = "0x%08x" % status
            statuses[kind][key] = statuses[kind].get(key, 0) + 1
            if i >= WARMUP:
                times[kind].append(ms)
    out = {}
    for kind, values in times.items():
        s = sorted(values)
        out[kind] = {
            "n": len(s),
            "mean_ms": round(statistics.fmean(s), 3),
            "p50_ms": round(percentile(s, 0.50), 3),
            "p90_ms": round(percentile(s, 0.90), 3),
            "p99_ms": round(percentile(s, 0.99), 3),
            "min_ms": round(s[0], 3),
            "max_ms": round(s[-1], 3),
            "statuses": statuses[kind],
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
