"""The e2e flows: live TCP connections opened from the client, their sequence numbers sniffed,
the server that owns each (ss on every server), and the Python model's prediction of it."""
import json
import os
import signal
import socket
import struct
import subprocess
import time

from e2e_topology import NS_CLIENT, PY, ROLES, SERVICE_PORT, VIP, client_addr, srv_ns
from lib import pcapfile
from lib.linux_hash import Flow as HashFlow, py_model_hash, py_select
from lib.netns import nsexec
from lib.procs import SetupError, read_line, run, stop


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
        stop(self.p, signal.SIGINT, timeout=5)


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
        p = procs.start(f"server srv{k}", nsexec(srv_ns(k), PY, ROLES, "_server", f"srv{k}"),
                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = read_line(p.stdout, deadline, f"server srv{k}")
        if line != "READY":
            raise SetupError(f"server srv{k}: unexpected {line!r}")


def open_connections(procs, topo, workdir, deadline, indices=None, name="client"):
    """One connection per client address of each family: those numbered `indices` (default
    all the topology has), by a client process called `name` that holds them open until its
    stdin closes. Returns (flows, errors, client process)."""
    jobs = []
    for fam in topo.families:
        jobs += [[fam, client_addr(fam, i)]
                 for i in (indices if indices is not None else range(topo.flows_per_family))]
    cap = Capture(procs, NS_CLIENT, "c0", os.path.join(workdir, f"{name}.pcap"), "tcp port 80")
    cap.wait_ready(deadline)
    client = procs.start(name, nsexec(NS_CLIENT, PY, ROLES, "_client"),
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
    for _, frame in pcapfile.read(pcap):
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


def client_label(f):
    """The IPv6 flow label the router hashed (the client's), 0 when not exactly one was seen."""
    return next(iter(f.client_labels)) if len(f.client_labels) == 1 else 0


def predict_owner(f, topo, order=None):
    """The server the Python model of the kernel's hash (lib.linux_hash) picks for flow f over
    the route `order` (servers as the kernel lists them; default the router's route now)."""
    order = order or topo.route_order[f.fam]
    flow = HashFlow(f.fam, f.client, VIP[f.fam], 6, f.cport, SERVICE_PORT, client_label(f))
    h = py_model_hash(topo.seed, topo.policy, 0x37, flow)
    return order[py_select([topo.weights[k - 1] for k in order], h)]


def model_check(flows, topo):
    """The owners the Python model of the kernel's hash predicts from the router's route order
    and weights (lib.linux_hash): verifies the next-hop order and weights handed to ptbsteer."""
    bad = []
    for f in flows:
        f.predicted = predict_owner(f, topo)
        if f.predicted != f.owner:
            bad.append(f"{f}: model says srv{f.predicted}, router chose srv{f.owner}")
    return bad


def connect(procs, topo, workdir, indices=None, name="client"):
    """Connections from the client addresses `indices` (default all) of each family, with their
    owners found: (flows, client process). A failed connection, an owner not found or a flow
    without a sniffed server segment is a SetupError. The servers must run (start_servers)."""
    count = len(indices) if indices is not None else topo.flows_per_family
    flows, errors, client = open_connections(procs, topo, workdir,
                                             time.monotonic() + 20 + 0.05 * count, indices, name)
    problems = [f"connection failed: {e}" for e in errors] + find_owners(flows, topo.n)
    problems += [f"{f}: no server->client segment sniffed" for f in flows if f.snd_nxt is None]
    if problems:
        raise SetupError("; ".join(problems[:10]))
    return flows, client
