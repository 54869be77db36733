#!/usr/bin/env bash
# End-to-end tests of weft fetch and crawl against hostile answers on
# loopback (issue: "a crawler you can point at a hostile web"): a gzip bomb,
# endless and oversized bodies, a full disk, a full output, a huge header,
# a NUL in an input line, a directory as input. Each server here is local
# and bounded; every command runs under `timeout`.
# Usage: e2e-hostile.sh path/to/weft
set -u
W=${1:?usage: e2e-hostile.sh path/to/weft}
tmp=$(mktemp -d /tmp/weft-e2e-hostile.XXXXXX)
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
check() { # name, then a command that must succeed
    local name=$1
    shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}
PY=python3

mkfifo "$tmp/srv"
"$W" serve --gzip 2>"$tmp/serve.err" >"$tmp/srv" &
pids+=($!)
exec 3<"$tmp/srv"
read -r -t 10 -u 3 BASE || { echo "FAIL weft serve did not start"; exit 1; }
BASE=${BASE%/}
echo "# site at $BASE"

# --- compression: asked for by default, decoded, both byte counts -----------
timeout 30 "$W" crawl --json -d 0 "$BASE/page/3" >"$tmp/gz.json" 2>/dev/null
timeout 30 "$W" crawl --json -d 0 --no-compressed "$BASE/page/3" >"$tmp/plain.json" 2>/dev/null
check "crawl decodes gzip: same page, fewer bytes on the wire" $PY -c '
import json, sys
gz = json.loads(open(sys.argv[1]).readline())
pl = json.loads(open(sys.argv[2]).readline())
assert gz["status"] == 200 and pl["status"] == 200
assert gz["title"] == pl["title"] == "Page 3", (gz, pl)
assert gz["words"] == pl["words"] > 0
assert gz["bytes"] == pl["bytes"], (gz["bytes"], pl["bytes"])
assert gz["wire_bytes"] < gz["bytes"], gz
assert pl["wire_bytes"] == pl["bytes"], pl
' "$tmp/gz.json" "$tmp/plain.json"

# --- a gzip bomb stops at --max-bytes (decoded) with bounded memory --------
/usr/bin/env time -f '%M' -o "$tmp/rss" timeout 30 "$W" fetch --json --max-bytes 1M \
    "$BASE/bomb/100000" >"$tmp/bomb.json" 2>/dev/null
rc=$?
check "fetch: bomb is a per-URL error (exit 1)" test $rc -eq 1
check "fetch: bomb error names the limit" grep -q '"error":"body over 1048576 bytes (--max-bytes)"' "$tmp/bomb.json"
check "fetch: bomb decoded no more than the limit" grep -q '"bytes":1048576,' "$tmp/bomb.json"
# 100 MB (400 under sanitizers, whose shadow memory counts too) against the
# 100 GB the bomb inflates to.
rss_limit=$((${WEFT_TEST_TIMEOUT_SCALE:-1} > 1 ? 400000 : 100000))
check "fetch: bomb peak RSS bounded" test "$(tail -n 1 "$tmp/rss")" -lt $rss_limit
timeout 30 "$W" crawl --json -d 0 --max-bytes 64K "$BASE/bomb/100000" >"$tmp/cbomb.json" 2>/dev/null
check "crawl: bomb page cut at --max-bytes" $PY -c '
import json, sys
r = json.loads(open(sys.argv[1]).readline())
assert r["truncated"] and r["bytes"] == 65536, r
' "$tmp/cbomb.json"

# --- fetch --max-bytes: the partial file is removed ------------------------
mkdir "$tmp/out"
timeout 30 "$W" fetch -q --max-bytes 10K -o "$tmp/out" "$BASE/big/100000" "$BASE/page/1" \
    >/dev/null 2>&1
rc=$?
check "fetch --max-bytes: exit 1" test $rc -eq 1
check "fetch --max-bytes: only the small file is left" test "$(ls "$tmp/out" | wc -l)" -eq 1
timeout 30 "$W" fetch -q -o "$tmp/out" "$BASE/big/100000" >/dev/null 2>&1
check "fetch without --max-bytes: the whole body" test "$(stat -c %s "$tmp/out"/*100000*)" -eq 100000
check "fetch --max-bytes refuses a bad size" test "$(timeout 10 "$W" fetch --max-bytes 1.5M "$BASE/" 2>&1 >/dev/null; echo $?)" = "$(printf "weft fetch: --max-bytes wants a size in bytes (e.g. 4096, 512K, 10M, 1G) of at least 1, not '1.5M'\nTry 'weft fetch --help'.\n2")"

