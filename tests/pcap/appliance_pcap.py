#!/usr/bin/python3
"""The real ptbsteer binary on net_pcap vdevs: a scapy-made capture in, one capture out; every
output frame is checked against an independent oracle.

The oracle for "which next-hop" is tests/kernel's Python model of the Linux multipath hash,
written separately from lib/hash and held to the running kernel by the kernel-agreement test.
Checked here: each PTB leaves towards exactly the expected next-hop (unicast) or once to every
next-hop of its group (replicate), with dst MAC, src MAC and VLAN rewritten and the IP packet
byte-for-byte unchanged, the EtherType matching the IP version that follows it, and for ipip
next-hops inside a tunnel header whose fields are checked one by one (the IPv4 checksum
recomputed by scapy); ARP for our address is answered; everything else is dropped under the
expected reason; the counters balance.

Usage: appliance_pcap.py --ptbsteer BIN [--lcores 1|2] [--count N]
"""
import argparse
import collections
import os
import random
import re
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lib import config  # noqa: E402
from lib.checks import verdict  # noqa: E402
from lib.frames import ptb as ptb_of, quote  # noqa: E402
from lib.linux_hash import Flow, py_model_hash, py_select  # noqa: E402
from lib.runner import BALANCED, report, run_ptbsteer  # noqa: E402

from scapy.all import (ARP, ICMP, IP, TCP, UDP, Dot1Q, Ether, IPv6, Raw, rdpcap,  # noqa: E402
                       wrpcap)

SEED = 12345
OUR_V4 = "203.0.113.2"
# group "web": both families, policy 3 (fields 0x37), unicast, 4 weighted next-hops, one on a VLAN
WEB = dict(prefixes=["198.51.100.0/25", "2001:db8:100::/48"], policy=3, fields=0x37,
           hops=[("w1", "02:00:00:00:01:01", None, 1), ("w2", "02:00:00:00:01:02", 100, 2),
                 ("w3", "02:00:00:00:01:03", None, 1), ("w4", "02:00:00:00:01:04", None, 3)])
# group "api": IPv4 only, policy 1, replicate mode
API = dict(prefixes=["198.51.100.128/26"], policy=1, fields=0x37,
           hops=[("a1", "02:00:00:00:02:01", None, 1), ("a2", "02:00:00:00:02:02", 200, 1),
                 ("a3", "02:00:00:00:02:03", None, 1)])
# group "tun": both families, policy 1, unicast, delivered in ipip tunnels (IPv4 and IPv6 outer
# headers, one behind a VLAN) from the out port's addresses
OUT_V4, OUT_V6 = "192.0.2.1", "2001:db8:ffff::2"
TUN = dict(prefixes=["198.51.100.192/26", "2001:db8:200::/48"], policy=1, fields=0x37,
           hops=[("t1", "02:00:00:00:03:01", None, 1, "203.0.113.50"),
                 ("t2", "02:00:00:00:03:02", 300, 1, "2001:db8:ffff::50")])


def config_file(tmp, lcores, simd):
    def group(name, g, mode):
        hops = [config.hop(h[0], h[1], weight=h[3], vlan=h[2],
                           **(dict(deliver="ipip", address=h[4]) if len(h) > 4 else {}))
                for h in g["hops"]]
        return config.group(name, g["prefixes"], hops, g["policy"], SEED, g["fields"], mode)
    text = (config.eal(config.prefix("pcap"), config.cores(lcores))
            + config.pcap_ports(tmp)
            + config.lcores(lcores)
            + "addresses:\n"
            + f"  - {{port: in, ipv4: {OUR_V4}/24}}\n"
            + f'  - {{port: out, ipv4: {OUT_V4}/24, ipv6: "{OUT_V6}/64"}}\n'
            + "groups:\n" + group("web", WEB, "unicast") + group("api", API, "replicate")
            + group("tun", TUN, "unicast") + config.metrics()
            + f"simd: {simd}\n")
    return config.write(os.path.join(tmp, "ptbsteer.yaml"), text)


