#!/usr/bin/python3
"""Kernel-agreement test: the running Linux kernel is the judge of ptbsteer's `linux` hash model.

We did not write the kernel, so its next-hop choices are an independent truth. For many flows
and for several seeds, hash policies, field sets, families and weighted next-hop sets, this
script asks the kernel which next-hop it forwards a client->server flow to, and asks
ptbsteer-hashcalc (steer::Selector hash_threshold over hash::Model::linux_kernel) the same
question. Three checks:

1. `ip route get` look-ups in a router namespace, thousands per case, through `ip -batch`.
   ptbsteer models the FORWARDING path, so the look-up must take it:
   - IPv4: `route get DST from SRC iif rin ipproto P sport S dport D`. With `iif`,
     inet_rtm_getroute() builds a packet (inet_rtm_getroute_build_skb) and routes it through
     ip_route_input_rcu(), the forwarding path; fib_multipath_hash() sees that skb.
   - IPv6: inet6_rtm_getroute() never builds a packet, with or without `iif`: the hash is
     rt6_multipath_hash(net, fl6, skb=NULL), from the flowi6. For policies 0 and 1 that gives
     the same keys as forwarding a packet without extension headers; for policy 3 it does not
     (forwarding adds jhash_2words(outer, inner, 0) in rt6_multipath_custom_hash_skb), so IPv6
     policy 3 is judged only by real packets (check 3). iproute2 cannot pass a flow label either.
2. The PTB form, the product itself: for a subset of each case, real ICMP Packet Too Big frames
   (scapy) quoting the server->client packet go to ptbsteer-hashcalc --pcap, whose choice (from
   the reversed quote) must equal the kernel's choice for the client->server flow.
3. Real packets: client-ns -- router-ns -- N veths into a sink namespace. Frames are injected on
   the client veth with an AF_PACKET socket (no socket, so no socket hash rides along) and each
   flow is seen leaving the router on exactly one egress veth (AF_PACKET sockets in the sink).
   Under policy 0 the router also forwards real PTBs: the kernel hashes an ICMP error on the
   quoted header (ip_multipath_l3_keys / ip6_multipath_l3_keys), so the PTB must leave where the
   flow left, and ptbsteer-hashcalc must say so too.

Run as root with /usr/bin/python3 (stdlib + scapy). Namespaces are named ptbk-<pid>-* and are
always deleted (finally + atexit + SIGTERM). Exit status: 0 all agree, 1 disagreement, 2 setup
error, 77 skipped (not root / no netns support), the code meson treats as a skipped test.
"""

import argparse
import atexit
import ctypes
import ipaddress
import os
import random
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

SKIP = 77
CLONE_NEWNET = 0x40000000
ETH_P_ALL = 0x0003

# Documentation ranges only (RFC 5737, RFC 3849).
CLIENT_NET4 = "192.0.2.0/24"        # clients, behind the router's ingress veth
ROUTER_IN4 = "192.0.2.1"
PTB_SENDER4 = "192.0.2.254"         # a router on the client side that emits PTBs
SERVICE_NET4 = "198.51.100.0/24"    # the anycast service prefix with the multipath route
CLIENT_NET6 = "2001:db8:1::/64"
ROUTER_IN6 = "2001:db8:1::1"
PTB_SENDER6 = "2001:db8:1::fe"
SERVICE_NET6 = "2001:db8:100::/48"
MAX_NEXTHOPS = 16


def nh_gateway(family, i):
    """Next-hop i: IPv4 203.0.113.(4i+2) on a /30, IPv6 2001:db8:ff:i::2 on a /64."""
    a = f"203.0.113.{4 * i + 2}" if family == 4 else f"2001:db8:ff:{i:x}::2"
    return str(ipaddress.ip_address(a))  # canonical, as `ip route` prints it


def nh_router_addr(family, i):
    return f"203.0.113.{4 * i + 1}/30" if family == 4 else f"2001:db8:ff:{i:x}::1/64"


# ---------------------------------------------------------------------------------------------
# Shell helpers


def run(cmd, inp=None, check=True, timeout=60):
    p = subprocess.run(cmd, input=inp, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()}")
    return p


def nsexec(ns, *cmd):
    """`cmd` in network namespace `ns`. Not `ip netns exec` / `ip -n`: those also remount / as a
    slave in a new mount namespace, which fails where / is not a mount point (a chroot)."""
    return ["nsenter", f"--net=/run/netns/{ns}", *cmd]


def ip_batch(ns, lines, check=True, timeout=120):
    """One `ip` process for many commands: thousands of route look-ups per second."""
    return run(nsexec(ns, "ip", "-batch", "-"), inp="\n".join(lines) + "\n", check=check,
               timeout=timeout)


def set_sysctls(ns, pairs):
    run(nsexec(ns, "sysctl", "-q", "-w", *[f"{k}={v}" for k, v in pairs]))


