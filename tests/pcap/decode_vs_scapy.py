#!/usr/bin/python3
"""The parser against scapy: thousands of random PTBs serialised by scapy (not by our code), run
through ptbsteer-decode, each compared with what its construction implies.

Usage: decode_vs_scapy.py --decoder PATH [--count N] [--seed S]
"""
import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile

from scapy.all import (AH, ESP, GRE, ICMP, IP, SCTP, TCP, UDP, Dot1AD, Dot1Q, Ether,
                       ICMPv6PacketTooBig, IPOption_NOP, IPv6, IPv6ExtHdrDestOpt,
                       IPv6ExtHdrHopByHop, IPv6ExtHdrRouting, Raw, wrpcap)

PORTS = {"tcp": 6, "udp": 17, "sctp": 132}


def rand_v4(rng, net):
    return f"{net}.{rng.randrange(1, 255)}"


def rand_v6(rng, net):
    text = f"{net}::{rng.randrange(1, 0xffff):x}:{rng.randrange(1, 0xffff):x}"
    return socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, text))


def make_case(rng):
    fam = rng.choice([4, 6])
    proto = rng.choice(["tcp", "udp", "sctp", "esp", "gre"])
    server = rand_v4(rng, "198.51.100") if fam == 4 else rand_v6(rng, "2001:db8:100")
    client = rand_v4(rng, "192.0.2") if fam == 4 else rand_v6(rng, "2001:db8:2")
    sport, dport = rng.randrange(1, 65536), rng.randrange(1, 65536)
    label = rng.randrange(0, 1 << 20) if fam == 6 else 0
    if proto == "tcp":
        l4 = TCP(sport=sport, dport=dport, seq=rng.randrange(1 << 32))
    elif proto == "udp":
        l4 = UDP(sport=sport, dport=dport)
    elif proto == "sctp":
        l4 = SCTP(sport=sport, dport=dport)
    elif proto == "esp":
        l4 = ESP(spi=rng.randrange(1, 1 << 32), seq=1)
    else:
        l4 = GRE()
    payload = Raw(b"p" * rng.randrange(0, 1400))
    inner_ext_len = 0
    if fam == 4:
        opts = rng.choice([0, 0, 4, 8, 20])
        inner = IP(src=server, dst=client, flags="DF", options=[IPOption_NOP()] * opts) / l4 / payload
        inner_hdr = 20 + opts
    else:
        inner = IPv6(src=server, dst=client, fl=label)
        if rng.random() < 0.3:
            inner = inner / IPv6ExtHdrHopByHop()
            inner_ext_len += 8
        if rng.random() < 0.3:
            inner = inner / IPv6ExtHdrRouting(addresses=[])
            inner_ext_len += 8
        inner = inner / l4 / payload
        inner_hdr = 40
    raw = bytes(inner)
    limit = 548 if fam == 4 else 1232
    cut = rng.choice([limit, limit, rng.randrange(0, min(len(raw), limit) + 1)])
    quote = raw[:cut]
    mtu = rng.choice([0, 576, 1280, 1400, 1492, 1500]) if fam == 4 else rng.choice([1280, 1400, 70000])

    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    vlans = rng.choice([0, 0, 1, 2])
    if vlans == 1:
        eth = eth / Dot1Q(vlan=rng.randrange(1, 4095))
    elif vlans == 2:
        eth = eth / Dot1AD(vlan=rng.randrange(1, 4095)) / Dot1Q(vlan=rng.randrange(1, 4095))
    if fam == 4:
        frame = eth / IP(src="203.0.113.1", dst=server) / ICMP(type=3, code=4, nexthopmtu=mtu) / Raw(quote)
    else:
        outer = IPv6(src="2001:db8:ffff::1", dst=server)
        if rng.random() < 0.3:
            outer = outer / IPv6ExtHdrDestOpt()
        frame = eth / outer / ICMPv6PacketTooBig(mtu=mtu) / Raw(quote)

    # What ptbsteer must report: the original flow = the quoted packet reversed.
    if len(quote) < inner_hdr:
        return frame, ["inner_truncated"]
    number = {"esp": 50, "gre": 47}.get(proto, PORTS.get(proto))
    ports_at = inner_hdr + inner_ext_len
    if len(quote) < ports_at:
        nh = raw[6]  # only IPv6 has headers between the IP header and the ports: its Next Header
        exp = [str(fam), str(mtu), str(vlans), str(len(quote)), str(nh), client, "0", server, "0",
               "truncated", str(label)]
        return frame, ["ptb"] + exp
    if proto in PORTS:
        if len(quote) < ports_at + 4:
            l4s, sp, dp = "truncated", 0, 0
        else:
            l4s, sp, dp = "ports", dport, sport
    elif proto == "esp":
        l4s, sp, dp = ("truncated" if len(quote) < ports_at + 4 else "unknown"), 0, 0
    else:
        l4s, sp, dp = "portless", 0, 0
    exp = [str(fam), str(mtu), str(vlans), str(len(quote)), str(number), client, str(sp), server,
           str(dp), l4s, str(label)]
    return frame, ["ptb"] + exp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--decoder", required=True)
    ap.add_argument("--count", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=7690)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    cases = [make_case(rng) for _ in range(a.count)]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "random.pcap")
        wrpcap(path, [c[0] for c in cases])
        out = subprocess.run([a.decoder, "--tsv", path], check=True, capture_output=True, text=True)
    lines = out.stdout.splitlines()
    if len(lines) != len(cases):
        print(f"decoder printed {len(lines)} lines for {len(cases)} frames")
        return 1
    bad = 0
    for i, ((frame, exp), got) in enumerate(zip(cases, lines)):
        if got.split("\t") != exp:
            bad += 1
            if bad <= 5:
                print(f"frame {i + 1}: expected {exp}\n          got      {got.split(chr(9))}\n"
                      f"          {frame.summary()}")
    print(f"parser vs scapy: {len(cases) - bad}/{len(cases)} frames agree")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
