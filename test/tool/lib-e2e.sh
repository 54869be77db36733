# lib-e2e.sh: what the end-to-end scripts (and the crawl benchmarks) share:
# counted checks, the embedded site started on a free port, its /__stats,
# and a crawl's pages as "depth path" lines. Source it after setting W (the
# weft binary), tmp (a scratch directory the caller removes) and pids (an
# array the caller's cleanup kills); it is not a test itself.
fails=0
PY=python3
SCALE=${WEFT_TEST_TIMEOUT_SCALE:-1}
pass() { echo "ok   $1"; }
fail() { echo "FAIL $1"; fails=$((fails + 1)); }
check() { # name, then a command that must succeed
    local name=$1
    shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}
# The script's verdict and exit status.
finish() {
    [ $fails = 0 ] && echo "all passed" || echo "$fails failed"
    exit $((fails > 0))
}
start_site() { # name, weft serve options...: sets BASE_<name>
    local name=$1
    shift
    mkfifo "$tmp/srv-$name"
    "$W" serve "$@" 2>/dev/null >"$tmp/srv-$name" &
    pids+=($!)
    local fd
    exec {fd}<"$tmp/srv-$name"
    local base
    read -r -t 10 -u $fd base || { echo "FAIL weft serve $name did not start"; exit 1; }
    printf -v "BASE_$name" '%s' "${base%/}"
}
same_pages() { # expected file, actual file[, a log to show]: equal, or the differences shown
    cmp -s "$1" "$2" && return 0
    echo "     expected $(wc -l <"$1") lines, got $(wc -l <"$2"); first differences (< expected, > got):"
    diff "$1" "$2" | grep '^[<>]' | head -n 10 | sed 's/^/       /'
    [ -n "${3:-}" ] && echo "     the end of $(basename "$3"):" && tail -n 8 "$3" | sed 's/^/       /'
    return 1
}
stats() { # base -> /__stats JSON on stdout
    timeout 10 "$W" fetch -q -o "$tmp/stats.$$" "$1/__stats" >/dev/null 2>&1
    cat "$tmp/stats.$$"/* && rm -rf "$tmp/stats.$$"
}
pages_of() { # JSON lines on stdin -> sorted "depth path" of the pages
    $PY -c '
import json, sys, urllib.parse
for line in sys.stdin:
    r = json.loads(line)
    if "status" in r:
        print(r["depth"], urllib.parse.urlsplit(r["url"]).path)' | sort
}
