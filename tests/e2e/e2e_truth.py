#!/usr/bin/python3
"""End-to-end truth test for ptbsteer: the Linux kernel of each server is the judge.

Real TCP connections go client -> router (multipath route, fixed hash seed) -> one of N servers
that all hold the anycast VIPs. For every live connection we build the ICMP Packet Too Big a
router on the server->client path would send (RFC 792/4443: quoting the server's segment, with
the next sequence number so that tcp_v4_err()/tcp_v6_err() find it inside the send window), and
deliver it over a "delivery LAN" (a bridge every server hangs off). Then:

  * the server that owns the flow must have learned the MTU (`ip route get CLIENT from VIP`
    shows `mtu 1400`: the route exception created by tcp_v4_mtu_reduced/tcp_v6_mtu_reduced),
  * no other server may have learned it (in replicate mode they receive a copy, but their TCP
    stack finds no socket for it, so they must not learn),
  * captures on every server's LAN interface show where each PTB arrived.

Delivery is pluggable:
  --deliver oracle        the harness sends each PTB straight to the owner's LAN MAC (from
                          ptbe-steer's steer-out): proves the harness itself.
  --deliver broadcast-all one copy per server (the replicate-mode expectation).
  --deliver ptbsteer      writes a ptbsteer config, runs `BIN --config FILE` inside ptbe-steer
                          (af_packet vdevs on steer-in / steer-out) and injects every PTB into
                          steer-in; ptbsteer must do the steering.

A Python re-implementation of the kernel's multipath hash (written from
/work/shared/reference/linux-multipath-hash.md) predicts each flow's owner from the router's
route order and weights; it must agree with the observed owners, which verifies the next-hop
order/weights written into the ptbsteer config.

Run as root with /usr/bin/python3 (stdlib + scapy). Exit: 0 pass, 1 check failed, 2 setup
error, 77 skipped (not root / no netns). Namespaces are ptbe-*; all are removed on exit
(finally + SIGTERM/SIGHUP handlers) unless --keep.
"""

import argparse
import ipaddress
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

PY = "/usr/bin/python3"
SELF = os.path.abspath(__file__)

PREFIX = "ptbe-"
NS_CLIENT, NS_ROUTER, NS_LAN, NS_STEER, NS_INJ = (PREFIX + n for n in
                                                  ("client", "router", "lan", "steer", "inj"))

VIP = {4: "198.51.100.10", 6: "2001:db8:100::10"}
VIP_PREFIX = {4: "198.51.100.10/32", 6: "2001:db8:100::10/128"}
PTB_SRC = {4: "203.0.113.1", 6: "2001:db8:ffff::1"}   # the "router" that sends the PTB
PTB_MTU = 1400
ORIG_LEN = 1500          # the too-big server->client packet the PTB complains about
# How much of it a real router quotes: RFC 1812 4.3.2.3 (v4: PTB fits in 576 bytes),
# RFC 4443 2.4(c) (v6: PTB fits in the minimum MTU 1280).
QUOTE_LEN = {4: 576 - 20 - 8, 6: 1280 - 40 - 8}
SERVICE_PORT = 80
MAX_V4_FLOWS = 241       # 192.0.2.10 .. 192.0.2.250
MAX_SERVERS = 32         # 198.51.100.128/25 cut into /30 router links


def srv_ns(k):
    return f"{PREFIX}srv{k}"


def client_addr(fam, i):
    if fam == 4:
        return f"192.0.2.{10 + i}"
    return str(ipaddress.IPv6Address("2001:db8:2::10") + i)


def link_addrs(fam, k):
    """(router side, server side) of the router<->srvK link."""
    if fam == 4:
        base = 128 + 4 * (k - 1)
        return f"198.51.100.{base + 1}", f"198.51.100.{base + 2}"
    return f"2001:db8:1:{k:x}::1", f"2001:db8:1:{k:x}::2"


def lan_mac(k):
    return f"02:70:74:62:00:{k:02x}"     # locally administered, "ptb"


STEER_IN_MAC, STEER_OUT_MAC, INJ_MAC = "02:70:74:62:01:01", "02:70:74:62:01:02", "02:70:74:62:01:03"


class SetupError(Exception):
    pass


# --------------------------------------------------------------------------------------------
# Process helpers (every wait is bounded)

def run(cmd, inp=None, check=True, timeout=30):
    p = subprocess.run(cmd, input=inp, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise SetupError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()[:500]}")
    return p


def ip_batch(ns, lines, timeout=60):
    if lines:
        run(nsexec(ns, "ip", "-batch", "-"), inp="\n".join(lines) + "\n", timeout=timeout)


def nsexec(ns, *cmd):
    # nsenter switches the network namespace only. `ip netns exec` and `ip -n` also unshare the
    # mount namespace and remount / as a slave, which fails where / is not a mount point (a
    # chroot, as on a freshly debootstrapped machine); nothing here needs the remounted /sys.
    return ["nsenter", f"--net=/run/netns/{ns}", *cmd]


def sysctl(ns, pairs):
    run(nsexec(ns, "sysctl", "-q", "-w", *[f"{k}={v}" for k, v in pairs]))


class Procs:
    """Background processes we started; stopped by their own pid only."""

    def __init__(self):
        self.procs = []

    def start(self, name, cmd, **kw):
        p = subprocess.Popen(cmd, **kw)
        self.procs.append((name, p))
        return p

    @staticmethod
    def stop(p, sig=signal.SIGTERM, timeout=5):
        if p.poll() is None:
            try:
                p.send_signal(sig)
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
        return p.returncode

    def stop_all(self):
        for _, p in reversed(self.procs):
            try:
                self.stop(p, timeout=3)
            except Exception:   # noqa: BLE001 - cleanup must go on
                pass
        self.procs = []


def read_line(pipe, deadline, what):
    """One line from a child's pipe, or SetupError at the deadline."""
    buf = b""
    fd = pipe.fileno()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise SetupError(f"timeout waiting for {what}")
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        ch = os.read(fd, 1)
        if not ch:
            raise SetupError(f"{what}: process closed its output ({buf!r})")
        if ch == b"\n":
            return buf.decode(errors="replace")
        buf += ch


# --------------------------------------------------------------------------------------------
# Topology

def existing_namespaces():
    out = run(["ip", "netns", "list"], check=False).stdout
    return [ln.split()[0] for ln in out.splitlines() if ln.split() and
            ln.split()[0].startswith(PREFIX)]


def delete_namespaces(names):
    for ns in names:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


