// Every outcome of parsing one frame, in one list. Names are stable: they become metric labels.
#pragma once

#include <cstdint>
#include <string_view>

namespace ptbsteer::packet {

enum class StatusKind : std::uint8_t {
    ptb,       // a Packet Too Big message, PtbInfo filled in
    not_ptb,   // well formed but not a PTB: the datapath answers ARP/ND for itself, drops the rest
    malformed, // refused: dropped and counted under this name
};

// X(name, kind, one-line meaning)
#define PTBSTEER_PARSE_STATUSES(X)                                                                 \
    X(ptb, ptb, "ICMPv4 3/4 Fragmentation Needed or ICMPv6 2 Packet Too Big")                      \
    X(arp, not_ptb, "ARP request or reply")                                                        \
    X(neighbor_discovery, not_ptb, "ICMPv6 Neighbor Discovery (RFC 4861 types 133-137)")           \
    X(icmp_other, not_ptb, "ICMP or ICMPv6 message that is not a PTB")                             \
    X(not_icmp, not_ptb, "IP packet that is not ICMP")                                             \
    X(ethertype_other, not_ptb, "neither IPv4, IPv6 nor ARP")                                      \
    X(truncated_l2, malformed, "frame ends inside the Ethernet or VLAN header")                    \
    X(vlan_too_deep, malformed, "more than two VLAN tags")                                         \
    X(truncated_ip, malformed, "frame ends inside the outer IP header")                            \
    X(bad_ip_version, malformed, "IP version does not match the EtherType")                        \
    X(bad_ip_header_length, malformed, "IPv4 IHL below 5")                                         \
    X(bad_ip_length, malformed,                                                                    \
      "IP length field shorter than the header or longer than the frame")                          \
    X(outer_fragment, malformed, "the ICMP message itself is fragmented")                          \
    X(ext_header_limit, malformed, "more than 8 IPv6 extension headers or 256 bytes of them")      \
    X(truncated_ext_header, malformed, "packet ends inside an IPv6 extension header")              \
    X(truncated_icmp, malformed, "packet ends inside the 8-byte ICMP header")                      \
    X(inner_truncated, malformed, "quote ends inside the quoted IP header (options included)")     \
    X(inner_family_mismatch, malformed, "quoted packet is not of the outer packet's IP family")    \
    X(inner_bad_header, malformed, "quoted IPv4 header has IHL below 5")                           \
    X(inner_ext_header_limit, malformed, "quoted packet has too many IPv6 extension headers")

enum class ParseStatus : std::uint8_t {
#define PTBSTEER_X(name, kind, text) name,
    PTBSTEER_PARSE_STATUSES(PTBSTEER_X)
#undef PTBSTEER_X
};

inline constexpr std::size_t parse_status_count = 0
#define PTBSTEER_X(name, kind, text) +1
    PTBSTEER_PARSE_STATUSES(PTBSTEER_X)
#undef PTBSTEER_X
    ;

constexpr std::string_view name(ParseStatus s) {
    switch (s) {
#define PTBSTEER_X(n, kind, text)                                                                  \
    case ParseStatus::n: return #n;
        PTBSTEER_PARSE_STATUSES(PTBSTEER_X)
#undef PTBSTEER_X
    }
    return "?";
}

constexpr std::string_view description(ParseStatus s) {
    switch (s) {
#define PTBSTEER_X(n, kind, text)                                                                  \
    case ParseStatus::n: return text;
        PTBSTEER_PARSE_STATUSES(PTBSTEER_X)
#undef PTBSTEER_X
    }
    return "?";
}

constexpr StatusKind kind(ParseStatus s) {
    switch (s) {
#define PTBSTEER_X(n, k, text)                                                                     \
    case ParseStatus::n: return StatusKind::k;
        PTBSTEER_PARSE_STATUSES(PTBSTEER_X)
#undef PTBSTEER_X
    }
    return StatusKind::malformed;
}

} // namespace ptbsteer::packet
