// Private to lib/packet's parser files: the wire constants, byte readers and the IPv6
// extension-header walk shared by the outer packet (parser.cpp), the quoted packet
// (parser_quote.cpp) and the fast path (parser_fast.cpp). Not for use outside lib/packet.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "packet/parser.h"

namespace ptbsteer::packet::detail {

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
// AH has its own length rule (RFC 4302 §2.2: 32-bit words minus 2). parser_ext_headers.cpp.
Walk walk_ext_chain(Window w, std::uint8_t next, AhIs ah, ExtChain& out);

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

// The quoted packet of a PTB whose quote is `q` (parser_quote.cpp): fills out.inner and the
// inner_* fields. The flow (out.flow) is left to the caller.
ParseStatus parse_inner_v4(Window q, PtbInfo& out);
ParseStatus parse_inner_v6(Window q, PtbInfo& out);

} // namespace ptbsteer::packet::detail
