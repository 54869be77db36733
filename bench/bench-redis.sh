#!/usr/bin/env bash
# bench/bench-redis.sh: one crawl shared through Redis (`--state redis://`),
# with a redis-server of its own on a unix socket:
#  1. 1, 2 and 4 processes (-j 16 each) crawl one embedded site with 100 ms
#     latency (no per-host cap): pages/s and the speedup per process count,
#     Redis round trips per page; the memory backend (one process) beside;
#  2. the seen set's memory per URL with 1,000,000 URLs queued (MEMORY USAGE
#     of its keys; target <= 64 bytes), and the ADD script's cost per link.
#
#   bash bench/bench-redis.sh BUILD [PAGES]
set -u
BUILD=${1:?usage: bench-redis.sh BUILD [PAGES]}
PAGES=${2:-1000}
W=$BUILD/tool/weft
F=$BUILD/bench/bench-frontier
command -v redis-server >/dev/null || { echo "bench-redis: redis-server not installed: n/a"; exit 0; }
[ -x "$W" ] || { echo "bench-redis: $W not built"; exit 1; }
tmp=$(mktemp -d /tmp/weft-bench-redis.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
# start_site and stats, as the end-to-end tests have them.
. "$(dirname "$0")/../test/tool/lib-e2e.sh"
redis-server --port 0 --unixsocket "$tmp/r.sock" --save "" --appendonly no --dir "$tmp" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 1 500); do redis-cli -s "$tmp/r.sock" ping >/dev/null 2>&1 && break; sleep 0.01; done
R="unix://$tmp/r.sock"


echo "one crawl on Redis: $PAGES pages, 100 ms latency, -j 16 per process"
printf "  %-22s %8s %10s %9s %11s %11s\n" "" "wall s" "pages/s" "speedup" "trips/page" "bytes/page"
net_bytes() { redis-cli -s "$tmp/r.sock" info stats | python3 -c '
import sys
d = dict(l.strip().split(":", 1) for l in sys.stdin if ":" in l)
print(int(d["total_net_input_bytes"]) + int(d["total_net_output_bytes"]))'; }
start_site m --pages "$PAGES" --links 4 --latency 0.1 --threads 4
t0=$(date +%s.%N)
"$W" crawl -q -d 1000 -j 16 "$BASE_m/" >/dev/null 2>&1
t1=$(date +%s.%N)
base=$(python3 -c "print($t1 - $t0)")
printf "  %-22s %8.2f %10.1f %9s %11s %11s\n" "memory, 1 process" "$base" \
    "$(python3 -c "print(($PAGES + 1) / $base)")" "" "" ""
one=""
for n in 1 2 4; do
    start_site "s$n" --pages "$PAGES" --links 4 --latency 0.1 --threads 4
    site=BASE_s$n
    b0=$(net_bytes)
    t0=$(date +%s.%N)
    for i in $(seq 1 $n); do
        "$W" crawl -q -d 1000 -j 16 --state "$R" --crawl-id "bench$n" "${!site}/" >/dev/null \
            2>"$tmp/e$n.$i" &
        eval "p$i=\$!"
    done
    for i in $(seq 1 $n); do eval "wait \$p$i"; done
    t1=$(date +%s.%N)
    wall=$(python3 -c "print($t1 - $t0)")
    b1=$(net_bytes)
    [ -z "$one" ] && one=$wall
    trips=$(cat "$tmp"/e$n.* | python3 -c '
import re, sys
t = p = 0
for line in sys.stdin:
    m = re.search(r"Redis: (\d+) round trips, ([\d.]+) per page", line)
    if m and float(m.group(2)) > 0:
        t += int(m.group(1)); p += int(m.group(1)) / float(m.group(2))
print("%.2f" % (t / p) if p else "n/a")')
    printf "  %-22s %8.2f %10.1f %8.2fx %11s %11.0f\n" "Redis, $n process(es)" "$wall" \
        "$(python3 -c "print(($PAGES + 1) / $wall)")" "$(python3 -c "print($one / $wall)")" "$trips" \
        "$(python3 -c "print(($b1 - $b0) / ($PAGES + 1))")"
done

echo
echo "seen set on Redis, 1,000,000 URLs queued"
if [ -x "$F" ]; then
    "$F" redis-seen "$tmp/r.sock" 1000000 | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
print("  %.1f bytes per seen URL in %d keys (target <= 64); %d ns per link added, %d round trips"
      % (r["bytes_per_url"], r["seen_keys"], r["ns_per_link"], r["round_trips"]))'
else
    echo "  n/a: $F not built"
fi
