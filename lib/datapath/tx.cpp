#include "datapath/tx.h"

#include <cstring>

#include <rte_ip.h>
#include <rte_mbuf.h>

namespace ptbsteer::datapath {
namespace {

constexpr std::uint16_t eth_len = 14;
constexpr std::uint16_t vlan_len = 4;
constexpr std::uint8_t proto_ipip = 4;  // IPv4 inside (RFC 2003)
constexpr std::uint8_t proto_ipv6 = 41; // IPv6 inside (RFC 2473, RFC 4213)

void put16(std::uint8_t* p, std::uint16_t v) {
    p[0] = std::uint8_t(v >> 8);
    p[1] = std::uint8_t(v);
}

std::uint16_t tunnel_len(const NextHopOut& nh) {
    if (nh.deliver != steer::Deliver::ipip) return 0;
    return nh.tunnel_family == packet::Family::v4 ? 20 : 40;
}

std::uint8_t* write_tunnel(std::uint8_t* p, const NextHopOut& nh, packet::Family inner,
                           std::uint16_t inner_len) {
    const std::uint8_t proto = inner == packet::Family::v4 ? proto_ipip : proto_ipv6;
    if (nh.tunnel_family == packet::Family::v4) {
        std::memset(p, 0, 20);
        p[0] = 0x45;
        put16(p + 2, std::uint16_t(20 + inner_len));
        put16(p + 6, 0x4000); // DF: the PTB itself is small, never fragment it
        p[8] = 64;
        p[9] = proto;
        std::memcpy(p + 12, nh.tunnel_src.b.data(), 4);
        std::memcpy(p + 16, nh.tunnel_dst.b.data(), 4);
        // rte_ipv4_cksum returns the sum in the header's own byte order: store it as is.
        const std::uint16_t sum = rte_ipv4_cksum(reinterpret_cast<const rte_ipv4_hdr*>(p));
        std::memcpy(p + 10, &sum, 2);
        return p + 20;
    }
    std::memset(p, 0, 40);
    p[0] = 0x60;
    put16(p + 4, inner_len);
    p[6] = proto;
    p[7] = 64;
    std::memcpy(p + 8, nh.tunnel_src.b.data(), 16);
    std::memcpy(p + 24, nh.tunnel_dst.b.data(), 16);
    return p + 40;
}

} // namespace

void prepare_header(NextHopOut& nh) noexcept {
    nh.eth_len = std::uint8_t(eth_len + (nh.vlan_tci ? vlan_len : 0));
    nh.header_len = std::uint8_t(nh.eth_len + tunnel_len(nh));
    for (const packet::Family inner : {packet::Family::v4, packet::Family::v6}) {
        std::uint8_t* p = nh.eth_header[inner == packet::Family::v4 ? 0 : 1].data();
        std::memcpy(p, nh.dst_mac.data(), 6);
        std::memcpy(p + 6, nh.src_mac.data(), 6);
        p += 12;
        if (nh.vlan_tci) {
            put16(p, 0x8100);
            put16(p + 2, nh.vlan_tci);
            p += 4;
        }
        const packet::Family outer = nh.deliver == steer::Deliver::ipip ? nh.tunnel_family : inner;
        put16(p, outer == packet::Family::v4 ? 0x0800 : 0x86dd);
    }
}

void write_header(std::uint8_t* p, const NextHopOut& nh, packet::Family inner,
                  std::uint16_t inner_len) noexcept {
    // The MACs, then the last 8 bytes (the tag if any, and the EtherType): two fixed-size copies
    // that together cover 14 or 18 bytes.
    const std::uint8_t* h = nh.eth_header[inner == packet::Family::v4 ? 0 : 1].data();
    std::memcpy(p, h, 12);
    std::memcpy(p + nh.eth_len - 8, h + nh.eth_len - 8, 8);
    if (nh.deliver == steer::Deliver::ipip) write_tunnel(p + nh.eth_len, nh, inner, inner_len);
}

bool rewrite_for(rte_mbuf* m, std::uint16_t l3_offset, const NextHopOut& nh,
                 packet::Family inner) noexcept {
    const std::uint16_t want = nh.header_len;
    if (want > l3_offset) {
        if (!rte_pktmbuf_prepend(m, std::uint16_t(want - l3_offset))) return false;
    } else if (want < l3_offset) {
        rte_pktmbuf_adj(m, std::uint16_t(l3_offset - want));
    }
    write_header(rte_pktmbuf_mtod(m, std::uint8_t*), nh, inner,
                 std::uint16_t(rte_pktmbuf_pkt_len(m) - want));
    return true;
}

rte_mbuf* copy_for(rte_mbuf* payload, rte_mempool* pool, const NextHopOut& nh,
                   packet::Family inner) noexcept {
    rte_mbuf* hdr = rte_pktmbuf_alloc(pool);
    if (!hdr) return nullptr;
    const std::uint16_t len = nh.header_len;
    auto* p = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(hdr, len));
    rte_mbuf* clone = p ? rte_pktmbuf_clone(payload, pool) : nullptr;
    if (!clone || rte_pktmbuf_chain(hdr, clone) != 0) {
        rte_pktmbuf_free(hdr);
        if (clone) rte_pktmbuf_free(clone);
        return nullptr;
    }
    write_header(p, nh, inner, std::uint16_t(rte_pktmbuf_pkt_len(payload)));
    return hdr;
}

} // namespace ptbsteer::datapath
