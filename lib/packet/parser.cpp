#include "packet/parser.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace ptbsteer::packet {
namespace {

constexpr std::uint16_t ethertype_ipv4 = 0x0800;
constexpr std::uint16_t ethertype_ipv6 = 0x86dd;
constexpr std::uint16_t ethertype_arp = 0x0806;
constexpr std::uint16_t ethertype_vlan = 0x8100;        // IEEE 802.1Q customer tag
constexpr std::uint16_t ethertype_qinq = 0x88a8;        // IEEE 802.1ad service tag
constexpr std::uint16_t ethertype_qinq_legacy = 0x9100; // pre-802.1ad QinQ, still on some gear

constexpr std::uint8_t proto_icmp = 1;
constexpr std::uint8_t proto_tcp = 6;
constexpr std::uint8_t proto_udp = 17;
constexpr std::uint8_t proto_dccp = 33;
constexpr std::uint8_t proto_esp = 50;
constexpr std::uint8_t proto_ah = 51;
constexpr std::uint8_t proto_icmpv6 = 58;
constexpr std::uint8_t proto_sctp = 132;
constexpr std::uint8_t proto_udplite = 136;
constexpr std::uint8_t nh_hop_by_hop = 0;
constexpr std::uint8_t nh_routing = 43;
constexpr std::uint8_t nh_fragment = 44;
constexpr std::uint8_t nh_dest_opts = 60;
constexpr std::uint8_t nh_mobility = 135; // RFC 6275; RFC 6564 uniform format like the rest
constexpr std::uint8_t nh_hip = 139;
constexpr std::uint8_t nh_shim6 = 140;

constexpr std::uint8_t icmp4_dest_unreach = 3;
constexpr std::uint8_t icmp4_frag_needed = 4;
constexpr std::uint8_t icmp6_packet_too_big = 2;
constexpr std::uint8_t icmp6_nd_first = 133; // Router Solicitation .. Redirect (RFC 4861 §4)
constexpr std::uint8_t icmp6_nd_last = 137;

constexpr std::size_t eth_header = 14;
constexpr std::size_t ipv4_min_header = 20;
constexpr std::size_t ipv6_header = 40;
constexpr std::size_t icmp_header = 8;

inline std::uint16_t be16(const std::uint8_t* p) {
    return std::uint16_t(p[0] << 8 | p[1]);
}
inline std::uint32_t be32(const std::uint8_t* p) {
    return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 | p[3];
}

// Both write all 16 bytes: an IPv4 address's unused 12 must be zero (flow_key.h), and `out` is
// reused from frame to frame without being cleared.
inline void copy_v4(IpAddr& a, const std::uint8_t* p) {
    a = IpAddr{};
    std::memcpy(a.b.data(), p, 4);
}
inline void copy_v6(IpAddr& a, const std::uint8_t* p) {
    std::memcpy(a.b.data(), p, 16);
}

// The bytes [begin, end) of the frame that one layer may read; `end` never exceeds the frame.
struct Window {
    const std::uint8_t* base;
    std::size_t begin;
    std::size_t end;
    std::size_t size() const { return end - begin; }
    const std::uint8_t* at(std::size_t off = 0) const { return base + begin + off; }
};

enum class Walk : std::uint8_t { done, truncated, limit };

struct ExtChain {
    std::uint8_t next = 0;       // the first header that is not an extension header
    std::size_t offset = 0;      // where it starts
    bool fragment = false;       // a Fragment header was present (RFC 8200 §4.5)
    bool later_fragment = false; // ... with a non-zero offset: no upper-layer header follows
};

// How an extension-header walk treats AH.
enum class AhIs : std::uint8_t {
    extension, // the outer packet: walk past it to find the ICMPv6 header
    upper,     // the quoted packet: Linux's flow dissector stops at AH and hashes its SPI as the
               // "ports" (net/core/flow_dissector.c), and NICs do not look beneath it either
};

// Walks IPv6 extension headers from `w.begin` (RFC 8200 §4). Stops at the first upper-layer
// header, or at a non-first fragment, whose payload is the middle of some other header.
// AH has its own length rule (RFC 4302 §2.2: 32-bit words minus 2).
Walk walk_ext_chain(Window w, std::uint8_t next, AhIs ah, ExtChain& out) {
    std::size_t pos = w.begin;
    unsigned count = 0;
    for (;;) {
        std::size_t len;
        switch (next) {
        case nh_hop_by_hop:
        case nh_routing:
        case nh_dest_opts:
        case nh_mobility:
        case nh_hip:
        case nh_shim6:
            if (w.end - pos < 2) return Walk::truncated;
            len = (std::size_t(w.base[pos + 1]) + 1) * 8;
            break;
        case proto_ah:
            if (ah == AhIs::upper) {
                out.next = next;
                out.offset = pos;
                return Walk::done;
            }
            if (w.end - pos < 2) return Walk::truncated;
            len = (std::size_t(w.base[pos + 1]) + 2) * 4;
            break;
        case nh_fragment: len = 8; break;
        default:
            out.next = next;
            out.offset = pos;
            return Walk::done;
        }
        if (++count > max_ext_headers || pos + len - w.begin > max_ext_bytes) return Walk::limit;
        if (w.end - pos < len) return Walk::truncated;
        const std::uint8_t* h = w.base + pos;
        if (next == nh_fragment) {
            const std::uint16_t off_flags = be16(h + 2);
            out.fragment = true;
            if ((off_flags & 0xfff8) != 0) {
                out.later_fragment = true;
                out.next = h[0];
                out.offset = pos + len;
                return Walk::done;
            }
        }
        next = h[0];
        pos += len;
    }
}

// The Next Header values walk_ext_chain() walks past (RFC 8200 §4; AH only in the outer packet).
constexpr std::array<bool, 256> is_ext_header = [] {
    std::array<bool, 256> t{};
    for (const std::uint8_t n :
         {nh_hop_by_hop, nh_routing, nh_fragment, nh_dest_opts, nh_mobility, nh_hip, nh_shim6})
        t[n] = true;
    return t;
}();

// Most packets have no extension header: one table lookup instead of a call into the walk.
inline Walk walk_ext_headers(Window w, std::uint8_t next, AhIs ah, ExtChain& out) {
    if (!is_ext_header[next] && !(next == proto_ah && ah == AhIs::extension)) {
        out.next = next;
        out.offset = w.begin;
        return Walk::done;
    }
    return walk_ext_chain(w, next, ah, out);
}

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

// reversed(), written into place: it runs once per PTB, and a returned copy costs a call and
// two 48-byte copies.
inline void reverse_into(const FlowKey& k, FlowKey& r) {
    r.family = k.family;
    r.proto = k.proto;
    r.first_nexthdr = k.first_nexthdr;
    r.flow_label = k.flow_label;
    r.src = k.dst;
    r.dst = k.src;
    switch (k.l4) {
    case L4::ports:
        r.l4 = L4::ports;
        r.sport = k.dport;
        r.dport = k.sport;
        return;
    case L4::spi: // the SPI of one direction's SA says nothing of the other's (RFC 4303 §2.1)
        r.l4 = L4::unknown;
        r.sport = r.dport = 0;
        return;
    case L4::portless:
    case L4::truncated:
    case L4::unknown:
        r.l4 = k.l4;
        r.sport = k.sport;
        r.dport = k.dport;
        return;
    }
}

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

FlowKey reversed(const FlowKey& k) {
    FlowKey r;
    reverse_into(k, r);
    return r;
}

namespace detail {

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

} // namespace detail

} // namespace ptbsteer::packet
