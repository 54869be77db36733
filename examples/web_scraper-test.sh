#!/bin/bash
# The web_scraper example's test: starts the embedded site (`weft serve`,
# 50 ms a request), crawls it from /page/0 and checks the report: both
# crawls find the same pages, a speedup is printed, the pages have titles.
# Usage: web_scraper-test.sh WEFT_BINARY WEB_SCRAPER_BINARY
set -u
weft=$1 scraper=$2
dir=$(mktemp -d)
pid=
cleanup() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    rm -rf "$dir"
}
trap cleanup EXIT
fail() {
    echo "web_scraper-test: $*"
    exit 1
}

# The server prints its base URL as its first line; read it through a fifo
# (no sleeping, bounded by read -t), then keep draining its output.
mkfifo "$dir/serve.out"
"$weft" serve --latency 0.05 >"$dir/serve.out" 2>"$dir/serve.err" &
pid=$!
exec 3<"$dir/serve.out"
read -r -t 30 base <&3 || fail "no URL from weft serve: $(cat "$dir/serve.err")"
cat <&3 >/dev/null &
case $base in
http://127.0.0.1:*/) ;;
*) fail "unexpected first line from weft serve: $base" ;;
esac

timeout 60 "$scraper" "${base}page/0" >"$dir/out" 2>&1
rc=$?
cat "$dir/out"
[ "$rc" -eq 0 ] || fail "exit status $rc"

seq=$(sed -n 's/^Sequential: [0-9.]*s, \([0-9]*\) pages$/\1/p' "$dir/out")
thr=$(sed -n 's/^Threaded: [0-9.]*s, \([0-9]*\) pages$/\1/p' "$dir/out")
[ -n "$seq" ] || fail "no Sequential line"
[ -n "$thr" ] || fail "no Threaded line"
[ "$seq" -gt 5 ] || fail "sequential crawl found only $seq pages"
[ "$seq" = "$thr" ] || fail "sequential found $seq pages, threaded $thr"
grep -Eq '^Speedup: [0-9]+\.[0-9]x$' "$dir/out" || fail "no Speedup line"
grep -Eq '^Time saved: [0-9]+\.[0-9]{2}s$' "$dir/out" || fail "no Time saved line, or a negative one"
# Every request waits 50 ms and 5 workers share them: threads must win.
# Judged from the two times, not from the example's own Speedup line.
st=$(sed -n 's/^Sequential: \([0-9.]*\)s, .*/\1/p' "$dir/out")
tt=$(sed -n 's/^Threaded: \([0-9.]*\)s, .*/\1/p' "$dir/out")
awk -v s="$st" -v t="$tt" 'BEGIN { exit !(s > 0 && t > 0 && s / t > 1.0) }' ||
    fail "threaded ($tt s) not faster than sequential ($st s)"
grep -q "^Scraped $thr pages:$" "$dir/out" || fail "no Scraped line"
n=$(grep -Ec '^ Title: Page [0-9]+$' "$dir/out")
[ "$n" -ge 3 ] || fail "only $n of the first pages have a 'Page N' title"
grep -Eq '^ Words: [1-9][0-9]*, Status: 200$' "$dir/out" || fail "no Words/Status line"
echo "web_scraper-test: $seq pages both ways, all checks passed"
