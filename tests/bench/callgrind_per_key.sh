#!/bin/sh
# Instructions per key of hash + select, counted by callgrind (repeatable, unlike timings on a
# shared VM). Only hash_and_select() and what it calls are counted (--toggle-collect); each case
# runs it twice (one warm-up pass + --runs 1) over --count keys.
# Usage: tests/bench/callgrind_per_key.sh BUILD_DIR [CASE...]   (default: every case)
# tests/bench/callgrind_per_frame.sh runs this script for decide-bench (BENCH, TOGGLE, COUNT,
# FILTER_PREFIX and DEFAULT_CASES set in the environment).
set -eu
build=${1:?usage: $0 BUILD_DIR [CASE...]}
shift
bench=${BENCH:-hash-bench}
toggle=${TOGGLE:-*hash_and_select*}
count=${COUNT:-16384}
prefix=${FILTER_PREFIX:-}
# shellcheck disable=SC2086 # a list of case names, split on purpose
[ $# -gt 0 ] || set -- ${DEFAULT_CASES:-linux-p0/v4 linux-p0/v6 linux-p0/mix linux-p1/v4 \
    linux-p1/v6 linux-p1/mix linux-p3/v4 linux-p3/v6 linux-p3/mix toeplitz/v4 toeplitz/v6 \
    toeplitz/mix crc32c/v4 crc32c/v6 crc32c/mix}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
printf '%-24s %12s\n' case "instr/${UNIT:-key}"
for c in "$@"; do
    f="$out/cg.$(echo "$c" | tr / _)"
    valgrind --tool=callgrind --callgrind-out-file="$f" --toggle-collect="$toggle" \
        "$build/tests/bench/$bench" --runs 1 --count "$count" --filter "$prefix$c" >/dev/null 2>&1
    ir=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p; s/^totals: *\([0-9]*\).*/\1/p' "$f" | head -1)
    awk -v c="$c" -v ir="$ir" -v n="$count" 'BEGIN { printf "%-24s %12.1f\n", c, ir / (2 * n) }'
done
