#!/usr/bin/env bash
# bench-crawl.sh: weft crawl against wget2 -r and the seeds' Python scraper
# (requests + BeautifulSoup + ThreadPoolExecutor, bench/seed_scraper.py), on
# the same loopback site in the same run.
#
# The embedded site with P pages (default 1,000), every request held L
# seconds (default 0.1), crawled from "/" to the bottom (depth 1000, which
# reaches every page) with J concurrent requests (default 32) by each
# client. Prints wall and CPU (user + system) seconds, pages, and per page,
# with each client's ratio to weft. Each client honours robots.txt except the
# seed scraper, which never reads it (so it fetches the /private/ pages too:
# per-page figures stay comparable). A benchmark, not a test: it asserts
# nothing.
#
# Each client runs R times (default 3; the machine is shared, single runs are
# noisy) and the run with the median wall time is reported.
#
# Usage: bench/bench-crawl.sh [path/to/weft] [pages] [concurrency] [latency] [runs]
set -u
W=${1:-build/cc/tool/weft}
P=${2:-1000}
J=${3:-32}
LAT=${4:-0.1}
R=${5:-3}
D=1000
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/weft-bench-crawl.XXXXXX)
srv=
cleanup() {
    [ -n "$srv" ] && kill "$srv" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

# Port 80 when we may bind it: wget2 1.99.1 sends "Host: 127.0.0.1" without
# the port, and the site writes its absolute links with the Host it was
# given, so on any other port wget2 follows them to port 80 and stalls on
# refused connections (5 s host pauses). PORT=0 forces an ephemeral port.
start_site() {
    mkfifo "$tmp/srv$1"
    "$W" serve --port "$1" --latency "$LAT" --pages "$P" 2>/dev/null >"$tmp/srv$1" &
    srv=$!
    exec 3<"$tmp/srv$1"
    read -r -t 10 -u 3 BASE
}
if ! start_site "${PORT:-80}"; then
    wait "$srv" 2>/dev/null
    srv=
    start_site 0 || { echo "weft serve did not start" >&2; exit 1; }
    echo "note: not on port 80: wget2's figures suffer from its Host-header bug (see above)"
fi

# A Python that has the seed's libraries (pyenv shims often lack them).
PY=
for p in python3 /usr/bin/python3; do
    if "$p" -c 'import bs4, requests' 2>/dev/null; then PY=$p; break; fi
done

# Runs a command R times under /usr/bin/time; prints "wall cpu exit" of the
# median run (by wall time) and leaves that run's output in $out.
measure() {
    local out=$1
    shift
    for i in $(seq 1 "$R"); do
        [ -d "$tmp/wget2" ] && rm -rf "$tmp/wget2" && mkdir "$tmp/wget2"
        /usr/bin/time -f '%e %U %S %x' -o "$tmp/time" "$@" >"$out.$i" 2>"$tmp/err"
        read -r wall user sys rc <"$tmp/time"
        echo "$wall $(echo "$user + $sys" | bc) $rc $i"
    done | sort -n | sed -n "$(((R + 1) / 2))p" | {
        read -r wall cpu rc i
        cp "$out.$i" "$out"
        echo "$wall $cpu $rc"
    }
}

row() { # name wall cpu pages exit weft_wall weft_cpu_per_page
    local per_wall per_cpu
    per_wall=$(echo "1000 * $2 / $4" | bc -l)
    per_cpu=$(echo "1000 * $3 / $4" | bc -l)
    printf '%-38s %7.2f %7.2f %6d %9.3f %9.3f %5s %8.2f %8.1f\n' "$1" "$2" "$3" "$4" "$per_wall" \
        "$per_cpu" "$5" "$(echo "$2 / $6" | bc -l)" "$(echo "$per_cpu / $7" | bc -l)"
}

echo "bench-crawl: $P pages, server latency ${LAT}s, concurrency $J, depth $D, median of $R runs"
printf '%-38s %7s %7s %6s %9s %9s %5s %8s %8s\n' client wall_s cpu_s pages \
    ms_wall/pg ms_cpu/pg exit wall/weft cpu/pg/weft

read -r ww wc wr < <(measure "$tmp/weft.out" "$W" crawl --json --depth "$D" -j "$J" "$BASE")
wp=$(grep -vc '"skipped"' "$tmp/weft.out")
wcpp=$(echo "1000 * $wc / $wp" | bc -l)
row "weft crawl -j $J" "$ww" "$wc" "$wp" "$wr" "$ww" "$wcpp"

if command -v wget2 >/dev/null; then
    mkdir "$tmp/wget2"
    read -r gw gc gr < <(measure "$tmp/wget2.out" wget2 -r -l "$D" --max-threads="$J" --no-parent \
        -q -R '*.png,*.css' -P "$tmp/wget2" "$BASE")
    gp=$(find "$tmp/wget2" -type f ! -name robots.txt | wc -l)
    row "wget2 -r --max-threads=$J" "$gw" "$gc" "$gp" "$gr" "$ww" "$wcpp"
else
    echo "wget2: not installed, skipped"
fi

if [ -n "$PY" ]; then
    read -r pw pc pr < <(measure "$tmp/py.out" "$PY" "$here/seed_scraper.py" "$BASE" "$J" "$D" \
        threaded)
    pp=$(sed -n 's/^Threaded: [0-9.]*s, \([0-9]*\) pages.*/\1/p' "$tmp/py.out")
    row "seed scraper (requests+bs4, $J thr)" "$pw" "$pc" "${pp:-1}" "$pr" "$ww" "$wcpp"
else
    echo "seed scraper: python3 with bs4 and requests not found, skipped"
fi
