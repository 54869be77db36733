#!/usr/bin/env bash
# End-to-end tests of `weft fetch` against `weft serve` on loopback.
# Usage: e2e-fetch.sh path/to/weft
# Every wait is bounded (read -t, a deadline loop); nothing sleeps to sync.
set -u
W=${1:?usage: e2e-fetch.sh path/to/weft}
tmp=$(mktemp -d /tmp/weft-e2e-fetch.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
pass() { echo "ok   $1"; }
fail() { echo "FAIL $1"; fails=$((fails + 1)); }
# Waits for a process to end, at most 15 s (then kills it); returns its status.
bounded_wait() {
    if ! timeout 15 tail --pid="$1" -f /dev/null; then
        echo "# process $1 did not end; killing it"
        kill -9 "$1"
    fi
    wait "$1"
}
check() { # name, then a command that must succeed
    local name=$1
    shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}

# The server prints its base URL once it listens; read it through a fifo.
mkfifo "$tmp/srv"
"$W" serve 2>"$tmp/serve.err" >"$tmp/srv" &
pids+=($!)
exec 3<"$tmp/srv"
read -r -t 10 -u 3 BASE || { echo "FAIL weft serve did not start"; exit 1; }
BASE=${BASE%/}
echo "# site at $BASE"
P="$BASE/page"
PY=python3

# --- formats ---------------------------------------------------------------
out=$(timeout 30 "$W" fetch -j 4 "$P/1" "$P/2" "$P/3" 2>"$tmp/err"); rc=$?
check "table: exit 0" test $rc -eq 0
check "table: header and 3 rows" test "$(printf '%s\n' "$out" | grep -c '^ *200 ')" -eq 3
check "table: header" grep -q '^STATUS' <<<"$out"
check "table: summary" grep -q '^Summary: 3 succeeded, 0 failed' <<<"$out"

timeout 30 "$W" fetch --json -j 4 "$P/1" "$P/2" "$BASE/status/404" >"$tmp/json" 2>"$tmp/err"; rc=$?
check "json: exit 1 with a 404" test $rc -eq 1
check "json: every line parses" $PY -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 3, rows
assert sum(r["ok"] for r in rows) == 2
assert [r for r in rows if not r["ok"]][0]["status"] == 404
assert all(r["worker"] >= 0 for r in rows)
' "$tmp/json"
check "json: summary on stderr" grep -q 'Summary: 2 succeeded, 1 failed' "$tmp/err"

timeout 30 "$W" fetch --csv -j 2 "$P/1" "$P/2" >"$tmp/csv" 2>/dev/null; rc=$?
check "csv: exit 0" test $rc -eq 0
check "csv: header and rows" $PY -c '
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
assert rows[0][:4] == ["index", "url", "ok", "status"], rows[0]
assert len(rows) == 3 and all(r[3] == "200" for r in rows[1:]), rows
' "$tmp/csv"

# --- input files -------------------------------------------------------------
printf '# a comment\n\n%s\n  %s  \n' "$P/1" "$P/2" >"$tmp/urls"
out=$(timeout 30 "$W" fetch -q -i "$tmp/urls" 2>&1); rc=$?
check "-i FILE: blank lines and comments skipped" grep -q '2 succeeded, 0 failed' <<<"$out"
out=$(printf '%s\n' "$P/1" | timeout 30 "$W" fetch -q -i - 2>&1); rc=$?
check "-i -: stdin" grep -q '1 succeeded, 0 failed' <<<"$out"
out=$(timeout 30 "$W" fetch -q --compare -i "$tmp/urls" 2>&1)
check "-i FILE --compare: both runs read it" test "$(grep -c ': 2 succeeded, 0 failed' <<<"$out")" -eq 2
out=$(printf '%s' "$P/1" | timeout 30 "$W" fetch -q --compare -i - 2>&1)
check "-i - --compare: stdin spooled, last line unterminated" \
    test "$(grep -c ': 1 succeeded, 0 failed' <<<"$out")" -eq 2

# Lazy input: an endless list (yes) still gives rows, so the input is read
# as it goes, never whole first; Ctrl-C then ends the run.
mkfifo "$tmp/lazy"
yes "$P/1" | "$W" fetch --json -j 4 --per-host 0 -i - >"$tmp/lazy" 2>/dev/null &
lpid=$!
pids+=($lpid)
exec 7<"$tmp/lazy"
n=0
while [ $n -lt 50 ] && IFS= read -r -t 20 -u 7 row; do
    case "$row" in *'"ok":true'*) n=$((n + 1)) ;; esac