def ptb(rng, family, server, client, proto, quote_len=None, vlan=None):
    sport, dport = rng.choice([80, 443]), rng.randrange(1024, 65536)
    l4 = TCP(sport=sport, dport=dport, seq=rng.randrange(1 << 32)) if proto == 6 else \
        UDP(sport=sport, dport=dport)
    quoted = quote(server, client, l4, 1400, b"d", quote_len)
    frame = ptb_of(server, quoted, vlan=vlan)
    # The original flow: client -> server.
    return frame, Flow(family, client, server, proto, dport, sport)


def owner(g, flow):
    weights = [h[3] for h in g["hops"]]
    return py_select(weights, py_model_hash(SEED, g["policy"], g["fields"], flow))


def make_traffic(rng, count):
    frames, expect = [], []
    for i in range(count):
        r = rng.random()
        fam = 4 if r < 0.6 else 6
        proto = rng.choice([6, 17])
        vlan = rng.choice([None, None, 10])
        client = f"192.0.2.{rng.randrange(1, 255)}" if fam == 4 else \
            f"2001:db8:2::{rng.randrange(1, 65535):x}"
        kind = rng.random()
        if fam == 4 and kind < 0.3:
            server = f"198.51.100.{rng.randrange(129, 191)}"            # api: replicate
            frame, flow = ptb(rng, 4, server, client, proto, vlan=vlan)
            expect.append(("copies", API, None))
        elif kind < 0.36:
            server = "198.51.100.7" if fam == 4 else "2001:db8:100::7"  # truncated quote: fallback
            frame, flow = ptb(rng, fam, server, client, proto,
                              quote_len=22 if fam == 4 else 42, vlan=vlan)
            expect.append(("copies", WEB, None))
        elif kind < 0.42:
            server = "192.0.2.200" if fam == 4 else "2001:db8:999::1"   # in no group
            frame, flow = ptb(rng, fam, server, client, proto, vlan=vlan)
            expect.append(("drop", "no_group", None))
        elif kind < 0.55:
            server = f"198.51.100.{rng.randrange(193, 255)}" if fam == 4 else \
                f"2001:db8:200::{rng.randrange(1, 65535):x}"
            frame, flow = ptb(rng, fam, server, client, proto, vlan=vlan)
            expect.append(("unicast", TUN, owner(TUN, flow)))
        else:
            server = f"198.51.100.{rng.randrange(1, 127)}" if fam == 4 else \
                f"2001:db8:100::{rng.randrange(1, 65535):x}"
            frame, flow = ptb(rng, fam, server, client, proto, vlan=vlan)
            expect.append(("unicast", WEB, owner(WEB, flow)))
        frames.append(frame)
    # Not PTBs: ARP for us (answered), ARP for someone else, an echo request, a malformed PTB.
    eth = Ether(src="02:00:00:00:ff:01", dst="ff:ff:ff:ff:ff:ff")
    frames.append(eth / ARP(op=1, hwsrc="02:00:00:00:ff:01", psrc="203.0.113.1", pdst=OUR_V4))
    expect.append(("reply", None, None))
    frames.append(eth / ARP(op=1, hwsrc="02:00:00:00:ff:01", psrc="203.0.113.1",
                            pdst="203.0.113.9"))
    expect.append(("drop", "arp_not_ours", None))
    frames.append(Ether() / IP(src="203.0.113.1", dst="198.51.100.1") / ICMP(type=8))
    expect.append(("drop", "icmp_other", None))
    frames.append(Ether() / IP(src="203.0.113.1", dst="198.51.100.1") / ICMP(type=3, code=4) /
                  Raw(b"\x45" + b"\0" * 5))
    expect.append(("drop", "inner_truncated", None))
    return frames, expect


def ip_bytes(frame):
    p = Ether(bytes(frame))
    while p.type in (0x8100, 0x88A8):
        p = p.payload
        if not hasattr(p, "type"):
            break
    return bytes(p.payload)


