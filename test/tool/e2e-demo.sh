#!/usr/bin/env bash
# End-to-end test of `weft demo`: it needs no URL, finishes in bounded time,
# and prints the comparison and the timelines.
# Usage: e2e-demo.sh path/to/weft
set -u
W=${1:?usage: e2e-demo.sh path/to/weft}
fails=0
check() {
    local name=$1
    shift
    if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fails=$((fails + 1)); fi
}
# A smaller run than the default keeps the suite quick; the default run is
# what `make demo` shows.
out=$(timeout 60 "$W" demo --pages 30 -j 10 2>&1); rc=$?
printf '%s\n' "$out" | sed 's/^/# /'
check "demo: exit 0" test $rc -eq 0
check "demo: sequential time" grep -q '^Sequential: [0-9.]*s$' <<<"$out"
check "demo: threaded time" grep -q '^Threaded: [0-9.]*s (10 workers)$' <<<"$out"
check "demo: speedup" grep -q '^Speedup: [0-9.]*x' <<<"$out"
check "demo: all pages fetched" grep -q 'Threaded run: 30 succeeded, 0 failed' <<<"$out"
check "demo: timeline rows" grep -q '^worker   0 |' <<<"$out"
# 30 requests of >= 50 ms one after the other take >= 1.5 s (one-sided).
seq_s=$(sed -n 's/^Sequential: \([0-9.]*\)s$/\1/p' <<<"$out")
check "demo: sequential >= 1.5s ($seq_s)" python3 -c "assert float('$seq_s') >= 1.5"
timeout 10 "$W" demo --bogus >/dev/null 2>&1; rc=$?
check "demo: bad option exits 2" test $rc -eq 2
echo "# $fails failed"
test $fails -eq 0