done
check "-i - endless input: 50 rows stream out" test $n -eq 50
kill -INT "$lpid"
timeout 15 cat <&7 >/dev/null
bounded_wait "$lpid"; rc=$?
check "-i - endless input: Ctrl-C ends it (exit $rc)" test $rc -eq 130
exec 7<&-

# Ctrl-C while the input stalls (the reader is blocked on stdin): the run
# still ends at once with its summary. With -j 1 the map keeps 2 inputs in
# flight, so of 3 lines written, 2 rows surely come out before the reader
# blocks on the stalled pipe.
mkfifo "$tmp/stall" "$tmp/stallout"
"$W" fetch -j 1 -i - <"$tmp/stall" >"$tmp/stallout" 2>/dev/null &
spid=$!
pids+=($spid)
exec 6>"$tmp/stall" 7<"$tmp/stallout"
printf '%s\n' "$P/1" "$P/2" "$P/3" >&6
seen=0
while [ $seen -lt 2 ] && IFS= read -r -t 20 -u 7 line; do
    case "$line" in *" 200 "*) seen=$((seen + 1)) ;; esac
done
check "stalled stdin: rows came" test $seen -eq 2
kill -INT "$spid"
rest=$(timeout 15 cat <&7)
bounded_wait "$spid"; rc=$?
check "stalled stdin: Ctrl-C exits 130 ($rc)" test $rc -eq 130
check "stalled stdin: summary" grep -Eq '^Interrupted: [23] succeeded' <<<"$rest"
exec 6>&- 7<&-

# --user-agent reaches the server (/echo answers with the request's headers).
mkdir "$tmp/ua"
timeout 30 "$W" fetch -q -o "$tmp/ua" --user-agent 'weft-e2e/1.0' "$BASE/echo" >/dev/null 2>&1
check "--user-agent sent" grep -q 'weft-e2e/1.0' "$tmp/ua/echo"

# --- usage errors: exit 2 with a message -------------------------------------
touch "$tmp/afile"
for args in "" "-o $tmp/afile $P/1" "-j 0 $P/1" "--timeout x $P/1" "--json --csv $P/1" "--nope $P/1" "-i $tmp/missing"; do
    # shellcheck disable=SC2086
    timeout 10 "$W" fetch $args >/dev/null 2>"$tmp/err"; rc=$?
    check "usage error '$args': exit 2" test $rc -eq 2
    check "usage error '$args': message" grep -q 'weft fetch: ' "$tmp/err"
done
check "--help: exit 0" timeout 10 "$W" fetch --help >/dev/null

# --- per-URL errors: the run goes on, exit 1 ---------------------------------
# --timeout 1: the slow body needs 100 s, a page well under 1 s even under a
# sanitizer on a loaded machine.
out=$(timeout 30 "$W" fetch --retries 0 --timeout 1 "$BASE/slow/100000?rate=1000" "$BASE/reset" \
    "$BASE/loop/a" "http://exa mple/" "$P/1" 2>&1); rc=$?
check "bad URLs: exit 1" test $rc -eq 1
check "bad URLs: timeout reported" grep -q '^ *ERR .*slow.*timed out' <<<"$out"
check "bad URLs: reset reported" grep -q '^ *ERR .*reset.*(Empty reply from server' <<<"$out"
check "bad URLs: redirect loop reported" grep -q 'loop/a.*too many redirects' <<<"$out"
check "bad URLs: malformed URL reported" grep -q 'exa mple.*malformed URL' <<<"$out"
check "bad URLs: the good one still fetched" grep -q '1 succeeded, 4 failed' <<<"$out"