# ---------------------------------------------------------------------------------------------
# Namespaces: entering them from this process (sockets stay in the namespace they were made in)

_libc = ctypes.CDLL(None, use_errno=True)


class InNetns:
    """Runs a block of code inside network namespace `ns` (only this thread moves)."""

    def __init__(self, ns):
        self.ns = ns

    def __enter__(self):
        self.home = os.open("/proc/self/ns/net", os.O_RDONLY)
        fd = os.open(f"/run/netns/{self.ns}", os.O_RDONLY)
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns({self.ns})")
        finally:
            os.close(fd)
        return self

    def __exit__(self, *exc):
        if _libc.setns(self.home, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns(back)")
        os.close(self.home)
        return False


class Topology:
    """client-ns --(c0|rin)-- router-ns --(r0..r15|s0..s15)-- sink-ns."""

    def __init__(self, prefix):
        self.cl, self.rt, self.sk = f"{prefix}-cl", f"{prefix}-rt", f"{prefix}-sk"
        self.created = []
        self.mac = {}

    def create(self):
        for ns in (self.cl, self.rt, self.sk):
            run(["ip", "netns", "add", ns])
            self.created.append(ns)
        # Quiet namespaces: no DAD (addresses usable at once), no IPv6 chatter from client/sink.
        for ns in (self.cl, self.sk):
            set_sysctls(ns, [("net.ipv6.conf.all.disable_ipv6", 1),
                             ("net.ipv6.conf.default.disable_ipv6", 1)])
        set_sysctls(self.rt, [
            ("net.ipv4.ip_forward", 1), ("net.ipv6.conf.all.forwarding", 1),
            ("net.ipv4.conf.all.rp_filter", 0), ("net.ipv4.conf.default.rp_filter", 0),
            ("net.ipv6.conf.all.accept_dad", 0), ("net.ipv6.conf.default.accept_dad", 0),
            # No ICMP redirects/errors of our own while forwarding test traffic.
            ("net.ipv4.conf.all.send_redirects", 0), ("net.ipv4.conf.default.send_redirects", 0),
            ("net.ipv4.icmp_ratelimit", 0), ("net.ipv6.icmp.ratelimit", 0),
        ])
        cmds = [f"link add rin type veth peer name c0 netns {self.cl}",
                f"addr add {ROUTER_IN4}/24 dev rin", f"addr add {ROUTER_IN6}/64 dev rin nodad",
                "link set rin up", "link set lo up"]
        for i in range(MAX_NEXTHOPS):
            cmds += [f"link add r{i} type veth peer name s{i} netns {self.sk}",
                     f"addr add {nh_router_addr(4, i)} dev r{i}",
                     f"addr add {nh_router_addr(6, i)} dev r{i} nodad",
                     f"link set r{i} up"]
        ip_batch(self.rt, cmds)
        ip_batch(self.cl, ["link set c0 up", "link set lo up"])
        ip_batch(self.sk, [f"link set s{i} up" for i in range(MAX_NEXTHOPS)] + ["link set lo up"])
        self.mac["rin"] = self.link_mac(self.rt, "rin")
        self.mac["c0"] = self.link_mac(self.cl, "c0")
        # Permanent neighbours: the router forwards without ARP/ND answers from the sink.
        neigh = []
        for i in range(MAX_NEXTHOPS):
            mac = self.link_mac(self.sk, f"s{i}")
            for fam in (4, 6):
                neigh.append(f"neigh replace {nh_gateway(fam, i)} lladdr {mac} dev r{i} "
                             "nud permanent")
        ip_batch(self.rt, neigh)

    @staticmethod
    def link_mac(ns, dev):
        out = run(nsexec(ns, "ip", "-o", "link", "show", dev)).stdout
        return re.search(r"link/ether ([0-9a-f:]{17})", out).group(1)

    def destroy(self):
        while self.created:
            ns = self.created.pop()
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)

    # Route and hash configuration -----------------------------------------------------------

    def configure(self, family, seed, policy, fields, weights):
        v = "ipv4" if family == 4 else "ipv6"
        pairs = [("net.ipv4.fib_multipath_hash_seed", seed),
                 (f"net.{v}.fib_multipath_hash_policy", policy)]
        if policy == 3:
            pairs.append((f"net.{v}.fib_multipath_hash_fields", hex(fields)))
        set_sysctls(self.rt, pairs)
        prefix = SERVICE_NET4 if family == 4 else SERVICE_NET6
        hops = " ".join(f"nexthop via {nh_gateway(family, i)} dev r{i} weight {w}"
                        for i, w in enumerate(weights))
        fam = "-4" if family == 4 else "-6"
        # Delete + add (not replace): IPv6 multipath `replace` semantics changed over versions.
        run(nsexec(self.rt, "ip", fam, "route", "del", prefix), check=False)
        run(nsexec(self.rt, "ip", fam, "route", "add", prefix, *hops.split()))
        shown = run(nsexec(self.rt, "ip", fam, "route", "show", prefix)).stdout
        order = re.findall(r"via (?:inet6 )?(\S+)", shown)
        expect = [nh_gateway(family, i) for i in range(len(weights))]
        if [str(ipaddress.ip_address(a)) for a in order] != expect:
            raise RuntimeError(f"route shows next-hops {order}, expected {expect}")