def tunnel_of(ip):
    """The checked outer header of an ipip frame's IP packet `ip` (bytes): (outer src, outer
    dst, inner packet), or ("bad: why", None, inner) when a field is wrong."""
    if ip[0] >> 4 == 4 and ip[9] in (4, 41):
        o, inner = IP(ip), ip[20:]
        want_proto = 4 if inner[0] >> 4 == 4 else 41
        redo = IP(bytes(o)[:20])
        redo.chksum = None
        checks = [(o.ihl == 5, "ihl"), (o.tos == 0, "tos"), (o.len == len(ip), "length"),
                  (o.flags == "DF", "flags"), (o.frag == 0, "fragment offset"),
                  (o.ttl == 64, "ttl"), (o.proto == want_proto, "protocol"),
                  (o.chksum == IP(bytes(redo)).chksum, "checksum")]
    elif ip[0] >> 4 == 6 and ip[6] in (4, 41):
        o, inner = IPv6(ip), ip[40:]
        want_proto = 4 if inner[0] >> 4 == 4 else 41
        checks = [(o.tc == 0, "traffic class"), (o.fl == 0, "flow label"),
                  (o.plen == len(inner), "payload length"), (o.nh == want_proto, "next header"),
                  (o.hlim == 64, "hop limit")]
    else:
        return None, None, ip
    bad = [why for ok, why in checks if not ok]
    return ("bad: " + ", ".join(bad), None, inner) if bad else (o.src, o.dst, inner)


def ethertype(frame):
    """The EtherType after any VLAN tags."""
    b = bytes(frame)
    off = 12
    while int.from_bytes(b[off:off + 2], "big") in (0x8100, 0x88A8):
        off += 4
    return int.from_bytes(b[off:off + 2], "big")


def unwrap(frame):
    """What an output frame carries: ((dst MAC, src MAC, VLAN, tunnel source, tunnel
    destination), the PTB's IP packet). Tunnel fields are None for l2 delivery; a frame whose
    EtherType does not match the IP version after it gets tunnel source "bad: EtherType"."""
    p = Ether(bytes(frame))
    vlan = p[Dot1Q].vlan if Dot1Q in p else None
    outer = ip_bytes(frame)
    tsrc, tdst, ip = tunnel_of(outer)
    if not outer or ethertype(frame) != {4: 0x0800, 6: 0x86DD}.get(outer[0] >> 4):
        tsrc, tdst = f"bad: EtherType 0x{ethertype(frame):04x}", None
    return (p.dst.lower(), p.src.lower(), vlan, tsrc, tdst), ip


