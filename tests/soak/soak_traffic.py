"""The soak's two configurations and its capture: every frame with what it must become."""
import random

from scapy.all import (ARP, ICMP, IP, TCP, UDP, Ether, ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr,
                       IPv6, Raw)

from lib import config
from lib.frames import ETH_IN as ETH, ptb as ptb_of, quote

OUR_V4, OUR_V6 = "203.0.113.2", "2001:db8:ffff::2"
WEB4, WEB6, REP4 = "198.51.100.0/25", "2001:db8:100::/48", "198.51.100.128/25"
# Two configurations that serve the same prefixes with disjoint next-hop names, so the growing
# ptbsteer_delivered_packets_total series say which one serves. B's limits are far below the
# replay rate: its rate-limit drops are non-zero, and each A <-> B reload rebuilds the limiters
# (a fresh per-source table each time: the allocation a leak would show in).
A = dict(name="A", seed=1111, policy=1, select="hash-threshold",
         web=[(f"a{i}", f"02:00:00:00:0a:{i:02x}", 1) for i in range(1, 5)],
         rep=[(f"ra{i}", f"02:00:00:00:0c:{i:02x}", 1) for i in range(1, 4)],
         limits="{per_source: off, global: off, replication: off}")
B = dict(name="B", seed=2222, policy=0, select="maglev",
         web=[(f"b{i}", f"02:00:00:00:0b:{i:02x}", w) for i, w in enumerate([3, 1, 2], 1)],
         rep=[(f"rb{i}", f"02:00:00:00:0d:{i:02x}", 1) for i in range(1, 3)],
         limits="{per_source: {rate: 50000, burst: 500}, global: {rate: 300000, burst: 20000}, "
                "replication: {rate: 60000, burst: 1024}}")

def config_text(tmp, prefix, lcores, c, variant=None):
    """The file for configuration c; variant makes it invalid (config.spoil). DPDK telemetry
    stays on (no --no-telemetry): the heap figures come from its socket."""
    text = (config.eal(prefix, config.cores(lcores), telemetry=True)
            + config.ports(("in", config.pcap_device(0, f"{tmp}/in.pcap", infinite=True)),
                           ("out", "net_null0,no-rx=1"))
            + config.lcores(lcores)
            + f'addresses:\n  - {{port: in, ipv4: {OUR_V4}/24, ipv6: "{OUR_V6}/64"}}\n'
            + f"limits: {c['limits']}\n"
            + "groups:\n"
            + config.group("web", [WEB4, WEB6], config.hops(c["web"]), c["policy"], c["seed"],
                           select=c["select"])
            + config.group("rep", [REP4], config.hops(c["rep"]), 1, 7, mode="replicate")
            + config.metrics())
    return config.spoil(text, variant)


def ptb(rng, fam, server, mtu=1400, client=None, vlan=None, outer_dst=None, chksum=None,
        src_i=None):
    """A PTB quoting server -> client (1500-byte packet, quote cut at 548 / 1232 bytes)."""
    l4 = TCP(sport=443, dport=rng.randrange(1024, 65536)) if rng.random() < 0.7 else \
        UDP(sport=443, dport=rng.randrange(1024, 65536))
    s = src_i if src_i is not None else rng.randrange(1, 33)
    if fam == 4:
        client = client or f"192.0.2.{rng.randrange(1, 255)}"
        quoted, router = quote(server, client, l4, 1480 - len(l4)), f"203.0.113.{100 + s}"
    else:
        client = client or f"2001:db8:2::{rng.randrange(1, 65535):x}"
        quoted, router = quote(server, client, l4, 1460 - len(l4)), f"2001:db8:ffff::{100 + s:x}"
    return ptb_of(server, quoted, mtu, router=router, dst=outer_dst, vlan=vlan, chksum=chksum)


