// The quoted packet inside a PTB: its IPv4 or IPv6 header, extension headers, and the ports
// (or SPI) that identify the flow the PTB is about.
#include "packet/parser_internal.h"

namespace ptbsteer::packet::detail {
namespace {

// The L4 identity of a quoted packet whose upper-layer header starts at w.begin. Inline: it
// runs once per PTB, from two places.
[[gnu::always_inline]] inline void read_l4(Window w, std::uint8_t proto, bool later_fragment,
                                           FlowKey& k) {
    k.proto = proto;
    k.sport = k.dport = 0; // unless known below
    switch (proto) {
    case proto_tcp:
    case proto_udp:
    case proto_udplite:
    case proto_sctp:
    case proto_dccp:
    case proto_esp:
        if (later_fragment) {
            k.l4 = L4::unknown;
        } else if (w.size() < 4) {
            k.l4 = L4::truncated;
        } else {
            // Source and destination ports, or ESP's SPI, are the first 4 bytes of each of these
            // headers (RFC 793, 768, 3828, 9260, 4340, 4303).
            k.sport = be16(w.at(0));
            k.dport = be16(w.at(2));
            k.l4 = proto == proto_esp ? L4::spi : L4::ports;
        }
        return;
    case proto_ah:
        // RFC 4302 §2.4: the SPI is bytes 4..7 of the AH header.
        if (later_fragment) {
            k.l4 = L4::unknown;
        } else if (w.size() < 8) {
            k.l4 = L4::truncated;
        } else {
            k.sport = be16(w.at(4));
            k.dport = be16(w.at(6));
            k.l4 = L4::spi;
        }
        return;
    default: k.l4 = L4::portless; return;
    }
}

} // namespace

ParseStatus parse_inner_v4(Window q, PtbInfo& out) {
    if (q.size() < 1) return ParseStatus::inner_truncated;
    const unsigned version = *q.at() >> 4;
    if (version == 6) return ParseStatus::inner_family_mismatch;
    if (version != 4) return ParseStatus::inner_bad_header;
    if (q.size() < ipv4_min_header) return ParseStatus::inner_truncated;
    const std::size_t ihl = std::size_t(*q.at() & 0x0f) * 4;
    if (ihl < ipv4_min_header) return ParseStatus::inner_bad_header;
    if (q.size() < ihl) return ParseStatus::inner_truncated;

    FlowKey& k = out.inner;
    k.family = Family::v4;
    k.flow_label = 0;
    const std::uint16_t frag = be16(q.at(6));
    const bool later_fragment = (frag & 0x1fff) != 0;
    out.inner_fragment = later_fragment || (frag & 0x2000) != 0;
    out.inner_total_len = be16(q.at(2));
    copy_v4(k.src, q.at(12));
    copy_v4(k.dst, q.at(16));
    k.first_nexthdr = *q.at(9);
    read_l4(Window{q.base, q.begin + ihl, q.end}, *q.at(9), later_fragment, k);
    return ParseStatus::ptb;
}

ParseStatus parse_inner_v6(Window q, PtbInfo& out) {
    if (q.size() < 1) return ParseStatus::inner_truncated;
    const unsigned version = *q.at() >> 4;
    if (version == 4) return ParseStatus::inner_family_mismatch;
    if (version != 6) return ParseStatus::inner_bad_header;
    if (q.size() < ipv6_header) return ParseStatus::inner_truncated;

    FlowKey& k = out.inner;
    k.family = Family::v6;
    k.flow_label = be32(q.at()) & 0x000fffff;
    k.first_nexthdr = *q.at(6);
    out.inner_total_len = ipv6_header + be16(q.at(4));
    copy_v6(k.src, q.at(8));
    copy_v6(k.dst, q.at(24));

    ExtChain chain;
    const Window ext{q.base, q.begin + ipv6_header, q.end};
    switch (walk_ext_headers(ext, k.first_nexthdr, AhIs::upper, chain)) {
    case Walk::limit: return ParseStatus::inner_ext_header_limit;
    case Walk::truncated:
        // The quote ended inside the extension headers: addresses are known, the upper layer is
        // not. proto keeps the fixed header's Next Header, which is all a router could see too.
        out.inner_fragment = chain.fragment;
        k.proto = k.first_nexthdr;
        k.l4 = L4::truncated;
        k.sport = k.dport = 0;
        return ParseStatus::ptb;
    case Walk::done: break;
    }
    out.inner_fragment = chain.fragment;
    read_l4(Window{q.base, chain.offset, q.end}, chain.next, chain.later_fragment, k);
    return ParseStatus::ptb;
}

} // namespace ptbsteer::packet::detail