def expected_l2(hop):
    """The (dst MAC, VLAN, tunnel source, tunnel destination) a next-hop's frames carry."""
    if len(hop) < 5:
        return hop[1], hop[2], None, None
    return hop[1], hop[2], OUT_V4 if ":" not in hop[4] else OUT_V6, hop[4]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ptbsteer", required=True)
    ap.add_argument("--lcores", type=int, default=1)
    ap.add_argument("--count", type=int, default=600)
    ap.add_argument("--seed", type=int, default=1191)
    ap.add_argument("--simd", default="auto", choices=["auto", "scalar", "avx2", "avx512"],
                    help="the SIMD path forced (config simd:); the Python model judges each")
    a = ap.parse_args()
    flag = {"avx2": "avx2", "avx512": "avx512f"}.get(a.simd)
    if flag and flag not in open("/proc/cpuinfo").read().split():
        print(f"SKIP: this CPU has no {flag}, so simd: {a.simd} is refused at start")
        return 77  # meson's "skipped"
    rng = random.Random(a.seed)
    frames, expect = make_traffic(rng, a.count)
    failures = []
    with tempfile.TemporaryDirectory(prefix="ptbsteer-pcap-") as tmp:
        wrpcap(os.path.join(tmp, "in.pcap"), frames)
        wrpcap(os.path.join(tmp, "empty.pcap"), [])
        cfg = config_file(tmp, a.lcores, a.simd)
        rc, out = run_ptbsteer(a.ptbsteer, cfg)
        if rc != 0:
            print(out)
            print(f"ptbsteer exited with {rc}")
            return 1
        def frames_of(name):
            path = os.path.join(tmp, name)
            return rdpcap(path) if os.path.getsize(path) > 24 else []
        outs, replies = frames_of("out.pcap"), frames_of("in-tx.pcap")

    # Index what came out by the IP packet it carries (unchanged from the input).
    by_payload = collections.defaultdict(list)
    for o in outs:
        l2, ip = unwrap(o)
        by_payload[ip].append(l2)
    src_macs = {l2[1] for l2s in by_payload.values() for l2 in l2s}
    if len(src_macs) != 1:
        failures.append(f"output frames carry {len(src_macs)} source MACs, want the out port's "
                        f"one: {src_macs}")
    n_unicast = n_repl = n_copies = 0
    drops = collections.Counter()
    for i, (frame, (kind, g, nh)) in enumerate(zip(frames, expect)):
        got = sorted((d, v, ts, td) for d, _, v, ts, td in by_payload.pop(ip_bytes(frame), []))
        if kind == "unicast":
            n_unicast += 1
            exp = [expected_l2(g["hops"][nh])]
        elif kind == "copies":
            n_repl += 1
            n_copies += len(g["hops"])
            exp = sorted(expected_l2(h) for h in g["hops"])
        else:
            exp = []
            if kind == "drop":
                drops[g] += 1
        if got != exp:
            failures.append(f"frame {i + 1} ({kind}): expected {exp}, got {got}: {frame.summary()}")
    tunnelled = sum(1 for (kind, g, _) in expect if g is TUN)
    if tunnelled < 20:
        failures.append(f"only {tunnelled} PTBs for ipip next-hops: the tunnel is hardly tested")
    if by_payload:
        failures.append(f"{sum(map(len, by_payload.values()))} output frames match no input")
    # The ARP reply went back out of the port it came in on.
    arp = [r for r in replies if ARP in r and r[ARP].op == 2]
    if len(arp) != 1 or arp[0][ARP].psrc != OUR_V4 or arp[0][ARP].pdst != "203.0.113.1" or \
            arp[0][ARP].hwdst.lower() != "02:00:00:00:ff:01" or \
            arp[0][Ether].dst.lower() != "02:00:00:00:ff:01":
        failures.append(f"ARP reply wrong or missing: {[r.summary() for r in replies]}")

    # The start-up line names the path that hashed (the forced one, or what auto chose).
    simd = re.search(r"^ptbsteer: SIMD: flow hashes (\w+) \(simd: (\w+)\), checksums (\w+)$",
                     out, re.M)
    if not simd or simd.group(2) != a.simd or (a.simd != "auto" and simd.group(1) != a.simd):
        failures.append(f"start-up SIMD line wrong for simd: {a.simd}: "
                        f"{simd and simd.group(0)}")

    # The counters printed at exit.
    c = report(out) or {}
    expected_counters = {"rx": len(frames), "unicast": n_unicast, "replicated": n_repl,
                         "copies": n_copies, "answered": 1, "dropped": sum(drops.values()),
                         "tx_failed": 0}
    expected_counters.update({f"drop.{k}": v for k, v in drops.items()})
    for k, v in expected_counters.items():
        if int(c.get(k, -1)) != v:
            failures.append(f"counter {k} = {c.get(k)}, expected {v}")
    if BALANCED not in out:
        failures.append("ptbsteer reports unbalanced counters")
    # Each pool's mbufs still taken at exit: what the RX rings hold, far below the pool's size
    # (every PTB's mbuf and clone went back), and never more than the pool.
    pools = re.search(r"^ptbsteer-mempools (.*)$", out, re.M)
    taken = dict((k, tuple(map(int, v.split("/")))) for k, v in
                 (kv.split("=", 1) for kv in pools.group(1).split())) if pools else {}
    if set(taken) != {"packets", "headers"} or any(u > s for u, s in taken.values()) or \
            taken["headers"][0] != 0:
        failures.append(f"exit report's mempools line wrong: {pools and pools.group(0)}")

    n = f"{a.lcores} lcore{'s' if a.lcores > 1 else ''}, simd {simd and simd.group(1)}"
    return verdict(failures,
                   f"appliance pcap ({n}): {len(frames)} frames in, {len(outs)} out: "
                   f"{n_unicast} unicast to their owner, {n_repl} replicated as {n_copies} "
                   f"copies, {sum(drops.values())} dropped by reason, 1 ARP answered: "
                   f"{'all as expected' if not failures else f'{len(failures)} failures'}", out)


if __name__ == "__main__":
    sys.exit(main())
