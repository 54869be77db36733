#!/usr/bin/env bash
# End-to-end checks through the CLI that catch regressions the unit tests
# alone would miss, judged by what the server saw (weft serve's /__stats):
# robots.txt obeyed on handed-out and new links, --no-robots, --deny,
# --rate and --delay spacing, --connect-timeout for fetch and crawl, long
# option forms, the two-level depth window (levels overlap), and the
# speedup of --compare where the latency guarantees one.
# Usage: e2e-cli.sh path/to/weft
set -u
W=${1:?usage: e2e-cli.sh path/to/weft}
tmp=$(mktemp -d /tmp/weft-e2e-cli.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
. "$(dirname "$0")/lib-e2e.sh"


start_site a --pages 60 --latency 0.01
A=$BASE_a

# --- robots.txt: never a request under /private/ (pages link it), on handed-out
#     or newly found links; --no-robots fetches them ---------------------------
timeout 60 "$W" crawl -q --depth=1000 --jobs=8 "$A/" >/dev/null 2>&1
stats "$A" >"$tmp/s1.json"
check "robots: no request under /private/, as the server counted" $PY -c '
import json, sys
s = json.load(open(sys.argv[1]))
private = [p for p in s["paths"] if p.startswith("/private/")]
assert not private, private
assert s["paths"]["/robots.txt"]["hits"] == 1, s["paths"].get("/robots.txt")
assert len([p for p in s["paths"] if p.startswith("/page/")]) == 60
' "$tmp/s1.json"
# robots.txt at hand-out: a start URL under /private/ is skipped, not fetched
# (it was queued before robots.txt came in); and on new links: disallowed
# links must not take --max-pages slots, so exactly N pages are fetched.
timeout 60 "$W" crawl --json "$A/private/3" >"$tmp/priv.json" 2>/dev/null
timeout 60 "$W" crawl --json --max-pages 61 -d 1000 -j 8 "$A/" >"$tmp/max.json" 2>/dev/null
stats "$A" >"$tmp/s1b.json"
check "robots: a disallowed start URL is skipped; --max-pages 61 fetches all 61 allowed pages" $PY -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert not [p for p in s["paths"] if p.startswith("/private/")], s["paths"].keys()
priv = [json.loads(l) for l in open(sys.argv[2])]
assert priv and priv[0].get("skipped") == "robots", priv
pages = [r for r in map(json.loads, open(sys.argv[3])) if "skipped" not in r]
assert len(pages) == 61, len(pages)  # all the allowed ones: no slot went to /private/
' "$tmp/s1b.json" "$tmp/priv.json" "$tmp/max.json"
start_site b --pages 60
B=$BASE_b
timeout 60 "$W" crawl -q --no-robots -d 1000 -j 8 "$B/" >/dev/null 2>&1
stats "$B" >"$tmp/s2.json"
check "--no-robots: /private/ pages fetched, robots.txt never asked for" $PY -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert any(p.startswith("/private/") for p in s["paths"]), s["paths"].keys()
assert "/robots.txt" not in s["paths"]
' "$tmp/s2.json"

# --- --deny through the CLI: the server never sees a denied path -----------
start_site c --pages 60
C=$BASE_c
timeout 60 "$W" crawl --json --deny '*/page/1?' -d 1000 -j 4 "$C/" >"$tmp/deny.json" 2>/dev/null
stats "$C" >"$tmp/s3.json"
check "--deny: denied pages never requested, reported filtered" $PY -c '
import json, sys
s = json.load(open(sys.argv[1]))
denied = [p for p in s["paths"] if len(p) == len("/page/1x") and p.startswith("/page/1")]
assert not denied, denied
recs = [json.loads(l) for l in open(sys.argv[2])]
filt = [r for r in recs if r.get("skipped") == "filtered"]
assert filt and all(r["url"].split("/")[-1].startswith("1") for r in filt), filt[:3]
' "$tmp/s3.json" "$tmp/deny.json"

# --- --rate: request starts spaced by 1/R at the server --------------------
start_site d --pages 20
D=$BASE_d
urls=()
for i in 1 2 3 4 5 6; do urls+=("$D/page/$i"); done
timeout 60 "$W" fetch -q --rate=10 -j 6 "${urls[@]}" >/dev/null 2>&1
stats "$D" >"$tmp/s4.json"
check "--rate 10: no two request starts closer than 0.1 s (server side)" $PY -c '
import json, sys
s = json.load(open(sys.argv[1]))
g = s["hosts"]["127.0.0.1"]["min_gap"]
# one-sided, with slack for the way from the client to the server (no rate
# at all gives gaps of a millisecond)
assert g >= 0.1 / 2, g
' "$tmp/s4.json"

# --- --connect-timeout: a listener that never accepts ----------------------
cat >"$tmp/black.py" <<'EOF'
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(0)
print(s.getsockname()[1], flush=True)
fill = []
for _ in range(8):  # fill the accept queue so further SYNs go unanswered
    c = socket.socket()
    c.setblocking(False)
    try:
        c.connect(("127.0.0.1", s.getsockname()[1]))
    except BlockingIOError:
        pass
    fill.append(c)
time.sleep(60)  # bounded: the test kills it sooner
EOF
mkfifo "$tmp/black"
$PY "$tmp/black.py" >"$tmp/black" &
pids+=($!)
exec 6<"$tmp/black"
if read -r -t 10 -u 6 BPORT; then
    # (crawl without robots: an unreachable robots.txt disallows the site.)
    for cmd in fetch "crawl --no-robots"; do
        t0=$(date +%s.%N)
        # shellcheck disable=SC2086
        out=$(timeout 30 "$W" $cmd --json --connect-timeout=0.5 --retries 0 \
            "http://127.0.0.1:$BPORT/" 2>/dev/null)
        rc=$?
        t1=$(date +%s.%N)
        check "$cmd --connect-timeout 0.5: the URL fails (exit 1)" test $rc -eq 1
        check "$cmd --connect-timeout 0.5: said so" grep -qi 'timed out\|timeout' <<<"$out"
        check "$cmd --connect-timeout 0.5: gave up well before the 30 s default" \
            $PY -c "assert $t1 - $t0 < 10 * $SCALE, $t1 - $t0"
    done
else
    fail "the black-hole listener did not start"
fi

# --- long and short option forms mean the same -----------------------------
timeout 60 "$W" crawl --json --depth=2 --jobs=4 --max-pages=5 "$A/" >"$tmp/long.json" 2>/dev/null
timeout 60 "$W" crawl --json -d 2 -j4 --max-pages 5 "$A/" >"$tmp/short.json" 2>/dev/null
check "long and short forms: same pages" $PY -c '
import json, sys
load = lambda f: sorted(r["url"] for r in map(json.loads, open(f)) if "skipped" not in r)
a, b = load(sys.argv[1]), load(sys.argv[2])
assert a == b and len(a) == 5, (a, b)
' "$tmp/long.json" "$tmp/short.json"

# --- the depth window: the next level starts before the last one ends ------
start_site e --pages 300 --latency 0.02 --jitter 0.05
timeout 60 "$W" crawl --json -d 1000 -j 8 "$BASE_e/" >"$tmp/win.json" 2>/dev/null
check "two-level window: a level's pages start while the one before is in flight" $PY -c '
import json, sys
pages = [r for r in map(json.loads, open(sys.argv[1])) if "skipped" not in r]
depths = sorted({p["depth"] for p in pages})
overlaps = 0
for d in depths[1:]:
    last_end = max(p["end"] for p in pages if p["depth"] == d - 1)
    first_start = min(p["start"] for p in pages if p["depth"] == d)
    overlaps += first_start < last_end
# With jitter and 8 workers, a strict barrier per level would give none.
assert overlaps >= len(depths) // 3, (overlaps, len(depths))
' "$tmp/win.json"

# --- --compare: a speedup where the latency guarantees one -----------------
out=$(timeout 120 "$W" crawl --compare -q -j 8 -d 3 "$BASE_e/" 2>&1)
check "--compare: threaded faster than sequential (20-70 ms a request, 8 workers)" $PY -c '
import re, sys
t = sys.argv[1]
seq = float(re.search(r"Sequential: ([0-9.]+)s", t).group(1))
thr = float(re.search(r"Threaded: ([0-9.]+)s", t).group(1))
sp = float(re.search(r"Speedup: ([0-9.]+)", t).group(1))
assert thr < seq and sp > 1.0, t
' "$out"

if [ $fails -ne 0 ]; then
    echo "$fails check(s) failed"
    exit 1
fi
echo "all checks passed"
