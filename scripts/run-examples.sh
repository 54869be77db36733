#!/bin/sh
# `make demo` before the weft tool is built: runs the seed examples.
set -eu
build=$1
for ex in seq_vs_threads pool_map cpu_bound; do
    echo "=== examples/$ex"
    "$build/examples/$ex" 0.25
done
