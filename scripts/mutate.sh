#!/usr/bin/env bash
# mutate.sh: do the tests catch the regressions that matter? Applies each
# mutation below, one at a time, to a scratch copy of the committed tree
# (never to the work tree), builds it, runs the tests named for it, and
# reports "caught" (some test failed) or "survived". A mutation whose text
# no longer matches the source says "does not apply" (the code moved: update
# this list). Exit status: 0 when every mutant was caught.
#
# Usage: scripts/mutate.sh [NAME...]     (default: all)
# Takes about a minute a mutant on 2 cores; not part of CI.
set -u
cd "$(dirname "$0")/.." || exit 2
root=$(pwd)
work=$(mktemp -d /tmp/weft-mutate.XXXXXX)
trap 'rm -rf "$work"' EXIT

# name | file | sed expression (must change the file; no '|' in it: it is the
# field separator) | the tests to run, joined by '|'
mutants=(
"crawl-ignores-retry-after|tool/crawl/engine.c|s/double ra = cc == 0 ? a.retry_after : -1;/double ra = -1;/|tool-test-crawl"
"fetch-ignores-retry-after|tool/fetch/engine.c|s/retry_delay(attempt, a.retry_after, retry_jitter())/retry_delay(attempt, -1, retry_jitter())/|tool-test-fetch-engine"
"robots-not-checked-at-handout|tool/crawl/frontier.c|s/if (h->rs == R_READY \&\& !robots_allowed(h->rb, urlnorm_path(h->head\[k\]->url)))/if (0)/|tool-test-frontier|tool-test-crawl|tool-e2e-cli"
"robots-not-checked-on-new-links|tool/crawl/frontier.c|s/if (h->rs == R_READY \&\& !robots_allowed(h->rb, urlnorm_path(sl->s))) {/if (0) {/|tool-test-frontier|tool-test-crawl|tool-e2e-cli"
"depth-window-one-level|tool/crawl/frontier.c|s/for (unsigned level = f->cur; level <= f->cur + 1; level++) {/for (unsigned level = f->cur; level <= f->cur; level++) {/|tool-e2e-cli"
"delay-ignores-robots-request|tool/crawl/frontier.c|s/if (h->delay > 0 \&\& weft_monotonic() + h->delay > h->next_start)/if (0)/|tool-test-crawl"
"redirect-hops-unchecked|tool/crawl/engine.c|s/crawl_skip why = scope_check(\&c->sc, next);/crawl_skip why = SKIP_NONE;/|tool-test-crawl"
"userinfo-kept|tool/parse/urlnorm.c|s/curl_url_set(u, CURLUPART_USER, NULL, 0);/;/|tool-test-urlnorm|tool-test-crawl"
"output-errors-ignored|tool/cli/stop.c|s/    return false;/    return true;/|tool-e2e-hostile"
"notify-all-wakes-one|src/cond.c|s/wake(c, (unsigned)-1);/wake(c, 1);/|test-cond|test-barrier|test-queue|test-event|example-condition"
)

want=("$@")
caught=0 survived=0 stale=0
for m in "${mutants[@]}"; do
    IFS='|' read -r name file expr tests <<<"$m"
    tests=${m#*|*|*|} # the rest: one or more ctest names joined by '|'
    if [ ${#want[@]} -gt 0 ] && [[ ! " ${want[*]} " == *" $name "* ]]; then
        continue
    fi
    tree="$work/$name"
    mkdir -p "$tree"
    git -C "$root" archive HEAD | tar -x -C "$tree"
    cp "$tree/$file" "$tree/$file.orig"
    sed -i "$expr" "$tree/$file"
    if cmp -s "$tree/$file" "$tree/$file.orig"; then
        echo "mutant $name: does not apply (no match in $file)"
        stale=$((stale + 1))
        rm -rf "$tree"
        continue
    fi
    if ! (cmake -S "$tree" -B "$tree/build" >/dev/null 2>&1 &&
        cmake --build "$tree/build" -j "$(nproc)" >"$tree/build.log" 2>&1); then
        echo "mutant $name: does not build (see $tree/build.log): caught by the compiler"
        caught=$((caught + 1))
        continue
    fi
    # A hang counts as caught: ctest's watchdog fails the test after 120 s.
    if (cd "$tree/build" && ctest -R "^($tests)\$" -j 2 --timeout 120 >"$tree/test.log" 2>&1); then
        echo "mutant $name: SURVIVED ($tests all passed)"
        survived=$((survived + 1))
    else
        failed=$(grep -E '^\s+[0-9]+ - ' "$tree/test.log" | awk '{print $3}' | tr '\n' ' ')
        echo "mutant $name: caught by $failed"
        caught=$((caught + 1))
    fi
    rm -rf "$tree"
done
echo "$caught caught, $survived survived, $stale did not apply"
[ "$survived" -eq 0 ] && [ "$stale" -eq 0 ]
