"""The delivery LAN changing under ptbsteer (e2e_neighbors.py): a server's LAN link replaced by
one with a new MAC, or taken down and up; the frames that reach a namespace (PTBs at a server,
ARP and Neighbor Discovery at ptbsteer's port), timed as they arrive; ptbsteer's neighbor
metrics."""
import socket
import struct
import threading
import time

from e2e_deliver import scrape_steer
from e2e_flows import parse_l3, ptb_view
from e2e_topology import NS_LAN, lan_setup, srv_ns
from lib import prom
from lib.netns import InNetns, ip_batch, nsexec
from lib.procs import SetupError, run

ETH_P_ALL = 0x0003
PACKET_HOST, PACKET_OUTGOING = 0, 4


class FrameWatch:
    """Frames that reach the interfaces of namespace `ns` and pass keep(frame), each with its
    arrival time (time.monotonic()), interface name and packet type. One AF_PACKET socket bound
    to no interface, so it goes on seeing an interface that is replaced or goes down and up.
    Frames this namespace sends are kept only with outgoing=True. A thread reads until stop();
    at most `limit` frames are kept."""

    def __init__(self, ns, keep, outgoing=False, limit=100000):
        with InNetns(ns):
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.settimeout(0.1)
        self.keep, self.outgoing, self.limit = keep, outgoing, limit
        self.frames = []
        self.running = True
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while self.running:
            try:
                frame, addr = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:          # a pending ENETDOWN and the like: not fatal here
                time.sleep(0.01)
                continue
            if addr[2] == PACKET_OUTGOING and not self.outgoing:
                continue
            if len(self.frames) < self.limit and self.keep(frame):
                self.frames.append((time.monotonic(), addr[0], addr[2], frame))

    def since(self, t0):
        """[(time, interface, packet type, frame)] that arrived at or after t0."""
        return [x for x in list(self.frames) if x[0] >= t0]

    def stop(self):
        self.running = False
        self.thread.join(timeout=2)
        self.sock.close()


def is_ptb(frame):
    return ptb_view(frame) is not None


def ptbs_at(watch, iface, mac, t0):
    """[(time, (family, client, client port))] of the PTBs that reached `iface` addressed to
    `mac` (the interface's own: packet type host) since t0."""
    out = []
    for t, ifname, ptype, frame in watch.since(t0):
        v = ptb_view(frame)
        if v and ifname == iface and ptype == PACKET_HOST and v[0] == mac:
            out.append((t, v[1:]))
    return out


def nd_view(frame):
    """ARP and ICMPv6 Neighbor Solicitation/Advertisement fields, else None: kind (arp-request,
    arp-reply, ns, na), src/dst MAC, sender (ARP: sender IP; ND: IPv6 source), target (ARP:
    target IP; ND: target address), lladdr (ARP: sender MAC; ND: the link-layer option),
    solicited (NA S flag)."""
    if len(frame) < 14:
        return None
    v = {"src_mac": frame[6:12].hex(":"), "dst_mac": frame[0:6].hex(":"), "solicited": None}
    if struct.unpack("!H", frame[12:14])[0] == 0x0806 and len(frame) >= 42:
        op = struct.unpack("!H", frame[20:22])[0]
        v.update(kind={1: "arp-request", 2: "arp-reply"}.get(op, f"arp-op{op}"),
                 lladdr=frame[22:28].hex(":"),
                 sender=socket.inet_ntop(socket.AF_INET, frame[28:32]),
                 target=socket.inet_ntop(socket.AF_INET, frame[38:42]))
        return v
    l3 = parse_l3(frame)
    if not l3 or l3[0] != 6 or len(frame) < 14 + 64 or frame[14 + 6] != 58 or \
            frame[14 + 40] not in (135, 136):
        return None
    o = 14
    na = frame[o + 40] == 136
    lladdr = None
    p = o + 64
    while p + 8 <= len(frame) and frame[p + 1]:
        if frame[p] == (2 if na else 1):
            lladdr = frame[p + 2:p + 8].hex(":")
        p += 8 * frame[p + 1]
    v.update(kind="na" if na else "ns", lladdr=lladdr,
             sender=socket.inet_ntop(socket.AF_INET6, frame[o + 8:o + 24]),
             target=socket.inet_ntop(socket.AF_INET6, frame[o + 48:o + 64]),
             solicited=bool(frame[o + 44] & 0x40) if na else None)
    return v


def is_nd(frame):
    return nd_view(frame) is not None


# ARP/ND as ptbsteer's port sees it: a FrameWatch(NS_LAN, is_nd, outgoing=True) records it at
# the bridge port lan-steer, what the bridge sends ptbsteer as outgoing, what ptbsteer sends as
# incoming. (ptbsteer's own af_packet transmissions bypass the qdisc, so a packet socket
# beside it in ptbe-steer would not see them.)
STEER_PORT = "lan-steer"