# ---------------------------------------------------------------------------------------------
# Flows


class Flow:
    __slots__ = ("family", "src", "dst", "proto", "sport", "dport", "label")

    def __init__(self, family, src, dst, proto, sport, dport, label=0):
        self.family, self.src, self.dst = family, src, dst
        self.proto, self.sport, self.dport, self.label = proto, sport, dport, label

    def key(self):
        return (self.family, self.src, self.dst, self.proto, self.sport, self.dport)

    def line(self):
        """The ptbsteer-hashcalc tuple format: family src dst proto sport dport flowlabel."""
        return (f"{self.family} {self.src} {self.dst} {self.proto} {self.sport} {self.dport} "
                f"{self.label}")

    def __str__(self):
        s = f"proto {self.proto} {self.src}:{self.sport} -> {self.dst}:{self.dport}"
        return s + (f" label 0x{self.label:05x}" if self.family == 6 else "")


def random_flows(rng, family, n, with_label=False, allow_icmp=True):
    flows, seen = [], set()
    cnet = ipaddress.ip_network(CLIENT_NET4 if family == 4 else CLIENT_NET6)
    snet = ipaddress.ip_network(SERVICE_NET4 if family == 4 else SERVICE_NET6)
    while len(flows) < n:
        if family == 4:
            src = str(cnet[rng.randrange(2, 254)])
            dst = str(snet[rng.randrange(1, 255)])
        else:
            src = str(cnet[rng.randrange(2, 1 << 64)])
            dst = str(snet[rng.randrange(1, 1 << 80)])
        r = rng.random()
        if allow_icmp and r < 0.03:
            proto, sport, dport = (1 if family == 4 else 58), 0, 0
        else:
            proto = 6 if r < 0.6 else 17
            sport = rng.randrange(1024, 65536)
            dport = rng.choice([80, 443, 53, 123, rng.randrange(1, 65536)])
        label = rng.randrange(1, 1 << 20) if (family == 6 and with_label) else 0
        f = Flow(family, src, dst, proto, sport, dport, label)
        if f.key() not in seen:
            seen.add(f.key())
            flows.append(f)
    return flows


# ---------------------------------------------------------------------------------------------
# Check 1: `ip route get` on the forwarding path


def kernel_route_get(topo, flows, weights, with_iif=True):
    """Next-hop index the kernel picks for each flow, via one `ip -batch` process."""
    gw_index = {nh_gateway(flows[0].family, i): i for i in range(len(weights))}
    lines = []
    for f in flows:
        pname = {1: "icmp", 58: "ipv6-icmp", 6: "tcp", 17: "udp"}[f.proto]
        cmd = f"route get to {f.dst} from {f.src}"
        if with_iif:
            cmd += " iif rin"
        cmd += f" ipproto {pname}"
        if f.proto in (6, 17):
            cmd += f" sport {f.sport} dport {f.dport}"
        lines.append(cmd)
    out = ip_batch(topo.rt, lines).stdout
    records = [ln for ln in out.splitlines() if ln and not ln[0].isspace()]
    if len(records) != len(flows):
        raise RuntimeError(f"ip -batch answered {len(records)} of {len(flows)} look-ups")
    choices = []
    for rec in records:
        m = re.search(r" via (\S+) ", rec + " ")
        if not m or str(ipaddress.ip_address(m.group(1))) not in gw_index:
            raise RuntimeError(f"unexpected route get answer: {rec}")
        choices.append(gw_index[str(ipaddress.ip_address(m.group(1)))])
    return choices


# ---------------------------------------------------------------------------------------------
# ptbsteer-hashcalc


def hashcalc(args, seed, policy, fields, weights, flows=None, pcap=None):
    cmd = [args.hashcalc, "--seed", str(seed), "--policy", str(policy), "--fields", hex(fields),
           "--weights", ",".join(map(str, weights))]
    if pcap:
        cmd += ["--pcap", pcap]
        inp = None
    else:
        cmd += ["-"]
        inp = "\n".join(f.line() for f in flows) + "\n"
    p = run(cmd, inp=inp, timeout=120)
    vals = [ln.split()[0] for ln in p.stdout.splitlines() if ln.strip()]
    return [int(v) if v.lstrip("-").isdigit() else v for v in vals]


# ---------------------------------------------------------------------------------------------
# Frames (scapy builds them; imported lazily so --help works without scapy)


def scapy():
    import scapy.all as s  # noqa: E402  (python3-scapy)
    return s