class Topology:
    def __init__(self, args):
        self.n = args.servers
        self.weights = args.weights
        self.add_order = args.route_order      # order of `nexthop` clauses in `ip route add`
        self.policy = args.policy
        self.seed = args.seed
        self.flows_per_family = args.flows
        self.families = args.families
        self.reflect = 0 if args.no_flowlabel_reflect else 1
        self.created = []
        self.route_order = {}      # family -> [server index in the router's route order]

    def namespaces(self):
        return [NS_CLIENT, NS_ROUTER, NS_LAN, NS_STEER, NS_INJ] + \
               [srv_ns(k) for k in range(1, self.n + 1)]

    def create(self):
        for ns in self.namespaces():
            run(["ip", "netns", "add", ns])
            self.created.append(ns)
        self._sysctls()
        self._links()
        self._addresses_and_routes()
        self._read_route_order()
        self._check_bridge_forwarding()

    def destroy(self):
        delete_namespaces(self.created)
        self.created = []

    def _sysctls(self):
        # No DAD: addresses must be usable at once (tentative v6 addresses cannot be bound).
        nodad = [("net.ipv6.conf.all.accept_dad", 0), ("net.ipv6.conf.default.accept_dad", 0)]
        # The LAN side must stay silent (no RS/MLD/ND) so ptbsteer's rx only sees our PTBs.
        noipv6 = [("net.ipv6.conf.all.disable_ipv6", 1), ("net.ipv6.conf.default.disable_ipv6", 1)]
        sysctl(NS_CLIENT, nodad)
        mp = [("net.ipv4.ip_forward", 1), ("net.ipv6.conf.all.forwarding", 1),
              ("net.ipv4.fib_multipath_hash_seed", self.seed),
              ("net.ipv4.fib_multipath_hash_policy", self.policy),
              ("net.ipv6.fib_multipath_hash_policy", self.policy)]
        if self.policy == 3:
            mp += [("net.ipv4.fib_multipath_hash_fields", 0x37),
                   ("net.ipv6.fib_multipath_hash_fields", 0x37)]
        sysctl(NS_ROUTER, nodad + mp + [("net.ipv4.conf.all.rp_filter", 0),
                                        ("net.ipv4.conf.default.rp_filter", 0)])
        for k in range(1, self.n + 1):
            # flowlabel_reflect=1 (FLOWLABEL_REFLECT_ESTABLISHED): the server's segments carry
            # the client's flow label, so the quoted label equals the one the router hashed
            # under policy 0 (RFC 7690 / linux-multipath-hash.md). Must be set before the
            # listening sockets exist (inet6_create copies it into np->repflow).
            sysctl(srv_ns(k), nodad + [("net.ipv4.conf.all.rp_filter", 0),
                                       ("net.ipv4.conf.default.rp_filter", 0),
                                       ("net.ipv6.flowlabel_reflect", self.reflect)])
        for ns in (NS_LAN, NS_STEER, NS_INJ):
            sysctl(ns, noipv6)

    def _links(self):
        ip_batch(NS_ROUTER, [f"link add r-c type veth peer name c0 netns {NS_CLIENT}"] +
                 [f"link add r-srv{k} type veth peer name srv{k}-r netns {srv_ns(k)}"
                  for k in range(1, self.n + 1)])
        lan = ["link add br0 type bridge forward_delay 0 stp_state 0",
               f"link add lan-steer type veth peer name steer-out netns {NS_STEER}"]
        lan += [f"link add lan-srv{k} type veth peer name srv{k}-lan netns {srv_ns(k)}"
                for k in range(1, self.n + 1)]
        ip_batch(NS_LAN, lan)
        ip_batch(NS_STEER, [f"link add steer-in type veth peer name inj0 netns {NS_INJ}"])
        ip_batch(NS_STEER, [f"link set steer-in address {STEER_IN_MAC}",
                            f"link set steer-out address {STEER_OUT_MAC}",
                            "link set steer-in up", "link set steer-out up", "link set lo up"])
        ip_batch(NS_INJ, [f"link set inj0 address {INJ_MAC}", "link set inj0 up"])
        ports = ["lan-steer"] + [f"lan-srv{k}" for k in range(1, self.n + 1)]
        ip_batch(NS_LAN, [f"link set {p} master br0" for p in ports] +
                 [f"link set {p} up" for p in ports] + ["link set br0 up"])
        # Static FDB entries: the bridge never floods a PTB addressed to a server, so a capture
        # on srvK-lan sees only what was sent to srvK's MAC (plus nothing else of ours).
        run(nsexec(NS_LAN, "bridge", "-batch", "-"),
            inp="".join(f"fdb add {lan_mac(k)} dev lan-srv{k} master static\n"
                        for k in range(1, self.n + 1)))

    def _addresses_and_routes(self):
        r = ["link set lo up", "link set r-c up",
             "addr add 192.0.2.1/24 dev r-c", "addr add 2001:db8:2::1/64 dev r-c nodad"]
        for k in range(1, self.n + 1):
            r4, _ = link_addrs(4, k)
            r6, _ = link_addrs(6, k)
            r += [f"link set r-srv{k} up", f"addr add {r4}/30 dev r-srv{k}",
                  f"addr add {r6}/64 dev r-srv{k} nodad"]
        for fam in (4, 6):
            hops = " ".join(f"nexthop via {link_addrs(fam, k)[1]} dev r-srv{k} "
                            f"weight {self.weights[k - 1]}" for k in self.add_order)
            r.append(f"{'-6 ' if fam == 6 else ''}route add {VIP_PREFIX[fam]} {hops}")
        # `-6` is not accepted inside -batch lines; family is inferred from the prefix.
        r = [ln.replace("-6 route", "route") for ln in r]
        ip_batch(NS_ROUTER, r)

        c = ["link set lo up", "link set c0 up"]
        n4 = min(self.flows_per_family, MAX_V4_FLOWS) if 4 in self.families else 0
        n6 = self.flows_per_family if 6 in self.families else 0
        c += [f"addr add {client_addr(4, i)}/24 dev c0" for i in range(max(n4, 1))]
        c += [f"addr add {client_addr(6, i)}/64 dev c0 nodad" for i in range(max(n6, 1))]
        c += ["route add default via 192.0.2.1", "route add default via 2001:db8:2::1"]
        ip_batch(NS_CLIENT, c)

        for k in range(1, self.n + 1):
            r4, s4 = link_addrs(4, k)
            r6, s6 = link_addrs(6, k)
            ip_batch(srv_ns(k), [
                "link set lo up", f"addr add {VIP[4]}/32 dev lo", f"addr add {VIP[6]}/128 dev lo",
                f"link set srv{k}-r up", f"addr add {s4}/30 dev srv{k}-r",
                f"addr add {s6}/64 dev srv{k}-r nodad",
                f"route add default via {r4}", f"route add default via {r6}",
                f"link set srv{k}-lan address {lan_mac(k)}", f"link set srv{k}-lan up",
                f"addr add 203.0.113.{10 + k}/24 dev srv{k}-lan",
                f"addr add 2001:db8:ff::{10 + k:x}/64 dev srv{k}-lan nodad"])

    def _read_route_order(self):
        """The next-hop order as the kernel lists it (= the order hash-threshold walks)."""
        for fam in (4, 6):
            out = run(nsexec(NS_ROUTER, "ip", f"-{fam}", "route", "show", VIP_PREFIX[fam])).stdout
            devs = re.findall(r"nexthop via \S+ dev r-srv(\d+) weight (\d+)", out)
            if len(devs) != self.n:
                raise SetupError(f"IPv{fam} multipath route not as expected:\n{out}")
            order = [int(d) for d, _ in devs]
            for k, w in devs:
                if int(w) != self.weights[int(k) - 1]:
                    raise SetupError(f"IPv{fam} route weight mismatch:\n{out}")
            self.route_order[fam] = order

    def _check_bridge_forwarding(self):
        deadline = time.monotonic() + 10
        while True:
            out = run(nsexec(NS_LAN, "bridge", "link", "show")).stdout
            states = re.findall(r"state (\w+)", out)
            if len(states) == self.n + 1 and all(s == "forwarding" for s in states):
                return
            if time.monotonic() > deadline:
                raise SetupError(f"bridge ports not forwarding:\n{out}")
            time.sleep(0.1)


