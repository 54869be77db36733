#!/bin/bash
# stress-redis-restart.sh: a Redis-backed crawl of the embedded site (600
# pages, 20 ms latency) while redis-server is stopped at a random instant
# and started again, N times. Each crawl must end by itself with exit 0,
# and --dump must hold exactly the pages of a memory crawl of the same
# site, at their BFS depths. Two ways to stop Redis:
#   (default)   AOF with appendfsync always, SHUTDOWN: nothing is lost;
#   ROLLBACK=1  no AOF: SAVE, then SHUTDOWN NOSAVE, so the writes after
#               the save are lost (a restart without AOF, or a failover to
#               a replica that lagged), and the restart loads slowly
#               (LOADING for a while).
# Not part of `make test` (minutes of wall time): run it by hand after
# touching the Redis frontier, its scripts or its connection code.
#
#   W=build/cc/tool/weft [ROLLBACK=1] bash test/tool/stress-redis-restart.sh [N]
#
# Loopback only: the site and Redis are started here on free ports. A
# failed run's directory (stderr, output, Redis's files and log) is kept.
W=${W:-build/cc/tool/weft}
N=${1:-20}
LEASE=${LEASE:-2}
if [ "${ROLLBACK:-0}" = 1 ]; then
    persist=(--appendonly no)
    reload=(--key-load-delay 1000 --loading-process-events-interval-bytes 1024)
else
    persist=(--appendonly yes --appendfsync always)
    reload=()
fi
fails=0
pages_of() { python3 -c '
import json, sys, urllib.parse
for line in sys.stdin:
    r = json.loads(line)
    if "status" in r:
        print(r["depth"], urllib.parse.urlsplit(r["url"]).path)' | sort -u; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rand() { python3 -c "import random; print(round(random.uniform($1, $2), 3))"; }
for i in $(seq 1 $N); do
  d=$(mktemp -d /tmp/weft-stress.XXXXXX)
  RPORT=$(free_port)
  redis() { redis-server --port $RPORT --bind 127.0.0.1 --save "" --dir $d "${persist[@]}" "$@" >>$d/redis.log 2>&1 & rpid=$!; }
  redis
  for _ in $(seq 200); do redis-cli -p $RPORT ping >/dev/null 2>&1 && break; sleep 0.01; done
  $W serve --pages 600 --links 4 --seed $((40+i)) --latency 0.02 > $d/site.url 2>/dev/null & spid=$!
  for _ in $(seq 200); do [ -s $d/site.url ] && break; sleep 0.01; done
  B=$(head -1 $d/site.url)
  timeout 60 $W crawl --json -d 100 -j 8 "$B" 2>/dev/null | pages_of > $d/ref.txt
  timeout 60 $W crawl --json -d 100 -j 8 --lease $LEASE --redis-timeout 30 --crawl-id c \
      --state redis://127.0.0.1:$RPORT "$B" >$d/out.json 2>$d/err & p=$!
  s1=$(rand 0.02 2.0)
  sleep $s1
  if [ "${ROLLBACK:-0}" = 1 ]; then
    redis-cli -p $RPORT save >/dev/null 2>&1
    redis-cli -p $RPORT shutdown nosave >/dev/null 2>&1
  else
    redis-cli -p $RPORT shutdown >/dev/null 2>&1 # writes the AOF
  fi
  wait $rpid 2>/dev/null
  s2=$(rand 0.0 0.5)
  sleep $s2
  redis "${reload[@]}"
  for _ in $(seq 300); do redis-cli -p $RPORT ping 2>/dev/null | grep -q "PONG\|LOADING" && break; sleep 0.01; done
  wait $p; rc=$?
  timeout 60 $W crawl --json -d 100 --crawl-id c --state redis://127.0.0.1:$RPORT --dump "$B" \
      2>$d/dump.err | pages_of > $d/dump.txt
  if [ $rc != 0 ] || ! cmp -s $d/ref.txt $d/dump.txt; then
    fails=$((fails+1))
    echo "run $i (stopped at $s1 s, down $s2 s): exit $rc, pages: memory $(wc -l <$d/ref.txt)," \
         "--dump $(wc -l <$d/dump.txt) ($d)"
    diff $d/ref.txt $d/dump.txt | head -5; tail -3 $d/err $d/dump.err
  else rm -rf $d; fi
  kill $spid $rpid 2>/dev/null; wait 2>/dev/null
done
echo "fails: $fails of $N"
