// What the parser extracts from one Packet Too Big message.
#pragma once

#include <array>
#include <cstdint>

#include "packet/flow_key.h"

namespace ptbsteer::packet {

struct VlanTag {
    std::uint16_t tpid = 0; // 0x8100 (802.1Q) or 0x88A8 (802.1ad service tag)
    std::uint16_t tci = 0;  // PCP, DEI and VLAN ID as on the wire (host order)
    constexpr std::uint16_t vid() const { return tci & 0x0fff; }
    friend bool operator==(const VlanTag&, const VlanTag&) = default;
};

struct PtbInfo {
    Family family = Family::v4;
    std::uint8_t vlan_count = 0; // 0..2, outermost first
    std::array<VlanTag, 2> vlans{};
    IpAddr outer_src; // the router that sent the PTB
    IpAddr outer_dst; // the address it was sent to (a served address)
    // Advertised next-hop MTU. IPv4: the 16-bit field of RFC 1191 §4; 0 means an old router that
    // predates RFC 1191 and did not say (RFC 1191 §5). IPv6: the 32-bit field of RFC 4443 §3.2.
    std::uint32_t mtu = 0;
    std::uint16_t l3_offset = 0;    // outer IP header, from the start of the frame
    std::uint16_t icmp_offset = 0;  // ICMP header
    std::uint16_t quote_offset = 0; // quoted packet (icmp_offset + 8)
    std::uint16_t quote_len = 0;    // bytes of the quoted packet present
    std::uint16_t icmp_len = 0;     // ICMP header + quote, as the outer IP header states
    // The quoted packet's own length field: IPv4 Total Length, IPv6 40 + Payload Length.
    // A PTB whose MTU is not below this is bogus (checked by validation, not here).
    std::uint32_t inner_total_len = 0;
    bool inner_fragment = false; // the quoted packet is itself a fragment
    FlowKey inner;               // the quoted packet: server -> client
    FlowKey flow;                // the original flow the router hashed: client -> server

    friend bool operator==(const PtbInfo&, const PtbInfo&) = default;
};

} // namespace ptbsteer::packet
