#!/usr/bin/env bash
# End-to-end tests of `weft crawl` against `weft serve` on loopback.
# Usage: e2e-crawl.sh path/to/weft
# Every wait is bounded (read -t, timeout); nothing sleeps to sync.
set -u
W=${1:?usage: e2e-crawl.sh path/to/weft}
tmp=$(mktemp -d /tmp/weft-e2e-crawl.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
check() { # name, then a command that must succeed
    local name=$1
    shift
    if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fails=$((fails + 1)); fi
}
PY=python3

# The server prints its base URL once it listens; read it through a fifo.
mkfifo "$tmp/srv"
"$W" serve --latency 0.002 2>"$tmp/serve.err" >"$tmp/srv" &
pids+=($!)
exec 3<"$tmp/srv"
read -r -t 10 -u 3 BASE || { echo "FAIL weft serve did not start"; exit 1; }
BASE=${BASE%/}
HOME_URL="$BASE/"
echo "# site at $BASE"

# --- the default table -----------------------------------------------------
out=$(timeout 60 "$W" crawl "$HOME_URL" 2>"$tmp/err"); rc=$?
check "table: exit 0" test $rc -eq 0
check "table: header" grep -q '^STATUS DEPTH' <<<"$out"
check "table: home page row" grep -Eq '^ +200 +0 .*weft test site' <<<"$out"
check "table: summary" grep -Eq '^Crawled: [0-9]+ pages \([0-9]+ ok, 0 failed\)' <<<"$out"
check "table: skipped by reason" grep -Eq '^Skipped [0-9]+ URLs: robots [0-9]+, depth [0-9]+' <<<"$out"
check "table: per-depth statistics" grep -Eq '^ +2 +[0-9]+ +0 ' <<<"$out"

# --- JSON lines: pages and skipped URLs, same set with 1 and 8 workers -------
timeout 60 "$W" crawl --json --depth 1000 -j 8 "$HOME_URL" >"$tmp/j8" 2>"$tmp/err"; rc=$?
check "json: exit 0" test $rc -eq 0
timeout 60 "$W" crawl --json --depth 1000 -j 1 "$HOME_URL" >"$tmp/j1" 2>/dev/null
check "json: records well formed, private pages never fetched" $PY -c '
import json, sys
pages, skipped, seen_skip = {}, {}, set()
for line in open(sys.argv[1]):
    r = json.loads(line)
    if "skipped" in r:
        # By default (--skipped first): one record per distinct URL, its
        # first reason; links to URLs seen before are counts on the pages.
        assert r["skipped"] in ("robots", "depth", "off-site", "limit", "filtered",
                                "scheme", "too-long"), r
        assert r["url"] not in seen_skip, "reported twice: " + r["url"]
        seen_skip.add(r["url"])
        skipped.setdefault(r["skipped"], 0)
        skipped[r["skipped"]] += 1
        continue
    assert r["url"] not in pages, "fetched twice: " + r["url"]
    pages[r["url"]] = r
    for k in ("final_url", "status", "depth", "parent", "title", "words", "links",
              "links_new", "links_seen", "content_type", "bytes", "wire_bytes", "time"):
        assert k in r, k
    assert r["links_new"] + r["links_seen"] <= r["links"], r
    assert "/private/" not in r["url"], r
assert len(pages) == 201, len(pages)   # "/" and 200 pages
assert skipped["robots"] > 0 and skipped["scheme"] > 0
assert sum(p["links_seen"] for p in pages.values()) > 0
assert all(p["status"] == 200 for p in pages.values())
' "$tmp/j8"
timeout 60 "$W" crawl --json --depth 1000 -j 8 --skipped all "$HOME_URL" >"$tmp/jall" 2>"$tmp/err.all"
timeout 60 "$W" crawl --json --depth 1000 -j 8 --skipped none "$HOME_URL" >"$tmp/jnone" 2>"$tmp/err.none"
check "--skipped all|first|none: which records, same pages, same totals" $PY -c '
import json, sys
def load(f):
    return [json.loads(l) for l in open(f)]
first, al, none = load(sys.argv[1]), load(sys.argv[2]), load(sys.argv[3])
pages = lambda rs: {r["url"] for r in rs if "skipped" not in r}
assert pages(first) == pages(al) == pages(none)
assert not [r for r in none if "skipped" in r]
dups = [r for r in al if r.get("skipped") == "duplicate"]
assert len(dups) > 0
# all = first + one record per link counted as seen on some page
n_skip = lambda rs: sum(1 for r in rs if "skipped" in r)
assert n_skip(al) - n_skip(first) == sum(r["links_seen"] for r in al if "skipped" not in r), (
    n_skip(al), n_skip(first))
summ = [open(f).read().split("Skipped")[1].splitlines()[0] for f in sys.argv[4:]]
assert summ[0] == summ[1] == summ[2], summ
assert "duplicate" in summ[0]
' "$tmp/j8" "$tmp/jall" "$tmp/jnone" "$tmp/err" "$tmp/err.all" "$tmp/err.none"
check "--skipped: a bad value is refused" test "$(timeout 10 "$W" crawl --skipped some "$HOME_URL" 2>/dev/null; echo $?)" -eq 2
check "json: sequential and threaded find the same pages at the same depths" $PY -c '
import json, sys
def load(f):
    return {(r["url"], r["depth"]) for r in map(json.loads, open(f)) if "skipped" not in r}
a, b = load(sys.argv[1]), load(sys.argv[2])
assert a == b, (len(a), len(b), sorted(a ^ b)[:5])
' "$tmp/j1" "$tmp/j8"
check "json: summary on stderr" grep -q '^Crawled: 201 pages' "$tmp/err"

# --- CSV ----------------------------------------------------------------------
timeout 60 "$W" crawl --csv "$HOME_URL" >"$tmp/csv" 2>/dev/null; rc=$?
check "csv: exit 0" test $rc -eq 0
check "csv: header and rows" $PY -c '
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
pages = [r for r in rows if not r["skipped"]]
assert pages and all(r["status"] == "200" for r in pages), rows[:3]
assert any(r["skipped"] == "depth" for r in rows)
' "$tmp/csv"

# --- limits ---------------------------------------------------------------------
timeout 60 "$W" crawl --json --depth 1000 --max-pages 7 "$HOME_URL" >"$tmp/lim" 2>/dev/null
check "--max-pages: exactly 7 pages, the rest skipped for the limit" $PY -c '
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
assert sum("skipped" not in r for r in rs) == 7
assert any(r.get("skipped") == "limit" for r in rs)
' "$tmp/lim"
timeout 60 "$W" crawl --json --depth 0 --max-bytes 500 "$BASE/big/100000" >"$tmp/big" 2>/dev/null
check "--max-bytes: body cut" $PY -c '
import json, sys
r = json.loads(open(sys.argv[1]).readline())
assert r["bytes"] == 500 and r["truncated"] and r["error"] is None, r
' "$tmp/big"

# --- the zoo: failures give records and exit 1, nothing crashes -------------------
timeout 60 "$W" crawl --json --depth 1 --retries 0 "$BASE/zoo" >"$tmp/zoo" 2>/dev/null; rc=$?
check "zoo: exit 1 (some pages failed)" test $rc -eq 1
check "zoo: redirect loop, reset and 404 are error records" $PY -c '
import json, sys
rs = {r["url"].split("/", 3)[3]: r for r in map(json.loads, open(sys.argv[1])) if "skipped" not in r}
assert "redirect" in rs["loop/a"]["error"], rs["loop/a"]
assert rs["reset"]["status"] == 0 and rs["reset"]["error"]
assert rs["status/404"]["status"] == 404
for p in ("binary", "badutf8", "latin1", "malformed"):
    assert rs[p]["status"] == 200 and rs[p]["error"] is None, rs[p]
assert rs["style.css"]["parsed"] is False
' "$tmp/zoo"

# --- --compare: the seeds report ------------------------------------------------
out=$(timeout 60 "$W" crawl --compare -q -j 8 "$HOME_URL" 2>&1); rc=$?
check "--compare: exit 0" test $rc -eq 0
check "--compare: Sequential line" grep -Eq '^Sequential: [0-9.]+s, [0-9]+ pages$' <<<"$out"
check "--compare: Threaded line" grep -Eq '^Threaded: [0-9.]+s, [0-9]+ pages \(8 workers\)$' <<<"$out"
check "--compare: Speedup line" grep -Eq '^Speedup: [0-9.]+' <<<"$out"
check "--compare: same pages" grep -q '^Same pages both ways: yes' <<<"$out"

# --- --trace --------------------------------------------------------------------
timeout 60 "$W" crawl -q -j 4 --trace "$tmp/trace.json" "$HOME_URL" >/dev/null 2>&1
check "--trace: valid Trace Event JSON" $PY -c '
import json, sys
ev = json.load(open(sys.argv[1]))["traceEvents"]
assert any(e["ph"] == "X" for e in ev)
' "$tmp/trace.json"

# --- usage errors: exit 2 -------------------------------------------------------
for args in "" "--depth x $HOME_URL" "--json --csv $HOME_URL" "-j 0 $HOME_URL" \
    "--nope $HOME_URL" "mailto:x@y" "$HOME_URL $HOME_URL"; do
    # shellcheck disable=SC2086
    timeout 10 "$W" crawl $args >/dev/null 2>"$tmp/err"; rc=$?
    check "usage error '$args': exit 2" test $rc -eq 2
    check "usage error '$args': message" grep -q 'weft crawl: ' "$tmp/err"
done
check "--help: exit 0" timeout 10 "$W" crawl --help >/dev/null

echo "# $fails failed"
test $fails -eq 0
