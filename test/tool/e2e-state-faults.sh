#!/usr/bin/env bash
# `weft crawl --state FILE` on bad files and faults: a clear error, the file
# untouched, never a crash; and after a fault the same command resumes.
#  - not SQLite, empty, SQLite but not weft's, a newer schema, a directory;
#  - a second process on the same file while the first crawls;
#  - a truncated file and flipped bytes;
#  - the disk filling up mid-crawl, and a file system gone read-only
#    between runs (a small tmpfs; needs root to mount, else skipped with a note);
#  - --dump misuse.
# Usage: e2e-state-faults.sh path/to/weft
set -u
W=${1:?usage: e2e-state-faults.sh path/to/weft}
tmp=$(mktemp -d /tmp/weft-e2e-faults.XXXXXX)
pids=()
mnt=""
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ -n "$mnt" ] && umount "$mnt" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
. "$(dirname "$0")/lib-e2e.sh"
T=$((60 * SCALE))

# refused FILE WORDS...: exit 2, a message on stderr with WORDS, no crash, FILE unchanged
refused() {
    local f=$1 words=$2 before after rc
    before=$(sha1sum <"$f")
    timeout $T "$W" crawl -q --state "$f" "$A/" >/dev/null 2>"$tmp/err"
    rc=$?
    after=$(sha1sum <"$f")
    if [ $rc = 2 ] && grep -q -- "$words" "$tmp/err" && [ "$before" = "$after" ]; then
        return 0
    fi
    echo "     exit $rc, stderr: $(cat "$tmp/err")"
    return 1
}

start_site a --pages 300 --links 4 --seed 2
A=$BASE_a

printf 'hello, not a database\n' >"$tmp/text"
check "not SQLite: exit 2, says so, untouched" refused "$tmp/text" "not a weft state file"
: >"$tmp/empty"
check "empty file: exit 2, untouched (never made a new crawl)" refused "$tmp/empty" "is empty"
$PY -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("create table t(x)"); c.execute("insert into t values (1)"); c.commit()' "$tmp/other.db"
check "SQLite but not weft's: exit 2, untouched" refused "$tmp/other.db" "not a weft state file"
mkdir "$tmp/dir"
timeout $T "$W" crawl -q --state "$tmp/dir" "$A/" >/dev/null 2>"$tmp/err"
check "a directory: exit 2" test $? = 2 -a -n "$(grep -l 'directory' "$tmp/err")"

# A real state file, then one edited to a newer schema.
timeout $T "$W" crawl -q -d 100 --state "$tmp/ok.db" "$A/" >/dev/null 2>&1
check "a crawl to damage: exit 0" test $? = 0
# Fold the WAL into the file, so copies of FILE alone hold the whole crawl.
$PY -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("pragma wal_checkpoint(truncate)"); c.close()' "$tmp/ok.db"
cp "$tmp/ok.db" "$tmp/new.db"
$PY -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("update meta set v = 99 where k = \"schema\""); c.commit(); c.execute("pragma journal_mode=delete")' "$tmp/new.db"
check "newer schema: exit 2, says newer, untouched" refused "$tmp/new.db" "newer"

# Truncated and flipped: a clear error (exit 1 or 2), never a signal.
for kind in truncate flip; do
    cp "$tmp/ok.db" "$tmp/$kind.db"
    size=$(stat -c %s "$tmp/$kind.db")
    if [ $kind = truncate ]; then
        truncate -s $((size / 2)) "$tmp/$kind.db"
    else
        $PY -c '
import sys
f = open(sys.argv[1], "r+b"); data = bytearray(f.read())
for i in range(4096 + 100, len(data), 997):
    data[i] ^= 0x5a
f.seek(0); f.write(data)' "$tmp/$kind.db"
    fi
    timeout $T "$W" crawl -q -d 100 --state "$tmp/$kind.db" "$A/" >/dev/null 2>"$tmp/err"
    rc=$?
    timeout $T "$W" crawl --state "$tmp/$kind.db" --dump --json >/dev/null 2>>"$tmp/err"
    rc2=$?
    # Never "complete" (exit 0): the crawl in it is finished, but damaged.
    check "$kind file: crawl exit $rc, --dump exit $rc2, both 1..127 with a message" \
        test $rc -ge 1 -a $rc -lt 128 -a $rc2 -ge 1 -a $rc2 -lt 128 -a -s "$tmp/err"
    grep -q -i "corrupt\|malformed\|not a weft\|cannot" "$tmp/err" ||
        { echo "     stderr: $(head -3 "$tmp/err")"; fail "$kind file: the message names the damage"; }
done

