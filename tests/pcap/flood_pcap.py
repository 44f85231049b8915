#!/usr/bin/python3
"""A bounded flood through the real binary: a capture of forged PTBs mixed with legitimate ones,
looped by net_pcap's infinite_rx for a fixed time. Checked (docs/security.md):
  - every legitimate PTB reaches its owner (an independent model of the Linux hash says which)
    and no other server; a replicated one reaches every server of its group;
  - no forged PTB is ever sent anywhere, and each is counted under its own reason, once per
    pass over the capture;
  - the per-source limit fires, and replication copies never exceed the budget over any
    1-second window of the output;
  - received == delivered + answered + dropped.

Usage: flood_pcap.py --ptbsteer BIN [--seconds S]
"""
import argparse
import collections
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lib import config, pcapfile  # noqa: E402
from lib.checks import verdict  # noqa: E402
from lib.frames import ptb as ptb_of, quote  # noqa: E402
from lib.linux_hash import Flow, py_model_hash, py_select  # noqa: E402
from lib.runner import BALANCED, report, run_ptbsteer  # noqa: E402

from scapy.all import TCP, Ether, RawPcapReader, wrpcap  # noqa: E402

SEED = 4242
WEB = [("w1", "02:00:00:00:01:01"), ("w2", "02:00:00:00:01:02"), ("w3", "02:00:00:00:01:03"),
       ("w4", "02:00:00:00:01:04")]
REP = [("r1", "02:00:00:00:02:01"), ("r2", "02:00:00:00:02:02"), ("r3", "02:00:00:00:02:03"),
       ("r4", "02:00:00:00:02:04")]
BUDGET_RATE, BUDGET_BURST = 2000, 64
SOURCE_RATE, SOURCE_BURST = 1000, 100
FORGED_PER_REASON = 200
TX_BURST = 32  # frames ptbsteer's TX buffer may hold before a flush (lib/control/appliance.cpp)


def config_file(tmp):
    hsh = dict(policy=1, seed=SEED)
    text = (config.eal(config.prefix("flood"))
            + config.pcap_ports(tmp, rx="flood.pcap", infinite=True)
            + config.lcores(1) + config.metrics("")
            + "limits:\n"
            + f"  per_source: {{rate: {SOURCE_RATE}, burst: {SOURCE_BURST}}}\n"
            + "  global: {rate: 1000000, burst: 100000}\n"
            + f"  replication: {{rate: {BUDGET_RATE}, burst: {BUDGET_BURST}}}\n"
            + "groups:\n"
            + config.group("web", ["198.51.100.0/25"], config.hops(WEB), **hsh)
            + config.group("rep", ["198.51.100.128/25"], config.hops(REP), mode="replicate",
                           **hsh))
    return config.write(os.path.join(tmp, "ptbsteer.yaml"), text)


def ptb(router, server, client, sport, mtu=1400, dst=None, corrupt=False):
    quoted = quote(server, client, TCP(sport=443, dport=sport), 1400, b"q")
    f = ptb_of(server, quoted, mtu, router=router, dst=dst)
    raw = bytearray(bytes(f))
    if corrupt:
        raw[-1] ^= 0xff  # the checksum no longer matches
    return bytes(raw)