# --- a write that fails mid-body (file size limit: EFBIG) -------------------
mkdir "$tmp/full"
(
    trap '' XFSZ
    ulimit -f 8 # 8 blocks of 512 bytes
    timeout 30 "$W" fetch --json -o "$tmp/full" "$BASE/big/100000" >"$tmp/full.json" 2>/dev/null
    echo $? >"$tmp/full.rc"
)
check "fetch: a failed write is a per-URL error (exit 1)" test "$(cat "$tmp/full.rc")" -eq 1
check "fetch: the write error is named" grep -q '"error":"cannot write the body: File too large"' "$tmp/full.json"
check "fetch: the partial file is removed" test "$(ls "$tmp/full" | wc -l)" -eq 0

# --- the output itself cannot be written: exit 3, once ----------------------
for args in "fetch $BASE/page/1" "fetch --json $BASE/page/1" "fetch --csv $BASE/page/1" \
    "fetch --timeline $BASE/page/1" "crawl -d 1 $BASE/" "crawl --json -d 1 $BASE/" \
    "crawl --csv -d 1 $BASE/"; do
    # shellcheck disable=SC2086
    timeout 30 "$W" $args >/dev/full 2>"$tmp/full.err"
    rc=$?
    check "$args > /dev/full: exit 3" test $rc -eq 3
    check "$args > /dev/full: said once" test "$(grep -c 'cannot write the output: No space left on device' "$tmp/full.err")" -eq 1
done
timeout 30 "$W" crawl -q --trace /dev/full -d 0 "$BASE/" >/dev/null 2>"$tmp/trace.err"
check "crawl --trace /dev/full: exit 3" test $? -eq 3
timeout 30 "$W" fetch -q --trace /dev/full "$BASE/" >/dev/null 2>"$tmp/trace.err"
check "fetch --trace /dev/full: exit 3" test $? -eq 3
timeout 30 "$W" fetch --json "$BASE/page/1" >/dev/null 2>/dev/full
check "fetch --json with its summary stream full: exit 3" test $? -eq 3

# --- input: a NUL in a line, a directory ------------------------------------
printf '%s\n%s\0%s\n' "$BASE/page/1" "$BASE/pa" "ge/2" >"$tmp/nul.txt"
timeout 30 "$W" fetch --json -i "$tmp/nul.txt" >"$tmp/nul.json" 2>/dev/null
check "fetch -i: a NUL byte fails that line, by number (exit 1)" test $? -eq 1
check "fetch -i: the NUL line's error" grep -q '"error":"line 2: a NUL byte in the URL"' "$tmp/nul.json"
check "fetch -i: the other line is fetched" grep -q '"url":"'"$BASE"'/page/1","ok":true' "$tmp/nul.json"
err=$(timeout 10 "$W" fetch -i "$tmp" 2>&1 >/dev/null); rc=$?
check "fetch -i DIR: exit 2" test $rc -eq 2
check "fetch -i DIR: is a directory" grep -q 'is a directory' <<<"$err"
err=$(timeout 10 "$W" fetch --timeout 0x10 "$BASE/" 2>&1 >/dev/null); rc=$?
check "fetch --timeout 0x10: refused (exit 2)" test $rc -eq 2

# --- a 1 MB response header: named, not retried -----------------------------
cat >"$tmp/bighdr.py" <<'EOF'
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(4)
s.settimeout(20)
print(s.getsockname()[1], flush=True)
for _ in range(3):  # at most three connections, then exit
    try:
        c, _ = s.accept()
    except OSError:
        break
    try:
        c.settimeout(5)
        c.recv(65536)
        c.sendall(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (1 << 20) + b"\r\nContent-Length: 2\r\n\r\nok")
    except OSError:
        pass
    c.close()
EOF
mkfifo "$tmp/hdr"
$PY "$tmp/bighdr.py" >"$tmp/hdr" &
pids+=($!)
exec 4<"$tmp/hdr"
if read -r -t 10 -u 4 HPORT; then
    timeout 30 "$W" fetch --json --retries 2 "http://127.0.0.1:$HPORT/" >"$tmp/hdr.json" 2>/dev/null
    check "a 1 MB header: per-URL error (exit 1)" test $? -eq 1
    check "a 1 MB header: named, one attempt" $PY -c '
import json, sys
r = json.loads(open(sys.argv[1]).readline())
assert "header too large" in r["error"], r
assert r["attempts"] == 1, r
' "$tmp/hdr.json"
else
    fail "the header server did not start"
fi

# --- server bytes in every output format: valid UTF-8, no control bytes -----
cat >"$tmp/evil.py" <<'EOF'
import socket, threading
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
s.settimeout(30)
print(s.getsockname()[1], flush=True)
ctype = b"text/html; charset=utf-8; x=\x1b[31mred\xff\xfe\xc2\x9b2J"
page = (b"<html><head><title>t\x1b[2Jx\xff</title></head><body>"
        b"<a href='javascript:\x1b]0;pwned\x07'>a</a> <a href='/p\xc2\x9b\xff'>b</a>"
        b" <a href='mailto:\x1b[31m@x'>c</a></body></html>")
