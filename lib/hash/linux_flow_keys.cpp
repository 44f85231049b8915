// Linux's multipath flow keys and flow hash. Facts from net/ipv4/route.c, net/ipv6/route.c,
// include/net/ip_fib.h and net/core/flow_dissector.c (mainline, 6.x); see docs/hashing.md.
#include "hash/linux_flow_keys.h"

#include <algorithm>
#include <cstring>

#include "hash/hash_model.h"
#include "hash/siphash.h"

namespace ptbsteer::hash {

namespace {

using L = LinuxKeyLayout;
using packet::Family;
using packet::FlowKey;

void put_be16(LinuxKeyImage& img, std::size_t off, std::uint16_t v) {
    img.bytes[off] = static_cast<std::uint8_t>(v >> 8);
    img.bytes[off + 1] = static_cast<std::uint8_t>(v);
}

// The flow label as the kernel stores it. Policy 0 (ip6_multipath_l3_keys) copies
// ip6_flowlabel(iph): the first 4 header bytes masked with htonl(0x000FFFFF), i.e. the label in
// network byte order. The flow dissector (policies 1-3) stores ntohl() of it: host order.
void put_flow_label(LinuxKeyImage& img, std::uint32_t label, bool network_order) {
    label &= 0xFFFFF;
    for (int i = 0; i < 4; ++i) {
        const int shift = network_order ? 8 * (3 - i) : 8 * i; // x86_64 is little-endian
        img.bytes[L::flow_label + i] = static_cast<std::uint8_t>(label >> shift);
    }
}

void put_addrs(LinuxKeyImage& img, const FlowKey& k, bool src, bool dst) {
    const std::size_t n = k.family == Family::v4 ? 4 : 16;
    const std::size_t dst_off = k.family == Family::v4 ? L::v4_dst : L::v6_dst;
    if (src) std::memcpy(&img.bytes[L::src], k.src.b.data(), n);
    if (dst) std::memcpy(&img.bytes[dst_off], k.dst.b.data(), n);
}

// The "ports" the flow dissector reports (__skb_flow_get_ports): the first 4 bytes at
// proto_ports_offset() for TCP/UDP/UDP-Lite/DCCP/SCTP/ESP/AH, 0 for every other protocol.
// packet::FlowKey already holds them (ESP/AH SPI halves included) when ports_known().
bool dissector_has_ports(packet::L4 l4) {
    return l4 == packet::L4::ports || l4 == packet::L4::spi;
}

// Policy 0. IPv4 (ip_multipath_l3_keys): addresses only, ip_proto stays 0. IPv6
// (ip6_multipath_l3_keys, reached with flkeys == NULL from fib6_select_path for a non-ICMPv6
// packet): addresses, network-order flow label, and the fixed header's Next Header.
void fill_policy0(LinuxKeyImage& img, const FlowKey& k) {
    put_addrs(img, k, true, true);
    if (k.family == Family::v6) {
        put_flow_label(img, k.flow_label, /*network_order=*/true);
        img.bytes[L::ip_proto] = k.first_nexthdr;
    }
}

// Policy 1 with an skb but no skb->l4_hash: the dissected addresses, final L4 protocol, ports.
void fill_policy1(LinuxKeyImage& img, const FlowKey& k) {
    put_addrs(img, k, true, true);
    img.bytes[L::ip_proto] = k.proto;
    if (dissector_has_ports(k.l4)) {
        put_be16(img, L::sport, k.sport);
        put_be16(img, L::dport, k.dport);
    }
}

// Policy 3, outer part (fib_multipath_custom_hash_outer / rt6_multipath_custom_hash_outer):
// only the selected dissected fields; the flow label (IPv6 only) in host order.
void fill_policy3(LinuxKeyImage& img, const FlowKey& k, std::uint32_t fields) {
    put_addrs(img, k, fields & src_ip, fields & dst_ip);
    if (fields & ip_proto) img.bytes[L::ip_proto] = k.proto;
    if (k.family == Family::v6 && (fields & flow_label))
        put_flow_label(img, k.flow_label, /*network_order=*/false);
    if (dissector_has_ports(k.l4)) {
        if (fields & src_port) put_be16(img, L::sport, k.sport);
        if (fields & dst_port) put_be16(img, L::dport, k.dport);
    }
}

std::uint32_t load_le32(const std::uint8_t* p) {
    return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 |
           std::uint32_t{p[3]} << 24;
}
std::uint16_t load_le16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>(p[0] | p[1] << 8);
}

} // namespace

LinuxKeyImage linux_flow_keys(const FlowKey& k, std::uint8_t policy,
                              std::uint32_t fields) noexcept {
    LinuxKeyImage img; // zeroed, as the kernel's memset(&hash_keys, 0, ...)
    img.family = k.family;
    switch (policy) {
    case 0: fill_policy0(img, k); break;
    case 1: fill_policy1(img, k); break;
    default: fill_policy3(img, k, fields); break;
    }
    return img;
}

void linux_consistentify(LinuxKeyImage& img) noexcept {
    auto* b = img.bytes.data();
    // Current kernels (since "net: core: fix flow symmetric hash", 2022) sort addresses and
    // ports independently. The comparisons are on the raw network-order bytes loaded as native
    // (little-endian on x86_64) integers, NOT numeric address order.
    if (img.family == Family::v4) {
        if (load_le32(b + L::v4_dst) < load_le32(b + L::src))
            std::swap_ranges(b + L::src, b + L::src + 4, b + L::v4_dst);
    } else {
        if (std::memcmp(b + L::v6_dst, b + L::src, 16) < 0)
            std::swap_ranges(b + L::src, b + L::src + 16, b + L::v6_dst);
    }
    if (load_le16(b + L::dport) < load_le16(b + L::sport))
        std::swap_ranges(b + L::sport, b + L::sport + 2, b + L::dport);
}

std::uint32_t linux_flow_hash(const LinuxKeyImage& img, std::uint64_t k0,
                              std::uint64_t k1) noexcept {
    const auto h = static_cast<std::uint32_t>(siphash24(k0, k1, img.hashed()));
    return h ? h : 1;
}

} // namespace ptbsteer::hash
