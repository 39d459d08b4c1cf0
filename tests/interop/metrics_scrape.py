#!/usr/bin/env python3
"""Prometheus text read by a parser nobody on this project wrote:
prometheus_client's text_string_to_metric_families (PyPI), over urllib.

  metrics_scrape.py scrape URL
      GET URL; prints one JSON line: {"status", "content_type",
      "types": {family: type}, "samples": {"name{k=\"v\",...}": value}}
      (labels sorted by name).
  metrics_scrape.py random-paths BASE N
      N GETs to random paths under BASE; prints {"statuses": {code: count}}.
"""
import json
import random
import string
import sys
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=20) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


def key(name, labels):
    inner = ",".join('%s="%s"' % (k, labels[k]) for k in sorted(labels))
    return "%s{%s}" % (name, inner) if inner else name


def scrape(url):
    status, content_type, body = get(url)
    types, samples = {}, {}
    for family in text_string_to_metric_families(body):
        types[family.name] = family.type
        for s in family.samples:
            samples[key(s.name, s.labels)] = s.value
    return {"status": status, "content_type": content_type, "types": types, "samples": samples}


def random_paths(base, n):
    statuses = {}
    for _ in range(n):
        depth = random.randint(1, 3)
        path = "/".join(
            "".join(random.choices(string.ascii_lowercase + string.digits, k=random.randint(1, 12)))
            for _ in range(depth)
        )
        status, _, _ = get("%s/%s?x=%d" % (base, path, random.randint(0, 10**9)))
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    return {"statuses": statuses}


if __name__ == "__main__":
    if sys.argv[1] == "scrape":
        out = scrape(sys.argv[2])
    elif sys.argv[1] == "random-paths":
        out = random_paths(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit("usage: metrics_scrape.py scrape URL | random-paths BASE N")
    print(json.dumps(out))