def data_frame(s, topo, f):
    eth = s.Ether(dst=topo.mac["rin"], src=topo.mac["c0"])
    if f.family == 4:
        ip = s.IP(src=f.src, dst=f.dst, ttl=64, flags="DF")
    else:
        ip = s.IPv6(src=f.src, dst=f.dst, hlim=64, fl=f.label)
    if f.proto == 6:
        l4 = s.TCP(sport=f.sport, dport=f.dport, flags="S", seq=1000)
    elif f.proto == 17:
        l4 = s.UDP(sport=f.sport, dport=f.dport)
    elif f.proto == 1:
        l4 = s.ICMP(type=8, id=f.sport, seq=1)
    else:
        l4 = s.ICMPv6EchoRequest(id=f.sport, seq=1)
    return bytes(eth / ip / l4 / s.Raw(b"ptbk"))


def ptb_frame(s, topo, f, mtu=1400):
    """A PTB from a client-side router to the server, quoting the server->client packet of f.
    The server reflects the client's flow label (net.ipv6.flowlabel_reflect, RFC 7690 §4)."""
    eth = s.Ether(dst=topo.mac["rin"], src=topo.mac["c0"])
    if f.proto == 6:
        l4 = s.TCP(sport=f.dport, dport=f.sport, flags="A", seq=7, ack=1)
    elif f.proto == 17:
        l4 = s.UDP(sport=f.dport, dport=f.sport)
    elif f.proto == 1:
        l4 = s.ICMP(type=0, id=f.sport, seq=1)
    else:
        l4 = s.ICMPv6EchoReply(id=f.sport, seq=1)
    if f.family == 4:
        inner = s.IP(src=f.dst, dst=f.src, ttl=60, flags="DF", len=1500) / l4
        quote = bytes(inner)[:28 + 20]
        pkt = eth / s.IP(src=PTB_SENDER4, dst=f.dst, ttl=64) / \
            s.ICMP(type=3, code=4, nexthopmtu=mtu) / s.Raw(quote)
    else:
        inner = s.IPv6(src=f.dst, dst=f.src, hlim=60, fl=f.label, plen=1460) / l4
        quote = bytes(inner)[:40 + 20]
        pkt = eth / s.IPv6(src=PTB_SENDER6, dst=f.dst, hlim=64) / \
            s.ICMPv6PacketTooBig(mtu=1280) / s.Raw(quote)
    return bytes(pkt)


def write_pcap(path, frames):
    with open(path, "wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            fh.write(struct.pack("<IIII", 1700000000 + i // 1000000, i % 1000000, len(fr),
                                 len(fr)))
            fh.write(fr)


# ---------------------------------------------------------------------------------------------
# Check 3: real packets through the router


def parse_egress(frame):
    """Client->server identity of a captured frame: ('data', key) or ('ptb', key of the flow the
    PTB's quote belongs to), or None for anything else (router chatter)."""
    if len(frame) < 14:
        return None
    et = struct.unpack_from("!H", frame, 12)[0]
    off = 14
    if et == 0x0800:
        return _parse_ip4(frame, off, outer=True)
    if et == 0x86DD:
        return _parse_ip6(frame, off, outer=True)
    return None


def _ports(frame, off, proto):
    if proto in (6, 17) and len(frame) >= off + 4:
        return struct.unpack_from("!HH", frame, off)
    if proto in (1, 58) and len(frame) >= off + 6:
        return struct.unpack_from("!H", frame, off + 4)[0], 0
    return 0, 0


def _parse_ip4(frame, off, outer):
    if len(frame) < off + 20:
        return None
    ihl = (frame[off] & 0xF) * 4
    proto = frame[off + 9]
    src = socket.inet_ntop(socket.AF_INET, frame[off + 12:off + 16])
    dst = socket.inet_ntop(socket.AF_INET, frame[off + 16:off + 20])
    l4 = off + ihl
    if outer and proto == 1 and len(frame) > l4 + 8 and frame[l4] == 3 and frame[l4 + 1] == 4:
        inner = _parse_ip4(frame, l4 + 8, outer=False)
        if inner is None:
            return None
        (fam, isrc, idst, iproto, isport, idport) = inner[1]
        return ("ptb", (fam, idst, isrc, iproto, idport, isport))
    sport, dport = _ports(frame, l4, proto)
    if proto == 1:  # echo id rides in "sport" (see data_frame); replies in quotes too
        dport = 0
    return ("data", (4, src, dst, proto, sport, dport))


def _parse_ip6(frame, off, outer):
    if len(frame) < off + 40:
        return None
    proto = frame[off + 6]
    src = socket.inet_ntop(socket.AF_INET6, frame[off + 8:off + 24])
    dst = socket.inet_ntop(socket.AF_INET6, frame[off + 24:off + 40])
    l4 = off + 40
    if outer and proto == 58 and len(frame) > l4 + 8 and frame[l4] == 2:
        inner = _parse_ip6(frame, l4 + 8, outer=False)
        if inner is None:
            return None
        (fam, isrc, idst, iproto, isport, idport) = inner[1]
        return ("ptb", (fam, idst, isrc, iproto, idport, isport))
    if proto == 58 and len(frame) > l4 and frame[l4] not in (128, 129):
        return None  # ND/MLD chatter
    sport, dport = _ports(frame, l4, proto)
    if proto == 58:
        dport = 0
    return ("data", (6, src, dst, proto, sport, dport))


