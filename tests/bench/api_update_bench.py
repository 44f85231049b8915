#!/usr/bin/python3
"""How long a group update through the control API takes, end to end: a client PUTs a group of
N next-hops (alternating two seeds, so every PUT builds and publishes a new generation) and
times the round trip until the answer (which comes after the new generation serves). Prints
the first update's time and p50/p99/max of the rest, per group size. Not a test: numbers for
docs/performance.md ("Group updates"). Needs the release build; runs one DPDK process.
Usage: api_update_bench.py --ptbsteer BIN [--sizes 64,4096] [--updates 1000]"""
import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lib import config, pcapfile  # noqa: E402
from lib import api as api_lib  # noqa: E402
from lib.runner import remove_eal_dirs  # noqa: E402


def group(n, i):
    return {"prefixes": ["198.51.100.0/24"],
            "hash": {"model": "linux", "policy": 1, "seed": 3 + i % 2},
            "next_hops": [{"name": f"n{k}", "port": "out",
                           "mac": f"02:00:00:00:{k // 256:02x}:{k % 256:02x}"}
                          for k in range(n)]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ptbsteer", required=True)
    ap.add_argument("--sizes", default="64,4096", help="next-hops per group, comma-separated")
    ap.add_argument("--updates", type=int, default=1000, help="PUTs per size")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pcapfile.write(f"{tmp}/in.pcap")
        pcapfile.write(f"{tmp}/empty.pcap")
        token = api_lib.token_file(tmp)
        web = config.group("web", ["203.0.113.0/24"], [config.hop("w1", "02:00:00:00:01:01")],
                           policy=1, seed=7)
        cfg = config.write(f"{tmp}/c.yaml", config.eal(config.prefix("ub"))
                           + config.pcap_ports(tmp) + config.lcores(1) + "groups:\n" + web
                           + config.metrics() + api_lib.control(tmp))
        p, api = api_lib.start(args.ptbsteer, cfg, token)
        try:
            for n in (int(x) for x in args.sizes.split(",")):
                bodies = [group(n, 0), group(n, 1)]
                took = []
                for i in range(args.updates):
                    t0 = time.monotonic()
                    status, answer, _ = api.call("PUT", f"/v1/groups/g{n}", bodies[i % 2])
                    took.append(time.monotonic() - t0)
                    if status != 200:
                        sys.exit(f"update {i} of {n} next-hops: {status} {answer}")
                first, rest = took[0], sorted(took[1:])
                print("  deciles (ms):", " ".join(f"{1000 * rest[int(len(rest) * q / 10)]:.0f}" for q in range(10)))
                print(f"{n:5d} next-hops: first {1000 * first:7.1f} ms; then p50 "
                      f"{1000 * rest[len(rest) // 2]:6.1f} ms, p99 "
                      f"{1000 * rest[int(len(rest) * 0.99) - 1]:6.1f} ms, max "
                      f"{1000 * rest[-1]:6.1f} ms ({len(rest)} updates)")
                api.call("DELETE", f"/v1/groups/g{n}")
        finally:
            p.stop()
            remove_eal_dirs()


if __name__ == "__main__":
    main()
