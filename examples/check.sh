#!/bin/sh
# Runs an example and checks its output: every line of the expect file that
# does not start with '#' is an extended regex that must match a line of the
# output, in order. "#args: ..." passes arguments; "#exit: N" sets the
# expected exit status (default 0).
set -u
bin=$1 expect=$2
args=$(sed -n 's/^#args: //p' "$expect")
want_exit=$(sed -n 's/^#exit: //p' "$expect")
[ -n "$want_exit" ] || want_exit=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# shellcheck disable=SC2086
"$bin" $args >"$out" 2>&1
rc=$?
cat "$out"
if [ "$rc" -ne "$want_exit" ]; then
    echo "check: exit status $rc, wanted $want_exit"
    exit 1
fi
line=1
grep -v '^#' "$expect" > "$out.re"
while IFS= read -r re; do
    found=$(tail -n +"$line" "$out" | grep -n -E -m1 -- "$re" | cut -d: -f1)
    if [ -z "$found" ]; then
        echo "check: no line matching /$re/ (from output line $line on)"
        rm -f "$out.re"
        exit 1
    fi
    line=$((line + found))
done < "$out.re"
rm -f "$out.re"
echo "check: all $(wc -l < "$expect") expectations met"
