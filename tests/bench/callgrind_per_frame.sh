#!/bin/sh
# Instructions per PTB frame of dataplane::decide() (parse + validate + prefix lookup + hash +
# select), counted by callgrind: repeatable to the instruction on a noisy machine, unlike timings.
# Only decide_all() and what it calls are counted; each case runs it twice (one warm-up pass +
# --runs 1) over --count frames. Valgrind emulates no AVX-512, so the checksum runs its AVX2
# version here (see docs/performance.md).
# Usage: tests/bench/callgrind_per_frame.sh BUILD_DIR [CASE...]   (default: the cases below)
set -eu
build=${1:?usage: $0 BUILD_DIR [CASE...]}
shift
[ $# -gt 0 ] || set -- linux-p1/8/v4 linux-p1/8/v6 linux-p1/8/mix linux-p1/8/minimal \
    crc32c/8/v4 crc32c/8/v6 crc32c/8/mix crc32c/8/minimal
count=4096
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
printf '%-24s %12s\n' case 'instr/frame'
for c in "$@"; do
    f="$out/cg.$(echo "$c" | tr / _)"
    valgrind --tool=callgrind --callgrind-out-file="$f" --toggle-collect='*decide_all*' \
        "$build/tests/bench/decide-bench" --runs 1 --count "$count" --filter "decide/$c" >/dev/null 2>&1
    ir=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p; s/^totals: *\([0-9]*\).*/\1/p' "$f" | head -1)
    awk -v c="$c" -v ir="$ir" -v n="$count" 'BEGIN { printf "%-24s %12.1f\n", c, ir / (2 * n) }'
done
