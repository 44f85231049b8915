#!/bin/sh
# Instructions per packet of the whole binary (RX, decision, rewrite, TX; every thread, start-up
# included, which a long run amortises), counted by callgrind on scripts/bench's vdevs and
# capture: net_pcap infinite_rx in, net_null out, linux policy 1, 4 next-hops, unicast.
# Under valgrind the binary runs ~50x slower, so SECONDS of run time is ~10 M packets at 40.
# Needs root (DPDK), valgrind and python3-scapy. See docs/performance.md.
# Usage: tests/bench/callgrind_whole_binary.sh BINARY [minimal|full] [SECONDS]
# With KEEP=FILE in the environment the callgrind profile is kept there (for callgrind_annotate).
set -eu
bin=${1:?usage: $0 BINARY [minimal|full] [SECONDS]}
quotes=${2:-minimal}
seconds=${3:-40}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp -d)
prefix="bench-cg-$$"
trap 'rm -rf "$out" "/var/run/dpdk/$prefix"' EXIT
/usr/bin/python3 - "$root/scripts/lib" "$out" "$quotes" "$prefix" <<'EOF'
import os
import sys
sys.path.insert(0, sys.argv[1])
import bench_binary as b
out, quotes, prefix = sys.argv[2:5]
b.capture(f"{out}/ptbs.pcap", quotes=quotes)
# bench_binary names the EAL prefix after its own pid: use ours, which the trap removes
text = b.config(f"{out}/ptbs.pcap", 4, "unicast").replace(f"bench-ps-{os.getpid()}", prefix)
with open(f"{out}/cfg.yaml", "w") as f:
    f.write(text)
EOF
timeout -s INT "$seconds" valgrind --tool=callgrind --max-threads=2000 --fair-sched=yes --callgrind-out-file="$out/cg" \
    "$bin" --config "$out/cfg.yaml" >"$out/log" 2>&1 || true
rx=$(sed -n 's/^ptbsteer-counters rx=\([0-9]*\).*/\1/p' "$out/log")
ir=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p; s/^totals: *\([0-9]*\).*/\1/p' "$out/cg" | head -1)
if [ -z "$rx" ] || [ -z "$ir" ] || [ "$rx" = 0 ]; then
    cat "$out/log"
    echo "no exit report: the run failed" >&2
    exit 1
fi
[ -z "${KEEP:-}" ] || cp "$out/cg" "$KEEP"
awk -v rx="$rx" -v ir="$ir" -v q="$quotes" \
    'BEGIN { printf "%s quotes: %d packets, %.0f instructions per packet\n", q, rx, ir / rx }'
