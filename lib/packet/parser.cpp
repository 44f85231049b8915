// The general walker: Ethernet and VLAN tags, the outer IPv4 or IPv6 header, and the ICMP
// header that makes a frame a PTB. The quoted packet is read in parser_quote.cpp, the fast path
// is parser_fast.cpp.
#include "packet/parser.h"

#include "packet/parser_internal.h"

namespace ptbsteer::packet {
namespace detail {
namespace {

ParseStatus finish(ParseStatus s, PtbInfo& out) {
    if (s == ParseStatus::ptb) reverse_into(out.inner, out.flow);
    return s;
}

ParseStatus parse_ipv4(Window f, PtbInfo& out) {
    if (f.size() < ipv4_min_header) return ParseStatus::truncated_ip;
    const std::uint8_t* ip = f.at();
    if ((ip[0] >> 4) != 4) return ParseStatus::bad_ip_version;
    const std::size_t ihl = std::size_t(ip[0] & 0x0f) * 4;
    if (ihl < ipv4_min_header) return ParseStatus::bad_ip_header_length;
    const std::size_t total = be16(ip + 2);
    // The frame may be longer than the datagram (Ethernet pads to 60 bytes), never shorter.
    if (total < ihl || total > f.size()) return ParseStatus::bad_ip_length;
    if ((be16(ip + 6) & 0x3fff) != 0) return ParseStatus::outer_fragment; // MF or an offset
    if (ip[9] != proto_icmp) return ParseStatus::not_icmp;

    out.family = Family::v4;
    copy_v4(out.outer_src, ip + 12);
    copy_v4(out.outer_dst, ip + 16);
    const Window icmp{f.base, f.begin + ihl, f.begin + total};
    if (icmp.size() < icmp_header) return ParseStatus::truncated_icmp;
    const std::uint8_t* h = icmp.at();
    if (h[0] != icmp4_dest_unreach || h[1] != icmp4_frag_needed) return ParseStatus::icmp_other;

    out.icmp_offset = std::uint16_t(icmp.begin);
    out.icmp_len = std::uint16_t(icmp.size());
    out.quote_offset = std::uint16_t(icmp.begin + icmp_header);
    out.quote_len = std::uint16_t(icmp.size() - icmp_header);
    out.mtu = be16(h + 6); // RFC 1191 §4: low 16 bits of the second word; the high 16 are unused
    return finish(parse_inner_v4(Window{f.base, icmp.begin + icmp_header, icmp.end}, out), out);
}

ParseStatus parse_ipv6(Window f, PtbInfo& out) {
    if (f.size() < ipv6_header) return ParseStatus::truncated_ip;
    const std::uint8_t* ip = f.at();
    if ((ip[0] >> 4) != 6) return ParseStatus::bad_ip_version;
    const std::size_t total = ipv6_header + be16(ip + 4);
    if (total > f.size()) return ParseStatus::bad_ip_length;

    out.family = Family::v6;
    copy_v6(out.outer_src, ip + 8);
    copy_v6(out.outer_dst, ip + 24);
    ExtChain chain;
    switch (walk_ext_headers(Window{f.base, f.begin + ipv6_header, f.begin + total}, ip[6],
                             AhIs::extension, chain)) {
    case Walk::limit: return ParseStatus::ext_header_limit;
    case Walk::truncated: return ParseStatus::truncated_ext_header;
    case Walk::done: break;
    }
    if (chain.fragment) return ParseStatus::outer_fragment;
    if (chain.next != proto_icmpv6) return ParseStatus::not_icmp;

    const Window icmp{f.base, chain.offset, f.begin + total};
    if (icmp.size() < icmp_header) return ParseStatus::truncated_icmp;
    const std::uint8_t* h = icmp.at();
    if (h[0] >= icmp6_nd_first && h[0] <= icmp6_nd_last) return ParseStatus::neighbor_discovery;
    // RFC 4443 §3.2: the Code is "set to 0 by the originator and ignored by the receiver", and
    // the servers' kernels do ignore it, so any code is a PTB.
    if (h[0] != icmp6_packet_too_big) return ParseStatus::icmp_other;

    out.icmp_offset = std::uint16_t(icmp.begin);
    out.icmp_len = std::uint16_t(icmp.size());
    out.quote_offset = std::uint16_t(icmp.begin + icmp_header);
    out.quote_len = std::uint16_t(icmp.size() - icmp_header);
    out.mtu = be32(h + 4);
    return finish(parse_inner_v6(Window{f.base, icmp.begin + icmp_header, icmp.end}, out), out);
}

} // namespace

ParseStatus parse_frame_walk(std::span<const std::uint8_t> frame, PtbInfo& out) noexcept {
    // Not `out = PtbInfo{}` (~150 bytes per frame): each path sets every field it reports.
    // l3_offset is reported for every outcome (decide() counts a frame's family by it).
    out.vlan_count = 0;
    out.vlans = {};
    out.l3_offset = 0;
    const std::uint8_t* p = frame.data();
    const std::size_t n = frame.size();
    if (n < eth_header) return ParseStatus::truncated_l2;

    std::size_t off = eth_header;
    std::uint16_t ethertype = be16(p + 12);
    while (ethertype == ethertype_vlan || ethertype == ethertype_qinq ||
           ethertype == ethertype_qinq_legacy) {
        if (out.vlan_count == out.vlans.size()) return ParseStatus::vlan_too_deep;
        if (n - off < 4) return ParseStatus::truncated_l2;
        out.vlans[out.vlan_count++] = VlanTag{ethertype, be16(p + off)};
        ethertype = be16(p + off + 2);
        off += 4;
    }
    out.l3_offset = std::uint16_t(off);
    const Window l3{p, off, n};
    switch (ethertype) {
    case ethertype_ipv4: return parse_ipv4(l3, out);
    case ethertype_ipv6: return parse_ipv6(l3, out);
    case ethertype_arp: return ParseStatus::arp;
    default: return ParseStatus::ethertype_other;
    }
}

} // namespace detail

FlowKey reversed(const FlowKey& k) {
    FlowKey r;
    detail::reverse_into(k, r);
    return r;
}

} // namespace ptbsteer::packet
