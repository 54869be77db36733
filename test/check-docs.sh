#!/bin/sh
# Every public function (WEFT_API in include/) has a reference page
# docs/ref/<name>.md with its synopsis, description, return value and an
# example. Scope-guard helpers (names ending in _) are covered by their macro.
set -eu
root=$1
missing=0 count=0
for name in $(grep -ho 'WEFT_API[^(]*(' "$root"/include/weft/*.h |
              sed -E 's/.*[ *]([a-z_0-9]+)\($/\1/' | grep -v '_$' | sort -u); do
    count=$((count + 1))
    page="$root/docs/ref/$name.md"
    if [ ! -f "$page" ]; then
        echo "missing reference page: docs/ref/$name.md"
        missing=$((missing + 1))
        continue
    fi
    for section in "## Synopsis" "## Description" "## Return value" "## Example"; do
        grep -q "^$section" "$page" || { echo "$page: no '$section' section"; missing=$((missing + 1)); }
    done
done
echo "$count public functions, $missing problems"
[ "$missing" -eq 0 ]
