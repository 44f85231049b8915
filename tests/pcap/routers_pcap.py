#!/usr/bin/python3
"""Per-router group states through the real binary (docs/configuration.md, "Routers"): two
border routers order the same servers differently and hash with their own seeds; edge1's frames
are told apart by their source MAC, edge2's by VLAN 20. A capture holds PTBs from each router
and from a third MAC no router has. Checked, against an independent Python model of the Linux
hash (tests/lib/linux_hash.py) with each router's own order, weights and seed:
  - each router's PTB reaches the owner by that router's state, and no other server;
  - a PTB from no known router is replicated to every server of the group's states (the shared
    state, `unknown_router` by default);
  - the exit report's per-router line counts PTBs received and steered, by own or shared state;
  - negative control: the flows are ones on which the two routers' owners differ often, so a
    single state would misdeliver (the run counts how many).
Usage: routers_pcap.py --ptbsteer BIN"""
import argparse
import collections
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lib import config, pcapfile  # noqa: E402
from lib.checks import verdict  # noqa: E402
from lib.frames import ETH_IN, ptb as ptb_of, quote  # noqa: E402
from lib.linux_hash import Flow, py_model_hash, py_select  # noqa: E402
from lib.runner import BALANCED, run_ptbsteer  # noqa: E402

from scapy.all import TCP, Ether, RawPcapReader, wrpcap  # noqa: E402

SERVERS = {"a": "02:00:00:00:01:01", "b": "02:00:00:00:01:02", "c": "02:00:00:00:01:03",
           "d": "02:00:00:00:01:04"}
# Each router's state: (seed, [(next-hop, weight)] in its order).
STATES = {"edge1": (7, [("a", 1), ("b", 1), ("c", 1)]),
          "edge2": (99, [("c", 3), ("b", 2), ("d", 4), ("a", 1)])}
EDGE1_MAC, STRANGER_MAC = "02:00:00:00:e1:01", "02:00:00:00:00:77"
PER_ROUTER = 60


def config_file(tmp):
    text = (config.eal(config.prefix("routers"))
            + config.pcap_ports(tmp, rx="routers.pcap")
            + config.lcores(1) + config.metrics("")
            + f'routers:\n  - {{name: edge1, mac: "{EDGE1_MAC}"}}\n  - {{name: edge2, vlan: 20}}\n'
            + "groups:\n")
    for router, (seed, hops) in STATES.items():
        g = config.group("web", ["198.51.100.0/24"],
                         config.hops([(n, SERVERS[n], w) for n, w in hops]), policy=1, seed=seed)
        text += g.replace("  - name: web\n", f"  - name: web\n    router: {router}\n", 1)
    return config.write(os.path.join(tmp, "ptbsteer.yaml"), text)


def owner(router, flow):
    seed, hops = STATES[router]
    return SERVERS[hops[py_select([w for _, w in hops], py_model_hash(seed, 1, 0, flow))][0]]


def make_capture():
    """(frames, {payload: expected destination MACs}, flows where the routers' owners differ)."""
    frames, want, differ = [], {}, 0
    for i in range(PER_ROUTER):
        server, client, sport = f"198.51.100.{10 + i}", f"192.0.2.{1 + i}", 40000 + i
        quoted = quote(server, client, TCP(sport=443, dport=sport), 1400, b"q")
        flow = Flow(4, client, server, 6, sport, 443)
        differ += owner("edge1", flow) != owner("edge2", flow)
        for how in ("edge1", "edge2", "none"):
            eth = {"src": EDGE1_MAC if how == "edge1" else STRANGER_MAC,
                   "dst": ETH_IN["dst"]}
            # The outer source differs per copy so each frame's payload is its own.
            router_ip = {"edge1": "203.0.113.1", "edge2": "203.0.113.2", "none": "203.0.113.3"}
            f = bytes(ptb_of(server, quoted, router=router_ip[how], eth=eth,
                             vlan=20 if how == "edge2" else None))
            payload = f[18:] if how == "edge2" else f[14:]
            want[payload] = ({owner(how, flow)} if how != "none" else set(SERVERS.values()))
            frames.append(f)
    return frames, want, differ


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ptbsteer", required=True)
    a = ap.parse_args()
    frames, want, differ = make_capture()
    fails = []
    with tempfile.TemporaryDirectory(prefix="ptbsteer-routers-") as tmp:
        wrpcap(os.path.join(tmp, "routers.pcap"), [Ether(f) for f in frames])
        pcapfile.write(os.path.join(tmp, "empty.pcap"))
        rc, out = run_ptbsteer(a.ptbsteer, config_file(tmp))
        if rc != 0:
            print(out)
            return 1
        seen = collections.defaultdict(set)
        for data, _ in RawPcapReader(os.path.join(tmp, "out.pcap")):
            seen[bytes(data[14:])].add(":".join(f"{b:02x}" for b in data[:6]))
    wrong = [f"to {sorted(seen.get(p, []))}, expected {sorted(m)}" for p, m in want.items()
             if seen.get(p) != m]
    if wrong:
        fails.append(f"{len(wrong)} of {len(want)} PTBs went elsewhere: " + "; ".join(wrong[:3]))
    if differ < PER_ROUTER // 3:
        fails.append(f"only {differ} of {PER_ROUTER} flows have other owners by the two "
                     "routers: the test could not tell the states apart")
    m = re.search(r"^ptbsteer-routers (.*)$", out, re.M)
    got = dict(kv.split("=", 1) for kv in m.group(1).split()) if m else {}
    expect = {"unmatched": f"{PER_ROUTER}/0/{PER_ROUTER}", "edge1": f"{PER_ROUTER}/{PER_ROUTER}/0",
              "edge2": f"{PER_ROUTER}/{PER_ROUTER}/0"}
    if got != expect:
        fails.append(f"exit report's routers line {got}, expected {expect}")
    if BALANCED not in out:
        fails.append("ptbsteer reports unbalanced counters")
    return verdict(fails, f"routers-pcap: {len(want)} PTBs from 2 routers and a stranger; "
                   f"{differ} of {PER_ROUTER} flows owned by different servers per router; "
                   f"{len(fails)} failed", out)


if __name__ == "__main__":
    sys.exit(main())
