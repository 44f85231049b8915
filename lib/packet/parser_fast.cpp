// The fast path: parse_common() for the shapes nearly every PTB has.
#include "packet/parser_internal.h"

namespace ptbsteer::packet::detail {

// Fixed offsets and one comparison per field: the shape of nearly every PTB a router sends.
// Everything it accepts, parse_frame_walk() parses to the same PtbInfo (tests/unit/packet and
// the parser fuzzer hold them to that); anything else, it leaves to the walker.
bool parse_common(std::span<const std::uint8_t> frame, PtbInfo& out) noexcept {
    const std::uint8_t* p = frame.data();
    const std::size_t n = frame.size();
    // Ethernet, untagged or one 802.1Q tag. The shortest frame this path takes is 66 bytes:
    // Ethernet, IPv4, ICMP, the quote's IPv4 header and its 4 port bytes.
    if (n < eth_header + ipv4_min_header + icmp_header + ipv4_min_header + 4) return false;
    std::size_t off = eth_header;
    std::uint16_t ethertype = be16(p + 12);
    out.vlans = {};
    out.vlan_count = 0;
    if (ethertype == ethertype_vlan) {
        out.vlans[0] = VlanTag{ethertype, be16(p + 14)};
        out.vlan_count = 1;
        ethertype = be16(p + 16);
        off += 4;
    }
    const std::uint8_t* ip = p + off;
    const std::size_t room = n - off;
    std::size_t icmp_at; // the ICMP header, from the start of the frame
    if (ethertype == ethertype_ipv4) {
        // Outer: no options, not a fragment, ICMP 3/4. Quote: IPv4 without options, TCP or
        // UDP, not a later fragment, its ports present (RFC 792 promises 8 bytes past the header).
        const std::size_t total = be16(ip + 2);
        if (ip[0] != 0x45 || total > room || total < 20 + 8 + 20 + 4) return false;
        if ((be16(ip + 6) & 0x3fff) != 0 || ip[9] != proto_icmp) return false;
        const std::uint8_t* h = ip + 20;
        const std::uint8_t* q = h + icmp_header;
        if (h[0] != icmp4_dest_unreach || h[1] != icmp4_frag_needed || q[0] != 0x45) return false;
        const std::uint16_t frag = be16(q + 6);
        if ((frag & 0x1fff) != 0 || (q[9] != proto_tcp && q[9] != proto_udp)) return false;
        out.family = Family::v4;
        icmp_at = off + ipv4_min_header;
        copy_v4(out.outer_src, ip + 12);
        copy_v4(out.outer_dst, ip + 16);
        out.mtu = be16(h + 6);
        out.icmp_len = std::uint16_t(total - 20);
        out.inner_total_len = be16(q + 2);
        out.inner_fragment = (frag & 0x2000) != 0;
        FlowKey& k = out.inner;
        k.family = Family::v4;
        k.flow_label = 0;
        copy_v4(k.src, q + 12);
        copy_v4(k.dst, q + 16);
        k.first_nexthdr = k.proto = q[9];
        k.sport = be16(q + 20);
        k.dport = be16(q + 22);
    } else if (ethertype == ethertype_ipv6) {
        // Outer: ICMPv6 right after the fixed header, Packet Too Big. Quote: IPv6 with TCP or
        // UDP right after its fixed header, the ports present.
        const std::size_t total = ipv6_header + be16(ip + 4);
        if (room < ipv6_header || (ip[0] >> 4) != 6 || total > room) return false;
        if (total < ipv6_header + icmp_header + ipv6_header + 4 || ip[6] != proto_icmpv6)
            return false;
        const std::uint8_t* h = ip + ipv6_header;
        const std::uint8_t* q = h + icmp_header;
        if (h[0] != icmp6_packet_too_big || (q[0] >> 4) != 6) return false;
        if (q[6] != proto_tcp && q[6] != proto_udp) return false;
        out.family = Family::v6;
        icmp_at = off + ipv6_header;
        copy_v6(out.outer_src, ip + 8);
        copy_v6(out.outer_dst, ip + 24);
        out.mtu = be32(h + 4);
        out.icmp_len = std::uint16_t(total - ipv6_header);
        out.inner_total_len = ipv6_header + be16(q + 4);
        out.inner_fragment = false;
        FlowKey& k = out.inner;
        k.family = Family::v6;
        k.flow_label = be32(q) & 0x000fffff;
        copy_v6(k.src, q + 8);
        copy_v6(k.dst, q + 24);
        k.first_nexthdr = k.proto = q[6];
        k.sport = be16(q + 40);
        k.dport = be16(q + 42);
    } else {
        return false;
    }
    out.l3_offset = std::uint16_t(off);
    out.icmp_offset = std::uint16_t(icmp_at);
    out.quote_offset = std::uint16_t(icmp_at + icmp_header);
    out.quote_len = std::uint16_t(out.icmp_len - icmp_header);
    out.inner.l4 = L4::ports;
    reverse_into(out.inner, out.flow);
    return true;
}

} // namespace ptbsteer::packet::detail
