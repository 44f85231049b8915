// The flow identity ptbsteer steers on: addresses, protocol, ports (or why they are missing).
#pragma once

#include <array>
#include <cstdint>
#include <cstring>

namespace ptbsteer::packet {

enum class Family : std::uint8_t { v4 = 4, v6 = 6 };

// An IPv4 or IPv6 address in network byte order. IPv4 uses bytes 0..3; the rest stay zero, so two
// keys of the same family compare and hash equal exactly when their addresses are equal.
struct IpAddr {
    std::array<std::uint8_t, 16> b{};
    // Two 8-byte compares: the defaulted operator calls memcmp, and this runs per packet.
    friend bool operator==(const IpAddr& x, const IpAddr& y) noexcept {
        std::uint64_t a[2], c[2];
        std::memcpy(a, x.b.data(), 16);
        std::memcpy(c, y.b.data(), 16);
        return ((a[0] ^ c[0]) | (a[1] ^ c[1])) == 0;
    }
};

// What is known about the layer-4 identity of a packet.
enum class L4 : std::uint8_t {
    ports,     // TCP, UDP, UDP-Lite, SCTP, DCCP: sport/dport hold the ports
    spi,       // ESP or AH: sport/dport hold the SPI halves (Linux hashes them as ports)
    portless,  // a protocol without ports (GRE, ICMP, ...): the 3-tuple is the whole key
    truncated, // the quote ended before the ports (legal: RFC 792 promises only 8 bytes)
    unknown,   // ports exist but cannot be known: a non-first fragment, or the reverse of an ESP
               // SA (each direction has its own SPI, RFC 4303 §2.1)
};

constexpr bool ports_known(L4 l4) {
    return l4 == L4::ports || l4 == L4::spi || l4 == L4::portless;
}

// What a whole, unfragmented packet of protocol `proto` tells about its layer 4, as Linux's flow
// dissector reads its first 4 bytes (proto_ports_offset): ports for TCP, UDP, DCCP, SCTP and
// UDP-Lite, an SPI for ESP and AH, nothing for the rest.
constexpr L4 l4_of_protocol(std::uint8_t proto) {
    switch (proto) {
    case 6:                     // TCP
    case 17:                    // UDP
    case 33:                    // DCCP
    case 132:                   // SCTP
    case 136: return L4::ports; // UDP-Lite
    case 50:                    // ESP
    case 51: return L4::spi;    // AH
    default: return L4::portless;
    }
}

struct FlowKey {
    Family family = Family::v4;
    std::uint8_t proto = 0;         // the final L4 protocol, after any IPv6 extension headers
    std::uint8_t first_nexthdr = 0; // IPv6: Next Header of the fixed header (Linux L3 hashes it)
    L4 l4 = L4::truncated;
    std::uint16_t sport = 0; // host byte order; 0 unless ports_known(l4)
    std::uint16_t dport = 0;
    std::uint32_t flow_label = 0; // IPv6 only, the 20-bit label in host order
    IpAddr src;
    IpAddr dst;

    friend bool operator==(const FlowKey&, const FlowKey&) = default;
};

// The original flow from the quote of one of its reverse-direction packets: addresses and ports
// swap. A quoted ESP packet's SPI belongs to the other direction's SA, so it does not carry over.
// The flow label stays: it is only the client's label when the server reflects it
// (net.ipv6.flowlabel_reflect, RFC 7690 §4); docs/hashing.md explains when to hash it.
FlowKey reversed(const FlowKey& k);

} // namespace ptbsteer::packet
