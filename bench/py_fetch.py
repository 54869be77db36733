#!/usr/bin/env python3
"""bench/py_fetch.py: the peer of `weft fetch` from the seeds: requests +
ThreadPoolExecutor, one requests.Session per worker thread (keep-alive, as
weft's per-worker curl handle).

    python3 bench/py_fetch.py URLFILE [workers]

Exit status 1 when some URL failed."""

import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import requests

local = threading.local()


def get(url):
    s = getattr(local, "s", None)
    if s is None:
        s = local.s = requests.Session()
    r = s.get(url, timeout=30)
    return r.status_code, len(r.content)


def main():
    urls = [line.strip() for line in open(sys.argv[1]) if line.strip()]
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    with ThreadPoolExecutor(max_workers=workers) as ex:
        results = list(ex.map(get, urls))
    return 1 if any(code >= 400 for code, _ in results) else 0


if __name__ == "__main__":
    sys.exit(main())
