#!/bin/sh
# Instructions per PTB frame of datapath::decide() (parse + validate + prefix lookup + hash +
# select), counted by callgrind: repeatable to the instruction on a noisy machine, unlike timings.
# Only decide_all() and what it calls are counted; each case runs it twice (one warm-up pass +
# --runs 1) over 4096 frames. Valgrind emulates no AVX-512, so the checksum runs its AVX2
# version here (see docs/performance.md).
# Usage: tests/bench/callgrind_per_frame.sh BUILD_DIR [CASE...]   (default: the cases below)
BENCH=decide-bench TOGGLE='*decide_all*' COUNT=4096 FILTER_PREFIX=decide/ UNIT=frame \
DEFAULT_CASES='linux-p1/8/v4 linux-p1/8/v6 linux-p1/8/mix linux-p1/8/no-checksum-mix
    linux-p1/8/minimal crc32c/8/v4 crc32c/8/v6 crc32c/8/mix crc32c/8/no-checksum-mix
    crc32c/8/minimal' \
    exec "$(dirname "$0")/callgrind_per_key.sh" "$@"
