"""Frames the tests send, built with scapy (not our code): ICMP Packet Too Big messages that
quote a server->client packet, as a router on that path would send them."""
from scapy.all import ICMP, IP, Dot1Q, Ether, ICMPv6PacketTooBig, IPv6, Raw

ETH_IN = dict(src="02:00:00:00:ff:01", dst="02:00:00:00:ff:02")  # sender -> ptbsteer's in port
ROUTER = {4: "203.0.113.1", 6: "2001:db8:ffff::1"}                # the router that sends PTBs
QUOTE = {4: 548, 6: 1232}  # RFC 1812 4.3.2.3 (576-byte PTB), RFC 4443 2.4(c) (1280)


def family(addr):
    return 6 if ":" in addr else 4


def quote(server, client, l4, pad, fill=b"x", length=None):
    """The first `length` bytes (default QUOTE) of a server->client packet (DF for IPv4) of l4
    and `pad` bytes of `fill`: its length fields say how large the original was."""
    fam = family(server)
    ip = IP(src=server, dst=client, flags="DF") if fam == 4 else IPv6(src=server, dst=client)
    return bytes(ip / l4 / Raw(fill * pad))[:length or QUOTE[fam]]


def ptb(server, quoted, mtu=1400, router=None, dst=None, eth=None, vlan=None, chksum=None):
    """A PTB to `dst` (default the quoted packet's source, `server`) from `router`, carrying
    `quoted`; chksum forces a (wrong) ICMP checksum."""
    fam = family(server)
    frame = Ether(**(eth or ETH_IN))
    if vlan:
        frame = frame / Dot1Q(vlan=vlan)
    ck = {} if chksum is None else {"chksum" if fam == 4 else "cksum": chksum}
    if fam == 4:
        outer = IP(src=router or ROUTER[4], dst=dst or server) / \
            ICMP(type=3, code=4, nexthopmtu=mtu, **ck)
    else:
        outer = IPv6(src=router or ROUTER[6], dst=dst or server) / ICMPv6PacketTooBig(mtu=mtu, **ck)
    return frame / outer / Raw(quoted)