def flow_id_for_parse(f):
    """The key parse_egress() reports for a flow f (ICMP echo: id in sport, dport 0)."""
    return (f.family, str(ipaddress.ip_address(f.src)), str(ipaddress.ip_address(f.dst)),
            f.proto, f.sport, f.dport)


def send_and_observe(topo, frames, nexthops, burst=64):
    """Injects frames on c0 and returns {parsed identity: [egress indices]} seen in the sink."""
    with InNetns(topo.sk):
        rx = []
        for i in range(nexthops):
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            s.bind((f"s{i}", 0))
            s.setblocking(False)
            rx.append(s)
    with InNetns(topo.cl):
        tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        tx.bind(("c0", 0))
    seen = {}
    fd_index = {s.fileno(): i for i, s in enumerate(rx)}

    def drain(wait):
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            r, _, _ = select.select(rx, [], [], left)
            if not r:
                return
            for s in r:
                while True:
                    try:
                        data, addr = s.recvfrom(65535)
                    except BlockingIOError:
                        break
                    if addr[2] == socket.PACKET_OUTGOING:
                        continue
                    ident = parse_egress(data)
                    if ident is not None:
                        seen.setdefault(ident, []).append(fd_index[s.fileno()])
    try:
        for k in range(0, len(frames), burst):
            for fr in frames[k:k + burst]:
                tx.send(fr)
            drain(0.002)
        drain(0.5)
    finally:
        tx.close()
        for s in rx:
            s.close()
    return seen


# ---------------------------------------------------------------------------------------------
# An optional, independent Python model (debug aid: says which side a disagreement is on).
# Written from the facts in docs/reference, not from lib/hash.

M64 = (1 << 64) - 1


def _rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & M64


def siphash24(k0, k1, data):
    v0, v1 = k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D
    v2, v3 = k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573

    def rnd(v0, v1, v2, v3):
        v0 = (v0 + v1) & M64; v1 = _rotl(v1, 13); v1 ^= v0; v0 = _rotl(v0, 32)
        v2 = (v2 + v3) & M64; v3 = _rotl(v3, 16); v3 ^= v2
        v0 = (v0 + v3) & M64; v3 = _rotl(v3, 21); v3 ^= v0
        v2 = (v2 + v1) & M64; v1 = _rotl(v1, 17); v1 ^= v2; v2 = _rotl(v2, 32)
        return v0, v1, v2, v3
    n = len(data)
    full = n - n % 8
    for i in range(0, full, 8):
        m = int.from_bytes(data[i:i + 8], "little")
        v3 ^= m
        v0, v1, v2, v3 = rnd(v0, v1, v2, v3)
        v0, v1, v2, v3 = rnd(v0, v1, v2, v3)
        v0 ^= m
    b = ((n & 0xFF) << 56) | int.from_bytes(data[full:] + b"\0" * (8 - (n - full)), "little")
    v3 ^= b
    v0, v1, v2, v3 = rnd(v0, v1, v2, v3)
    v0, v1, v2, v3 = rnd(v0, v1, v2, v3)
    v0 ^= b
    v2 ^= 0xFF
    for _ in range(4):
        v0, v1, v2, v3 = rnd(v0, v1, v2, v3)
    return (v0 ^ v1 ^ v2 ^ v3) & M64


def _jhash_2words(a, b, initval):
    """Linux jhash_2words = __jhash_nwords(a, b, 0, initval + JHASH_INITVAL + (2 << 2))."""
    M = 0xFFFFFFFF

    def rol(x, k):
        return ((x << k) | (x >> (32 - k))) & M
    init = (0xDEADBEEF + (2 << 2) + initval) & M
    a, b, c = (a + init) & M, (b + init) & M, init
    # __jhash_final(a, b, c)
    c ^= b; c = (c - rol(b, 14)) & M
    a ^= c; a = (a - rol(c, 11)) & M
    b ^= a; b = (b - rol(a, 25)) & M
    c ^= b; c = (c - rol(b, 16)) & M
    a ^= c; a = (a - rol(c, 4)) & M
    b ^= a; b = (b - rol(a, 14)) & M
    c ^= b; c = (c - rol(b, 24)) & M
    return c


