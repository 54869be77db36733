#!/usr/bin/env bash
# bench-savename.sh: weft fetch -o with N URLs that all map to one file name
# (every URL ends in "/", so each is index.html, index-1.html, ...).
#
# Naming used to probe name-1, name-2, ... from 1 for every new file: N^2/2
# creates, 235 s for 16,000 URLs. Now each name remembers its next free
# suffix. Prints the wall time for N/4 and for N URLs and their ratio: about
# 4 when naming is linear, about 16 when it is quadratic. A benchmark, not a
# test: it asserts nothing.
#
# Usage: bench/bench-savename.sh [path/to/weft] [N URLs]
set -u
W=${1:-build/cc/tool/weft}
N=${2:-16000}
tmp=$(mktemp -d /tmp/weft-bench-savename.XXXXXX)
srv=
cleanup() {
    [ -n "$srv" ] && kill "$srv" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
mkfifo "$tmp/srv"
"$W" serve 2>/dev/null >"$tmp/srv" &
srv=$!
exec 3<"$tmp/srv"
read -r -t 10 -u 3 BASE || { echo "weft serve did not start" >&2; exit 1; }
BASE=${BASE%/}

run() { # n -> wall seconds
    local n=$1
    rm -rf "$tmp/out"
    seq 1 "$n" | sed "s|.*|$BASE/#&|" >"$tmp/urls"
    local t0 t1
    t0=$(date +%s.%N)
    timeout 600 "$W" fetch -q -j 8 -o "$tmp/out" -i "$tmp/urls" >/dev/null 2>&1
    t1=$(date +%s.%N)
    local files
    files=$(find "$tmp/out" -type f | wc -l)
    [ "$files" -eq "$n" ] || echo "bench-savename: $files files for $n URLs" >&2
    python3 -c "print(f'{$t1 - $t0:.2f}')"
}
q=$((N / 4))
a=$(run "$q")
b=$(run "$N")
echo "weft fetch -o, URLs all named index.html: $q in ${a} s, $N in ${b} s," \
    "ratio $(python3 -c "print(f'{$b / $a:.1f}')") (linear: ~4, quadratic: ~16)"