def to_steer(watch, t0):
    """[(time, nd_view)] of the ARP/ND frames the bridge sent ptbsteer since t0."""
    return [(t, nd_view(f)) for t, ifname, ptype, f in watch.since(t0)
            if ifname == STEER_PORT and ptype == PACKET_OUTGOING]


def answers_from(watch, addrs, t0=0.0):
    """[(time, kind, lladdr)] of ARP replies / solicited NAs for one of `addrs` since t0."""
    return [(t, v["kind"], v["lladdr"]) for t, v in to_steer(watch, t0)
            if (v["kind"] == "arp-reply" and v["sender"] in addrs)
            or (v["kind"] == "na" and v["solicited"] and v["target"] in addrs)]


def announcements_from(watch, addrs, t0=0.0):
    """[(time, kind, lladdr)] of gratuitous ARPs (sender IP = target IP) and unsolicited NAs for
    one of `addrs` since t0."""
    return [(t, v["kind"], v["lladdr"]) for t, v in to_steer(watch, t0)
            if (v["kind"].startswith("arp") and v["sender"] == v["target"]
                and v["sender"] in addrs)
            or (v["kind"] == "na" and not v["solicited"] and v["target"] in addrs)]


def solicitations_for(watch, addrs, t0=0.0):
    """[(time, kind, dst MAC)] of the ARP requests / NSs ptbsteer sent for one of `addrs`."""
    out = []
    for t, ifname, ptype, frame in watch.since(t0):
        v = nd_view(frame)
        if v and ifname == STEER_PORT and ptype != PACKET_OUTGOING and \
                v["kind"] in ("arp-request", "ns") and v["target"] in addrs and \
                v["sender"] != v["target"]:
            out.append((t, v["kind"], v["dst_mac"]))
    return out


def replace_lan_link(k, old_mac, new_mac):
    """srvK's LAN link replaced as when its NIC is swapped: the veth pair srvK-lan/lan-srvK
    deleted (the bridge forgets the old MAC's static entry with its port), a new pair attached
    to br0 with the static entry for `new_mac`, and the server end given `new_mac` and srvK's
    addresses before it comes up. Returns the monotonic time just before it came up.

    The announcement arp_notify makes when the link comes up (NETDEV_UP) never crosses the
    bridge: the new port forwards only once linkwatch has seen its carrier, and linkwatch needs
    the RTNL lock that the very `ip link set up` sending the gratuitous ARP holds (measured: the
    ARP reaches lan-srvK and goes no further). So once the port forwards, the same MAC is set
    again: NETDEV_CHANGEADDR, on which arp_notify / ndisc_notify announce again (and nothing is
    sent when they are 0)."""
    ip_batch(NS_LAN, [f"link del lan-srv{k}"])
    run(nsexec(NS_LAN, "bridge", "fdb", "del", old_mac, "dev", "br0", "master"), check=False)
    ip_batch(NS_LAN, [f"link add lan-srv{k} type veth peer name srv{k}-lan netns {srv_ns(k)}",
                      f"link set lan-srv{k} master br0", f"link set lan-srv{k} up"])
    run(nsexec(NS_LAN, "bridge", "fdb", "replace", new_mac, "dev", f"lan-srv{k}", "master",
               "static"))
    t = time.monotonic()
    ip_batch(srv_ns(k), lan_setup(k, new_mac))
    wait_forwarding(f"lan-srv{k}")
    ip_batch(srv_ns(k), [f"link set srv{k}-lan address {new_mac}"])
    return t


def wait_forwarding(port, timeout=2):
    """Until the bridge port forwards (SetupError after `timeout` s)."""
    deadline = time.monotonic() + timeout
    cmd = nsexec(NS_LAN, "bridge", "link", "show", "dev", port)
    while "state forwarding" not in run(cmd).stdout:
        if time.monotonic() > deadline:
            raise SetupError(f"bridge port {port} not forwarding after {timeout} s")
        time.sleep(0.01)


def set_lan_link(k, up):
    """srvK's LAN end down or up, inside srvK (its peer on the bridge loses its carrier)."""
    ip_batch(srv_ns(k), [f"link set srv{k}-lan {'up' if up else 'down'}"])
    return time.monotonic()


MAC_CHANGE = "ptbsteer_next_hop_neighbor_mac_change_timestamp_seconds"
# The drops counter: docs/metrics.md names it ptbsteer_dropped_packets_total; issue 19 calls it
# ptbsteer_drops_total. Whichever carries the reason is read.
DROPS = ("ptbsteer_dropped_packets_total", "ptbsteer_drops_total")


def per_hop(samples, name, hop):
    """{group: value} of metric `name` for next-hop `hop`."""
    return {dict(labels).get("group"): v for (n, labels), v in samples.items()
            if n == name and dict(labels).get("next_hop") == hop}


def drops(samples, reason):
    """(metric name, value) of the drop counter for `reason`; (None, 0) when neither has it."""
    for name in DROPS:
        v = prom.sample(samples, name, reason=reason)
        if v is not None:
            return name, v
    return None, 0


def drops_now(reason):
    return drops(scrape_steer(), reason)
