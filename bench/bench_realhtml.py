#!/usr/bin/env python3
"""bench_realhtml.py: weft crawl against wget2 -r on real documentation trees.

Debian's postgresql-doc-15 and libglib2.0-doc are served by `weft serve
--dir` on loopback with 100 ms of latency per request. Both crawlers start
at the tree's index, go 3 levels deep with 20 requests in flight, robots.txt
off, compression on (both send Accept-Encoding by default). Runs alternate
between the clients; each figure is the median of the runs. Printed per
corpus: HTML pages found (status 200, text/html), wall seconds, CPU seconds
(user + system), peak RSS, bytes each writes (weft: its JSON records; wget2:
the mirrored files), and weft's figure as a ratio of wget2's. Then the
floors under those figures: the latency floor of the requests at this
concurrency, the peak RSS of weft fetching a single page (its libraries
loaded and initialised), and the CPU of libxml2 parsing the crawled pages
alone (bench-html).

A benchmark, not a test: it asserts nothing.

Usage: bench/bench_realhtml.py path/to/weft [runs]
"""
import json
import urllib.parse
import signal
import urllib.request
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


def floors(weft, root, url, tmp):
    """What no crawler at this concurrency, and no crawl on these libraries,
    can go under: the latency floor (requests x latency / in flight), the
    peak RSS of weft fetching one page (the libraries loaded and
    initialised: libcurl with OpenSSL, libxml2 with ICU), and the CPU of
    libxml2 parsing the pages alone (bench-html, the crawler's parser on the
    same files). Returns a dict of them, None for one it cannot measure."""
    out = os.path.join(tmp, "weft.json")
    reqs, files = 0, []
    for line in open(out):
        r = json.loads(line)
        if "skipped" in r:
            continue
        reqs += 1
        if r["status"] == 200 and r["content_type"].startswith("text/html"):
            path = urllib.parse.urlsplit(r["url"]).path
            f = os.path.normpath(os.path.join(root, path.lstrip("/")))
            if f.startswith(root) and os.path.isfile(f):
                files.append(f)
    one = timed([weft, "crawl", "-q", "--no-robots", "-d", "0", url], subprocess.DEVNULL)
    parse = None
    bh = os.path.join(os.path.dirname(os.path.dirname(weft)), "bench", "bench-html")
    if os.access(bh, os.X_OK) and files:
        p = subprocess.run([bh, "5"], input="\n".join(files) + "\n", capture_output=True,
                           text=True, timeout=300)
        if p.returncode == 0:
            parse = json.loads(p.stdout)["cpu_s"]
    return dict(reqs=reqs, wall=reqs * LATENCY / JOBS, rss=one[2], parse=parse,
                nfiles=len(files))


def run_weft(weft, url, tmp, state=False):
    out = os.path.join(tmp, "weft.json")
    extra = []
    if state:
        db = os.path.join(tmp, "state.db")
        for f in (db, db + "-wal", db + "-shm"):
            if os.path.exists(f):
                os.unlink(f)
        extra = ["--state", db]
    with open(out, "w") as f:
        wall, cpu, rss, rc = timed([weft, "crawl", "--json", "--no-robots", "-d", str(DEPTH),
                                    "-j", str(JOBS), url] + extra, f)
    pages = 0
    for line in open(out):
        r = json.loads(line)
        if "skipped" not in r and r["status"] == 200 and r["content_type"].startswith("text/html"):
            pages += 1
    return dict(pages=pages, wall=wall, cpu=cpu, rss=rss, out=os.path.getsize(out), rc=rc)