# --------------------------------------------------------------------------------------------
# Helper roles, run inside a namespace as `e2e_truth.py _server|_client|_send ...`

def role_server(argv):
    """TCP server on :80 (v4 + v6): greet every connection with its name and keep it open."""
    import selectors
    name = argv[0].encode()
    sel = selectors.DefaultSelector()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    for fam, addr in ((socket.AF_INET, ("0.0.0.0", SERVICE_PORT)),
                      (socket.AF_INET6, ("::", SERVICE_PORT))):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind(addr)
        s.listen(1024)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, "listen")
    conns = []
    print("READY", flush=True)
    while not stop:
        for key, _ in sel.select(timeout=0.5):
            if key.data == "listen":
                try:
                    c, _ = key.fileobj.accept()
                except BlockingIOError:
                    continue
                c.setblocking(False)
                c.send(b"ptbe " + name + b"\n")   # one small segment: the connection is live
                conns.append(c)
                sel.register(c, selectors.EVENT_READ, "conn")
            else:
                try:
                    data = key.fileobj.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(key.fileobj)
                    key.fileobj.close()
    return 0


def role_client(_argv):
    """Open one connection per (family, source address) from stdin JSON; keep them open."""
    jobs = json.loads(sys.stdin.readline())
    socks = []
    for fam, src in jobs:
        af = socket.AF_INET if fam == 4 else socket.AF_INET6
        s = socket.socket(af, socket.SOCK_STREAM)
        s.settimeout(3)
        res = {"fam": fam, "src": src}
        try:
            s.bind((src, 0))
            s.connect((VIP[fam], SERVICE_PORT))
            res["sport"] = s.getsockname()[1]
            greet = b""
            while not greet.endswith(b"\n") and len(greet) < 64:
                chunk = s.recv(64)
                if not chunk:
                    break
                greet += chunk
            res["greeting"] = greet.decode(errors="replace").strip()
        except OSError as e:
            res["error"] = str(e)
        socks.append(s)
        print(json.dumps(res), flush=True)
    print("READY", flush=True)
    sys.stdin.read()          # hold the connections until the harness closes our stdin
    return 0


def role_send(argv):
    """Send every frame of a pcap file out of IFACE with an AF_PACKET socket."""
    iface, path, gap_us = argv[0], argv[1], int(argv[2])
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    n = 0
    for _, frame in read_pcap(path):
        s.send(frame)
        n += 1
        if gap_us:
            time.sleep(gap_us / 1e6)
    print(n, flush=True)
    return 0


# --------------------------------------------------------------------------------------------
# pcap files (plain libpcap format as written by tcpdump -w), parsed by hand

def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
    off = 24
    while off + 16 <= len(data):
        ts, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        off += 16
        if off + incl > len(data):
            break      # last record cut short
        yield ts, data[off:off + incl]
        off += incl


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for fr in frames:
            f.write(struct.pack("<IIII", 0, 0, len(fr), len(fr)))
            f.write(fr)


def parse_l3(frame):
    """(family, l3 offset) for an untagged Ethernet frame carrying IPv4/IPv6, else None."""
    if len(frame) < 14:
        return None
    et = struct.unpack("!H", frame[12:14])[0]
    if et == 0x0800:
        return 4, 14
    if et == 0x86DD:
        return 6, 14
    return None


def tcp_view(frame):
    """Fields of a TCP segment in an Ethernet frame (no IPv6 extension headers expected)."""
    l3 = parse_l3(frame)
    if not l3:
        return None
    fam, o = l3
    if fam == 4:
        ihl = (frame[o] & 0x0F) * 4
        if frame[o + 9] != 6:
            return None
        tot = struct.unpack("!H", frame[o + 2:o + 4])[0]
        src = socket.inet_ntop(socket.AF_INET, frame[o + 12:o + 16])
        dst = socket.inet_ntop(socket.AF_INET, frame[o + 16:o + 20])
        label, t, end = None, o + ihl, o + tot
    else:
        if frame[o + 6] != 6:
            return None
        plen = struct.unpack("!H", frame[o + 4:o + 6])[0]
        label = struct.unpack("!I", frame[o:o + 4])[0] & 0xFFFFF
        src = socket.inet_ntop(socket.AF_INET6, frame[o + 8:o + 24])
        dst = socket.inet_ntop(socket.AF_INET6, frame[o + 24:o + 40])
        t, end = o + 40, o + 40 + plen
    sport, dport, seq, ack, off_flags = struct.unpack("!HHIIH", frame[t:t + 14])
    thl = (off_flags >> 12) * 4
    flags = off_flags & 0x1FF
    return {"fam": fam, "src": src, "dst": dst, "sport": sport, "dport": dport, "seq": seq,
            "ack": ack, "flags": flags, "len": end - t - thl, "label": label}


def ptb_view(frame):
    """(dst MAC, family, quoted client addr, quoted client port) of a PTB frame, else None."""
    l3 = parse_l3(frame)
    if not l3:
        return None
    fam, o = l3
    dmac = frame[0:6].hex(":")
    if fam == 4:
        ihl = (frame[o] & 0x0F) * 4
        if frame[o + 9] != 1 or frame[o + ihl] != 3 or frame[o + ihl + 1] != 4:
            return None
        q = o + ihl + 8
        qihl = (frame[q] & 0x0F) * 4
        client = socket.inet_ntop(socket.AF_INET, frame[q + 16:q + 20])
        cport = struct.unpack("!H", frame[q + qihl + 2:q + qihl + 4])[0]
    else:
        if frame[o + 6] != 58 or frame[o + 40] != 2:
            return None
        q = o + 48
        client = socket.inet_ntop(socket.AF_INET6, frame[q + 24:q + 40])
        cport = struct.unpack("!H", frame[q + 42:q + 44])[0]
    return dmac, fam, client, cport


