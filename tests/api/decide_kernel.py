#!/usr/bin/python3
"""POST /v1/decide against the Linux kernel: a router namespace holds a multipath route over
weighted next-hops with the hash sysctls of each case; ptbsteer holds the same group, put
through the control API; for FLOWS random flows per case, the next-hop `ip route get ... iif`
picks on the forwarding path must be the one the API decides (IPv4 and IPv6 policy 0, IPv4
policy 3 with a field set). The topology is the kernel-agreement test's (tests/kernel).
Usage: decide_kernel.py --ptbsteer BIN [--flows N] [--seed N]"""
import argparse
import os
import random
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "kernel"))
from kernel_topology import (SERVICE_NET4, SERVICE_NET6, Topology, kernel_route_get,  # noqa: E402
                             random_flows)
from lib import config, pcapfile  # noqa: E402
from lib import api as api_lib  # noqa: E402
from lib.checks import Checks  # noqa: E402
from lib.netns import delete_orphans  # noqa: E402
from lib.runner import remove_eal_dirs  # noqa: E402

# (family, policy, fields): fib_multipath_hash_fields 0x37 = addresses, protocol, both ports and
# the IPv6 flow label bit (ignored for IPv4): the 5-tuple written as a field set.
CASES = [(4, 0, None), (6, 0, None), (4, 3, 0x37)]
WEIGHTS = [1, 3, 1, 2, 1, 1, 4]


def app_config(tmp):
    return (config.eal(config.prefix("dk"))
            + config.pcap_ports(tmp)
            + config.lcores(1)
            + "groups:\n"
            # A file group elsewhere: the API's group is looked up beside it.
            + config.group("web", ["203.0.113.0/24"], [config.hop("w1", "02:00:00:00:01:01")],
                           policy=1, seed=7)
            + config.metrics()
            + api_lib.control(tmp))


def group(family, policy, fields, seed):
    hsh = {"model": "linux", "policy": policy, "seed": seed}
    if fields is not None:
        hsh["fields"] = fields
    return {"prefixes": [SERVICE_NET4 if family == 4 else SERVICE_NET6], "hash": hsh,
            "next_hops": [{"name": f"n{i}", "port": "out", "mac": f"02:00:00:00:05:{i:02x}",
                           "weight": w} for i, w in enumerate(WEIGHTS)]}


def flow_json(f):
    return {"src": f.src, "dst": f.dst, "proto": f.proto, "sport": f.sport, "dport": f.dport}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ptbsteer", required=True)
    ap.add_argument("--flows", type=int, default=1000, help="random flows per case")
    ap.add_argument("--seed", type=int, default=20261206, help="of the flows and hash seeds")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    c = Checks("api-decide-kernel")
    delete_orphans(r"ptbd-(\d+)-(?:cl|rt|sk)$")
    topo = Topology(f"ptbd-{os.getpid()}")
    with tempfile.TemporaryDirectory() as tmp:
        pcapfile.write(f"{tmp}/in.pcap")
        pcapfile.write(f"{tmp}/empty.pcap")
        token = api_lib.token_file(tmp)
        cfg = config.write(f"{tmp}/ptbsteer.yaml", app_config(tmp))
        p = None
        try:
            topo.create()
            p, api = api_lib.start(args.ptbsteer, cfg, token)
            for family, policy, fields in CASES:
                seed = rng.randrange(1, 1 << 32)
                title = (f"IPv{family} policy {policy}"
                         + (f" fields {fields:#x}" if fields is not None else "")
                         + f" seed {seed:#x}, weights {WEIGHTS}")
                topo.configure(family, seed, policy, fields or 0, WEIGHTS)
                flows = random_flows(rng, family, args.flows)
                kernel = kernel_route_get(topo, flows, WEIGHTS)
                status, answer, _ = api.call("PUT", "/v1/groups/site",
                                             group(family, policy, fields, seed))
                c.check(status == 200, f"{title}: PUT the router's group", str(answer))
                status, answer, _ = api.call("POST", "/v1/decide",
                                             {"flows": [flow_json(f) for f in flows]})
                ours = [d.get("next_hop_index") for d in (answer or {}).get("decisions", [])]
                wrong = [f"{f}: kernel n{k}, ptbsteer {d}"
                         for f, k, d in zip(flows, kernel, answer.get("decisions", []))
                         if d.get("next_hop_index") != k]
                used = len(set(kernel))
                c.check(status == 200 and len(ours) == len(flows) and not wrong,
                        f"{title}: {len(flows) - len(wrong)}/{len(flows)} flows decided as the "
                        f"kernel routes them ({used} next-hops used)",
                        f"{status}; first disagreements:\n" + "\n".join(wrong[:5]))
                c.check(used == len(WEIGHTS), f"{title}: every next-hop is some flow's")
                status, _, _ = api.call("DELETE", "/v1/groups/site")
                c.check(status == 200, f"{title}: DELETE the group")
        finally:
            if p:
                p.stop()
            remove_eal_dirs()
            topo.destroy()
    c.finish()


if __name__ == "__main__":
    main()
