#!/usr/bin/env python3
"""bench/crawl_floor.py: how fast any crawler can crawl a site, simulated.

    python3 bench/crawl_floor.py BASE LATENCY N [N ...]

A crawl learns a page's links only when the page has arrived, so with every
request held LATENCY seconds and N requests in flight the crawl is a chain
of round trips whose length depends on the link graph and on the order in
which the crawler sends the URLs it knows. This reads the graph of the site
at BASE (robots.txt honoured, <a href> links on the same host:port, each
request sent with ?delay=0 so that `weft serve --latency` does not hold it),
then simulates crawls of it where every request takes exactly LATENCY and
nothing else takes any time, and prints for each N:

  online  the median, over 15 orders in which same-instant replies are
          handled, of a crawler that sends URLs first in, first out, as
          soon as a slot is free: what a crawler that learns links by
          fetching them can expect (other online orders, last in first
          out, deepest first, random, were no better over 5 site seeds);
  oracle  a crawler that knows the whole graph in advance and sends first
          the URL with the longest chain of pages below it (a list
          schedule by height; not reachable by a real crawler).

Both count robots.txt as the first round trip. The figures are floors for
the wall time of `weft crawl` and `wget2 -r` on the same site: they leave
out process start, parsing, and the server's own time per request.
A benchmark aid, not a test: it asserts nothing."""

import heapq
import random
import re
import sys
import urllib.parse
import urllib.request
import urllib.robotparser
from collections import deque
from statistics import median

HREF = re.compile(r"<a\s[^>]*?href\s*=\s*[\"']([^\"']*)[\"']", re.I)


def read_graph(base, limit=100000):
    """Returns (root, {url: [linked urls in page order]}) of the pages reachable from
    base + "/" on base's host:port that robots.txt allows."""
    base = base.rstrip("/")
    host = urllib.parse.urlsplit(base).netloc

    def get(url):
        sep = "&" if "?" in url else "?"
        with urllib.request.urlopen(url + sep + "delay=0", timeout=10) as r:
            return r.read().decode("utf-8", "replace"), r.headers.get_content_type()

    rp = urllib.robotparser.RobotFileParser()
    try:
        rp.parse(get(base + "/robots.txt")[0].splitlines())
    except OSError:
        rp.parse([])
    root = base + "/"
    adj, q = {}, deque([root])
    seen = {root}
    while q and len(adj) < limit:
        url = q.popleft()
        try:
            body, ctype = get(url)
        except OSError:
            adj[url] = []
            continue
        out = []
        if ctype == "text/html":
            for href in HREF.findall(body):
                u = urllib.parse.urldefrag(urllib.parse.urljoin(url, href))[0]
                p = urllib.parse.urlsplit(u)
                if p.scheme != "http" or p.netloc != host or not rp.can_fetch("*", u):
                    continue
                out.append(u)
                if u not in seen:
                    seen.add(u)
                    q.append(u)
        adj[url] = out
    return root, adj


def heights(root, adj):
    """Longest chain of first discoveries below each page (breadth-first depths)."""
    depth, q = {root: 0}, deque([root])
    while q:
        u = q.popleft()
        for v in adj.get(u, []):
            if v not in depth:
                depth[v] = depth[u] + 1
                q.append(v)
    h = {}
    for u in sorted(depth, key=lambda x: -depth[x]):
        h[u] = 1 + max([h[v] for v in adj.get(u, []) if depth.get(v) == depth[u] + 1] or [0])
    return h


def simulate(root, adj, n, order_seed, height=None):
    """Rounds (request times) to crawl everything with n requests in flight,
    robots.txt first. Same-instant replies are handled in a random order
    (order_seed); URLs go out first in, first out, or by height when given."""
    rng = random.Random(order_seed)
    t, seq = 1, 0
    ready, running, seen = [], [], {root}

    def push(u):
        nonlocal seq
        seq += 1
        heapq.heappush(ready, ((-height[u], seq) if height else (seq,), u))

    push(root)
    end = t
    while ready or running:
        while ready and len(running) < n:
            _, u = heapq.heappop(ready)
            heapq.heappush(running, (t + 1, rng.random(), u))
        t, _, u = heapq.heappop(running)
        end = t
        for v in adj.get(u, []):
            if v not in seen:
                seen.add(v)
                push(v)
    return end


def floors(base, latency, ns, orders=15):
    """{n: (online seconds, oracle seconds)} for the site at base."""
    root, adj = read_graph(base)
    h = heights(root, adj)
    out = {}
    for n in ns:
        online = median(simulate(root, adj, n, s) for s in range(orders))
        oracle = simulate(root, adj, n, 0, h)
        out[n] = (online * latency, oracle * latency)
    return out


def main(argv):
    if len(argv) < 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    base, latency, ns = argv[0], float(argv[1]), [int(x) for x in argv[2:]]
    for n, (online, oracle) in floors(base, latency, ns).items():
        print(f"{n} workers: online {online:.2f} s, oracle {oracle:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
