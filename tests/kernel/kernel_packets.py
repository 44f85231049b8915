"""Frames for the kernel-agreement test (scapy builds them; imported lazily so --help works
without scapy) and check 3's real packets: injected on the client veth, seen leaving the
router on the sink's veths."""
import ipaddress
import select
import socket
import struct
import time

from kernel_topology import PTB_SENDER4, PTB_SENDER6
from lib.netns import InNetns

ETH_P_ALL = 0x0003


def scapy():
    import scapy.all as s  # noqa: E402  (python3-scapy)
    return s


def l4_header(s, f, reply=False):
    """f's L4 header, client->server (a SYN, an echo request), or server->client when reply."""
    sport, dport = (f.dport, f.sport) if reply else (f.sport, f.dport)
    if f.proto == 6:
        return s.TCP(sport=sport, dport=dport, flags="A" if reply else "S",
                     seq=7 if reply else 1000, ack=1 if reply else 0)
    if f.proto == 17:
        return s.UDP(sport=sport, dport=dport)
    if f.proto == 1:
        return s.ICMP(type=0 if reply else 8, id=f.sport, seq=1)
    return (s.ICMPv6EchoReply if reply else s.ICMPv6EchoRequest)(id=f.sport, seq=1)


def data_frame(s, topo, f):
    eth = s.Ether(dst=topo.mac["rin"], src=topo.mac["c0"])
    if f.family == 4:
        ip = s.IP(src=f.src, dst=f.dst, ttl=64, flags="DF")
    else:
        ip = s.IPv6(src=f.src, dst=f.dst, hlim=64, fl=f.label)
    l4 = l4_header(s, f)
    return bytes(eth / ip / l4 / s.Raw(b"ptbk"))


def ptb_frame(s, topo, f, mtu=1400):
    """A PTB from a client-side router to the server, quoting the server->client packet of f.
    The server reflects the client's flow label (net.ipv6.flowlabel_reflect, RFC 7690 §4)."""
    eth = s.Ether(dst=topo.mac["rin"], src=topo.mac["c0"])
    l4 = l4_header(s, f, reply=True)
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
