#!/usr/bin/python3
"""Router-sync churn (issue 21): CHANGES random changes of a Linux router's multipath state, each
judged by the kernel. tests/kernel's topology (16 veths to a sink) holds an IPv4 and an IPv6
route; ptbsteer (control API on) and ptbsteer-sync (against the router namespace) run as in
sync_e2e.py. Each change is one of:
  a legacy multipath route replaced (2 to 8 of the 16 next-hops, random order and weights),
  IPv4 or IPv6; a nexthop-object group replaced in place or under a new id, with the route
  moved to it; IPv4 hash policy 0 <-> 3 with random fields (IPv6 stays at policy 0: its
  `ip route get` builds no packet, so its policy-3 answer is not what forwarding does);
  an IPv4 gateway's neighbour failed or restored; fib_multipath_use_neigh toggled.
After each, once ptbsteer serves the group as the change leaves it (next-hops in the kernel's
order, mode, policy, the next-hops marked `neighbour: invalid` where the kernel checks), FLOWS
random flows of the changed family are looked up both ways: `ip -batch route get ... iif` on the
router and a batch POST /v1/decide. Every flow must have the same gateway. The time from each
command to ptbsteer serving the change is printed as p50/p99/max (docs/performance.md).
Usage: sync_churn.py --ptbsteer BIN --sync BIN [--changes N] [--flows N] [--seed S]"""
import argparse
import json
import os
import random
import tempfile
import time

from sync_e2e import (Sync, app_config, group_state, kernel_choices, ptbsteer_choices,
                      route_cmd, sync_config, wait_applied)
from kernel_topology import MAX_NEXTHOPS, Topology, nh_gateway, random_flows  # noqa: E402
from lib import api as api_lib  # noqa: E402
from lib import config, pcapfile  # noqa: E402
from lib.checks import Checks  # noqa: E402
from lib.netns import delete_orphans, ip_batch, nsexec, sysctl  # noqa: E402
from lib.procs import Procs, run  # noqa: E402
from lib.runner import remove_eal_dirs  # noqa: E402

# Nexthop object ids: singletons 1000 + veth (IPv4), 2000 + veth (IPv6); groups from 3000.
SINGLE = {4: 1000, 6: 2000}


class Router:
    """What the test did to the router, from which each change's expected group follows."""

    def __init__(self, ns, rng):
        self.ns, self.rng = ns, rng
        self.route = {4: None, 6: None}   # (hops [(veth, weight)], nhid or None)
        self.policy4 = 0
        self.use_neigh = False
        self.failed = set()                # veths whose IPv4 gateway neighbour is FAILED
        self.next_group = 3000

    def random_hops(self):
        veths = self.rng.sample(range(MAX_NEXTHOPS), self.rng.randint(2, 8))
        return [(v, self.rng.randint(1, 8)) for v in veths]

    def legacy(self, family):
        hops = self.random_hops()
        self.route[family] = (hops, None)
        return [route_cmd(family, hops)], f"IPv{family} legacy route, {len(hops)} next-hops"

    def group(self, family):
        hops = self.random_hops()
        prev = self.route[family][1]
        # In place (the route keeps its nhid) or a new group the route moves to.
        nhid = prev if prev and self.rng.random() < 0.5 else self.new_group_id()
        cmds = [f"nexthop replace id {SINGLE[family] + v} via {nh_gateway(family, v)} dev r{v}"
                for v, _ in hops]
        cmds.append(f"nexthop replace id {nhid} group "
                    + "/".join(f"{SINGLE[family] + v},{w}" for v, w in hops))
        cmds.append(route_cmd(family, None, nhid=nhid))
        self.route[family] = (hops, nhid)
        return cmds, (f"IPv{family} nexthop group {nhid}"
                      f"{' in place' if nhid == prev else ''}, {len(hops)} members")

    def new_group_id(self):
        self.next_group += 1
        return self.next_group

    def policy(self):
        self.policy4 = 3 if self.policy4 == 0 else 0
        fields = hex(self.rng.randint(1, 0x3f))
        sysctl(self.ns, [("net.ipv4.fib_multipath_hash_fields", fields),
                         ("net.ipv4.fib_multipath_hash_policy", self.policy4)])
        return [], f"IPv4 policy {self.policy4}" + (f" fields {fields}" if self.policy4 else "")

    def neighbour(self):
        v, _ = self.rng.choice(self.route[4][0])
        gw = nh_gateway(4, v)
        if v in self.failed:
            self.failed.discard(v)
            return [f"neigh del {gw} dev r{v}"], f"neighbour {gw} deleted (valid)"
        self.failed.add(v)
        return [f"neigh replace {gw} dev r{v} nud failed"], f"neighbour {gw} failed"

    def toggle_use_neigh(self):
        self.use_neigh = not self.use_neigh
        sysctl(self.ns, [("net.ipv4.fib_multipath_use_neigh", int(self.use_neigh))])
        return [], f"fib_multipath_use_neigh={int(self.use_neigh)}"

    def expected(self, family):
        """(gateways in order, those marked neighbour: invalid or None, policy). Which
        neighbours are not valid is read from the kernel: it may also expire an entry."""
        hops, nhid = self.route[family]
        gws = [nh_gateway(family, v) for v, _ in hops]
        if family == 6:
            return gws, None, 0
        bad = not_valid_neighbours(self.ns) if nhid is not None or self.use_neigh else set()
        return gws, [nh_gateway(4, v) for v, _ in hops if (nh_gateway(4, v), f"r{v}") in bad], \
            self.policy4