# --- -o DIR: nothing lands outside -------------------------------------------
mkdir "$tmp/jail"
timeout 30 "$W" fetch -q -o "$tmp/jail/out" "$P/1" "$BASE/../../x" "$BASE/%2e%2e/x" \
    "$BASE/%2e%2e%2f%2e%2e%2fz" "$P/2?$(printf 'q%.0s' $(seq 300))" >/dev/null 2>&1
check "-o: only out/ in the jail" test "$(ls -A "$tmp/jail")" = out
check "-o: bodies saved" test -s "$tmp/jail/out/1"
check "-o: names capped" test -z "$(find "$tmp/jail/out" -name '????????????????????????????????????????????????????????????????????????????????????????????????????????????????????????????????????????????????????????????????????????????????????????????????????????????*')"

# --- --trace: valid Trace Event JSON -------------------------------------------
timeout 30 "$W" fetch -q -j 3 --trace "$tmp/trace.json" "$P/1" "$P/2" "$P/3" "$P/4" >/dev/null 2>&1
check "--trace: valid JSON" $PY -c 'import json, sys; json.load(open(sys.argv[1]))' "$tmp/trace.json"
check "--trace: python3 -m json.tool accepts it" $PY -m json.tool "$tmp/trace.json" "$tmp/trace.pretty"
check "--trace: complete events per worker" $PY -c '
import json, sys
ev = json.load(open(sys.argv[1]))["traceEvents"]
xs = [e for e in ev if e["ph"] == "X"]
assert len(xs) == 4 and all(e["dur"] >= 0 for e in xs)
names = {e["tid"] for e in ev if e["ph"] == "M" and e["name"] == "thread_name"}
assert {e["tid"] for e in xs} <= names
' "$tmp/trace.json"

# --- --compare: 20 pages x 0.1 s with -j 10 ------------------------------------
urls=()
for i in $(seq 0 19); do urls+=("$P/$i?delay=0.1"); done
out=$(timeout 60 "$W" fetch --compare --timeline -q -j 10 --per-host 0 "${urls[@]}" 2>&1); rc=$?
check "--compare: exit 0" test $rc -eq 0
seq_s=$(sed -n 's/^Sequential: \([0-9.]*\)s$/\1/p' <<<"$out")
speedup=$(sed -n 's/^Speedup: \([0-9.]*\)x.*/\1/p' <<<"$out")
# One-sided facts only: 20 requests of >= 0.1 s one after the other take
# >= 2.0 s, and 10 workers beat that by more than 1.5x on any sane machine.
check "--compare: sequential >= 2.0s ($seq_s)" $PY -c "assert float('$seq_s') >= 2.0"
check "--compare: speedup > 1.5 ($speedup)" $PY -c "assert float('$speedup') > 1.5"
check "--compare: threaded line" grep -q '^Threaded: .* (10 workers)' <<<"$out"
check "--compare: timelines" grep -q '^worker   9 |' <<<"$out"

# --- Ctrl-C: partial summary, prompt exit ---------------------------------------
slow=()
for i in $(seq 0 39); do slow+=("$P/$i?delay=20"); done
mkfifo "$tmp/fetch"
"$W" fetch -j 4 --per-host 0 "$P/1" "${slow[@]}" >"$tmp/fetch" 2>"$tmp/fetch.err" &
fpid=$!
pids+=($fpid)
exec 4<"$tmp/fetch"
seen=0
while IFS= read -r -t 20 -u 4 line; do
    case "$line" in *" 200 "*) seen=1; break ;; esac
done
check "Ctrl-C: a first row appeared" test $seen -eq 1
t0=$(date +%s.%N)
kill -INT "$fpid"
rest=$(timeout 15 cat <&4)
bounded_wait "$fpid"; rc=$?
t1=$(date +%s.%N)
check "Ctrl-C: exit 130 ($rc)" test $rc -eq 130
check "Ctrl-C: partial summary" grep -Eq '^Interrupted: 1 succeeded, 0 failed, [0-9]+ cancelled' <<<"$rest"
# A few seconds: 5, stretched like every watchdog under sanitizers.
limit=$(( 5 * ${WEFT_TEST_TIMEOUT_SCALE:-1} ))
check "Ctrl-C: stopped within $limit s" $PY -c "assert $t1 - $t0 < $limit, $t1 - $t0"

echo "# $fails failed"
test $fails -eq 0
