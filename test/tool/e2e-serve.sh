#!/bin/bash
# e2e-serve.sh: `weft serve` end to end: start it on an ephemeral port, read
# the base URL it prints, fetch a few paths with curl, SIGTERM it and check it
# exits 0 promptly. Usage: e2e-serve.sh path/to/weft
# Every wait is bounded; the trap kills the server whatever happens.
set -u
WEFT=${1:?usage: e2e-serve.sh path/to/weft}
SCALE=${WEFT_TEST_TIMEOUT_SCALE:-1}
dir=$(mktemp -d)
pid=
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
    fi
    rm -rf "$dir"
}
trap cleanup EXIT
fail() {
    echo "e2e-serve: FAIL: $*" >&2
    [ -f "$dir/err" ] && sed 's/^/  server: /' "$dir/err" >&2
    exit 1
}
# Wait up to $2 seconds (times SCALE) for command $1 to succeed.
wait_for() {
    local tries=$(awk -v s="$2" -v k="$SCALE" 'BEGIN { print int(s * k * 20) }')
    for ((i = 0; i < tries; i++)); do
        eval "$1" && return 0
        sleep 0.05
    done
    return 1
}

# Bad arguments: a message and status 2.
"$WEFT" serve --pages 0 2>"$dir/bad" && fail "--pages 0 accepted"
"$WEFT" serve --pages 0 2>/dev/null
[ $? -eq 2 ] || fail "--pages 0 did not exit 2"
grep -q -- "--pages" "$dir/bad" || fail "no message naming --pages"
"$WEFT" serve --help | grep -q "usage: weft serve" || fail "--help"

"$WEFT" serve --pages 50 --latency 0.05 --robots-delay 2 >"$dir/out" 2>"$dir/err" &
pid=$!
wait_for 'grep -q "^http://" "$dir/out"' 10 || fail "no base URL printed"
base=$(head -n 1 "$dir/out")
case "$base" in
http://127.0.0.1:[1-9]*/) ;;
*) fail "odd base URL '$base'" ;;
esac

get() { curl -s --max-time 20 "$@"; }
code() { curl -s -o /dev/null --max-time 20 -w '%{http_code}' "$@"; }

get "${base}page/3" | grep -q "<title>Page 3</title>" || fail "/page/3"
[ "$(code "${base}page/50")" = 404 ] || fail "/page/50 is not 404"
get "${base}robots.txt" | grep -q "^Crawl-delay: 2$" || fail "robots.txt"
[ "$(code "${base}status/503?retry-after=1")" = 503 ] || fail "/status/503"
get -i "${base}status/429?retry-after=4" | grep -qi "^Retry-After: 4" || fail "Retry-After"
final=$(curl -s -L -o /dev/null --max-time 20 -w '%{url_effective}' "${base}redirect/3")
[ "$final" = "${base}page/0" ] || fail "redirect chain ended at '$final'"
[ "$(get "${base}big/12345" | wc -c)" -eq 12345 ] || fail "/big/12345 size"
get "${base}reset" >/dev/null
[ $? -eq 52 ] || fail "/reset did not close without a reply"
# localhost counts as another host; it may not resolve here, so name it.
port=${base#http://127.0.0.1:}
port=${port%/}
[ "$(code -H "Host: localhost:$port" "${base}page/1")" = 200 ] || fail "Host: localhost"

# 200 concurrent slow requests all succeed.
seq 1 200 | sed "s|.*|url = \"${base}page/1?delay=0.2\"\noutput = /dev/null|" >"$dir/cfg"
n=$(curl -s --no-progress-meter --parallel --parallel-max 200 --max-time 30 -K "$dir/cfg" -w '%{http_code}\n' |
    grep -c '^200$')
[ "$n" -eq 200 ] || fail "only $n of 200 concurrent slow requests answered 200"

# SIGTERM with requests in flight: a clean, prompt exit.
curl -s -o /dev/null --max-time 30 "${base}page/2?delay=20" &
slow=$!
# Not a synchronisation: the exit must be clean whether or not the request
# has arrived yet; the pause only makes "in flight" the likely case.
sleep 0.2
kill -TERM "$pid"
wait_for '! kill -0 $pid 2>/dev/null' 10 || fail "still running 10 s after SIGTERM"
wait "$pid"
rc=$?
pid=
[ $rc -eq 0 ] || fail "exit status $rc after SIGTERM"
grep -q "stopped after" "$dir/err" || fail "no stop message"
wait "$slow" 2>/dev/null

# SIGINT (Ctrl-C) stops it as cleanly, and the port can be given.
"$WEFT" serve --pages 5 >"$dir/out2" 2>"$dir/err" &
pid=$!
wait_for 'grep -q "^http://" "$dir/out2"' 10 || fail "no base URL printed (second run)"
base=$(head -n 1 "$dir/out2")
get "${base}page/4" | grep -q "<title>Page 4</title>" || fail "/page/4 (second run)"
kill -INT "$pid"
wait_for '! kill -0 $pid 2>/dev/null' 10 || fail "still running 10 s after SIGINT"
wait "$pid"
rc=$?
pid=
[ $rc -eq 0 ] || fail "exit status $rc after SIGINT"
grep -q "SIGINT: stopped after 1 requests" "$dir/err" || fail "no SIGINT stop message"
echo "e2e-serve: ok"
