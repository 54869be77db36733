#!/usr/bin/env bash
# End-to-end checks of one crawl shared through Redis (`--state
# redis://...`), with a redis-server of the test's own (on a free loopback
# port, or a unix socket), real weft processes and the embedded site's
# counters (/__stats):
#  - 3 processes crawl one site (latency with jitter, --per-host 4, a
#    Crawl-delay): the union of their records is the site's pages at their
#    BFS depths, each once; the server saw at most 4 requests at a time and
#    request starts spaced by the delay, across all processes together;
#  - one of 3 killed with -9 mid-crawl: the others finish, nothing missing,
#    only the dead process's leased URLs fetched twice;
#  - a 4th process started late takes work;
#  - redis-server restarted mid-crawl (AOF on): the crawl completes;
#  - redis-server back but still loading its data (LOADING): waited out;
#  - --dump prints the whole crawl; a different scope is refused;
#  - bad addresses, an unreachable Redis, a wrong password, a foreign key
#    prefix: exit 2 with the reason, nothing overwritten.
# Usage: e2e-redis.sh path/to/weft
set -u
W=${1:?usage: e2e-redis.sh path/to/weft}
command -v redis-server >/dev/null || { echo "FAIL redis-server is not installed"; exit 1; }
tmp=$(mktemp -d /tmp/weft-e2e-redis.XXXXXX)
pids=()
rpid=""
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    [ -n "$rpid" ] && kill -9 "$rpid" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
. "$(dirname "$0")/lib-e2e.sh"
T=$((120 * SCALE))

