#include "datapath/responder.h"

#include <algorithm>
#include <cstring>

#include "guard/ones_sum.h"

namespace ptbsteer::datapath {
namespace {

constexpr std::size_t arp_len = 28; // Ethernet/IPv4 ARP (RFC 826)
constexpr std::size_t ipv6_len = 40;
constexpr std::size_t ns_len = 24;        // ICMPv6 NS/NA up to the target address (RFC 4861 §4.3)
constexpr std::size_t lla_option_len = 8; // Source/Target Link-Layer Address option for Ethernet

std::uint16_t be16(const std::uint8_t* p) {
    return std::uint16_t(p[0] << 8 | p[1]);
}

} // namespace

bool arp_for_us(std::span<const std::uint8_t> f, std::size_t l3, const PortAddresses& port) {
    if (!port.ipv4 || f.size() < l3 + arp_len) return false;
    const std::uint8_t* a = f.data() + l3;
    // htype 1 (Ethernet), ptype IPv4, hlen 6, plen 4, opcode 1 (request); target IP is ours.
    return be16(a) == 1 && be16(a + 2) == 0x0800 && a[4] == 6 && a[5] == 4 && be16(a + 6) == 1 &&
           std::memcmp(a + 24, port.ipv4->b.data(), 4) == 0;
}

bool ns_for_us(std::span<const std::uint8_t> f, std::size_t l3, const PortAddresses& port) {
    if (f.size() < l3 + ipv6_len + ns_len) return false;
    const std::uint8_t* ip = f.data() + l3;
    const std::uint8_t* icmp = ip + ipv6_len;
    static constexpr std::uint8_t unspecified[16] = {};
    // RFC 4861 §7.1.1: hop limit 255 (it came from the link), code 0, type 135. A solicitation
    // from :: is Duplicate Address Detection by someone else: not ours to answer here.
    // Our link-local address too: a server whose next-hop ptbsteer solicited from it checks
    // reachability back (RFC 4861 §7.2.2 sources link-local solicitations there).
    const bool target_ours = (port.ipv6 && std::memcmp(icmp + 8, port.ipv6->b.data(), 16) == 0) ||
                             (port.ipv6_link_local.b[0] == 0xfe &&
                              std::memcmp(icmp + 8, port.ipv6_link_local.b.data(), 16) == 0);
    return ip[6] == 58 && ip[7] == 255 && icmp[0] == 135 && icmp[1] == 0 && target_ours &&
           std::memcmp(ip + 8, unspecified, 16) != 0;
}

std::size_t make_arp_reply(std::span<std::uint8_t> room, std::size_t len, std::size_t l3,
                           const PortAddresses& port) {
    if (len < l3 + arp_len || room.size() < len) return 0;
    std::uint8_t* f = room.data();
    std::uint8_t* a = f + l3;
    std::memcpy(f, a + 8, 6);               // Ethernet dst = the requester
    std::memcpy(f + 6, port.mac.data(), 6); // Ethernet src = us
    a[7] = 2;                               // opcode: reply
    std::uint8_t sender[10];
    std::memcpy(sender, a + 8, 10); // requester's MAC + IP become the target
    std::memcpy(a + 8, port.mac.data(), 6);
    std::memcpy(a + 14, port.ipv4->b.data(), 4);
    std::memcpy(a + 18, sender, 10);
    return len;
}

std::size_t make_neighbor_advert(std::span<std::uint8_t> room, std::size_t len, std::size_t l3,
                                 const PortAddresses& port) {
    const std::size_t out_len = l3 + ipv6_len + ns_len + lla_option_len;
    if (len < l3 + ipv6_len + ns_len || room.size() < out_len) return 0;
    std::uint8_t* f = room.data();
    std::uint8_t* ip = f + l3;
    std::uint8_t* icmp = ip + ipv6_len;
    // Ethernet: back to the solicitor's MAC, from ours.
    std::memcpy(f, f + 6, 6);
    std::memcpy(f + 6, port.mac.data(), 6);
    // IPv6: to the solicitor, from the solicited address (RFC 4861 §7.2.4), the target.
    std::memcpy(ip + 24, ip + 8, 16);
    std::memcpy(ip + 8, icmp + 8, 16);
    ip[4] = 0;
    ip[5] = std::uint8_t(ns_len + lla_option_len);
    ip[7] = 255;
    // NA: Solicited + Override flags, the target stays, one Target Link-Layer Address option.
    icmp[0] = 136;
    icmp[1] = 0;
    icmp[2] = icmp[3] = 0;
    icmp[4] = 0x60;
    icmp[5] = icmp[6] = icmp[7] = 0;
    std::uint8_t* opt = icmp + ns_len;
    opt[0] = 2; // Target Link-Layer Address
    opt[1] = 1; // length in units of 8 bytes
    std::memcpy(opt + 2, port.mac.data(), 6);
    // Checksum over the pseudo-header (RFC 4443 §2.3), summed in native byte order (RFC 1071
    // §2(B)): the complemented sum is stored as it is.
    const std::size_t icmp_len = ns_len + lla_option_len;
    std::uint64_t sum = guard::ones_sum(ip + 8, 32, 0);
    sum += guard::ones_word(std::uint16_t(icmp_len)) + guard::ones_word(58);
    sum = guard::ones_sum(icmp, icmp_len, sum);
    const std::uint16_t c = std::uint16_t(~guard::ones_fold(sum));
    std::memcpy(icmp + 2, &c, 2);
    return out_len;
}

} // namespace ptbsteer::datapath