def py_model_hash(seed, policy, fields, f, jhash_step=True):
    """Linux forwarding-path multipath hash (already >> 1) of a client->server flow.
    jhash_step=False: policy 3 as hashed from a flowi (no skb), i.e. without the
    jhash_2words(outer, inner=0, 0) step of fib_multipath_custom_hash_skb."""
    if policy == 3:
        use = fields
    elif policy == 1:
        use = 0x37
    else:
        use = 0x03 | (0x0C if f.family == 6 else 0)
    keys = bytearray(80)
    fam = socket.AF_INET if f.family == 4 else socket.AF_INET6
    src = socket.inet_pton(fam, f.src) if use & 1 else bytes(4 if f.family == 4 else 16)
    dst = socket.inet_pton(fam, f.dst) if use & 2 else bytes(4 if f.family == 4 else 16)
    alen = len(src)
    if int.from_bytes(dst, "little" if alen == 4 else "big") < \
            int.from_bytes(src, "little" if alen == 4 else "big"):
        src, dst = dst, src
    if use & 4:
        keys[10] = f.proto
    if use & 8 and f.family == 6:
        lbl = f.label & 0xFFFFF
        if policy == 0:   # network order: ip6_flowlabel() keeps the header's byte order
            keys[12:16] = lbl.to_bytes(4, "big")
        else:             # host order (flowi6_get_flowlabel / dissector ntohl)
            keys[12:16] = lbl.to_bytes(4, "little")
    has_ports = f.proto in (6, 17) and policy != 0
    sp = f.sport.to_bytes(2, "big") if (has_ports and use & 0x10) else b"\0\0"
    dp = f.dport.to_bytes(2, "big") if (has_ports and use & 0x20) else b"\0\0"
    if int.from_bytes(dp, "little") < int.from_bytes(sp, "little"):
        sp, dp = dp, sp
    keys[36:38], keys[38:40] = sp, dp
    keys[44:44 + alen], keys[44 + alen:44 + 2 * alen] = src, dst
    length = 48 if f.family == 4 else 72
    k = ((seed << 32) | seed) & M64
    h = siphash24(k, k, bytes(keys[8:8 + length])) & 0xFFFFFFFF
    h = h or 1
    if policy == 3 and jhash_step:
        h = _jhash_2words(h, 0, 0)
    return h >> 1


