// Builds PTB frames byte by byte from a description, independently of the parser under test.
// Shared by the unit tests and the fuzz seed corpus.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "packet/flow_key.h"

namespace ptbsteer::test {

using Bytes = std::vector<std::uint8_t>;

struct ExtHeader {
    std::uint8_t type;  // 0 hop-by-hop, 43 routing, 44 fragment, 51 AH, 60 destination options
    std::size_t length; // total bytes, a multiple of 8 (AH: of 4, at least 12)
    std::uint16_t frag_offset_flags = 0; // fragment header only: offset << 3 | M
};

// The quoted (inner) packet: what one of our servers sent towards a client.
struct Inner {
    packet::Family family = packet::Family::v4;
    std::string src{}; // the server
    std::string dst{}; // the client
    std::uint8_t proto = 6;
    std::uint16_t sport = 443;
    std::uint16_t dport = 40000;
    std::uint32_t spi = 0; // ESP / AH
    std::uint32_t flow_label = 0;
    std::size_t v4_options = 0;     // bytes of IPv4 options (multiple of 4)
    std::vector<ExtHeader> ext{};   // IPv6 extension headers, in order
    std::uint16_t v4_frag = 0x4000; // flags+offset word; DF by default
    std::size_t l4_len = 20;        // bytes of upper-layer header+payload behind the IP headers
    std::uint8_t version_override = 0;
    std::uint8_t ihl_override = 0;
};

struct Outer {
    packet::Family family = packet::Family::v4;
    std::string src{}; // the router
    std::string dst{}; // the server address the PTB was sent to
    std::vector<std::pair<std::uint16_t, std::uint16_t>> vlans{}; // (tpid, tci), outermost first
    std::uint32_t mtu = 1400;
    std::uint8_t icmp_type = 0;    // 0: the family's PTB type
    std::uint8_t icmp_code = 0xff; // 0xff: the family's PTB code
    std::size_t v4_options = 0;
    std::vector<ExtHeader> ext{};
    std::uint16_t v4_frag = 0;
    std::uint8_t ip_proto_override = 0; // e.g. 17 to make it "not ICMP"
    std::uint8_t version_override = 0;
    std::uint8_t ihl_override = 0;
    std::int32_t length_adjust = 0; // added to the IP length field (to make it lie)
    std::size_t eth_padding = 0;    // bytes after the IP datagram
};

struct Geometry { // where things landed in the built frame
    std::size_t l3 = 0, icmp = 0, quote = 0, inner_l4 = 0, frame_len = 0;
    std::size_t inner_full = 0; // full length of the quoted packet before any truncation
};

// Builds the frame. `quote_len` limits how much of the inner packet is quoted (SIZE_MAX: all).
Bytes build_ptb(const Outer& o, const Inner& in, std::size_t quote_len, Geometry* g = nullptr);

packet::IpAddr addr(const std::string& text);
std::uint16_t internet_checksum(const std::uint8_t* p, std::size_t n, std::uint32_t sum = 0);

// An untagged ARP frame (broadcast): op 1 (request) or 2 (reply) from `sender`, padded to 60.
Bytes arp_frame(unsigned op, const std::array<std::uint8_t, 6>& sender, const char* sender_ip,
                const char* target_ip);
// Writes the ICMPv6 checksum (RFC 4443 §2.3: over the pseudo-header) of an untagged frame
// whose IPv6 header (no extension headers) carries ICMPv6 of its Payload Length.
void set_icmpv6_checksum(Bytes& frame);

} // namespace ptbsteer::test
