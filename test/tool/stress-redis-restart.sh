#!/bin/bash
# stress-redis-restart.sh: a Redis-backed crawl of the embedded site (800
# pages) with redis-server (AOF, appendfsync always) shut down and started
# again at a random instant, N times; each crawl must end by itself, exit
# 0, within 40 s. Not part of `make test` (minutes of wall time): run it by
# hand after touching the Redis frontier or its connection code.
#
#   W=build/cc/tool/weft bash test/tool/stress-redis-restart.sh [N]
#
# Loopback only: the site and Redis are started here on free ports. A
# failed run's directory (its stderr, output and Redis log) is kept.
W=${W:-build/cc/tool/weft}
N=${1:-20}
fails=0
for i in $(seq 1 $N); do
  d=$(mktemp -d /tmp/weft-stress.XXXXXX)
  RPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  redis-server --port $RPORT --bind 127.0.0.1 --save "" --dir $d --appendonly yes --appendfsync always >$d/redis.log 2>&1 & rpid=$!
  for _ in $(seq 200); do redis-cli -p $RPORT ping >/dev/null 2>&1 && break; sleep 0.01; done
  $W serve --pages 800 --links 4 --seed $((40+i)) --latency 0.02 > $d/site.url 2>/dev/null & spid=$!
  for _ in $(seq 200); do [ -s $d/site.url ] && break; sleep 0.01; done
  B=$(head -1 $d/site.url)
  timeout 40 $W crawl --json -d 100 -j 8 --redis-timeout 30 --state redis://127.0.0.1:$RPORT "$B" >$d/out.json 2>$d/err & p=$!
  sleep $(python3 -c "import random; print(random.uniform(0.1,1.6))")
  redis-cli -p $RPORT shutdown >/dev/null 2>&1; wait $rpid 2>/dev/null
  sleep $(python3 -c "import random; print(random.uniform(0.05,0.8))")
  redis-server --port $RPORT --bind 127.0.0.1 --save "" --dir $d --appendonly yes --appendfsync always >>$d/redis.log 2>&1 & rpid=$!
  wait $p; rc=$?
  if [ $rc != 0 ]; then fails=$((fails+1)); echo "run $i: exit $rc ($d)"; tail -3 $d/err; else rm -rf $d; fi
  kill $spid $rpid 2>/dev/null; wait 2>/dev/null
done
echo "fails: $fails of $N"
