#!/bin/bash
# stress-redis-rollback.sh: a Redis-backed crawl of the embedded site (600
# pages) while redis-server (no AOF) is saved at a random instant, shut
# down without saving (the writes after the save are lost, as in a restart
# without AOF or a failover to a replica that lagged) and started again on
# the save, loading slowly. N times; each crawl must exit 0 and --dump must
# hold exactly the pages of a memory crawl at their BFS depths. Not part of
# `make test` (minutes of wall time): run it by hand after touching the
# Redis frontier's scripts.
#
#   W=build/cc/tool/weft bash test/tool/stress-redis-rollback.sh [N]
#
# Loopback only: the site and Redis are started here on free ports. A
# failed run's directory (stderr, output, the save, Redis's log) is kept.
W=${W:-build/cc/tool/weft}
N=${1:-20}
LEASE=${LEASE:-2}
fails=0
pages_of() { python3 -c '
import json, sys, urllib.parse
for line in sys.stdin:
    r = json.loads(line)
    if "status" in r:
        print(r["depth"], urllib.parse.urlsplit(r["url"]).path)' | sort -u; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
for i in $(seq 1 $N); do
  d=$(mktemp -d /tmp/weft-rollback.XXXXXX)
  RPORT=$(free_port)
  redis-server --port $RPORT --bind 127.0.0.1 --save "" --dir $d --appendonly no >$d/redis.log 2>&1 & rpid=$!
  for _ in $(seq 200); do redis-cli -p $RPORT ping >/dev/null 2>&1 && break; sleep 0.01; done
  $W serve --pages 600 --links 4 --seed $((70+i)) --latency 0.02 > $d/site.url 2>/dev/null & spid=$!
  for _ in $(seq 200); do [ -s $d/site.url ] && break; sleep 0.01; done
  B=$(head -1 $d/site.url)
  timeout 60 $W crawl --json -d 100 -j 8 "$B" 2>/dev/null | pages_of > $d/ref.txt
  timeout 60 $W crawl --json -d 100 -j 8 --lease $LEASE --redis-timeout 30 --crawl-id c \
      --state redis://127.0.0.1:$RPORT "$B" >$d/out.json 2>$d/err & p=$!
  s1=$(python3 -c "import random; print(round(random.uniform(0.02, 2.0), 3))")
  sleep $s1
  redis-cli -p $RPORT save >/dev/null 2>&1
  redis-cli -p $RPORT shutdown nosave >/dev/null 2>&1; wait $rpid 2>/dev/null
  s2=$(python3 -c "import random; print(round(random.uniform(0.0, 0.5), 3))")
  sleep $s2
  redis-server --port $RPORT --bind 127.0.0.1 --save "" --dir $d --appendonly no \
      --key-load-delay 1000 --loading-process-events-interval-bytes 1024 >>$d/redis.log 2>&1 & rpid=$!
  for _ in $(seq 300); do redis-cli -p $RPORT ping 2>/dev/null | grep -q "PONG\|LOADING" && break; sleep 0.01; done
  wait $p; rc=$?
  timeout 60 $W crawl --json -d 100 --crawl-id c --state redis://127.0.0.1:$RPORT --dump "$B" \
      2>$d/dump.err | pages_of > $d/dump.txt
  if [ $rc != 0 ] || ! cmp -s $d/ref.txt $d/dump.txt; then
    fails=$((fails+1))
    echo "run $i (save at $s1 s, down $s2 s): exit $rc, pages: memory $(wc -l <$d/ref.txt)," \
         "--dump $(wc -l <$d/dump.txt) ($d)"
    diff $d/ref.txt $d/dump.txt | head -5; tail -3 $d/err $d/dump.err
  else rm -rf $d; fi
  kill $spid $rpid 2>/dev/null; wait 2>/dev/null
done
echo "fails: $fails of $N"
