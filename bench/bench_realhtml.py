#!/usr/bin/env python3
"""bench_realhtml.py: weft crawl against wget2 -r on real documentation trees.

Debian's postgresql-doc-15 and libglib2.0-doc are served by `weft serve
--dir` on loopback with 100 ms of latency per request. Both crawlers start
at the tree's index, go 3 levels deep with 20 requests in flight, robots.txt
off, compression on (both send Accept-Encoding by default). Runs alternate
between the clients; each figure is the median of the runs. Printed per
corpus: HTML pages found (status 200, text/html), wall seconds, CPU seconds
(user + system), peak RSS, bytes each writes (weft: its JSON records; wget2:
the mirrored files), and weft's figure as a ratio of wget2's.

A benchmark, not a test: it asserts nothing.

Usage: bench/bench_realhtml.py path/to/weft [runs]
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

CORPORA = [
    ("postgresql-doc-15", "/usr/share/doc/postgresql-doc-15/html", "/index.html"),
    ("libglib2.0-doc", "/usr/share/gtk-doc/html", "/glib/index.html"),
]
DEPTH, JOBS, LATENCY = 3, 20, 0.1


def timed(cmd, stdout):
    """Runs cmd under GNU time: (wall, cpu, rss_kb, exit status)."""
    tf = tempfile.NamedTemporaryFile(delete=False)
    tf.close()
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "-o", tf.name] + cmd,
                       stdout=stdout, stderr=subprocess.DEVNULL, timeout=600)
    wall = time.monotonic() - t0
    with open(tf.name) as f:
        u, s, m = f.read().split()[-3:]
    os.unlink(tf.name)
    return wall, float(u) + float(s), int(m), p.returncode


def run_weft(weft, url, tmp):
    out = os.path.join(tmp, "weft.json")
    with open(out, "w") as f:
        wall, cpu, rss, rc = timed([weft, "crawl", "--json", "--no-robots", "-d", str(DEPTH),
                                    "-j", str(JOBS), url], f)
    pages = 0
    for line in open(out):
        r = json.loads(line)
        if "skipped" not in r and r["status"] == 200 and r["content_type"].startswith("text/html"):
            pages += 1
    return dict(pages=pages, wall=wall, cpu=cpu, rss=rss, out=os.path.getsize(out), rc=rc)


def run_wget2(url, tmp):
    d = os.path.join(tmp, "mirror")
    shutil.rmtree(d, ignore_errors=True)
    wall, cpu, rss, rc = timed(["wget2", "-q", "-r", "-l", str(DEPTH), f"--max-threads={JOBS}",
                                "--robots=off", "--tries=1", "-P", d, url], subprocess.DEVNULL)
    pages, size = 0, 0
    for root, _dirs, files in os.walk(d):
        for name in files:
            size += os.path.getsize(os.path.join(root, name))
            if name.endswith((".html", ".htm")):
                pages += 1
    shutil.rmtree(d, ignore_errors=True)
    return dict(pages=pages, wall=wall, cpu=cpu, rss=rss, out=size, rc=rc)


def main():
    weft = sys.argv[1] if len(sys.argv) > 1 else "build/cc/tool/weft"
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    if not shutil.which("wget2"):
        print("real HTML: wget2 is not installed (apt-get install wget2): skipped")
        return 0
    print(f"Real HTML: weft crawl vs wget2 -r, depth {DEPTH}, {JOBS} in flight, "
          f"{LATENCY * 1000:.0f} ms a request, robots off, medians of {runs} runs")
    print(f"{'corpus':<20} {'client':<6} {'pages':>6} {'wall s':>7} {'CPU s':>6} "
          f"{'RSS MB':>7} {'out MB':>7}")
    for name, root, start in CORPORA:
        if not os.path.isfile(root + start):
            print(f"{name:<20} not installed (apt-get install {name}): skipped")
            continue
        srv = subprocess.Popen([weft, "serve", "--dir", root, "--latency", str(LATENCY)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            base = srv.stdout.readline().strip().rstrip("/")
            url = base + start
            res = {"weft": [], "wget2": []}
            with tempfile.TemporaryDirectory() as tmp:
                for r in range(runs):
                    order = ["weft", "wget2"] if r % 2 == 0 else ["wget2", "weft"]
                    for c in order:
                        res[c].append(run_weft(weft, url, tmp) if c == "weft" else
                                      run_wget2(url, tmp))
            med = {c: {k: statistics.median(x[k] for x in v) for k in v[0]}
                   for c, v in res.items()}
            for c in ("weft", "wget2"):
                m = med[c]
                print(f"{name:<20} {c:<6} {m['pages']:>6.0f} {m['wall']:>7.2f} {m['cpu']:>6.2f} "
                      f"{m['rss'] / 1024:>7.1f} {m['out'] / 1e6:>7.2f}")
            w, g = med["weft"], med["wget2"]
            ratio = lambda a, b: f"{a / b:.2f}x" if b else "n/a"
            print(f"{name:<20} weft/wget2: wall {ratio(w['wall'], g['wall'])}, "
                  f"CPU {ratio(w['cpu'], g['cpu'])}, RSS {ratio(w['rss'], g['rss'])}, "
                  f"pages {w['pages']:.0f} vs {g['pages']:.0f}")
        finally:
            srv.terminate()
            srv.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