def kill_and_resume(weft, base, url, tmp, wall):
    """--state killed with -9 three times, each run a quarter of an
    uninterrupted crawl's wall time, then run to the end: the pages --dump
    holds against an uninterrupted crawl's, and the requests the server saw
    twice (its /__stats)."""
    db = os.path.join(tmp, "killed.db")
    cmd = [weft, "crawl", "-q", "--no-robots", "-d", str(DEPTH), "-j", str(JOBS), url,
           "--state", db]
    before = stats(base)
    kills = 0
    for t in (wall / 4, wall / 4, wall / 4):
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            p.wait(timeout=t)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
            p.wait()
            kills += 1
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    after = stats(base)
    twice = sum(max(0, v["hits"] - before.get(k, {"hits": 0})["hits"] - 1)
                for k, v in after.items() if k != "/__stats")
    dumped = subprocess.run([weft, "crawl", "--state", db, "--dump", "--json"],
                            capture_output=True, text=True).stdout.splitlines()
    got = {json.loads(l)["url"] for l in dumped if '"status"' in l}
    # (every page record: HTML and the other files the crawl fetched)
    ref = subprocess.run([weft, "crawl", "--json", "--no-robots", "-d", str(DEPTH), "-j",
                          str(JOBS), url], capture_output=True, text=True).stdout.splitlines()
    want = {json.loads(l)["url"] for l in ref if '"status"' in l}
    return dict(kills=kills, pages=len(got), missing=len(want - got), twice=twice)


def stats(base):
    with urllib.request.urlopen(base + "/__stats", timeout=10) as r:
        return json.load(r)["paths"]


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
            res = {"weft": [], "state": [], "wget2": []}
            with tempfile.TemporaryDirectory() as tmp:
                for r in range(runs):
                    order = ["weft", "state", "wget2"] if r % 2 == 0 else ["wget2", "state", "weft"]
                    for c in order:
                        res[c].append(run_weft(weft, url, tmp, c == "state") if c != "wget2"
                                      else run_wget2(url, tmp))
                wall = statistics.median(x["wall"] for x in res["weft"])
                fl = floors(weft, root, url, tmp)
                killed = kill_and_resume(weft, base, url, tmp, wall)
            med = {c: {k: statistics.median(x[k] for x in v) for k in v[0]}
                   for c, v in res.items()}
            for c in ("weft", "state", "wget2"):
                m = med[c]
                print(f"{name:<20} {c:<6} {m['pages']:>6.0f} {m['wall']:>7.2f} {m['cpu']:>6.2f} "
                      f"{m['rss'] / 1024:>7.1f} {m['out'] / 1e6:>7.2f}")
            w, g = med["weft"], med["wget2"]
            ratio = lambda a, b: f"{a / b:.2f}x" if b else "n/a"
            print(f"{name:<20} weft/wget2: wall {ratio(w['wall'], g['wall'])}, "
                  f"CPU {ratio(w['cpu'], g['cpu'])}, RSS {ratio(w['rss'], g['rss'])}, "
                  f"pages {w['pages']:.0f} vs {g['pages']:.0f}")
            print(f"{name:<20} floors: latency {fl['reqs']} requests x {LATENCY:g} s / {JOBS} = "
                  f"{fl['wall']:.2f} s (0.7 x wget2 = {0.7 * g['wall']:.2f} s); "
                  f"weft fetching one page: RSS {fl['rss'] / 1024:.1f} MB "
                  f"(wget2's whole crawl {g['rss'] / 1024:.1f} MB); libxml2 parsing the "
                  f"{fl['nfiles']} pages alone: "
                  + (f"{fl['parse']:.3f} s CPU ({fl['parse'] / g['cpu']:.2f}x wget2's whole "
                     f"crawl)" if fl['parse'] is not None and g['cpu'] else "n/a (bench-html)"))
            st = med["state"]
            print(f"{name:<20} weft --state / weft: wall {ratio(st['wall'], w['wall'])}, "
                  f"CPU {ratio(st['cpu'], w['cpu'])}, RSS {ratio(st['rss'], w['rss'])}")
            print(f"{name:<20} --state killed -9 at {killed['kills']} instants, then resumed: "
                  f"{killed['pages']} pages in --dump, {killed['missing']} missing against the "
                  f"uninterrupted crawl, {killed['twice']} fetched twice in all")
        finally:
            srv.terminate()
            srv.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
