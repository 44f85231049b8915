#!/bin/sh
# Instructions per key of hash + select, counted by callgrind (repeatable, unlike timings on a
# shared VM). Only hash_and_select() and what it calls are counted (--toggle-collect); each case
# runs it twice (one warm-up pass + --runs 1) over --count keys.
# Usage: tests/bench/callgrind_per_key.sh BUILD_DIR [CASE...]   (default: every case)
set -eu
build=${1:?usage: $0 BUILD_DIR [CASE...]}
shift
[ $# -gt 0 ] || set -- linux-p0/v4 linux-p0/v6 linux-p0/mix linux-p1/v4 linux-p1/v6 \
    linux-p1/mix linux-p3/v4 linux-p3/v6 linux-p3/mix toeplitz/v4 toeplitz/v6 toeplitz/mix \
    crc32c/v4 crc32c/v6 crc32c/mix
count=16384
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
printf '%-16s %12s\n' case 'instr/key'
for c in "$@"; do
    f="$out/cg.$(echo "$c" | tr / _)"
    valgrind --tool=callgrind --callgrind-out-file="$f" --toggle-collect='*hash_and_select*' \
        "$build/tests/bench/hash-bench" --runs 1 --count "$count" --filter "$c" >/dev/null 2>&1
    ir=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p; s/^totals: *\([0-9]*\).*/\1/p' "$f" | head -1)
    awk -v c="$c" -v ir="$ir" -v n="$count" 'BEGIN { printf "%-16s %12.1f\n", c, ir / (2 * n) }'
done