def answer(c):
    try:
        c.settimeout(5)
        while True:
            req = b""
            while b"\r\n\r\n" not in req:
                d = c.recv(65536)
                if not d:
                    return
                req += d
            path = req.split(b" ")[1]
            if path == b"/":
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: " + ctype +
                          b"\r\nContent-Length: %d\r\n\r\n" % len(page) + page)
            elif path == b"/long":
                body = (b"<html><body><a href='/l?" + b"a" * 7980 + b"'>ok</a>"
                        b" <a href='/l?" + b"b" * 9000 + b"'>long</a></body></html>")
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                          b"Content-Length: %d\r\n\r\n" % len(body) + body)
            elif path.startswith(b"/l?"):
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                          b"Content-Length: 15\r\n\r\n<html>l</html>\n")
            else:
                c.sendall(b"HTTP/1.1 404 Not \x1b[31mFound\r\nContent-Type: " + ctype +
                          b"\r\nContent-Length: 2\r\n\r\nno")
    except OSError:
        pass
    finally:
        c.close()
for _ in range(40):  # bounded: at most 40 connections, 30 s idle
    try:
        c, _ = s.accept()
    except OSError:
        break
    threading.Thread(target=answer, args=(c,), daemon=True).start()
EOF
mkfifo "$tmp/evil"
$PY "$tmp/evil.py" >"$tmp/evil" &
pids+=($!)
exec 5<"$tmp/evil"
if read -r -t 10 -u 5 EPORT; then
    E="http://127.0.0.1:$EPORT"
    for args in "crawl --no-robots -d 1" "crawl --no-robots -d 1 --json" \
        "crawl --no-robots -d 1 --csv" "fetch" "fetch --json" "fetch --csv"; do
        if [ "${args%% *}" = crawl ]; then urls="$E/"; else urls="$E/ $E/p%C2%9B"; fi
        # shellcheck disable=SC2086
        timeout 30 "$W" $args $urls >"$tmp/evil.out" 2>&1
        check "$args: hostile bytes come out clean" $PY -c '
import json, sys
raw = open(sys.argv[1], "rb").read()
text = raw.decode("utf-8")  # strict: invalid UTF-8 fails here
bad = [c for c in text if (ord(c) < 32 and c not in "\n") or 0x7f <= ord(c) < 0xa0]
assert not bad, bad
if sys.argv[2].startswith("crawl --no-robots -d 1 --"):
    # The content type and the raw hrefs are in these records: replaced.
    assert "\ufffd" in text or "\\u001b" in text, text[:400]
if "--json" in sys.argv[2]:
    for line in text.splitlines():
        if line.startswith("{"):
            json.loads(line)
' "$tmp/evil.out" "$args"
    done
    timeout 30 "$W" crawl --no-robots --json -d 1 "$E/long" >"$tmp/long.json" 2>/dev/null
    check "crawl: an 8,000-octet link is crawled, a 9,000-octet one is skipped too-long" $PY -c '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
pages = [r for r in recs if "skipped" not in r]
long = [r for r in recs if r.get("skipped") == "too-long"]
ok = [r for r in pages if r["url"].startswith(sys.argv[2] + "/l?a")]
assert len(ok) == 1 and ok[0]["status"] == 200 and len(ok[0]["url"]) > 8000, pages
assert len(long) == 1 and "b" * 9000 in long[0]["url"], long
' "$tmp/long.json" "$E"
else
    fail "the hostile-bytes server did not start"
fi

# --- credentials on the command line: used, never printed --------------------
HP=${BASE#http://}
for fmt in "" --json --csv; do
    # shellcheck disable=SC2086
    timeout 30 "$W" fetch $fmt "http://user:secret@$HP/page/1" >"$tmp/cred.out" 2>&1
    rc=$?
    check "fetch $fmt with user:password: fetched (exit 0)" test $rc -eq 0
    check "fetch $fmt with user:password: never printed" test "$(grep -c secret "$tmp/cred.out")" -eq 0
    check "fetch $fmt with user:password: redacted" grep -q '\*\*\*@' "$tmp/cred.out"
done
timeout 30 "$W" crawl --json -d 1 "http://user:secret@$HP/links" >"$tmp/cred.out" 2>"$tmp/cred.err"
check "crawl with user:password: never printed" test "$(cat "$tmp/cred.out" "$tmp/cred.err" | grep -c secret)" -eq 0
check "crawl with user:password: says they are not sent" grep -q 'not sent' "$tmp/cred.err"

if [ $fails -ne 0 ]; then
    echo "$fails check(s) failed"
    exit 1
fi
echo "all checks passed"
