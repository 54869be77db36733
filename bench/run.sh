#!/bin/sh
# bench/run.sh: `make bench` (quick) and `make bench-full`: builds the
# benchmark drivers for weft and every peer that is installed, then runs
# bench/run.py, which prints the table and writes bench/results/.
#
#   sh bench/run.sh BUILD quick|full [run.py options: --only lib|tool, --figures k1,k2]
#
# The peers come from Debian packages; as root, scripts/deps.sh installs the
# missing ones first. A peer that is missing or does not build is "n/a" in
# the table; so is weft's own column while a module it needs is not merged.
set -u
BUILD=${1:-build/cc}
MODE=${2:-quick}
[ $# -ge 2 ] && shift 2 || shift $#
cd "$(dirname "$0")/.." || exit 1

sh scripts/deps.sh libglib2.0-dev libtbb-dev libuv1-dev wget2 python3-requests python3-bs4 \
    postgresql-doc-15 libglib2.0-doc \
    time curl >&2 || echo "bench: some peers are missing; their columns will say n/a" >&2

if ! command -v python3 >/dev/null 2>&1; then
    echo "bench: python3 is needed to run the benchmarks (apt-get install python3)" >&2
    exit 1
fi
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    echo "bench: $BUILD is not configured: run make build (or make bench) first" >&2
    exit 1
fi
# Configure again so a bench/CMakeLists.txt newer than the build is seen.
cmake "$BUILD" >/dev/null || exit 1

mkdir -p bench/results
log=bench/results/build.log
: >"$log"
for t in $(cat "$BUILD/bench/targets.txt" 2>/dev/null); do
    if ! cmake --build "$BUILD" --target "$t" -j "$(nproc 2>/dev/null || echo 2)" >>"$log" 2>&1; then
        # A stale binary from an earlier build must not stand in for this one.
        rm -f "$BUILD/bench/$t"
        echo "bench: $t did not build (see $log): n/a" >&2
    fi
done

python3 bench/run.py "$BUILD" "$MODE" "$@"
rc=$?
# Figures that need no peer, printed after the tables.
if [ -x "$BUILD/tool/weft" ]; then
    echo
    bash bench/bench-savename.sh "$BUILD/tool/weft" 16000
    echo
    python3 bench/bench_realhtml.py "$BUILD/tool/weft" 3
    echo
    bash bench/bench-state.sh "$BUILD" 5
    echo
    bash bench/bench-redis.sh "$BUILD" 1000
fi
exit $rc
