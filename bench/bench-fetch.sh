#!/usr/bin/env bash
# bench-fetch.sh: weft fetch against curl --parallel and Python requests +
# ThreadPoolExecutor, on the same loopback site in the same run.
#
# 1,000 URLs, every request held 100 ms by the server, 100 concurrent
# requests: the ideal wall time is 10 rounds x 0.1 s = 1.0 s. Prints wall and
# CPU (user + system) seconds for each client, and each as a ratio to weft.
# A benchmark, not a test: it asserts nothing.
#
# Usage: bench/bench-fetch.sh [path/to/weft] [N URLs] [concurrency] [latency]
set -u
W=${1:-build/cc/tool/weft}
N=${2:-1000}
J=${3:-100}
LAT=${4:-0.1}
tmp=$(mktemp -d /tmp/weft-bench-fetch.XXXXXX)
srv=
cleanup() {
    [ -n "$srv" ] && kill "$srv" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

mkfifo "$tmp/srv"
"$W" serve --latency "$LAT" --pages 1000 2>/dev/null >"$tmp/srv" &
srv=$!
exec 3<"$tmp/srv"
read -r -t 10 -u 3 BASE || { echo "weft serve did not start" >&2; exit 1; }
BASE=${BASE%/}

# Distinct URLs (a query makes each one unique even past the page count).
for i in $(seq 0 $((N - 1))); do echo "$BASE/page/$((i % 1000))?n=$i"; done >"$tmp/urls"
while read -r u; do printf 'url = "%s"\noutput = "/dev/null"\n' "$u"; done <"$tmp/urls" >"$tmp/curl.cfg"
cat >"$tmp/req.py" <<'PY'
import sys, threading, requests
from concurrent.futures import ThreadPoolExecutor
local = threading.local()
def get(url):
    # One Session per thread: keep-alive, as weft's per-worker curl handle.
    s = getattr(local, "s", None)
    if s is None:
        s = local.s = requests.Session()
    r = s.get(url, timeout=30)
    return r.status_code
urls = [l.strip() for l in open(sys.argv[1]) if l.strip()]
with ThreadPoolExecutor(int(sys.argv[2])) as ex:
    codes = list(ex.map(get, urls))
bad = sum(c >= 400 for c in codes)
sys.exit(1 if bad else 0)
PY

# Runs a command under /usr/bin/time; prints "wall cpu exit".
measure() {
    /usr/bin/time -f '%e %U %S %x' -o "$tmp/time" "$@" >/dev/null 2>"$tmp/err"
    read -r wall user sys rc <"$tmp/time"
    echo "$wall $(echo "$user + $sys" | bc) $rc"
}

echo "bench-fetch: $N URLs, server latency ${LAT}s, concurrency $J (ideal $(echo "$(( (N + J - 1) / J )) * $LAT" | bc -l)s)"
printf '%-44s %8s %8s %6s %9s\n' client wall_s cpu_s exit wall/weft
read -r ww wc wr < <(measure "$W" fetch -q -j "$J" --per-host 0 --retries 0 -i "$tmp/urls")
printf '%-44s %8.2f %8.2f %6s %9s\n' "weft fetch -j $J" "$ww" "$wc" "$wr" "1.00"
if curl --help all 2>/dev/null | grep -q -- --parallel-max; then
    read -r cw cc cr < <(measure curl -s --parallel --parallel-max "$J" -K "$tmp/curl.cfg")
    printf '%-44s %8.2f %8.2f %6s %9.2f\n' "curl --parallel --parallel-max $J" "$cw" "$cc" "$cr" \
        "$(echo "$cw / $ww" | bc -l)"
else
    echo "curl: no --parallel in this curl, skipped"
fi
if python3 -c 'import requests' 2>/dev/null; then
    read -r pw pc pr < <(measure python3 "$tmp/req.py" "$tmp/urls" "$J")
    printf '%-44s %8.2f %8.2f %6s %9.2f\n' "python3 requests + ThreadPoolExecutor($J)" "$pw" "$pc" \
        "$pr" "$(echo "$pw / $ww" | bc -l)"
else
    echo "python3 requests: not installed, skipped"
fi
