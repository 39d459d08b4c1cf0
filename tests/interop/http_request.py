#!/usr/bin/env python3
"""One HTTP request with Python's urllib (a client nobody on this project
wrote), as a Jasmin user's client makes it. Reads a JSON request on stdin:
{"method", "url", "body" (text, optional), "headers" (object, optional),
"basic" ([user, password], optional: HTTP Basic auth, encoded here)};
prints one JSON line: {"status", "headers", "body"}."""
import base64
import json
import sys
import urllib.error
import urllib.request

req = json.load(sys.stdin)
data = req.get("body")
headers = req.get("headers", {})
if req.get("basic"):
    token = base64.b64encode(":".join(req["basic"]).encode()).decode()
    headers["Authorization"] = "Basic " + token
r = urllib.request.Request(
    req["url"],
    data=data.encode() if data is not None else None,
    method=req.get("method", "GET"),
    headers=headers,
)
try:
    with urllib.request.urlopen(r, timeout=20) as resp:
        out = {"status": resp.status, "headers": dict(resp.headers), "body": resp.read().decode()}
except urllib.error.HTTPError as e:
    out = {"status": e.code, "headers": dict(e.headers), "body": e.read().decode()}
print(json.dumps(out))
