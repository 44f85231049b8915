#!/usr/bin/env python3
"""Median, over several invocations of a benchmark, of each case's median (column 2).

On a shared machine one invocation can land in a busy period; the median across invocations
is the number docs/performance.md reports. Usage: median_of_runs.py OUTPUT_FILE...
"""
import statistics
import sys


def main(paths):
    per_case = {}
    order = []
    for path in paths:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) != 5 or "/" not in parts[0]:
                    continue
                try:
                    ns = float(parts[1])
                except ValueError:
                    continue
                if parts[0] not in per_case:
                    order.append(parts[0])
                per_case.setdefault(parts[0], []).append(ns)
    print(f"{'case':34} {'ns':>8} {'M/s':>8} {'runs':>5}")
    for case in order:
        ns = statistics.median(per_case[case])
        print(f"{case:34} {ns:8.2f} {1e3 / ns:8.2f} {len(per_case[case]):5d}")


if __name__ == "__main__":
    main(sys.argv[1:])
