#!/usr/bin/python3
"""How long a group update through the control API takes, end to end: a client PUTs a group of
N next-hops and times the round trip until the answer (which comes after the new generation
serves). Every PUT builds and publishes a new generation; three kinds of change:
  seed  the hash seed alternates, every next-hop as before (ptbsteer has read them all);
  one   one next-hop's MAC changes per PUT (a server's NIC swapped: what router sync sends);
  all   every next-hop is new (new names and MACs each time: the worst case).
Prints the first update's time and p50/p99/max of the rest, per size and kind. Not a test:
numbers for docs/performance.md ("Group updates"). Needs the release build; one DPDK process.
Usage: api_update_bench.py --ptbsteer BIN [--sizes 64,4096] [--kinds seed,one,all]
                           [--updates 1000]"""
import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lib import config, pcapfile  # noqa: E402
from lib import api as api_lib  # noqa: E402
from lib.runner import remove_eal_dirs  # noqa: E402


def group(n, i, kind):
    """The i-th PUT's body."""
    def mac(k, generation):
        return f"02:{generation % 256:02x}:00:{k // 65536:02x}:{k // 256 % 256:02x}:{k % 256:02x}"
    hops = [{"name": f"n{k}" if kind != "all" else f"n{i}-{k}", "port": "out",
             "mac": mac(k, i if kind == "all" else 0)} for k in range(n)]
    if kind == "one":
        hops[i % n]["mac"] = mac(i % n, 1 + i % 255)
    return {"prefixes": ["198.51.100.0/24"],
            "hash": {"model": "linux", "policy": 1, "seed": 3 + (i % 2 if kind == "seed" else 0)},
            "next_hops": hops}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ptbsteer", required=True)
    ap.add_argument("--sizes", default="64,4096", help="next-hops per group, comma-separated")
    ap.add_argument("--kinds", default="seed,one,all", help="kinds of change, comma-separated")
    ap.add_argument("--updates", type=int, default=1000, help="PUTs per size and kind")
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
            for n, kind in ((int(x), k) for x in args.sizes.split(",")
                            for k in args.kinds.split(",")):
                took = []
                for i in range(args.updates):
                    body = json.dumps(group(n, i, kind)).encode()  # not timed
                    t0 = time.monotonic()
                    status, answer, _ = api.call("PUT", f"/v1/groups/g{n}", raw=body)
                    took.append(time.monotonic() - t0)
                    if status != 200:
                        sys.exit(f"update {i} of {n} next-hops: {status} {answer}")
                first, rest = took[0], sorted(took[1:])
                print(f"{n:5d} next-hops, {kind:4s}: first {1000 * first:7.1f} ms; then p50 "
                      f"{1000 * rest[len(rest) // 2]:6.1f} ms, p99 "
                      f"{1000 * rest[int(len(rest) * 0.99) - 1]:6.1f} ms, max "
                      f"{1000 * rest[-1]:6.1f} ms ({len(rest)} updates)")
                api.call("DELETE", f"/v1/groups/g{n}")
        finally:
            p.stop()
            remove_eal_dirs()


if __name__ == "__main__":
    main()