# --------------------------------------------------------------------------------------------
# Capture with tcpdump inside a namespace

class Capture:
    def __init__(self, procs, ns, iface, path, bpf, snaplen=256):
        self.path = path
        self.p = procs.start(f"tcpdump {ns}/{iface}",
                             nsexec(ns, "tcpdump", "-i", iface, "-U", "-n", "-s", str(snaplen),
                                    "--immediate-mode", "-w", path, bpf),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.what = f"tcpdump on {ns}/{iface}"

    def wait_ready(self, deadline):
        while True:
            line = read_line(self.p.stderr, deadline, self.what)
            if "listening on" in line:
                return

    def stop(self):
        Procs.stop(self.p, signal.SIGINT, timeout=5)


# --------------------------------------------------------------------------------------------
# Flows: open connections, learn owner and sequence numbers

class Flow:
    def __init__(self, fam, client, cport, greeting):
        self.fam, self.client, self.cport, self.greeting = fam, client, cport, greeting
        self.owner = None            # server index, from `ss` on the servers
        self.snd_nxt = None          # server's next sequence number (sniffed)
        self.rcv_nxt = None          # client's next sequence number = server's ack
        self.server_label = 0
        self.client_labels = set()
        self.predicted = None        # server index from the Python hash model

    @property
    def key(self):
        return self.fam, self.client, self.cport

    def __str__(self):
        return f"[{self.client}]:{self.cport}" if self.fam == 6 else f"{self.client}:{self.cport}"


def start_servers(procs, n, deadline):
    for k in range(1, n + 1):
        p = procs.start(f"server srv{k}", nsexec(srv_ns(k), PY, SELF, "_server", f"srv{k}"),
                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = read_line(p.stdout, deadline, f"server srv{k}")
        if line != "READY":
            raise SetupError(f"server srv{k}: unexpected {line!r}")


def open_connections(procs, topo, workdir, deadline):
    jobs = []
    for fam in topo.families:
        n = topo.flows_per_family
        jobs += [[fam, client_addr(fam, i)] for i in range(n)]
    cap = Capture(procs, NS_CLIENT, "c0", os.path.join(workdir, "client.pcap"), "tcp port 80")
    cap.wait_ready(deadline)
    client = procs.start("client", nsexec(NS_CLIENT, PY, SELF, "_client"),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    client.stdin.write((json.dumps(jobs) + "\n").encode())
    client.stdin.flush()
    flows, errors = [], []
    while True:
        line = read_line(client.stdout, deadline, "client connections")
        if line == "READY":
            break
        res = json.loads(line)
        if "error" in res or not res.get("greeting", "").startswith("ptbe srv"):
            errors.append(res)
            continue
        flows.append(Flow(res["fam"], res["src"], res["sport"], res["greeting"]))
    # The client has read every greeting; give the capture a moment for the client's ACKs.
    time.sleep(0.3)
    cap.stop()
    learn_sequence_numbers(flows, cap.path)
    return flows, errors, client


def learn_sequence_numbers(flows, pcap):
    by_key = {f.key: f for f in flows}
    for _, frame in read_pcap(pcap):
        t = tcp_view(frame)
        if not t:
            continue
        syn_fin = (1 if t["flags"] & 0x02 else 0) + (1 if t["flags"] & 0x01 else 0)
        nxt = (t["seq"] + t["len"] + syn_fin) & 0xFFFFFFFF
        if t["sport"] == SERVICE_PORT and t["src"] == VIP[t["fam"]]:
            f = by_key.get((t["fam"], t["dst"], t["dport"]))
            if f:
                f.snd_nxt = nxt          # veth does not reorder: the last one is the highest
                if t["label"] is not None:
                    f.server_label = t["label"]
        elif t["dport"] == SERVICE_PORT and t["dst"] == VIP[t["fam"]]:
            f = by_key.get((t["fam"], t["src"], t["sport"]))
            if f:
                f.rcv_nxt = nxt
                if t["label"] is not None:
                    f.client_labels.add(t["label"])


def find_owners(flows, n):
    """Which server's kernel holds each connection (ss in every server namespace)."""
    by_key = {f.key: f for f in flows}
    seen = {}
    for k in range(1, n + 1):
        out = run(nsexec(srv_ns(k), "ss", "-tnH", "state", "established",
                         "( sport = :80 )")).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) < 2:
                continue
            addr, port = parts[-1].rsplit(":", 1)
            addr = addr.strip("[]")
            fam = 6 if ":" in addr else 4
            key = (fam, addr, int(port))
            seen.setdefault(key, []).append(k)
    problems = []
    for key, f in by_key.items():
        owners = seen.get(key, [])
        if len(owners) != 1:
            problems.append(f"{f}: owned by {owners or 'no server'}")
            continue
        f.owner = owners[0]
        if f.greeting != f"ptbe srv{f.owner}":
            problems.append(f"{f}: ss says srv{f.owner} but greeting was {f.greeting!r}")
    return problems


# --------------------------------------------------------------------------------------------
# Python model of the kernel's multipath hash (fib_multipath_hash / rt6_multipath_hash,
# __flow_hash_from_keys, fib_select_multipath/fib6_select_path), from
# /work/shared/reference/linux-multipath-hash.md. Used only to verify the next-hop order and
# weights we hand to ptbsteer against what the router really did.

M64 = (1 << 64) - 1
M32 = 0xFFFFFFFF


def _rotl64(x, b):
    return ((x << b) | (x >> (64 - b))) & M64


def siphash_2_4(k0, k1, msg):
    v0, v1 = k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D
    v2, v3 = k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573

    def sipround():
        nonlocal v0, v1, v2, v3
        v0 = (v0 + v1) & M64
        v1 = _rotl64(v1, 13) ^ v0
        v0 = _rotl64(v0, 32)
        v2 = (v2 + v3) & M64
        v3 = _rotl64(v3, 16) ^ v2
        v0 = (v0 + v3) & M64
        v3 = _rotl64(v3, 21) ^ v0
        v2 = (v2 + v1) & M64
        v1 = _rotl64(v1, 17) ^ v2
        v2 = _rotl64(v2, 32)

    tail_len = len(msg) % 8
    for i in range(0, len(msg) - tail_len, 8):
        m = struct.unpack("<Q", msg[i:i + 8])[0]
        v3 ^= m
        sipround()
        sipround()
        v0 ^= m
    last = (len(msg) & 0xFF) << 56
    for i, byte in enumerate(msg[len(msg) - tail_len:]):
        last |= byte << (8 * i)
    v3 ^= last
    sipround()
    sipround()
    v0 ^= last
    v2 ^= 0xFF
    for _ in range(4):
        sipround()
    return v0 ^ v1 ^ v2 ^ v3


def _rol32(x, k):
    return ((x << k) | (x >> (32 - k))) & M32


def jhash_2words(a, b, initval):
    """include/linux/jhash.h: __jhash_nwords(a, b, 0, initval + JHASH_INITVAL + (2 << 2))."""
    iv = (initval + 0xDEADBEEF + 8) & M32
    a, b, c = (a + iv) & M32, (b + iv) & M32, iv
    c = ((c ^ b) - _rol32(b, 14)) & M32
    a = ((a ^ c) - _rol32(c, 11)) & M32
    b = ((b ^ a) - _rol32(a, 25)) & M32
    c = ((c ^ b) - _rol32(b, 16)) & M32
    a = ((a ^ c) - _rol32(c, 4)) & M32
    b = ((b ^ a) - _rol32(a, 14)) & M32
    c = ((c ^ b) - _rol32(b, 24)) & M32
    return c


def kernel_mp_hash(seed, policy, fam, src, dst, sport, dport, label):
    """Multipath hash of a forwarded client->server TCP packet (policy 0, or 3 with 0x37)."""
    a = socket.inet_pton(socket.AF_INET if fam == 4 else socket.AF_INET6, src)
    b = socket.inet_pton(socket.AF_INET if fam == 4 else socket.AF_INET6, dst)
    proto, fl, sp, dp = 0, b"\0\0\0\0", b"\0\0", b"\0\0"
    if policy == 0:
        if fam == 6:
            proto = 6                                        # first next-header
            fl = struct.pack("!I", label & 0xFFFFF)          # stored in network order
    else:                                                    # policy 3, fields 0x37
        proto, sp, dp = 6, struct.pack("!H", sport), struct.pack("!H", dport)
    # __flow_hash_consistentify: order-independent keys
    if fam == 4:
        if struct.unpack("<I", b)[0] < struct.unpack("<I", a)[0]:
            a, b = b, a
    elif b < a:
        a, b = b, a
    if struct.unpack("<H", dp)[0] < struct.unpack("<H", sp)[0]:
        sp, dp = dp, sp
    keys = struct.pack("!H", 0) + bytes([proto, 0]) + fl + bytes(16) + bytes(4) + sp + dp + \
        bytes(4) + a + b + bytes(4)
    assert len(keys) == (48 if fam == 4 else 72)
    k = ((seed & M32) << 32) | (seed & M32)
    h = siphash_2_4(k, k, keys) & M32
    h = h or 1
    if policy == 3:
        h = jhash_2words(h, 0, 0)        # fib_multipath_custom_hash_skb (forwarding path)
    return h >> 1


def hash_threshold(weights_in_order, mhash):
    total = sum(weights_in_order)
    w = 0
    for i, wt in enumerate(weights_in_order):
        w += wt
        bound = (((w << 31) + total // 2) // total) - 1
        if mhash <= bound:
            return i
    return len(weights_in_order) - 1


def model_check(flows, topo):
    bad = []
    for f in flows:
        order = topo.route_order[f.fam]
        label = next(iter(f.client_labels)) if len(f.client_labels) == 1 else 0
        h = kernel_mp_hash(topo.seed, topo.policy, f.fam, f.client, VIP[f.fam], f.cport,
                           SERVICE_PORT, label)
        f.predicted = order[hash_threshold([topo.weights[k - 1] for k in order], h)]
        if f.predicted != f.owner:
            bad.append(f"{f}: model says srv{f.predicted}, router chose srv{f.owner}")
    return bad


# --------------------------------------------------------------------------------------------
# PTB frames

def ptb_frame(f, dst_mac, src_mac, seq_offset=0):
    from scapy.all import ICMP, IP, TCP, Ether, ICMPv6PacketTooBig, IPv6, Raw, raw
    # The server->client packet that "did not fit": full size, carrying the next byte the
    # server would send, so tcp_v[46]_err() finds seq within [snd_una, snd_nxt].
    tcp = TCP(sport=SERVICE_PORT, dport=f.cport, seq=(f.snd_nxt + seq_offset) & M32,
              ack=f.rcv_nxt or 0,
              flags="PA", window=502)
    if f.fam == 4:
        inner = IP(src=VIP[4], dst=f.client, ttl=63, flags="DF", id=0x1234) / tcp / \
            Raw(bytes(ORIG_LEN - 40))
        outer = IP(src=PTB_SRC[4], dst=VIP[4], ttl=64) / \
            ICMP(type=3, code=4, nexthopmtu=PTB_MTU)
    else:
        inner = IPv6(src=VIP[6], dst=f.client, hlim=63, fl=f.server_label) / tcp / \
            Raw(bytes(ORIG_LEN - 60))
        outer = IPv6(src=PTB_SRC[6], dst=VIP[6], hlim=64) / ICMPv6PacketTooBig(mtu=PTB_MTU)
    quote = raw(inner)[:QUOTE_LEN[f.fam]]
    return raw(Ether(dst=dst_mac, src=src_mac) / outer / Raw(quote))


def send_frames(ns, iface, frames, workdir, name, gap_us, timeout):
    path = os.path.join(workdir, name)
    write_pcap(path, frames)
    out = run(nsexec(ns, PY, SELF, "_send", iface, path, str(gap_us)), timeout=timeout)
    sent = int(out.stdout.strip() or 0)
    if sent != len(frames):
        raise SetupError(f"sent {sent} of {len(frames)} frames on {ns}/{iface}")


# --------------------------------------------------------------------------------------------
# Kernel state: learned PMTUs, ICMP counters

def learned_mtus(n, flows):
    """{(server, family, client): mtu or None} from `ip route get CLIENT from VIP`."""
    clients = sorted({(f.fam, f.client) for f in flows})
    result = {}
    for k in range(1, n + 1):
        lines = [f"route get {c} from {VIP[fam]}" for fam, c in clients]
        out = run(nsexec(srv_ns(k), "ip", "-batch", "-"), inp="\n".join(lines) + "\n",
                  timeout=30).stdout
        entries, cur = [], None
        for ln in out.splitlines():
            if ln and not ln[0].isspace():
                cur = [ln]
                entries.append(cur)
            elif cur is not None:
                cur.append(ln)
        if len(entries) != len(clients):
            raise SetupError(f"srv{k}: {len(entries)} route entries for {len(clients)} look-ups")
        for (fam, c), e in zip(clients, entries):
            text = " ".join(e)
            if not text.startswith(c + " "):
                raise SetupError(f"srv{k}: unexpected route get output {text!r} for {c}")
            m = re.search(r"\bmtu (\d+)", text)
            result[(k, fam, c)] = int(m.group(1)) if m else None
    return result


def wait_learned(n, flows, expect_all, timeout):
    """Poll until every owner learned (or the timeout): the kernel acts asynchronously."""
    deadline = time.monotonic() + timeout
    while True:
        mtus = learned_mtus(n, flows)
        if not expect_all:
            return mtus
        if all(mtus.get((f.owner, f.fam, f.client)) == PTB_MTU for f in flows):
            return mtus
        if time.monotonic() > deadline:
            return mtus
        time.sleep(0.2)


def icmp_counters(ns):
    text = run(nsexec(ns, "cat", "/proc/net/snmp", "/proc/net/netstat", "/proc/net/snmp6")).stdout
    vals = {}
    lines = text.splitlines()
    for i in range(len(lines) - 1):
        h, v = lines[i].split(), lines[i + 1].split()
        if h and v and h[0] == v[0] and h[0].endswith(":") and not h[1].isdigit():
            for name, val in zip(h[1:], v[1:]):
                vals[h[0][:-1] + "." + name] = int(val)
    for ln in lines:
        p = ln.split()
        if len(p) == 2 and p[1].isdigit() and p[0].startswith("Icmp6"):
            vals[p[0]] = int(p[1])
    keep = ("Icmp.InDestUnreachs", "Icmp6InPktTooBigs", "TcpExt.OutOfWindowIcmps",
            "Icmp.InErrors", "Icmp6InErrors")
    return {k: vals.get(k, 0) for k in keep}


# --------------------------------------------------------------------------------------------
# ptbsteer config and runner

def ptbsteer_config(topo, mode):
    def hops(order):
        return "".join(f'      - {{name: srv{k}, port: out, mac: "{lan_mac(k)}", '
                       f"weight: {topo.weights[k - 1]}}}\n" for k in order)

    hash_line = f"{{model: linux, policy: {topo.policy}, seed: {topo.seed}"
    hash_line += ", fields: 0x37}" if topo.policy == 3 else "}"
    text = (
        "# Written by tests/e2e/e2e_truth.py. next_hops are in the router's route order\n"
        "# (`ip route show` of the VIP route): hash-threshold selection depends on it.\n"
        'eal: [--no-huge, -m, "512", --no-pci, --file-prefix, ptbe, --no-telemetry, '
        '--vdev, "net_af_packet0,iface=steer-in", --vdev, "net_af_packet1,iface=steer-out", '
        '-l, "0"]\n'
        "ports:\n"
        '  - {name: in, device: "net_af_packet0,iface=steer-in"}\n'
        '  - {name: out, device: "net_af_packet1,iface=steer-out"}\n'
        "lcores:\n"
        # The loader insists every rx queue has a poller (validate.cpp check_queues), so `out`
        # is polled too; the LAN is quiet and anything read there is not a PTB for our VIPs.
        "  - {id: 0, rx: [in, out], tx: true}\n"
        "groups:\n")
    fams = [4, 6]
    if topo.route_order[4] == topo.route_order[6]:
        sets = [("site", fams)]
    else:       # the kernel listed the families in different orders: one group per family
        sets = [(f"site{fam}", [fam]) for fam in fams]
    for name, fs in sets:
        text += (f"  - name: {name}\n"
                 f"    prefixes: [{', '.join(VIP_PREFIX[f] for f in fs)}]\n"
                 f"    hash: {hash_line}\n"
                 "    select: hash-threshold\n"
                 f"    mode: {mode}\n"
                 "    next_hops:\n" + hops(topo.route_order[fs[0]]))
    return text


def packet_sockets_bound(ns, ifaces):
    idx = {}
    for i in ifaces:
        out = run(nsexec(ns, "ip", "-o", "link", "show", i)).stdout
        idx[int(out.split(":", 1)[0])] = i
    text = run(nsexec(ns, "cat", "/proc/net/packet")).stdout
    bound = set()
    for ln in text.splitlines()[1:]:
        p = ln.split()
        if len(p) >= 5 and p[4].isdigit() and int(p[4]) in idx:
            bound.add(idx[int(p[4])])
    return bound == set(ifaces)


# --------------------------------------------------------------------------------------------
# Main flow

def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--family", choices=["v4", "v6", "both"], default="both")
    ap.add_argument("--policy", type=int, choices=[0, 3], default=0,
                    help="router fib_multipath_hash_policy (3 uses fields 0x37)")
    ap.add_argument("--seed", type=int, default=12345, help="fib_multipath_hash_seed (non-zero)")
    ap.add_argument("--flows", type=int, default=100, help="connections per family")
    ap.add_argument("--servers", type=int, default=4)
    ap.add_argument("--weights", help="comma list, one per server (default 1,2,1,1,...)")
    ap.add_argument("--route-order",
                    help="comma list: the order of the servers' nexthops in the router's route "
                         "(default 1,2,..,N); the config follows what `ip route show` lists")
    ap.add_argument("--deliver", choices=["oracle", "broadcast-all", "ptbsteer", "wrong-owner"],
                    default="oracle",
                    help="wrong-owner is a negative control (each PTB to the next server): "
                         "it must FAIL")
    ap.add_argument("--seq-offset", type=int, default=0,
                    help="negative control: add this to the quoted sequence number; a large "
                         "value puts it out of window, so no kernel may learn (run must FAIL)")
    ap.add_argument("--mode", choices=["unicast", "replicate"],
                    help="expected/configured delivery (default: replicate for broadcast-all, "
                         "else unicast)")
    ap.add_argument("--ptbsteer", help="ptbsteer binary (for --deliver ptbsteer)")
    ap.add_argument("--config-out", help="write the ptbsteer YAML config here (any mode)")
    ap.add_argument("--gap-us", type=int, default=100, help="pause between injected frames")
    ap.add_argument("--startup-timeout", type=float, default=20,
                    help="seconds for ptbsteer to bind its af_packet sockets")
    ap.add_argument("--settle", type=float, default=1.0,
                    help="extra seconds after ptbsteer bound its sockets, before injecting")
    ap.add_argument("--learn-timeout", type=float, default=5.0,
                    help="seconds to wait for the owners' kernels to learn the MTU")
    ap.add_argument("--no-flowlabel-reflect", action="store_true",
                    help="servers keep their own IPv6 flow label (net.ipv6.flowlabel_reflect=0): "
                         "under policy 0 the quoted label then differs from the hashed one")
    ap.add_argument("--no-model-check", action="store_true",
                    help="do not require the Python hash model to predict the observed owners")
    ap.add_argument("--keep", action="store_true",
                    help="leave the namespaces and work dir (processes are still stopped)")
    ap.add_argument("--pause", action="store_true",
                    help="wait for Enter before tearing down (connections still open)")
    ap.add_argument("--cleanup", action="store_true", help="delete left-over ptbe-* namespaces")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every flow")
    ap.add_argument("--show-metrics", action="store_true",
                    help="ptbsteer mode: scrape its /metrics inside the namespace before stopping it")
    a = ap.parse_args(argv)
    a.families = {"v4": [4], "v6": [6], "both": [4, 6]}[a.family]
    if a.weights:
        a.weights = [int(w) for w in a.weights.split(",")]
    else:
        a.weights = [2 if i == 1 else 1 for i in range(a.servers)]
    a.route_order = [int(k) for k in a.route_order.split(",")] if a.route_order else \
        list(range(1, a.servers + 1))
    if sorted(a.route_order) != list(range(1, a.servers + 1)):
        ap.error("--route-order must be a permutation of 1..N")
    if len(a.weights) != a.servers or min(a.weights) < 1:
        ap.error("--weights needs one positive weight per server")
    if not 2 <= a.servers <= MAX_SERVERS:
        ap.error(f"--servers must be 2..{MAX_SERVERS}")
    if a.flows < 1 or (4 in a.families and a.flows > MAX_V4_FLOWS):
        ap.error(f"--flows must be 1..{MAX_V4_FLOWS} with IPv4 (one client address per flow)")
    if a.seed == 0 or a.seed > M32:
        ap.error("--seed must be a non-zero u32 (0 means a random boot-time key)")
    if a.mode is None:
        a.mode = "replicate" if a.deliver == "broadcast-all" else "unicast"
    if a.deliver == "broadcast-all" and a.mode != "replicate":
        ap.error("--deliver broadcast-all implies --mode replicate")
    if a.deliver in ("oracle", "wrong-owner") and a.mode != "unicast":
        ap.error(f"--deliver {a.deliver} implies --mode unicast")
    if a.deliver == "ptbsteer":
        if not a.ptbsteer or not a.config_out:
            ap.error("--deliver ptbsteer needs --ptbsteer BIN and --config-out FILE")
        a.ptbsteer = os.path.abspath(a.ptbsteer)
        if not os.access(a.ptbsteer, os.X_OK):
            ap.error(f"{a.ptbsteer} is not executable")
    return a


class Timer:
    def __init__(self):
        self.t0 = time.monotonic()
        self.last = self.t0
        self.marks = []

    def mark(self, name):
        now = time.monotonic()
        self.marks.append((name, now - self.last))
        self.last = now

    def summary(self):
        parts = ", ".join(f"{n} {t:.1f}s" for n, t in self.marks)
        return f"timings: {parts}; total {time.monotonic() - self.t0:.1f}s"


def deliver(args, topo, flows, procs, workdir):
    """Send the PTBs the chosen way. Returns a note (e.g. ptbsteer output) for the report."""
    if args.deliver in ("oracle", "broadcast-all", "wrong-owner"):
        frames = []
        for f in flows:
            targets = {"oracle": [f.owner], "wrong-owner": [f.owner % topo.n + 1],
                       "broadcast-all": range(1, topo.n + 1)}[args.deliver]
            frames += [ptb_frame(f, lan_mac(k), STEER_OUT_MAC, args.seq_offset)
                       for k in targets]
        send_frames(NS_STEER, "steer-out", frames, workdir, "ptb-lan.pcap", args.gap_us,
                    timeout=10 + len(frames) * (args.gap_us / 1e6 + 0.001))
        return ""

    frames = [ptb_frame(f, STEER_IN_MAC, INJ_MAC, args.seq_offset) for f in flows]
    cfg = args.config_out
    check = run(nsexec(NS_STEER, args.ptbsteer, "--config", cfg, "--check"), check=False,
                timeout=30)
    if check.returncode != 0:
        raise SetupError(f"ptbsteer --check rejected {cfg}:\n{check.stdout}{check.stderr}")
    log_path = os.path.join(workdir, "ptbsteer.log")
    log = open(log_path, "wb")
    p = procs.start("ptbsteer", nsexec(NS_STEER, args.ptbsteer, "--config", cfg),
                    stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + args.startup_timeout
    while not packet_sockets_bound(NS_STEER, ["steer-in", "steer-out"]):
        if p.poll() is not None:
            log.close()
            raise SetupError(f"ptbsteer exited early ({p.returncode}):\n"
                             + open(log_path, errors="replace").read()[-3000:])
        if time.monotonic() > deadline:
            raise SetupError("ptbsteer did not open af_packet sockets on steer-in/steer-out")
        time.sleep(0.1)
    time.sleep(args.settle)
    send_frames(NS_INJ, "inj0", frames, workdir, "ptb-in.pcap", args.gap_us,
                timeout=10 + len(frames) * (args.gap_us / 1e6 + 0.001))
    wait_learned(topo.n, flows, True, args.learn_timeout)
    if args.show_metrics:
        show_metrics()
    rc = Procs.stop(p, signal.SIGTERM, timeout=10)
    log.close()
    out = open(log_path, errors="replace").read()
    return f"ptbsteer exit status {rc}; output (last 40 lines):\n" + \
        "\n".join(out.splitlines()[-40:])


def show_metrics(listen="127.0.0.1:9469"):
    """Prints a few of ptbsteer's Prometheus metrics, scraped inside its namespace."""
    cmd = f"nsenter --net=/run/netns/{NS_STEER} curl -s {listen}/metrics"
    r = run(nsexec(NS_STEER, "curl", "-s", "--max-time", "5", f"http://{listen}/metrics"), check=False)
    wanted = ("ptbsteer_ptbs_total", "ptbsteer_delivered_packets_total", "ptbsteer_received_packets_total")
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith(wanted) and not ln.endswith(" 0")]
    print(f"ptbsteer metrics at http://{listen}/metrics inside namespace {NS_STEER} (non-zero samples):")
    print("\n".join("  " + ln for ln in lines) or f"  (scrape failed: {r.returncode} {r.stderr.strip()})")
    print(f"try while it runs: {cmd} | grep ^ptbsteer_")


def judge(args, topo, flows, arrivals, mtus):
    """Per family: every check per flow. Returns (report lines, number of failed flows)."""
    lines, failed = [], 0
    label = args.deliver + (f", seq offset {args.seq_offset}" if args.seq_offset else "")
    for fam in topo.families:
        ff = [f for f in flows if f.fam == fam]
        bad = []
        for f in ff:
            errs = []
            got = arrivals.get(f.key, {})
            for k in range(1, topo.n + 1):
                want = 1 if (args.mode == "replicate" or k == f.owner) else 0
                if got.get(k, 0) != want:
                    errs.append(f"srv{k} received {got.get(k, 0)} PTB(s), expected {want}")
                m = mtus.get((k, fam, f.client))
                if k == f.owner and m != PTB_MTU:
                    errs.append(f"owner srv{k} shows mtu {m}")
                if k != f.owner and m is not None:
                    errs.append(f"non-owner srv{k} learned mtu {m}")
            if errs:
                bad.append(f"  {f} owner srv{f.owner}: " + "; ".join(errs))
            elif args.verbose:
                went = ",".join(f"srv{k}" for k in range(1, topo.n + 1) if got.get(k, 0))
                lines.append(f"  ok {f}: router sent it to srv{f.owner}; PTB arrived at {went}; "
                             f"srv{f.owner} learned mtu {PTB_MTU}")
        failed += len(bad)
        where = "owner only" if args.mode == "unicast" else f"all {topo.n} servers"
        dist = " ".join(f"srv{k}={sum(1 for f in ff if f.owner == k)}"
                        for k in range(1, topo.n + 1))
        verdict = "PASS" if not bad and ff else "FAIL"
        lines.append(f"{verdict} IPv{fam} policy {topo.policy} ({label}, {args.mode}): "
                     f"{len(ff) - len(bad)}/{len(ff)} flows: PTB reached {where}, owner learned "
                     f"mtu {PTB_MTU}, no other server learned  [owners: {dist}]")
        lines += bad[:20]
        if len(bad) > 20:
            lines.append(f"  ... and {len(bad) - 20} more")
    return lines, failed


def main_run(args):
    timer = Timer()
    procs = Procs()
    topo = Topology(args)
    workdir = tempfile.mkdtemp(prefix="ptbe-")
    client_proc = None
    failures = 0

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    # A background job may inherit SIGINT ignored; we want Ctrl-C / kill -INT to tear down.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        topo.create()
        print(f"topology: {topo.n} servers, weights {','.join(map(str, topo.weights))}, "
              f"policy {topo.policy}, seed {topo.seed}; route order "
              f"v4 {['srv%d' % k for k in topo.route_order[4]]} "
              f"v6 {['srv%d' % k for k in topo.route_order[6]]}")
        timer.mark("setup")
        deadline = time.monotonic() + 15
        start_servers(procs, topo.n, deadline)
        deadline = time.monotonic() + 20 + 0.05 * args.flows * len(topo.families)
        flows, conn_errors, client_proc = open_connections(procs, topo, workdir, deadline)
        timer.mark("connect")
        problems = [f"connection failed: {e}" for e in conn_errors]
        problems += find_owners(flows, topo.n)
        problems += [f"{f}: no server->client segment sniffed" for f in flows
                     if f.snd_nxt is None]
        v6_label_mismatch = [f for f in flows if f.fam == 6 and
                             f.client_labels != {f.server_label}]
        if problems:
            print("\n".join(problems[:30]))
            raise SetupError(f"{len(problems)} flow set-up problems")
        print(f"flows: {len(flows)} live connections "
              f"({', '.join(f'IPv{fam}: {sum(1 for f in flows if f.fam == fam)}' for fam in topo.families)})")
        if v6_label_mismatch:
            print(f"note: {len(v6_label_mismatch)} IPv6 flows where the server's flow label "
                  f"differs from the client's (flowlabel_reflect)")

        bad_model = model_check(flows, topo)
        print(f"model check (Python kernel-hash model with route order + weights): "
              f"{len(flows) - len(bad_model)}/{len(flows)} owners predicted")
        for b in bad_model[:10]:
            print("  " + b)
        if bad_model and not args.no_model_check:
            failures += 1

        if args.config_out:
            with open(args.config_out, "w") as fh:
                fh.write(ptbsteer_config(topo, args.mode))
            print(f"ptbsteer config written to {args.config_out}")

        before = learned_mtus(topo.n, flows)
        stale = [k for k, v in before.items() if v is not None]
        if stale:
            raise SetupError(f"MTU already learned before any PTB was sent: {stale[:5]}")
        counters0 = {k: icmp_counters(srv_ns(k)) for k in range(1, topo.n + 1)}
        timer.mark("prepare")

        caps = []
        bpf = "(icmp and icmp[0] = 3 and icmp[1] = 4) or (icmp6 and ip6[40] = 2)"
        cap_deadline = time.monotonic() + 10
        for k in range(1, topo.n + 1):
            caps.append((k, Capture(procs, srv_ns(k), f"srv{k}-lan",
                                    os.path.join(workdir, f"lan-srv{k}.pcap"), bpf,
                                    snaplen=200)))
        for _, c in caps:
            c.wait_ready(cap_deadline)
        note = deliver(args, topo, flows, procs, workdir)
        # ptbsteer mode already waited for the kernels before stopping ptbsteer.
        mtus = wait_learned(topo.n, flows, args.deliver != "ptbsteer", args.learn_timeout)
        time.sleep(0.2)                      # let the captures write the last frames
        for _, c in caps:
            c.stop()
        timer.mark("deliver+learn")

        arrivals = {}
        stray = 0
        for k, c in caps:
            for _, frame in read_pcap(c.path):
                v = ptb_view(frame)
                if not v:
                    continue
                dmac, fam, client, cport = v
                if dmac != lan_mac(k):
                    stray += 1               # flooded/mis-addressed: not delivered to srvK
                    continue
                per = arrivals.setdefault((fam, client, cport), {})
                per[k] = per.get(k, 0) + 1
        if note:
            print(note)
        lines, bad_flows = judge(args, topo, flows, arrivals, mtus)
        print("\n".join(lines))
        if stray:
            print(f"note: {stray} PTB frames seen on a server LAN port with another dst MAC")
        for k in range(1, topo.n + 1):
            c1 = icmp_counters(srv_ns(k))
            delta = {n: c1[n] - counters0[k][n] for n in c1 if c1[n] != counters0[k][n]}
            print(f"  srv{k} counters: {delta or 'no change'}")
        failures += bad_flows
        timer.mark("judge")
        print(timer.summary())
        if args.pause:
            input(f"paused; namespaces {PREFIX}*, work dir {workdir}. Enter to tear down: ")
        return 1 if failures else 0
    finally:
        # Tear-down must not be cut short by a second Ctrl-C / SIGTERM.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if client_proc is not None and client_proc.poll() is None:
            try:
                client_proc.stdin.close()
            except OSError:
                pass
        procs.stop_all()
        if args.deliver == "ptbsteer":
            # EAL leaves its runtime dir for our --file-prefix behind after a clean exit.
            shutil.rmtree("/var/run/dpdk/ptbe", ignore_errors=True)
        if args.keep:
            print(f"--keep: namespaces {topo.created} and {workdir} left in place; "
                  f"remove with: {SELF} --cleanup")
        else:
            topo.destroy()
            shutil.rmtree(workdir, ignore_errors=True)


def main():
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        role = {"_server": role_server, "_client": role_client, "_send": role_send}
        return role[sys.argv[1]](sys.argv[2:])
    args = parse_args(sys.argv[1:])
    if os.geteuid() != 0:
        print("skipped: needs root (network namespaces)")
        return 77
    if args.cleanup:
        delete_namespaces(existing_namespaces())
        return 0
    stale = existing_namespaces()
    if stale:
        print(f"left-over namespaces {stale}: another run is active or crashed; "
              f"remove them with {SELF} --cleanup")
        return 2
    try:
        return main_run(args)
    except SetupError as e:
        print(f"SETUP ERROR: {e}")
        return 2
    except KeyboardInterrupt:
        print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
