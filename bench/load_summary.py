"""The JSON summary of one smpp-load run for bench/receipts.sh and
bench/receipts-tls.sh: smpp-load's --json line and /usr/bin/time's LOADCPU
line in $OUT, the processes' CPU ticks before and after in $BEFORE/$AFTER
(named by $NAMES), $COUNT messages, $TCK ticks per second, $LABEL."""
import json, os
out = os.environ["OUT"].splitlines()
s = json.loads(next(l for l in out if l.startswith("{")))
u, sy = next(l for l in out if l.startswith("LOADCPU")).split()[1:]
n = int(os.environ["COUNT"]); tck = int(os.environ["TCK"])
cpu = {name: (int(a) - int(b)) / tck for name, b, a in zip(
    os.environ["NAMES"].split(), os.environ["BEFORE"].split(), os.environ["AFTER"].split())}
cpu["smpp-load"] = float(u) + float(sy)
print(json.dumps({
    "run": os.environ["LABEL"], "messages": n, "ok": s["ok"], "receipts": s["dlr_matched"],
    "lost": s["lost"], "duplicates": s["duplicates"],
    "messages_per_s_with_receipts": s["dlr_per_s"], "submit_per_s": s["submit_per_s"],
    "submit_resp_ms": {k: s["submit_latency_ms"][k] for k in ("p50", "p99", "max")},
    "receipt_latency_ms": {k: s["dlr_latency_ms"][k] for k in ("p50", "p99", "max")},
    "cpu_us_per_message": {k: round(v * 1e6 / n, 1) for k, v in cpu.items()},
    "cpu_us_per_message_total": round(sum(cpu.values()) * 1e6 / n, 1),
}))