# A second process while the first crawls: refused at once.
start_site slow --pages 300 --links 4 --latency 0.05
"$W" crawl -q -d 100 -j 2 --state "$tmp/busy.db" "$BASE_slow/" >/dev/null 2>&1 &
first=$!
pids+=($first)
for _ in $(seq 1 100); do [ -s "$tmp/busy.db" ] && break; sleep 0.02; done
sleep 0.2
start=$(date +%s%N)
timeout $T "$W" crawl -q -d 100 --state "$tmp/busy.db" "$BASE_slow/" >/dev/null 2>"$tmp/err"
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
check "second process: exit 2 within ${ms} ms, says in use" \
    test $rc = 2 -a $ms -lt $((5000 * SCALE)) -a -n "$(grep -l 'in use' "$tmp/err")"
kill -INT $first
wait $first
check "first process: still fine (Ctrl-C: 130)" test $? = 130
timeout $T "$W" crawl -q -d 100 -j 8 --state "$tmp/busy.db" "$BASE_slow/" >/dev/null 2>&1
check "and its crawl resumes to the end (exit 0)" test $? = 0

# --dump misuse.
timeout $T "$W" crawl --dump "$A/" >/dev/null 2>"$tmp/err"
check "--dump without --state: exit 2" test $? = 2
timeout $T "$W" crawl --dump --state "$tmp/none.db" >/dev/null 2>"$tmp/err"
check "--dump of a missing file: exit 2, nothing created" test $? = 2 -a ! -e "$tmp/none.db"

# Disk full and read-only mid-crawl, on a small tmpfs.
mnt="$tmp/mnt"
mkdir "$mnt"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=1m tmpfs "$mnt" 2>/dev/null; then
    start_site big --pages 20000 --links 6 --seed 4
    timeout $((180 * SCALE)) "$W" crawl -q -d 100 -j 8 --state "$mnt/s.db" "$BASE_big/" >/dev/null 2>"$tmp/err"
    rc=$?
    check "disk full: exit 1, says full" test $rc = 1 -a -n "$(grep -l -i 'full' "$tmp/err")"
    timeout $T "$W" crawl --state "$mnt/s.db" --dump --json 2>/dev/null | grep -c '"status"' >"$tmp/n1"
    check "disk full: the file is consistent (--dump reads $(cat "$tmp/n1") pages)" \
        test "$(cat "$tmp/n1")" -gt 0
    mount -o remount,size=64m "$mnt"
    timeout $((180 * SCALE)) "$W" crawl -q -d 100 -j 8 --state "$mnt/s.db" "$BASE_big/" >/dev/null 2>"$tmp/err"
    check "space freed: the same command resumes to the end (exit 0)" test $? = 0
    n=$("$W" crawl --state "$mnt/s.db" --dump --json 2>/dev/null | $PY -c '
import json, sys, collections
c = collections.Counter(json.loads(l)["url"] for l in sys.stdin if "status" in l)
print(len(c) if all(v == 1 for v in c.values()) else -1)')
    check "space freed: 20001 pages, each once ($n)" test "$n" = 20001

    # Read-only: Linux refuses to remount a file system read-only while a
    # file on it is open for writing, so the file system turns read-only
    # between runs (as after errors=remount-ro): kill -9 mid-crawl, remount
    # read-only, run again: refused with the reason, nothing lost.
    rm -f "$mnt"/s.db*
    start_site ro --pages 2000 --links 4 --latency 0.01
    "$W" crawl -q -d 100 -j 8 --state "$mnt/r.db" "$BASE_ro/" >/dev/null 2>"$tmp/err" &
    p=$!
    pids+=($p)
    sleep 0.5
    kill -9 $p
    wait $p
    mount -o remount,ro "$mnt"
    before=$(cat "$mnt"/r.db* | sha1sum)
    timeout $T "$W" crawl -q -d 100 -j 8 --state "$mnt/r.db" "$BASE_ro/" >/dev/null 2>"$tmp/err"
    rc=$?
    after=$(cat "$mnt"/r.db* | sha1sum)
    check "read-only file system: exit $rc (1 or 2) with the reason, files untouched" \
        test \( $rc = 1 -o $rc = 2 \) -a -n "$(grep -l -i 'read-only\|readonly' "$tmp/err")" -a "$before" = "$after"
    [ -s "$tmp/err" ] && echo "     $(head -1 "$tmp/err")"
    mount -o remount,rw "$mnt"
    timeout $((120 * SCALE)) "$W" crawl -q -d 100 -j 8 --state "$mnt/r.db" "$BASE_ro/" >/dev/null 2>"$tmp/err"
    check "writable again: the same command resumes to the end (exit 0)" test $? = 0
    umount "$mnt"
    mnt=""
else
    echo "skip disk full / read-only: mounting a tmpfs needs root"
fi

finish
