"""The capture scripts/bench replays (net_pcap infinite_rx): PTBs for the benchmark group's
prefixes, some VLAN-tagged, and optionally a share of forged or invalid frames. capture()
returns what ptbsteer must do with each frame, so a run's exit report can be checked against it.
"""
import collections
import dataclasses
import random

from scapy.all import (ICMP, IP, TCP, UDP, Dot1Q, Ether, ICMPv6EchoRequest, ICMPv6PacketTooBig,
                       IPv6, Raw, wrpcap)

SRC_MAC = "02:00:00:00:ff:01"  # the border router the PTBs come from (routers: edge1)
# What a forged frame is, in turn, and the drop reason it must get (docs/metrics.md).
FORGED_KINDS = ("bad_checksum", "no_group", "icmp_other", "not_icmp")


@dataclasses.dataclass(frozen=True)
class Mix:
    v6: float = 0.4       # share of IPv6 frames (the rest IPv4)
    vlan: float = 0.25    # share with an 802.1Q tag
    forged: float = 0.0   # percent forged or invalid, spread over FORGED_KINDS
    hops: int = 4         # next-hops, unless --hops says otherwise


MIXES = {"default": Mix(), "issue23": Mix(vlan=1 / 3, forged=25.0, hops=8)}


@dataclasses.dataclass
class Capture:
    fates: list   # per frame: "unicast" or the drop reason ptbsteer must give it
    v6: int = 0   # frames of each kind, as drawn
    vlan: int = 0

    def describe(self):
        n = len(self.fates)
        forged = sum(f != "unicast" for f in self.fates)
        return (f"{n} frames, {100 * (n - self.v6) / n:.1f} % IPv4 / {100 * self.v6 / n:.1f} % IPv6, "
                f"{100 * self.vlan / n:.1f} % VLAN-tagged, {100 * forged / n:.1f} % forged")


def draw_addresses(rng, v6, served=True):
    """(server, client, router) of one flow. served=False: the server is in no group's prefixes."""
    if v6:
        net = "2001:db8:100" if served else "2001:db8:200"
        return (f"{net}::{rng.randrange(1, 65535):x}", f"2001:db8:2::{rng.randrange(1, 65535):x}",
                "2001:db8:ffff::1")
    net = "198.51.100" if served else "203.0.113"
    server = f"{net}.{rng.randrange(1, 255)}"
    client = f"192.0.2.{rng.randrange(1, 255)}"
    return server, client, f"203.0.113.{rng.randrange(1, 16)}"


def ptb(v6, addresses, l4, quotes):
    """A PTB from the router to the server, quoting the server's packet to the client:
    quotes="full" as much as routers quote (576-byte IPv4 datagram, RFC 1812 §4.3.2.3; 1280-byte
    IPv6 packet, RFC 4443 §2.4(c)); "minimal" the quoted header + 8 bytes (RFC 792)."""
    server, client, router = addresses
    if v6:
        q = bytes(IPv6(src=server, dst=client) / l4 / Raw(b"x" * 1440))[:1232 if quotes == "full" else 48]
        return IPv6(src=router, dst=server) / ICMPv6PacketTooBig(mtu=1400) / Raw(q)
    q = bytes(IP(src=server, dst=client, flags="DF") / l4 / Raw(b"x" * 1460))[:548 if quotes == "full" else 28]
    return IP(src=router, dst=server) / ICMP(type=3, code=4, nexthopmtu=1400) / Raw(q)


def with_bad_checksum(frame):
    """The frame with its ICMP / ICMPv6 checksum wrong (the outer IP header stays right)."""
    icmp = frame[ICMPv6PacketTooBig] if ICMPv6PacketTooBig in frame else frame[ICMP]
    b = bytearray(bytes(frame))
    at = len(b) - len(icmp) + 2  # the checksum: bytes 2-3 of the ICMP header
    b[at] ^= 0x55
    b[at + 1] ^= 0x55
    return Ether(bytes(b))


def forged(kind, eth, v6, rng, l4, quotes):
    """A frame of one of FORGED_KINDS, of the family and tagging drawn for it."""
    addresses = draw_addresses(rng, v6, served=kind != "no_group")
    server, client, router = addresses
    if kind in ("bad_checksum", "no_group"):
        frame = eth / ptb(v6, addresses, l4, quotes)
        return with_bad_checksum(frame) if kind == "bad_checksum" else frame
    ip = IPv6(src=router if kind == "icmp_other" else client, dst=server) if v6 else \
        IP(src=router if kind == "icmp_other" else client, dst=server)
    if kind == "icmp_other":  # an echo request: ICMP, not a PTB
        return eth / ip / (ICMPv6EchoRequest(id=7, seq=1) if v6 else ICMP(type=8, id=7, seq=1)) / Raw(b"x" * 56)
    return eth / ip / TCP(sport=l4.dport, dport=443, flags="S")  # plain TCP


def forged_frames(n, percent, seed):
    """{frame index: kind}: round(n * percent / 100) frames, spread evenly over the capture
    and over FORGED_KINDS."""
    picked = sorted(random.Random(seed + 1).sample(range(n), round(n * percent / 100)))
    return {i: FORGED_KINDS[k % len(FORGED_KINDS)] for k, i in enumerate(picked)}


def capture(path, mix=Mix(), n=1024, seed=8, quotes="full"):
    """Writes the capture and returns what it holds (a Capture). The default mix is the
    original capture, frame for frame."""
    rng = random.Random(seed)
    kinds = forged_frames(n, mix.forged, seed)
    frames, fates = [], []
    made = Capture(fates)
    for i in range(n):
        v6 = rng.random() < mix.v6
        eth = Ether(src=SRC_MAC, dst="02:00:00:00:ff:02")
        if rng.random() < mix.vlan:
            eth = eth / Dot1Q(vlan=100)
            made.vlan += 1
        made.v6 += v6
        l4 = TCP(sport=443, dport=rng.randrange(1024, 65536)) if rng.random() < 0.7 else \
            UDP(sport=443, dport=rng.randrange(1024, 65536))
        if i in kinds:
            frames.append(forged(kinds[i], eth, v6, rng, l4, quotes))
            fates.append(kinds[i])
        else:
            frames.append(eth / ptb(v6, draw_addresses(rng, v6), l4, quotes))
            fates.append("unicast")
    wrpcap(path, frames)
    return made


def expected_fates(fates, received, checksum=True):
    """How many of `received` frames (the capture replayed from its first frame) end in each
    fate. checksum=False (validate: {checksum: false}): bad checksums are delivered."""
    if not checksum:
        fates = ["unicast" if f == "bad_checksum" else f for f in fates]
    loops, rest = divmod(received, len(fates))
    counts = collections.Counter()
    for f in fates:
        counts[f] += loops
    counts.update(fates[:rest])
    return counts
