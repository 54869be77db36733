#!/usr/bin/env bash
# bench/bench-state.sh: what `weft crawl --state FILE` costs and what it
# saves, on the embedded site over loopback:
#  1. wall and CPU of the same crawl (10,000 pages, -j 8, no latency) in
#     memory and with --state, median of ROUNDS alternating runs, and the ratio;
#  2. peak RSS of the frontier with 1,000,000 queued URLs, per backend
#     (bench-frontier, one process each);
#  3. kill -9 at 20 instants of a crawl with latency, rerun until done: pages
#     lost (must be 0) and pages fetched twice per kill (the maximum).
#
#   bash bench/bench-state.sh BUILD [ROUNDS]
set -u
BUILD=${1:?usage: bench-state.sh BUILD [ROUNDS]}
ROUNDS=${2:-5}
W=$BUILD/tool/weft
F=$BUILD/bench/bench-frontier
tmp=$(mktemp -d /tmp/weft-bench-state.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
# start_site and stats, as the end-to-end tests have them.
. "$(dirname "$0")/../test/tool/lib-e2e.sh"
[ -x "$W" ] || { echo "bench-state: $W not built"; exit 1; }


echo "crawl --state (SQLite) against the memory frontier"
start_site a --pages 10000 --links 4 --threads 2
# Wall from a monotonic clock (ms resolution), CPU from the child's rusage:
# /usr/bin/time's 10 ms steps are 3% of these crawls.
for r in $(seq 1 "$ROUNDS"); do
    for kind in memory state; do
        rm -f "$tmp"/s.db*
        python3 - "$kind" "$W" "$BASE_a/" "$tmp/s.db" >>"$tmp/times" <<'PY'
import os, resource, subprocess, sys, time
kind, w, url, db = sys.argv[1:]
cmd = [w, "crawl", "-q", "-d", "1000", "-j", "8", url] + (["--state", db] if kind == "state" else [])
t0 = time.monotonic()
subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
wall = time.monotonic() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(kind, "%.4f" % wall, "%.4f" % ru.ru_utime, "%.4f" % ru.ru_stime)
PY
    done
done
python3 - "$tmp/times" <<'EOF'
import sys, statistics
t = {"memory": [], "state": []}
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) == 4 and p[0] in t:
        t[p[0]].append((float(p[1]), float(p[2]) + float(p[3])))
m = {k: (statistics.median(w for w, c in v), statistics.median(c for w, c in v)) for k, v in t.items()}
print("  %-28s %10s %10s" % ("10,000 pages, -j 8", "wall s", "CPU s"))
for k in ("memory", "state"):
    print("  %-28s %10.3f %10.3f" % ({"memory": "memory frontier", "state": "--state FILE"}[k], *m[k]))
print("  %-28s %9.2fx %9.2fx   (target: wall <= 1.15x)" % ("ratio", m["state"][0] / m["memory"][0], m["state"][1] / m["memory"][1]))
EOF

echo
echo "frontier with 1,000,000 queued URLs (bench-frontier)"
if [ -x "$F" ]; then
    for b in memory sqlite; do "$F" $b 1000000 "$tmp/f.db"; done | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
print("  %-10s %12s %14s %12s" % ("backend", "peak RSS MB", "ns per link", "queued"))
for r in rows:
    print("  %-10s %12.1f %14.0f %12d" % (r["backend"], r["peak_rss_kb"] / 1024, r["ns_per_link"], r["queued"]))
print("  (target: --state peak RSS <= 64 MB)")'
else
    echo "  n/a: $F not built"
fi

echo
echo "kill -9 at 20 instants, rerun until done"
start_site k --pages 3000 --links 4 --seed 11 --latency 0.01 --jitter 0.02
db="$tmp/k.db"
prev=0 maxtwice=0 kills=0
for t in 30 60 90 120 150 180 210 240 270 300 330 360 390 420 450 480 510 540 570 600 0; do
    "$W" crawl -q -d 1000 -j 8 --state "$db" "$BASE_k/" >/dev/null 2>&1 &
    p=$!
    if [ "$t" = 0 ]; then
        wait $p
        break
    fi
    sleep "$(printf '0.%03d' "$t")"
    kill -9 $p 2>/dev/null && kills=$((kills + 1))
    wait $p 2>/dev/null
    again=$(stats "$BASE_k" | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(sum(p["hits"] - 1 for k, p in s["paths"].items() if k.startswith("/page/") or k == "/"))')
    d=$((again - prev))
    prev=$again
    [ $d -gt $maxtwice ] && maxtwice=$d
done
pages=$("$W" crawl --state "$db" --dump --json 2>/dev/null | grep -c '"status"')
echo "  kills: $kills; pages in --dump: $pages of 3001 (lost: $((3001 - pages)));"
echo "  pages fetched twice: $prev in all, at most $maxtwice after one kill"