def py_select(weights, mhash):
    total, run_w, bounds = sum(weights), 0, []
    for w in weights:
        run_w += w
        bounds.append(((run_w << 31) + total // 2) // total - 1)
    for i, b in enumerate(bounds):
        if mhash <= b:
            return i
    return len(weights) - 1


# ---------------------------------------------------------------------------------------------
# The test plan


def describe(family, policy, fields, seed, weights):
    pol = f"policy {policy}" + (f" fields 0x{fields:02x}" if policy == 3 else "")
    return (f"IPv{family} {pol} seed {seed}, {len(weights)} next-hops "
            f"(weights {','.join(map(str, weights))})")


class Report:
    def __init__(self):
        self.failures = 0
        self.lines = []

    def compare(self, title, flows, kernel, ours, pymodel=None, limit=5):
        agree = sum(1 for k, o in zip(kernel, ours) if k == o)
        extra = ""
        if pymodel is not None:
            extra = f" (python model {sum(1 for k, p in zip(kernel, pymodel) if k == p)}" \
                    f"/{len(kernel)})"
        line = f"{title}: {agree}/{len(flows)} agree{extra}"
        print(line, flush=True)
        self.lines.append(line)
        # The python model is also the oracle of tests/pcap/appliance_pcap.py: hold it to the
        # kernel too, so that oracle is itself checked on every run.
        py_ok = pymodel is None or all(k == p for k, p in zip(kernel, pymodel))
        if not py_ok:
            self.failures += 1
            print("    the python model (the pcap test's oracle) disagrees with the kernel", flush=True)
        if agree != len(flows) or len(kernel) != len(ours):
            self.failures += 1
            shown = 0
            for f, k, o in zip(flows, kernel, ours):
                if k != o and shown < limit:
                    print(f"    DISAGREE {f}: kernel {k}, ptbsteer {o}", flush=True)
                    shown += 1
            if len(kernel) != len(ours):
                print(f"    ptbsteer answered {len(ours)} lines for {len(kernel)} flows")


WEIGHT_SETS = [
    [1, 1],
    [1, 2, 1],
    [3, 1, 1, 2, 1],
    [1, 1, 1, 1, 1, 1, 1, 1],
    [2, 1, 1, 3, 1, 1, 1, 5, 1, 1],
    [1, 1, 2, 1, 1, 1, 1, 1, 4, 1, 1, 1, 1, 1, 1, 7],
    [1] * 16,
    [5, 1, 3],
]
SEEDS = [12345, 0x9E3779B9, 1]


def route_get_cases(args):
    """(family, policy, fields) cases `ip route get ... iif` reproduces on the forwarding path."""
    cases = []
    for fam in (4, 6):
        cases += [(fam, 0, 0), (fam, 1, 0)]
    for fields in (0x37, 0x07, 0x33, 0x03):
        cases.append((4, 3, fields))
    return cases


def check_route_get(args, topo, rep, rng):
    s = scapy() if not args.no_ptb else None
    case_no = 0
    for seed in SEEDS:
        for fam, policy, fields in route_get_cases(args):
            weights = WEIGHT_SETS[case_no % len(WEIGHT_SETS)]
            case_no += 1
            topo.configure(fam, seed, policy, fields, weights)
            flows = random_flows(rng, fam, args.flows)
            kernel = kernel_route_get(topo, flows, weights)
            title = describe(fam, policy, fields, seed, weights)
            py = [py_select(weights, py_model_hash(seed, policy, fields, f)) for f in flows] \
                if args.pymodel else None
            if args.kernel_only:
                hist = [kernel.count(i) for i in range(len(weights))]
                print(f"{title}: kernel choices per next-hop {hist}"
                      + (f", python model agrees {sum(a == b for a, b in zip(kernel, py))}"
                         f"/{len(flows)}" if py else ""), flush=True)
                continue
            ours = hashcalc(args, seed, policy, fields, weights, flows=flows)
            rep.compare(f"{title} [ip route get iif]", flows, kernel, ours, py)
            if s is not None:
                sub = list(range(0, len(flows), max(1, len(flows) // args.ptb_flows)))
                frames = [ptb_frame(s, topo, flows[i]) for i in sub]
                with tempfile.NamedTemporaryFile(suffix=".pcap", dir=args.tmp) as tf:
                    write_pcap(tf.name, frames)
                    ours_ptb = hashcalc(args, seed, policy, fields, weights, pcap=tf.name)
                rep.compare(f"{title} [PTB pcap vs route get]", [flows[i] for i in sub],
                            [kernel[i] for i in sub], ours_ptb)


def packet_cases():
    cases = []
    for fam in (4, 6):
        cases += [(fam, 0, 0), (fam, 1, 0), (fam, 3, 0x37), (fam, 3, 0x03)]
    cases += [(6, 3, 0x3F), (6, 3, 0x0F)]  # flow label under policy 3: host order
    return cases


def check_packets(args, topo, rep, rng):
    s = scapy()
    case_no = 0
    for seed in SEEDS[:2] if not args.quick else SEEDS[:1]:
        for fam, policy, fields in packet_cases():
            weights = WEIGHT_SETS[(case_no * 3 + 2) % len(WEIGHT_SETS)]
            case_no += 1
            topo.configure(fam, seed, policy, fields, weights)
            flows = random_flows(rng, fam, args.packet_flows, with_label=True)
            frames = [data_frame(s, topo, f) for f in flows]
            # Under policy 0 the router hashes an ICMP error on its quote: send real PTBs too.
            send_ptbs = policy == 0
            if send_ptbs:
                frames += [ptb_frame(s, topo, f) for f in flows]
            seen = send_and_observe(topo, frames, len(weights))
            kernel, lost, multi = [], 0, 0
            for f in flows:
                got = seen.get(("data", flow_id_for_parse(f)), [])
                lost += not got
                multi += len(set(got)) > 1
                kernel.append(got[0] if got else "lost")
            title = describe(fam, policy, fields, seed, weights)
            if lost or multi:
                print(f"{title} [real packets]: {lost} flows not seen, {multi} seen on several "
                      "egresses", flush=True)
                rep.failures += 1
            py = [py_select(weights, py_model_hash(seed, policy, fields, f)) for f in flows] \
                if args.pymodel else None
            if args.kernel_only:
                agree = sum(a == b for a, b in zip(kernel, py)) if py else None
                print(f"{title} [real packets]: per next-hop "
                      f"{[kernel.count(i) for i in range(len(weights))]}"
                      + (f", python model {agree}/{len(flows)}" if py else ""), flush=True)
            else:
                ours = hashcalc(args, seed, policy, fields, weights, flows=flows)
                rep.compare(f"{title} [real packets]", flows, kernel, ours, py)
            if send_ptbs:
                kptb = [(seen.get(("ptb", flow_id_for_parse(f))) or ["lost"])[0] for f in flows]
                rep.compare(f"{title} [real PTBs: router's ICMP-error hash vs flow]", flows,
                            kernel, kptb)
                if not args.kernel_only:
                    with tempfile.NamedTemporaryFile(suffix=".pcap", dir=args.tmp) as tf:
                        write_pcap(tf.name, frames[len(flows):])
                        ours_ptb = hashcalc(args, seed, policy, fields, weights, pcap=tf.name)
                    rep.compare(f"{title} [real PTBs: ptbsteer --pcap vs router]", flows, kptb,
                                ours_ptb)


def explore_forms(args, topo, rng):
    """Which `ip route get` form reproduces forwarding? Compares the iif form, the form without
    iif, and real forwarded packets, per family and policy; the Python model with and without
    the policy-3 jhash step tells which hash each form used (report material, not pass/fail)."""
    s = scapy()
    for fam in (4, 6):
        for policy, fields in ((0, 0), (1, 0), (3, 0x37), (3, 0x03)):
            weights = [1] * 8
            topo.configure(fam, 777, policy, fields, weights)
            flows = random_flows(rng, fam, 300, allow_icmp=False)
            seen = send_and_observe(topo, [data_frame(s, topo, f) for f in flows], len(weights))
            real = [(seen.get(("data", flow_id_for_parse(f))) or ["lost"])[0] for f in flows]
            iif = kernel_route_get(topo, flows, weights, with_iif=True)
            fwd = [py_select(weights, py_model_hash(777, policy, fields, f)) for f in flows]
            nsk = [py_select(weights, py_model_hash(777, policy, fields, f, False)) for f in flows]

            def agree(a, b):
                return f"{sum(x == y for x, y in zip(a, b))}/{len(flows)}"
            line = (f"IPv{fam} policy {policy} fields 0x{fields:02x}: real packets vs "
                    f"'route get iif' {agree(real, iif)}; model(fwd) vs real {agree(fwd, real)}, "
                    f"vs iif {agree(fwd, iif)}; model(no jhash) vs iif {agree(nsk, iif)}")
            # Without iif: IPv4 needs a local source (else ENETUNREACH), so use the router's own
            # address as the source; IPv6 accepts the client's.
            if fam == 4:
                loc = [Flow(4, ROUTER_IN4, f.dst, f.proto, f.sport, f.dport) for f in flows]
            else:
                loc = flows
            out = kernel_route_get(topo, loc, weights, with_iif=False)
            fwd_l = [py_select(weights, py_model_hash(777, policy, fields, f)) for f in loc]
            nsk_l = [py_select(weights, py_model_hash(777, policy, fields, f, False))
                     for f in loc]
            line += (f"; no-iif form (src {'router' if fam == 4 else 'client'}): "
                     f"model(fwd) {agree(fwd_l, out)}, model(no jhash) {agree(nsk_l, out)}")
            print(line, flush=True)


def remove_stale_namespaces():
    """Namespaces of an earlier run that was killed (SIGKILL skips every cleanup): ours are
    named ptbk-<pid>-*, so remove those whose process is gone, and nothing else."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for name in re.findall(r"^(ptbk-(\d+)-(?:cl|rt|sk))\b", out, re.M):
        ns, pid = name
        if not os.path.exists(f"/proc/{pid}"):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hashcalc", help="path to ptbsteer-hashcalc")
    ap.add_argument("--flows", type=int, default=2000, help="route-get flows per case")
    ap.add_argument("--ptb-flows", type=int, default=200, help="PTB-pcap flows per case")
    ap.add_argument("--packet-flows", type=int, default=300, help="real-packet flows per case")
    ap.add_argument("--kernel-only", action="store_true",
                    help="no ptbsteer-hashcalc: print the kernel's choices (harness debugging)")
    ap.add_argument("--no-pymodel", dest="pymodel", action="store_false",
                    help="skip the independent Python model (a debug aid that tells which side "
                         "of a disagreement is wrong; never decides pass/fail)")
    ap.add_argument("--explore", action="store_true",
                    help="compare route-get forms with real forwarding and exit")
    ap.add_argument("--no-packets", action="store_true", help="skip the real-packet check")
    ap.add_argument("--no-ptb", action="store_true", help="skip the PTB pcap check")
    ap.add_argument("--quick", action="store_true", help="fewer seeds for real packets")
    ap.add_argument("--rng-seed", type=int, default=20240607)
    args = ap.parse_args()
    if not args.kernel_only and not args.explore and not args.hashcalc:
        ap.error("--hashcalc is required (or --kernel-only)")
    if os.geteuid() != 0:
        print("kernel-agreement: needs root (network namespaces); skipped")
        return SKIP
    if not os.path.exists("/proc/sys/net/ipv4/fib_multipath_hash_seed"):
        print("kernel-agreement: kernel has no fib_multipath_hash_seed (< 6.11); skipped")
        return SKIP
    remove_stale_namespaces()
    topo = Topology(f"ptbk-{os.getpid()}")
    atexit.register(topo.destroy)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    signal.signal(signal.SIGINT, lambda *a: sys.exit(130))
    rng = random.Random(args.rng_seed)
    t0 = time.monotonic()
    rep = Report()
    with tempfile.TemporaryDirectory(prefix="ptbk-") as tmp:
        args.tmp = tmp
        try:
            try:
                topo.create()
            except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                print(f"kernel-agreement: cannot build namespaces: {e}")
                return 2
            if args.explore:
                explore_forms(args, topo, rng)
                return 0
            check_route_get(args, topo, rep, rng)
            if not args.no_packets:
                check_packets(args, topo, rep, rng)
        finally:
            topo.destroy()
    dt = time.monotonic() - t0
    print(f"kernel-agreement: {len(rep.lines)} comparisons, {rep.failures} failed, "
          f"{dt:.1f} s")
    return 1 if rep.failures else 0


if __name__ == "__main__":
    sys.exit(main())
