#!/usr/bin/env bash
# End-to-end tests of `weft serve --dir DIR`: types, index.html, 404, 301
# for a directory without its slash, gzip when accepted, per-path
# counters through the crawler, and paths that try to leave DIR (.., %2e%2e,
# symlinks out) never serve a byte from outside.
# Usage: e2e-serve-dir.sh path/to/weft
set -u
W=${1:?usage: e2e-serve-dir.sh path/to/weft}
tmp=$(mktemp -d /tmp/weft-e2e-dir.XXXXXX)
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
check() {
    local name=$1
    shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}
PY=python3

# A small tree, a secret beside it, and links that try to reach it.
T="$tmp/tree"
mkdir -p "$T/sub/deeper" "$T/empty"
printf '<html><head><title>Home</title></head><body><a href="sub/">sub</a> <a href="a.txt">a</a> <a href="style.css">css</a></body></html>\n' >"$T/index.html"
printf '<html><head><title>Sub</title></head><body><a href="deeper/page.html">deeper</a> <a href="../index.html">up</a></body></html>\n' >"$T/sub/index.html"
printf '<html><head><title>Deep</title></head><body>%s</body></html>\n' "$(printf 'word %.0s' $(seq 1 300))" >"$T/sub/deeper/page.html"
printf 'hello\n' >"$T/a.txt"
printf 'body { color: red }\n' >"$T/style.css"
printf 'SECRET-OUTSIDE\n' >"$tmp/outside.txt"
ln -s "$tmp/outside.txt" "$T/link-out"
ln -s "$tmp" "$T/dir-out"
ln -s "$T/a.txt" "$T/link-in"

mkfifo "$tmp/srv"
"$W" serve --dir "$T" 2>"$tmp/serve.err" >"$tmp/srv" &
pids+=($!)
exec 3<"$tmp/srv"
read -r -t 10 -u 3 BASE || { echo "FAIL weft serve --dir did not start"; exit 1; }
BASE=${BASE%/}
PORT=${BASE##*:}
echo "# tree at $BASE"

check "raw requests: types, index, 404, 301, 403, escapes" $PY - "$PORT" <<'EOF'
import http.client, sys, gzip
port = int(sys.argv[1])
def get(path, enc=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    h = {"Accept-Encoding": enc} if enc else {}
    c.putrequest("GET", path, skip_accept_encoding=True)
    for k, v in h.items():
        c.putheader(k, v)
    c.endheaders()
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, r.getheader("Content-Type", ""), r.getheader("Content-Encoding"), \
        r.getheader("Location"), body
st, ct, ce, _, body = get("/")
assert st == 200 and ct.startswith("text/html") and b"<title>Home" in body and ce is None, (st, ct)
st, ct, _, _, body = get("/a.txt")
assert st == 200 and ct.startswith("text/plain") and body == b"hello\n", (st, ct, body)
assert get("/style.css")[1] == "text/css"
st, _, _, loc, _ = get("/sub")
assert st == 301 and loc == "/sub/", (st, loc)
st, _, _, _, body = get("/sub/")
assert st == 200 and b"<title>Sub" in body
assert get("/empty/")[0] == 404          # a directory without index.html
assert get("/nope.html")[0] == 404
assert get("/link-in")[0] == 200          # a symlink inside the tree
# gzip when asked for, identical once decoded
st, ct, ce, _, body = get("/sub/deeper/page.html", "gzip")
assert st == 200 and ce == "gzip", (st, ce)
assert gzip.decompress(body) == get("/sub/deeper/page.html")[4]
# every way out of the tree: never a byte of what is outside
for path in ["/../outside.txt", "/%2e%2e/outside.txt", "/sub/../../outside.txt",
             "/sub/%2E%2E/%2e%2e/outside.txt", "/..%2foutside.txt", "/link-out",
             "/dir-out/outside.txt", "/./a.txt", "/sub/./index.html", "/a.txt%00.html",
             "/..\\\\outside.txt", "//etc/passwd", "/%2e%2e%2f%2e%2e%2fetc/passwd"]:
    st, _, _, _, body = get(path)
    assert st in (403, 404), (path, st)
    assert b"SECRET-OUTSIDE" not in body and b"root:" not in body, path
assert get("/link-out")[0] == 403         # the symlink exists, and leads out
EOF

# The crawler through the tree: every page once, counted by the server.
timeout 60 "$W" crawl --json --no-robots -d 5 "$BASE/" >"$tmp/crawl.json" 2>"$tmp/crawl.err"
check "crawl of the tree: exit 0" test $? -eq 0
check "crawl of the tree: its pages and files, each once, compressed on the wire" $PY -c '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
pages = [r for r in recs if "skipped" not in r]
urls = sorted(r["url"] for r in pages)
base = sys.argv[2]
want = sorted(base + p for p in ["/", "/a.txt", "/index.html", "/style.css", "/sub/",
                                  "/sub/deeper/page.html"])
assert urls == want, urls
deep = [r for r in pages if r["url"].endswith("page.html")][0]
assert deep["words"] == 300 and deep["wire_bytes"] < deep["bytes"], deep
' "$tmp/crawl.json" "$BASE"

if [ $fails -ne 0 ]; then
    echo "$fails check(s) failed"
    exit 1
fi
echo "all checks passed"