# A free loopback port for Redis: the kernel picks one, we give it back.
free_port() { $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
start_redis() { # extra redis-server options...
    redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --dir "$tmp" "$@" >"$tmp/redis.log" 2>&1 &
    rpid=$!
    for _ in $(seq 1 500); do
        redis-cli -p "$RPORT" ping >/dev/null 2>&1 && return 0
        sleep 0.01
    done
    echo "FAIL redis-server did not start"; cat "$tmp/redis.log"; exit 1
}
RPORT=$(free_port)
start_redis --appendonly no
R="redis://127.0.0.1:$RPORT"

# --- bad input --------------------------------------------------------------
for bad in "redis://" "redis://host:0" "redis://host:99999" "redis://host/x" "unix://relative" \
    "redis://[::1"; do
    timeout 20 "$W" crawl -q --state "$bad" http://127.0.0.1:1/ >/dev/null 2>"$tmp/err"
    rc=$?
    check "malformed '$bad': exit 2 with a reason" test $rc = 2 -a -s "$tmp/err"
done
dead=$(free_port)
timeout 20 "$W" crawl -q --state "redis://127.0.0.1:$dead" http://127.0.0.1:1/ >/dev/null 2>"$tmp/err"
check "unreachable Redis: exit 2 naming the address" test $? = 2 -a -n "$(grep -l "127.0.0.1:$dead" "$tmp/err")"
timeout 20 "$W" crawl -q --state "redis://:wrong@127.0.0.1:$RPORT" http://127.0.0.1:1/ >/dev/null 2>"$tmp/err"
check "a password Redis does not want: exit 2" test $? = 2
redis-cli -p "$RPORT" acl setuser alice on '>s3cret' '~*' '&*' '+@all' >/dev/null
start_site u --pages 20 --links 2
timeout 60 "$W" crawl -q -d 100 --state "redis://alice:s3cret@127.0.0.1:$RPORT" "$BASE_u/" >/dev/null 2>"$tmp/err"
check "an ACL user (redis://USER:PASSWORD@): the crawl runs (exit 0)" test $? = 0
timeout 20 "$W" crawl -q --state "redis://alice:nope@127.0.0.1:$RPORT" "$BASE_u/" >/dev/null 2>"$tmp/err"
check "an ACL user with a wrong password: exit 2" test $? = 2
timeout 20 "$W" crawl -q --state "redis://127.0.0.1:$RPORT/999" http://127.0.0.1:1/ >/dev/null 2>"$tmp/err"
check "a DB index Redis does not have: exit 2 naming it" test $? = 2 -a -n "$(grep -l 999 "$tmp/err")"
redis-cli -p "$RPORT" set weft:mine:c hello >/dev/null
timeout 20 "$W" crawl -q --crawl-id mine --state "$R" http://127.0.0.1:1/ >/dev/null 2>"$tmp/err"
rc=$?
check "a key prefix holding something else: exit 2, untouched" \
    test $rc = 2 -a "$(redis-cli -p "$RPORT" get weft:mine:c)" = hello

# --- 3 processes, global politeness -------------------------------------------
start_site a --pages 400 --links 4 --seed 21 --latency 0.02 --jitter 0.03 --robots-delay 0.02
A=$BASE_a
timeout $T "$W" crawl --json -d 100 -j 8 "$A/" 2>/dev/null | pages_of >"$tmp/a-ref.txt"
start_site a2 --pages 400 --links 4 --seed 21 --latency 0.02 --jitter 0.03 --robots-delay 0.02
A=$BASE_a2
for i in 1 2 3; do
    timeout $T "$W" crawl --json -d 100 -j 8 --per-host 4 --state "$R" "$A/" >"$tmp/a$i.json" 2>"$tmp/a$i.err" &
    pids+=($!)
    eval "p$i=\$!"
done
wait "$p1"; r1=$?
wait "$p2"; r2=$?
wait "$p3"; r3=$?
check "3 processes: each exits 0 by itself ($r1 $r2 $r3)" test "$r1$r2$r3" = 000
cat "$tmp"/a[123].json | pages_of >"$tmp/a-union.txt"
check "3 processes: the union is the site's $(wc -l <"$tmp/a-ref.txt") pages at their BFS depths, each once" \
    same_pages "$tmp/a-ref.txt" "$tmp/a-union.txt"
n1=$(grep -c '"status"' "$tmp/a1.json"); n2=$(grep -c '"status"' "$tmp/a2.json"); n3=$(grep -c '"status"' "$tmp/a3.json")
check "3 processes: each fetched a share ($n1 $n2 $n3)" test "$n1" -gt 0 -a "$n2" -gt 0 -a "$n3" -gt 0
stats "$A" >"$tmp/a-stats.json"
check "3 processes: peak concurrency per host <= 4 and starts >= the Crawl-delay apart (server's counters)" $PY -c '
import json, sys
s = json.load(open(sys.argv[1]))
h = s["hosts"]["127.0.0.1"]
print("     peak %d, min gap %.4f s" % (h["peak"], h["min_gap"]))
assert h["peak"] <= 4, h
assert h["min_gap"] >= 0.02 * 0.5, h
assert s["paths"]["/robots.txt"]["hits"] == 1, s["paths"]["/robots.txt"]' "$tmp/a-stats.json"
"$W" crawl --json -d 100 --per-host 4 --state "$R" --dump "$A/" 2>/dev/null | pages_of >"$tmp/a-dump.txt"
check "--dump prints the whole crawl" same_pages "$tmp/a-ref.txt" "$tmp/a-dump.txt"
timeout $T "$W" crawl --json -d 3 --per-host 4 --state "$R" "$A/" >"$tmp/d3.json" 2>"$tmp/err"
rc=$?
check "a different --depth (no --crawl-id): its own crawl, from the start (exit $rc)" \
    test $rc = 0 -a "$(grep -c '"status"' "$tmp/d3.json")" -gt 0 -a -z "$(grep -l joining "$tmp/err")"
timeout 20 "$W" crawl -q -d 3 --crawl-id x1 --state "$R" "$A/" >/dev/null 2>&1
timeout 20 "$W" crawl -q -d 4 --crawl-id x1 --state "$R" "$A/" >/dev/null 2>"$tmp/err"
check "same --crawl-id, another --depth: exit 2 naming --depth" test $? = 2 -a -n "$(grep -l -- '--depth' "$tmp/err")"

# --- kill -9 one of 3; a 4th joins late --------------------------------------
start_site k --pages 1500 --links 4 --seed 31 --latency 0.02 --jitter 0.02
K=$BASE_k
timeout $T "$W" crawl --json -d 100 -j 8 "$K/" 2>/dev/null | pages_of >"$tmp/k-ref.txt"
start_site k2 --pages 1500 --links 4 --seed 31 --latency 0.02 --jitter 0.02
K=$BASE_k2
for i in 1 2 3; do
    timeout $T "$W" crawl --json -d 100 -j 4 --lease 2 --state "$R" "$K/" >"$tmp/k$i.json" 2>/dev/null &
    pids+=($!)
    eval "q$i=\$!"
done
sleep 1
kill -9 "$q3"
wait "$q3" 2>/dev/null
timeout $T "$W" crawl --json -d 100 -j 4 --lease 2 --state "$R" "$K/" >"$tmp/k4.json" 2>"$tmp/k4.err" &
q4=$!
pids+=($q4)
wait "$q1"; s1=$?
wait "$q2"; s2=$?
wait "$q4"; s4=$?
check "kill -9 one of 3: the others (and a late 4th) exit 0 ($s1 $s2 $s4)" test "$s1$s2$s4" = 000
cat "$tmp"/k[1234].json | pages_of | sort -u >"$tmp/k-union.txt"
check "kill -9: nothing missing: the union is the site's $(wc -l <"$tmp/k-ref.txt") pages at their depths" \
    same_pages "$tmp/k-ref.txt" "$tmp/k-union.txt"
n4=$(grep -c '"status"' "$tmp/k4.json")
check "late join: the 4th process fetched pages ($n4)" test "$n4" -gt 0
stats "$K" >"$tmp/k-stats.json"
check "kill -9: pages fetched twice <= the dead process's leases (-j 4)" $PY -c '
import json, sys
s = json.load(open(sys.argv[1]))
again = sum(p["hits"] - 1 for k, p in s["paths"].items() if k.startswith("/page/") or k == "/")
print("     fetched twice: %d" % again)
assert again <= 4, again' "$tmp/k-stats.json"
"$W" crawl --json -d 100 --state "$R" --dump "$K/" 2>/dev/null >"$tmp/k-dump.json"
check "kill -9: --dump has each page once" $PY -c '
import json, sys, collections
c = collections.Counter(json.loads(l)["url"] for l in open(sys.argv[1]) if "status" in l)
assert len(c) > 0 and all(v == 1 for v in c.values()), [u for u, v in c.items() if v > 1][:3]' "$tmp/k-dump.json"

# --- redis-server restarted mid-crawl (AOF on) -------------------------------
redis-cli -p "$RPORT" shutdown nosave >/dev/null 2>&1
wait "$rpid" 2>/dev/null
start_redis --appendonly yes --appendfsync always
start_site r --pages 800 --links 4 --seed 41 --latency 0.02
RR=$BASE_r
timeout $T "$W" crawl --json -d 100 -j 8 "$RR/" 2>/dev/null | pages_of >"$tmp/r-ref.txt"
start_site r2 --pages 800 --links 4 --seed 41 --latency 0.02
RR=$BASE_r2
timeout $T "$W" crawl --json -d 100 -j 8 --redis-timeout 30 --state "$R" "$RR/" >"$tmp/r1.json" 2>"$tmp/r1.err" &
p=$!
pids+=($p)
sleep 1
redis-cli -p "$RPORT" shutdown >/dev/null 2>&1 # saves the AOF
wait "$rpid" 2>/dev/null
sleep 0.5
start_redis --appendonly yes --appendfsync always
wait $p
rc=$?
check "Redis restarted mid-crawl: the crawl completes (exit $rc)" test $rc = 0
"$W" crawl --json -d 100 --state "$R" --dump "$RR/" 2>/dev/null | pages_of | sort -u >"$tmp/r-dump.txt"
check "Redis restarted: --dump holds every page" same_pages "$tmp/r-ref.txt" "$tmp/r-dump.txt" "$tmp/r1.err"

# --- redis-server back without its data: an error, never "complete" -----------
start_site e --pages 800 --links 4 --seed 51 --latency 0.02
timeout $T "$W" crawl -q -d 100 -j 8 --redis-timeout 30 --state "$R" "$BASE_e/" >/dev/null 2>"$tmp/e.err" &
p=$!
pids+=($p)
sleep 1
redis-cli -p "$RPORT" shutdown nosave >/dev/null 2>&1
wait "$rpid" 2>/dev/null
rm -f "$tmp"/*.aof "$tmp"/appendonlydir/* 2>/dev/null
start_redis --appendonly no
wait $p
rc=$?
check "Redis back empty: exit 1 saying the crawl's keys are gone (exit $rc)" \
    test $rc = 1 -a -n "$(grep -l 'keys are gone' "$tmp/e.err")"
check "Redis back empty: nothing recreated under the crawl's prefix" \
    test "$(redis-cli -p "$RPORT" dbsize)" = 0

# --- redis-server back, but loading its data: LOADING is waited out ----------
# Saved to an RDB mid-crawl, then started on it loading slowly (3 ms a key,
# answering between keys), so for a while every command gets "LOADING":
# the crawl must wait, as for a Redis that is away, and complete. The
# writes made between the save and the shutdown are lost (no AOF): pages
# whose end or links went with them are fetched again, so the crawl still
# holds every page at its BFS depth.
start_site l --pages 800 --links 4 --seed 71 --latency 0.02
timeout $T "$W" crawl --json -d 100 -j 8 "$BASE_l/" 2>/dev/null | pages_of >"$tmp/l-ref.txt"
start_site l2 --pages 800 --links 4 --seed 71 --latency 0.02
timeout $T "$W" crawl --json -d 100 -j 8 --redis-timeout 60 --crawl-id loading --state "$R" \
    "$BASE_l2/" >"$tmp/l1.json" 2>"$tmp/l1.err" &
p=$!
pids+=($p)
sleep 1
redis-cli -p "$RPORT" save >/dev/null
redis-cli -p "$RPORT" shutdown nosave >/dev/null 2>&1
wait "$rpid" 2>/dev/null
start_redis --appendonly no --key-load-delay 3000 --loading-process-events-interval-bytes 1024
loading=$(redis-cli -p "$RPORT" ping 2>&1)
# A weft started while Redis is still loading waits for it too.
"$W" crawl --json -d 100 --crawl-id loading --state "$R" --dump "$BASE_l2/" >"$tmp/l-early.json" \
    2>"$tmp/l-early.err"
erc=$?
wait $p
rc=$?
check "Redis loading after a restart ('${loading%% *}'): the crawl waits and completes (exit $rc)" \
    test $rc = 0 -a "${loading%% *}" = LOADING
check "Redis loading: a --dump started meanwhile waits, then prints (exit $erc, $(wc -l <"$tmp/l-early.json") records)" \
    test $erc = 0 -a -s "$tmp/l-early.json"
"$W" crawl --json -d 100 --crawl-id loading --state "$R" --dump "$BASE_l2/" 2>/dev/null |
    pages_of | sort -u >"$tmp/l-dump.txt"
echo "     the crawl printed $(pages_of <"$tmp/l1.json" | sort -u | wc -l) of the $(wc -l <"$tmp/l-ref.txt") pages"
check "Redis loading: --dump holds every page" same_pages "$tmp/l-ref.txt" "$tmp/l-dump.txt" "$tmp/l1.err"
rm -f "$tmp/dump.rdb"

# --- redis-server gone for good: the crawl gives up after --redis-timeout -------
start_site g --pages 800 --links 4 --seed 61 --latency 0.02
"$W" crawl -q -d 100 -j 8 --redis-timeout 2 --crawl-id gone --state "$R" "$BASE_g/" >/dev/null 2>"$tmp/g.err" &
p=$!
pids+=($p)
sleep 1
redis-cli -p "$RPORT" shutdown nosave >/dev/null 2>&1
wait "$rpid" 2>/dev/null
rpid=""
start=$(date +%s)
timeout $((60 * SCALE)) tail --pid=$p -f /dev/null
wait $p
rc=$?
took=$(($(date +%s) - start))
check "Redis gone for good: exit 1 after about --redis-timeout 2 (${took} s), with the reason" \
    test $rc = 1 -a $took -lt $((30 * SCALE)) -a -n "$(grep -l 'gave up after' "$tmp/g.err")"

finish
