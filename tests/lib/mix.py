"""A traffic mix with its expected counters, worked out here from what is sent (not from
ptbsteer), and the configuration it is meant for: the metrics tests send it and compare every
counter they scrape."""
import collections
import os

from scapy.all import ARP, ICMP, IP, TCP, UDP, Ether, IPv6, Raw, wrpcap

from . import config, frames, pcapfile

# Upper bounds of the advertised-MTU histogram, as the issue asks for them (each named value is
# a bound), plus 0, 576, 1279, 9000, 65535 (docs/metrics.md explains each).
MTU_BOUNDS = [0, 576, 1279, 1280, 1400, 1420, 1450, 1460, 1480, 1492, 1500, 9000, 65535]

ETH = Ether(**frames.ETH_IN)
SOLO_V4, SOLO_V6, REP_V4 = "198.51.100.0/25", "2001:db8:100::/48", "198.51.100.128/25"


def config_text(tmp, tag, capture=None, listen="127.0.0.1:0"):
    cap = ""
    if capture:
        cap = "capture: {" + ", ".join(f"{k}: {v}" for k, v in capture.items()) + "}\n"
    hsh = dict(policy=1, seed=7)
    return (config.eal(config.prefix(tag))
            + config.pcap_ports(tmp)
            + config.lcores(1)
            + "addresses:\n  - {port: in, ipv4: 203.0.113.2/24}\n"
            + "groups:\n"
            + config.group("solo", [SOLO_V4, SOLO_V6], [config.hop("s1", "02:00:00:00:01:01")],
                           **hsh)
            + config.group("rep", [REP_V4], config.hops([("r1", "02:00:00:00:02:01"),
                                                         ("r2", "02:00:00:00:02:02")]),
                           mode="replicate", **hsh)
            + config.metrics(listen) + cap)


# The quoted packets are 9140 bytes long (a jumbo-frame server), so every MTU below that is a
# believable PTB; the invalid ones below are dropped by validation (docs/security.md) and still
# count in the MTU histogram, which records every parsed PTB.
def ptb4(server, mtu, client="192.0.2.10"):
    return frames.ptb(server, frames.quote(server, client, TCP(sport=443, dport=40000), 9100), mtu)


def ptb6(server, mtu, client="2001:db8:2::10"):
    return frames.ptb(server, frames.quote(server, client, TCP(sport=443, dport=40000), 9100), mtu)


class Traffic:
    """Frames to send and what each must do to the counters."""

    def __init__(self):
        self.frames = []
        self.rx = collections.Counter()      # family -> frames (EtherType after VLAN tags)
        self.ptbs = collections.Counter()    # family -> parsed PTBs
        self.mtus = collections.defaultdict(list)
        self.delivered = collections.Counter()  # (group, next_hop, mode) -> frames
        self.replicated = 0
        self.drops = collections.Counter()
        self.dropped_frames = []              # bytes, in the order sent

    def add(self, frame, family, ptb_mtu=None, delivered=(), drop=None):
        self.frames.append(frame)
        self.rx[family] += 1
        if ptb_mtu is not None:
            self.ptbs[family] += 1
            self.mtus[family].append(ptb_mtu)
        for d in delivered:
            self.delivered[d] += 1
        if len(delivered) > 1:
            self.replicated += 1
        if drop:
            self.drops[drop] += 1
            self.dropped_frames.append(bytes(frame))


def make_traffic(scale=1):
    t = Traffic()
    v4_mtus = [0, 68, 576, 1280, 1300, 1400, 1400, 1420, 1450, 1460, 1480, 1492, 1500, 1500, 9000]
    v6_mtus = [1280, 1280, 1400, 1420, 1480, 1500, 1500, 9000, 70000]
    icmp_v4 = ETH / IP(src="203.0.113.1", dst="198.51.100.1")
    for _ in range(scale):
        invalid = {("ipv4", 0): "mtu_unspecified", ("ipv4", 68): "mtu_below_floor",
                   ("ipv6", 70000): "mtu_above_ceiling"}
        for i, mtu in enumerate(v4_mtus):
            bad = invalid.get(("ipv4", mtu))
            t.add(ptb4(f"198.51.100.{i + 1}", mtu), "ipv4", mtu,
                  [] if bad else [("solo", "s1", "unicast")], drop=bad)
        for i, mtu in enumerate(v6_mtus):
            bad = invalid.get(("ipv6", mtu))
            t.add(ptb6(f"2001:db8:100::{i + 1:x}", mtu), "ipv6", mtu,
                  [] if bad else [("solo", "s1", "unicast")], drop=bad)
        for i in range(4):
            t.add(ptb4(f"198.51.100.{130 + i}", 1400), "ipv4", 1400,
                  [("rep", "r1", "replicate"), ("rep", "r2", "replicate")])
        # Dropped: each under its own reason.
        t.add(ptb4("192.0.2.200", 1400), "ipv4", 1400, drop="no_group")
        t.add(ptb6("2001:db8:999::1", 1280), "ipv6", 1280, drop="no_group")
        t.add(icmp_v4 / ICMP(type=8), "ipv4", drop="icmp_other")
        t.add(icmp_v4 / UDP(sport=1, dport=2), "ipv4", drop="not_icmp")
        t.add(ETH / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=1, dport=2), "ipv6",
              drop="not_icmp")
        t.add(Ether(src=frames.ETH_IN["src"], dst="ff:ff:ff:ff:ff:ff") /
              ARP(op=1, psrc="203.0.113.1", pdst="203.0.113.9"), "other", drop="arp_not_ours")
        t.add(Ether(src=frames.ETH_IN["src"], dst="01:80:c2:00:00:0e", type=0x88cc) /
              Raw(b"\x02\x07\x04" + b"\0" * 40), "other", drop="ethertype_other")
        t.add(icmp_v4 / ICMP(type=3, code=4) / Raw(b"\x45" + b"\0" * 5),
              "ipv4", drop="inner_truncated")
    return t


def histogram(mtus):
    """Cumulative bucket counts {le: n} for a list of MTUs, '+Inf' included."""
    out = {}
    for b in MTU_BOUNDS:
        out[str(b)] = sum(1 for m in mtus if m <= b)
    out["+Inf"] = len(mtus)
    return out


def write_inputs(tmp, traffic):
    wrpcap(os.path.join(tmp, "in.pcap"), traffic.frames)
    pcapfile.write(os.path.join(tmp, "empty.pcap"))