def make_capture(seed=9):
    """[(frame, kind, ptb_family)]: kind is "web" / "rep" (a valid PTB of that group), "answered",
    or the drop reason; ptb_family is 4 / 6 for frames that parse as a PTB (counted in
    ptbsteer_ptbs_total whatever happens next), else None. Shuffled, fixed seed."""
    rng = random.Random(seed)
    out = []
    web4 = lambda: f"198.51.100.{rng.randrange(1, 127)}"  # noqa: E731
    web6 = lambda: f"2001:db8:100::{rng.randrange(1, 65535):x}"  # noqa: E731
    for i in range(120):
        out.append((ptb(rng, 4, web4(), vlan=100 if i % 4 == 0 else None), "web", 4))
    for i in range(70):
        out.append((ptb(rng, 6, web6(), mtu=rng.choice([1280, 1400, 1420]),
                        vlan=200 if i % 5 == 0 else None), "web", 6))
    for _ in range(24):
        out.append((ptb(rng, 4, f"198.51.100.{rng.randrange(129, 255)}"), "rep", 4))
    # Answered: ARP and NS for our own addresses.
    for i in range(3):
        out.append((Ether(src=f"02:00:00:00:fe:{i:02x}", dst="ff:ff:ff:ff:ff:ff") /
                    ARP(op=1, hwsrc=f"02:00:00:00:fe:{i:02x}", psrc=f"203.0.113.{10 + i}",
                        pdst=OUR_V4),
                    "answered", None))
    for i in range(3):
        out.append((Ether(src=f"02:00:00:00:fe:{i:02x}", dst="33:33:ff:00:00:02") /
                    IPv6(src=f"2001:db8:ffff::{10 + i:x}", dst="ff02::1:ff00:2", hlim=255) /
                    ICMPv6ND_NS(tgt=OUR_V6) /
                    ICMPv6NDOptSrcLLAddr(lladdr=f"02:00:00:00:fe:{i:02x}"),
                    "answered", None))
    # Dropped, each under its reason. PTBs that fail validation still parsed as PTBs.
    drops = [
        (ptb(rng, 4, "192.0.2.200"), "no_group", 4),
        (ptb(rng, 6, "2001:db8:999::1"), "no_group", 6),
        (ptb(rng, 4, web4(), chksum=0x1234), "bad_checksum", 4),
        (ptb(rng, 6, web6(), chksum=0x1234), "bad_checksum", 6),
        (ptb(rng, 4, "198.51.100.7", outer_dst="198.51.100.8"), "dst_not_quoted_source", 4),
        (ptb(rng, 6, "2001:db8:100::7", outer_dst="2001:db8:100::8"), "dst_not_quoted_source", 6),
        (ptb(rng, 4, web4(), mtu=0), "mtu_unspecified", 4),
        (ptb(rng, 4, web4(), mtu=68), "mtu_below_floor", 4),
        (ptb(rng, 6, web6(), mtu=1200), "mtu_below_floor", 6),
        (ptb(rng, 6, web6(), mtu=70000), "mtu_above_ceiling", 6),
        (ptb(rng, 4, web4(), mtu=1500), "mtu_not_smaller", 4),
        (ptb(rng, 6, web6(), mtu=1500), "mtu_not_smaller", 6),
        (Ether(**ETH) / IP(src="203.0.113.1", dst="198.51.100.1") / ICMP(type=8) / Raw(b"ping"),
         "icmp_other", None),
        (Ether(**ETH) / IP(src="203.0.113.1", dst="198.51.100.1") / UDP(sport=1, dport=2),
         "not_icmp", None),
        (Ether(**ETH) / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=1, dport=2),
         "not_icmp", None),
        (Ether(src=ETH["src"], dst="01:80:c2:00:00:0e", type=0x88cc) /
         Raw(b"\x02\x07\x04" + b"\0" * 40),
         "ethertype_other", None),
        (Ether(src=ETH["src"], dst="ff:ff:ff:ff:ff:ff") /
         ARP(op=1, psrc="203.0.113.1", pdst="203.0.113.9"),
         "arp_not_ours", None),
        (Ether(src=ETH["src"], dst="33:33:ff:00:00:09") /
         IPv6(src="2001:db8:ffff::1", dst="ff02::1:ff00:9", hlim=255) /
         ICMPv6ND_NS(tgt="2001:db8:ffff::9"), "nd_not_ours", None),
        (Ether(**ETH) / IP(src="203.0.113.1", dst="198.51.100.1") / ICMP(type=3, code=4) /
         Raw(b"\x45" + b"\0" * 5),
         "inner_truncated", None),
        (Raw(b"\x02\x00\x00\x00\xff\x02\x02\x00\x00\x00"), "truncated_l2", None),
    ]
    out += drops * 2
    rng.shuffle(out)
    return [(bytes(f), kind, fam) for f, kind, fam in out]