def not_valid_neighbours(ns):
    """(address, device) of the IPv4 neighbour entries the kernel counts as not valid."""
    entries = json.loads(run(nsexec(ns, "ip", "-j", "-4", "neigh", "show")).stdout)
    return {(e["dst"], e["dev"]) for e in entries
            if set(e.get("state", [])) & {"FAILED", "INCOMPLETE", "NONE"}}


def one_change(router, rng):
    """Applies a random change; returns (family it concerns, description)."""
    kind = rng.choices(["legacy4", "legacy6", "group4", "group6", "policy", "neigh", "use_neigh"],
                       weights=[3, 2, 3, 2, 1, 2, 1])[0]
    actions = {"legacy4": lambda: router.legacy(4), "legacy6": lambda: router.legacy(6),
               "group4": lambda: router.group(4), "group6": lambda: router.group(6),
               "policy": router.policy, "neigh": router.neighbour,
               "use_neigh": router.toggle_use_neigh}
    cmds, what = actions[kind]()
    if cmds:
        ip_batch(router.ns, cmds)
    return (6 if kind.endswith("6") else 4), what


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ptbsteer", required=True)
    ap.add_argument("--sync", required=True)
    ap.add_argument("--changes", type=int, default=100)
    ap.add_argument("--flows", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=20261207)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    c = Checks("sync-churn")
    delete_orphans(r"ptbsc-(\d+)-(?:cl|rt|sk)$")
    topo = Topology(f"ptbsc-{os.getpid()}")
    procs = Procs()
    lags, agreed, p = [], 0, None
    with tempfile.TemporaryDirectory() as tmp:
        pcapfile.write(f"{tmp}/in.pcap")
        pcapfile.write(f"{tmp}/empty.pcap")
        token = api_lib.token_file(tmp)
        cfg = config.write(f"{tmp}/ptbsteer.yaml", app_config(tmp))
        try:
            topo.create()
            sysctl(topo.rt, [("net.ipv4.fib_multipath_hash_seed", rng.randrange(1, 1 << 32)),
                             ("net.ipv4.fib_multipath_hash_policy", 0),
                             ("net.ipv6.fib_multipath_hash_policy", 0)])
            router = Router(topo.rt, rng)
            ip_batch(topo.rt, router.legacy(4)[0] + router.legacy(6)[0])
            p, api = api_lib.start(args.ptbsteer, cfg, token)
            Sync(procs, args.sync, sync_config(f"{tmp}/sync.yaml", topo.rt, f"{tmp}/token",
                                               api.base), f"{tmp}/sync.log")
            for n in range(args.changes + 1):
                t0 = time.monotonic()
                family, what = (4, "start") if n == 0 else one_change(router, rng)
                name = "site4" if family == 4 else "site6"
                gws, invalid, policy = router.expected(family)
                lag = wait_applied(api, name, gws, "unicast", policy, "hash-threshold", invalid,
                                   t0)
                if lag is None:
                    c.check(False, f"change {n} ({what}): ptbsteer serves {name} as the kernel "
                            "holds it", f"want {gws} invalid {invalid} policy {policy}\n"
                            f"got {group_state(api, name)}")
                    break
                if n:
                    lags.append(lag)
                flows = random_flows(rng, family, args.flows)
                kernel = kernel_choices(topo.rt, flows)
                ours = ptbsteer_choices(api, flows)
                wrong = [f"{f}: kernel {k}, ptbsteer {o}" for f, k, o in zip(flows, kernel, ours)
                         if k != o]
                if wrong:
                    c.check(False, f"change {n} ({what}): {len(wrong)} of {len(flows)} flows "
                            "decided otherwise than the kernel forwards them", "\n".join(wrong[:5]))
                    break
                agreed += 1
                print(f"change {n:3d}: {what}: {1000 * lag:.1f} ms, {len(flows)} flows agree "
                      f"({len(set(kernel))} next-hops used)")
            c.check(agreed == args.changes + 1, f"{agreed - 1} of {args.changes} random changes "
                    f"served as the kernel forwards ({args.flows} flows each, and the start)")
            if lags:
                lags.sort()
                p99 = lags[min(len(lags) - 1, (99 * len(lags)) // 100)]
                print(f"change -> ptbsteer serving it over {len(lags)} changes: p50 "
                      f"{1000 * lags[len(lags) // 2]:.1f} ms, p99 {1000 * p99:.1f} ms, max "
                      f"{1000 * lags[-1]:.1f} ms (includes the polling client's own 1 ms)")
        finally:
            procs.stop_all()
            if p:
                p.stop()
            remove_eal_dirs()
            topo.destroy()
    c.finish()


if __name__ == "__main__":
    main()
