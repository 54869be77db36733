#!/usr/bin/env bash
# End-to-end checks of `weft crawl --state FILE`, with real processes, a real
# SQLite file and the embedded site's own counters (/__stats):
#  - the same crawl in memory and with --state finds the same pages at the
#    same depths;
#  - killed with -9 at 24 instants (from the first robots.txt fetch to near
#    the end) and rerun until done: --dump holds every page of the site at
#    its BFS depth, each once, and no page was requested again beyond the
#    pages in flight or in the open batch at each kill;
#  - Ctrl-C saves, exits 130 and prints the command that resumes;
#  - a finished crawl is not fetched again; changed scope is refused.
# Usage: e2e-state.sh path/to/weft
set -u
W=${1:?usage: e2e-state.sh path/to/weft}
tmp=$(mktemp -d /tmp/weft-e2e-state.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
. "$(dirname "$0")/lib-e2e.sh"
JOBS=8
BATCH=100 # STATE_BATCH_PAGES


# --- memory and --state, uninterrupted: the same pages at the same depths ----
start_site a --pages 400 --links 4 --seed 3
A=$BASE_a
timeout $((60 * SCALE)) "$W" crawl --json -d 100 -j $JOBS "$A/" 2>/dev/null | pages_of >"$tmp/mem.txt"
timeout $((60 * SCALE)) "$W" crawl -q -d 100 -j $JOBS --state "$tmp/a.db" "$A/" >/dev/null 2>&1
rc=$?
"$W" crawl --state "$tmp/a.db" --dump --json 2>/dev/null | pages_of >"$tmp/state.txt"
check "memory and --state: exit 0, the same $(wc -l <"$tmp/mem.txt") pages at the same depths" \
    test "$rc" = 0 -a -s "$tmp/mem.txt" -a "$(wc -l <"$tmp/mem.txt")" -gt 300
check "... and identical (depth, URL) lists" same_pages "$tmp/mem.txt" "$tmp/state.txt"

# --- a finished crawl: said, exit 0, nothing fetched -----------------------
before=$(stats "$A" | $PY -c 'import json,sys; print(json.load(sys.stdin)["requests"])')
timeout $((30 * SCALE)) "$W" crawl -q -d 100 --state "$tmp/a.db" "$A/" >"$tmp/out" 2>"$tmp/err"
rc=$?
after=$(stats "$A" | $PY -c 'import json,sys; print(json.load(sys.stdin)["requests"])')
check "finished crawl: exit 0, says complete, no request ($before -> $after requests)" \
    test "$rc" = 0 -a "$after" = "$before" -a -n "$(grep -l complete "$tmp/err")"

# --- a different scope is refused, naming the option; -j may change ----------
timeout $((30 * SCALE)) "$W" crawl -q -d 3 --state "$tmp/a.db" "$A/" >/dev/null 2>"$tmp/err"
rc=$?
check "changed --depth: exit 2, names --depth" test "$rc" = 2 -a -n "$(grep -l -- '--depth' "$tmp/err")"
timeout $((30 * SCALE)) "$W" crawl -q -d 100 --state "$tmp/a.db" "$A/page/1" >/dev/null 2>"$tmp/err"
check "another start URL: exit 2" test $? = 2
timeout $((30 * SCALE)) "$W" crawl -q -d 100 --deny /page/7 --state "$tmp/a.db" "$A/" >/dev/null 2>"$tmp/err"
check "added --deny: exit 2, names --deny" test $? = 2 -a -n "$(grep -l -- '--deny' "$tmp/err")"
timeout $((30 * SCALE)) "$W" crawl -q -d 100 -j 3 --retries 1 --json --state "$tmp/a.db" "$A/" >/dev/null 2>&1
check "changed -j, --retries, --json: accepted (exit 0)" test $? = 0

# --- kill -9 at 24 instants, rerun until done --------------------------------
start_site k --pages 2000 --links 4 --seed 11 --latency 0.02 --jitter 0.02
K=$BASE_k
timeout $((120 * SCALE)) "$W" crawl --json -d 100 -j $JOBS "$K/" 2>/dev/null | pages_of >"$tmp/k-ref.txt"
# The reference crawl's requests are on the counters: start them from a second
# site with the same graph, seed and latency.
start_site k2 --pages 2000 --links 4 --seed 11 --latency 0.02 --jitter 0.02
K=$BASE_k2
db="$tmp/k.db"
kills=0 runs=0 final=-1 bad_rc=0
# Instants (ms): the first ones land in the first robots.txt fetch and the
# first level; later ones spread over the crawl.
instants=(3 8 15 25 40 60 80 110 140 170 200 230 260 290 320 350 380 410 440 470 500 530 560 590)
for t in "${instants[@]}" 0 0 0 0 0 0 0 0 0 0; do
    runs=$((runs + 1))
    if [ "$t" = 0 ]; then
        # No more kills: let it finish (bounded).
        timeout $((120 * SCALE)) "$W" crawl -q -d 100 -j $JOBS --state "$db" "$K/" >/dev/null 2>>"$tmp/kill-err"
        final=$?
        break
    fi
    "$W" crawl -q -d 100 -j $JOBS --state "$db" "$K/" >/dev/null 2>>"$tmp/kill-err" &
    p=$!
    pids+=($p)
    sleep "$(printf '0.%03d' "$t")"
    if kill -9 $p 2>/dev/null; then
        kills=$((kills + 1))
    fi
    wait $p
    rc=$?
    # 137: killed; 0: finished before the kill came.
    [ $rc = 137 ] || [ $rc = 0 ] || bad_rc=$rc
    [ $rc = 0 ] && { final=0; break; }
done
check "kill -9: $kills kills, then the crawl finished with exit 0 (runs: $runs)" \
    test "$final" = 0 -a "$kills" -ge 20 -a "$bad_rc" = 0
"$W" crawl --state "$db" --dump --json 2>/dev/null >"$tmp/k-dump.json"
pages_of <"$tmp/k-dump.json" >"$tmp/k-state.txt"
check "kill -9: --dump holds the site's $(wc -l <"$tmp/k-ref.txt") pages at their BFS depths" \
    same_pages "$tmp/k-ref.txt" "$tmp/k-state.txt"
check "kill -9: each page once in --dump" $PY -c '
import json, sys, collections
c = collections.Counter(json.loads(l)["url"] for l in open(sys.argv[1]) if "status" in l)
dup = [u for u, n in c.items() if n > 1]
assert not dup, dup[:5]' "$tmp/k-dump.json"
stats "$K" >"$tmp/k-stats.json"
check "kill -9: pages requested again <= kills x ($JOBS in flight + $BATCH batch)" $PY -c '
import json, sys
s = json.load(open(sys.argv[1]))
kills, jobs, batch = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
again = sum(p["hits"] - 1 for path, p in s["paths"].items() if path.startswith("/page/") or path == "/")
print("     pages requested again: %d over %d kills (%.1f per kill)" % (again, kills, again / max(kills, 1)))
assert again <= kills * (jobs + batch), again' "$tmp/k-stats.json" "$kills" "$JOBS" "$BATCH"
check "kill -9: resumed runs said what they found" grep -q "resuming: .* pages done, .* queued, .* in flight were re-queued" "$tmp/kill-err"

# --- Ctrl-C: saved, exit 130, the command that resumes ---------------------
start_site c --pages 800 --links 4 --seed 5 --latency 0.01
C=$BASE_c
"$W" crawl -q -d 100 -j 4 --state "$tmp/c.db" "$C/" >/dev/null 2>"$tmp/c-err" &
p=$!
pids+=($p)
for _ in $(seq 1 200); do
    n=$(stats "$C" | $PY -c 'import json,sys; print(json.load(sys.stdin)["requests"])' 2>/dev/null)
    [ "${n:-0}" -gt 50 ] && break
    sleep 0.02
done
kill -INT $p
wait $p
rc=$?
check "Ctrl-C with --state: exit 130" test "$rc" = 130
check "Ctrl-C: prints the command that resumes" grep -q "weft crawl -q -d 100 -j 4 --state $tmp/c.db $C/" "$tmp/c-err"
timeout $((60 * SCALE)) "$W" crawl -q -d 100 -j 4 --state "$tmp/c.db" "$C/" >/dev/null 2>"$tmp/c-err2"
check "Ctrl-C: the same command finishes the crawl (exit 0)" test $? = 0
timeout $((60 * SCALE)) "$W" crawl --json -d 100 "$C/" 2>/dev/null | pages_of >"$tmp/c-ref.txt"
"$W" crawl --state "$tmp/c.db" --dump --json 2>/dev/null | pages_of >"$tmp/c-state.txt"
check "Ctrl-C: --dump holds the whole crawl" same_pages "$tmp/c-ref.txt" "$tmp/c-state.txt"

finish