def make_capture():
    frames, legit = [], {}
    for i in range(40):  # legitimate, unicast: 4 routers, 10 each
        server, client, sport = f"198.51.100.{1 + i}", f"192.0.2.{1 + i}", 40000 + i
        f = ptb(f"203.0.113.{1 + i % 4}", server, client, sport)
        flow = Flow(4, client, server, 6, sport, 443)
        owner = py_select([1] * 4, py_model_hash(SEED, 1, 0x37, flow))
        legit[f[14:]] = {WEB[owner][1]}
        frames.append(f)
    for i in range(10):  # legitimate, replicated
        f = ptb("203.0.113.5", f"198.51.100.{129 + i}", f"192.0.2.{100 + i}", 41000 + i)
        legit[f[14:]] = {m for _, m in REP}
        frames.append(f)
    forged = collections.Counter()
    for i in range(FORGED_PER_REASON):  # forged, from many spoofed sources
        src = f"203.0.113.{100 + i % 100}"
        client, sport = f"192.0.2.{i % 250 + 1}", 50000 + i
        frames.append(ptb(src, "198.51.100.50", client, sport, mtu=100))
        frames.append(ptb(src, "198.51.100.51", client, sport, corrupt=True))
        frames.append(ptb(src, "192.0.2.200", client, sport))
        frames.append(ptb(src, "198.51.100.52", client, sport, dst="198.51.100.53"))
        frames.append(ptb(src, "198.51.100.54", client, sport, mtu=1500))
    for reason in ("mtu_below_floor", "bad_checksum", "no_group", "dst_not_quoted_source",
                   "mtu_not_smaller"):
        forged[reason] = FORGED_PER_REASON
    return frames, legit, forged


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ptbsteer", required=True)
    ap.add_argument("--seconds", type=float, default=3.0)
    a = ap.parse_args()
    frames, legit, forged = make_capture()
    fails = []
    with tempfile.TemporaryDirectory(prefix="ptbsteer-flood-") as tmp:
        wrpcap(os.path.join(tmp, "flood.pcap"), [Ether(f) for f in frames])
        pcapfile.write(os.path.join(tmp, "empty.pcap"))
        path = config_file(tmp)
        rc, out = run_ptbsteer(a.ptbsteer, path, timeout=a.seconds + 30, settle=a.seconds)
        if rc != 0:
            print(out)
            return 1
        seen = collections.defaultdict(set)
        copies_at = []
        rep_macs = {m for _, m in REP}
        n_out = 0
        reader = RawPcapReader(os.path.join(tmp, "out.pcap"))
        # DPDK's pcap PMD writes nanosecond captures: scapy then puts nanoseconds in `usec`.
        tick = 1e9 if getattr(reader, "nano", False) else 1e6
        for data, meta in reader:
            n_out += 1
            dst = ":".join(f"{b:02x}" for b in data[:6])
            payload = bytes(data[14:])
            if payload not in legit:
                fails.append(f"an output frame is not a legitimate PTB (to {dst})")
                break
            seen[payload].add(dst)
            if dst in rep_macs:
                copies_at.append(meta.sec + meta.usec / tick)

    for payload, owners in legit.items():
        if seen.get(payload) != owners:
            fails.append(f"legitimate PTB went to {sorted(seen.get(payload, []))}, "
                         f"expected {sorted(owners)}")
    c = report(out) or {}
    loops = c.get("rx", 0) / len(frames)
    for reason, per_pass in forged.items():
        got = c.get(f"drop.{reason}", 0)
        if not (int(loops) * per_pass <= got <= (int(loops) + 1) * per_pass):
            fails.append(f"drop.{reason} = {got}, expected {per_pass} per pass x {loops:.2f} "
                         "passes")
    if c.get("drop.rate_limited_source", 0) == 0:
        fails.append("the per-source limit never fired")
    copies_at.sort()
    worst, j = 0, 0
    for i, t in enumerate(copies_at):
        while copies_at[j] <= t - 1.0:
            j += 1
        worst = max(worst, i - j + 1)
    # GCRA admits at most rate x 1 s + burst per second of decisions. The window here is measured
    # on the pcap PMD's TX timestamps, which trail each admission by up to one TX drain (100 us,
    # at most one 32-frame burst): that much jitter is allowed, no more.
    if worst > BUDGET_RATE + BUDGET_BURST + TX_BURST or \
            (a.seconds >= 2 and worst < BUDGET_RATE // 2):
        fails.append(f"{worst} copies within one second, budget {BUDGET_RATE}/s + burst "
                     f"{BUDGET_BURST}")
    if BALANCED not in out:
        fails.append("counters do not balance")
    forged_by = ", ".join(f"{r} {c.get('drop.' + r, 0)}" for r in forged)
    return verdict(fails,
                   f"flood ({a.seconds:.0f} s, {loops:.0f} passes over {len(frames)} frames, "
                   f"{c.get('rx', 0)} received): {n_out} frames out, all legitimate; "
                   f"{len(legit)}/{len(legit)} legitimate PTBs at their owner(s); forged "
                   f"dropped by reason: {forged_by}; rate_limited_source "
                   f"{c.get('drop.rate_limited_source', 0)}, replication_budget "
                   f"{c.get('drop.replication_budget', 0)}; worst 1-s window {worst} copies "
                   f"(budget {BUDGET_RATE}+{BUDGET_BURST}): "
                   + ("ok" if not fails else f"{len(fails)} failures"), out)


if __name__ == "__main__":
    sys.exit(main())
