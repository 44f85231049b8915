#include "datapath/neighbor.h"

#include <algorithm>

#include "guard/ones_sum.h"

namespace ptbsteer::datapath {
namespace {

constexpr std::size_t eth_len = 14;
constexpr std::size_t vlan_len = 4;
constexpr std::size_t arp_len = 28; // Ethernet/IPv4 ARP (RFC 826)
constexpr std::size_t ipv6_len = 40;
constexpr std::size_t nd_len = 24;        // NS/NA up to the target address (RFC 4861 §4.3, §4.4)
constexpr std::size_t lla_option_len = 8; // a Link-Layer Address option for Ethernet (§4.6.1)
constexpr std::uint8_t icmp6_ns = 135;
constexpr std::uint8_t icmp6_na = 136;
constexpr std::uint8_t option_slla = 1;
constexpr std::uint8_t option_tlla = 2;

std::uint16_t be16(const std::uint8_t* p) {
    return std::uint16_t(p[0] << 8 | p[1]);
}

void put16(std::uint8_t* p, std::uint16_t v) {
    p[0] = std::uint8_t(v >> 8);
    p[1] = std::uint8_t(v);
}

bool addr_less(const NeighborAddr& a, std::size_t port, packet::Family f, const std::uint8_t* b) {
    if (a.port != port) return a.port < port;
    if (a.family != f) return a.family < f;
    return std::memcmp(a.addr.b.data(), b, f == packet::Family::v4 ? 4 : 16) < 0;
}

// The VLAN ID of a frame with one 802.1Q tag (its L3 header at 18), else 0.
std::uint16_t vlan_of(std::span<const std::uint8_t> f, std::size_t l3) {
    return l3 == eth_len + vlan_len ? std::uint16_t(be16(f.data() + 14) & 0x0fff) : 0;
}

// Ethernet header (+ 802.1Q tag) of a frame we originate; returns the L3 offset.
std::size_t write_ethernet(std::uint8_t* f, const Mac& dst, const SolicitFrom& from,
                           std::uint16_t type) {
    std::memcpy(f, dst.data(), 6);
    std::memcpy(f + 6, from.mac.data(), 6);
    if (!from.vlan) {
        put16(f + 12, type);
        return eth_len;
    }
    put16(f + 12, 0x8100);
    put16(f + 14, from.vlan);
    put16(f + 16, type);
    return eth_len + vlan_len;
}

// A station's own MAC: not zero, not a group address (RFC 826 learns the sender's unicast MAC).
bool station_mac(const std::uint8_t* m) {
    static constexpr std::uint8_t zero[6] = {};
    return (m[0] & 0x01) == 0 && std::memcmp(m, zero, 6) != 0;
}

// Over the pseudo-header (RFC 4443 §2.3), summed in native byte order (RFC 1071 §2(B)).
std::uint64_t icmp6_sum(const std::uint8_t* ip, const std::uint8_t* icmp, std::size_t len) {
    std::uint64_t sum = guard::ones_sum(ip + 8, 32, 0);
    sum += guard::ones_word(std::uint16_t(len)) + guard::ones_word(58);
    return guard::ones_sum(icmp, len, sum);
}

// The stored checksum included, a correct message sums to all ones.
bool icmp6_checksum_ok(const std::uint8_t* ip, const std::uint8_t* icmp, std::size_t len) {
    return guard::ones_fold(icmp6_sum(ip, icmp, len)) == 0xffff;
}

std::optional<NeighborUpdate> from_arp(const Tables& t, std::span<const std::uint8_t> f,
                                       std::size_t l3, std::size_t port) {
    if (f.size() < l3 + arp_len) return std::nullopt;
    const std::uint8_t* a = f.data() + l3;
    // Ethernet/IPv4, request or reply: RFC 826's "merge" takes the sender's pair from either,
    // which is also how a gratuitous ARP (sender = target address) announces a new MAC.
    const unsigned op = be16(a + 6);
    if (be16(a) != 1 || be16(a + 2) != 0x0800 || a[4] != 6 || a[5] != 4 || (op != 1 && op != 2))
        return std::nullopt;
    if (!is_neighbor(t, port, packet::Family::v4, a + 14) || !station_mac(a + 8))
        return std::nullopt;
    NeighborUpdate u;
    u.port = std::uint16_t(port);
    u.vlan = vlan_of(f, l3);
    u.family = packet::Family::v4;
    u.has_mac = true;
    u.solicited = op == 2;
    std::memcpy(u.mac.data(), a + 8, 6);
    std::memcpy(u.addr.b.data(), a + 14, 4);
    return u;
}

std::optional<NeighborUpdate> from_advert(const Tables& t, std::span<const std::uint8_t> f,
                                          std::size_t l3, std::size_t port) {
    if (f.size() < l3 + ipv6_len + nd_len) return std::nullopt;
    const std::uint8_t* ip = f.data() + l3;
    const std::uint8_t* icmp = ip + ipv6_len;
    // RFC 4861 §7.1.2: hop limit 255 (sent on the link), code 0.
    if (ip[6] != 58 || ip[7] != 255 || icmp[0] != icmp6_na || icmp[1] != 0) return std::nullopt;
    if (!is_neighbor(t, port, packet::Family::v6, icmp + 8)) return std::nullopt;
    // The whole message must be in the frame and its checksum right (§7.1.2): a learned MAC
    // steers PTBs for as long as the entry lives.
    const std::size_t icmp_len = be16(ip + 4);
    if (icmp_len < nd_len || f.size() < l3 + ipv6_len + icmp_len) return std::nullopt;
    if (!icmp6_checksum_ok(ip, icmp, icmp_len)) return std::nullopt;
    NeighborUpdate u;
    u.port = std::uint16_t(port);
    u.vlan = vlan_of(f, l3);
    u.family = packet::Family::v6;
    u.solicited = (icmp[4] & 0x40) != 0;
    u.override = (icmp[4] & 0x20) != 0;
    std::memcpy(u.addr.b.data(), icmp + 8, 16);
    // Options up to the payload length: the Target Link-Layer Address.
    const std::size_t end = l3 + ipv6_len + icmp_len;
    for (std::size_t o = l3 + ipv6_len + nd_len; o + 2 <= end;) {
        const std::size_t len = std::size_t(f[o + 1]) * 8;
        if (len == 0 || o + len > end) break; // §4.6: a zero length is invalid
        if (f[o] == option_tlla && len >= lla_option_len) {
            if (!station_mac(f.data() + o + 2)) return std::nullopt;
            std::memcpy(u.mac.data(), f.data() + o + 2, 6);
            u.has_mac = true;
        }
        o += len;
    }
    return u;
}

std::uint16_t icmp6_checksum(const std::uint8_t* ip, const std::uint8_t* icmp, std::size_t len) {
    return std::uint16_t(~guard::ones_fold(icmp6_sum(ip, icmp, len)));
}

} // namespace

bool is_neighbor(const Tables& t, std::size_t port, packet::Family f, const std::uint8_t* addr) {
    const auto it =
        std::partition_point(t.neighbor_addrs.begin(), t.neighbor_addrs.end(),
                             [&](const NeighborAddr& a) { return addr_less(a, port, f, addr); });
    return it != t.neighbor_addrs.end() && it->port == port && it->family == f &&
           std::memcmp(it->addr.b.data(), addr, f == packet::Family::v4 ? 4 : 16) == 0;
}

std::optional<NeighborUpdate> neighbor_update(const Tables& t, std::span<const std::uint8_t> frame,
                                              std::size_t l3, std::size_t port) {
    if (t.neighbor_addrs.empty() || l3 < eth_len || l3 > frame.size()) return std::nullopt;
    const unsigned type = be16(frame.data() + l3 - 2);
    if (type == 0x0806) return from_arp(t, frame, l3, port);
    if (type == 0x86dd) return from_advert(t, frame, l3, port);
    return std::nullopt;
}

std::size_t make_arp_request(std::span<std::uint8_t> out, const SolicitFrom& from,
                             const packet::IpAddr& target, const Mac* to) {
    static constexpr Mac broadcast = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    const std::size_t need = eth_len + vlan_len + arp_len;
    if (out.size() < need) return 0;
    std::uint8_t* f = out.data();
    const std::size_t l3 = write_ethernet(f, to ? *to : broadcast, from, 0x0806);
    std::uint8_t* a = f + l3;
    put16(a, 1); // Ethernet
    put16(a + 2, 0x0800);
    a[4] = 6;
    a[5] = 4;
    put16(a + 6, 1); // request
    std::memcpy(a + 8, from.mac.data(), 6);
    std::memcpy(a + 14, from.addr.b.data(), 4);
    std::memset(a + 18, 0, 6); // target MAC: unknown (RFC 826)
    std::memcpy(a + 24, target.b.data(), 4);
    return l3 + arp_len;
}

std::size_t make_neighbor_solicitation(std::span<std::uint8_t> out, const SolicitFrom& from,
                                       const packet::IpAddr& target, const Mac* to) {
    const std::size_t icmp_len = nd_len + lla_option_len;
    if (out.size() < eth_len + vlan_len + ipv6_len + icmp_len) return 0;
    // Multicast: ff02::1:ffXX:XXXX, the target's solicited-node group (RFC 4291 §2.7.1), on
    // 33:33 + its last 32 bits (RFC 2464 §7).
    packet::IpAddr dst = target;
    Mac dst_mac;
    if (to) {
        dst_mac = *to;
    } else {
        dst.b = {0xff,         0x02,         0,           0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff,
                 target.b[13], target.b[14], target.b[15]};
        dst_mac = {0x33, 0x33, dst.b[12], dst.b[13], dst.b[14], dst.b[15]};
    }
    std::uint8_t* f = out.data();
    const std::size_t l3 = write_ethernet(f, dst_mac, from, 0x86dd);
    std::uint8_t* ip = f + l3;
    std::memset(ip, 0, ipv6_len);
    ip[0] = 0x60;
    put16(ip + 4, std::uint16_t(icmp_len));
    ip[6] = 58;
    ip[7] = 255; // §7.1.1: receivers drop NDs that crossed a router
    std::memcpy(ip + 8, from.addr.b.data(), 16);
    std::memcpy(ip + 24, dst.b.data(), 16);
    std::uint8_t* icmp = ip + ipv6_len;
    std::memset(icmp, 0, icmp_len);
    icmp[0] = icmp6_ns;
    std::memcpy(icmp + 8, target.b.data(), 16);
    icmp[nd_len] = option_slla;
    icmp[nd_len + 1] = 1;
    std::memcpy(icmp + nd_len + 2, from.mac.data(), 6);
    const std::uint16_t c = icmp6_checksum(ip, icmp, icmp_len);
    std::memcpy(icmp + 2, &c, 2);
    return l3 + ipv6_len + icmp_len;
}

packet::IpAddr link_local_of(const Mac& mac) {
    packet::IpAddr a;
    a.b = {0xfe,   0x80,   0,    0,    0,      0,      0,     0, std::uint8_t(mac[0] ^ 0x02),
           mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]};
    return a;
}

} // namespace ptbsteer::datapath
