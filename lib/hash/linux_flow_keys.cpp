// Linux's multipath flow keys and flow hash. Facts from net/ipv4/route.c, net/ipv6/route.c,
// include/net/ip_fib.h and net/core/flow_dissector.c (mainline, 6.x); see docs/hashing.md.
//
// Two implementations share one statement of WHAT the kernel copies per policy
// (select_fields): linux_flow_keys() writes it into the byte image of struct flow_keys (for
// tests and docs), linux_flow_hash_direct() packs it straight into the 64-bit SipHash words
// (per packet; see docs/performance.md for why).
#include "hash/linux_flow_keys.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "hash/hash_model.h"
#include "hash/siphash.h"
#include "hash/siphash_batch.h"

namespace ptbsteer::hash {

namespace {

// The layout, the consistentify comparisons and the word packing are x86_64's.
static_assert(std::endian::native == std::endian::little, "struct flow_keys is modelled on x86_64");

using L = LinuxKeyLayout;
using packet::Family;
using packet::FlowKey;

// The fields one policy copies into the (zeroed) flow_keys, before consistentify.
struct Selected {
    std::uint8_t proto = 0;  // basic.ip_proto
    std::uint32_t label = 0; // tags.flow_label, as its 4 bytes read little-endian
    bool src = false, dst = false;
    std::uint16_t sport = 0; // host order; 0 when not copied (the zeroed field)
    std::uint16_t dport = 0;
};

// The "ports" the flow dissector reports (__skb_flow_get_ports): the first 4 bytes at
// proto_ports_offset() for TCP/UDP/UDP-Lite/DCCP/SCTP/ESP/AH, 0 for every other protocol.
// packet::FlowKey already holds them (ESP/AH SPI halves included) when ports_known().
bool dissector_has_ports(packet::L4 l4) {
    return l4 == packet::L4::ports || l4 == packet::L4::spi;
}

// The flow label as the kernel stores it. Policy 0 (ip6_multipath_l3_keys) copies
// ip6_flowlabel(iph): the first 4 header bytes masked with htonl(0x000FFFFF), i.e. the label in
// network byte order. The flow dissector (policies 1-3) stores ntohl() of it: host order
// (x86_64 is little-endian, so the host-order u32 read little-endian is the label itself).
std::uint32_t stored_label(std::uint32_t label, bool network_order) {
    label &= 0xFFFFF;
    return network_order ? __builtin_bswap32(label) : label;
}

// Policy 0. IPv4 (ip_multipath_l3_keys): addresses only, ip_proto stays 0. IPv6
// (ip6_multipath_l3_keys, reached with flkeys == NULL from fib6_select_path for a non-ICMPv6
// packet): addresses, network-order flow label, and the fixed header's Next Header.
Selected select_policy0(const FlowKey& k) {
    Selected s;
    s.src = s.dst = true;
    if (k.family == Family::v6) {
        s.label = stored_label(k.flow_label, /*network_order=*/true);
        s.proto = k.first_nexthdr;
    }
    return s;
}

// Policy 1 with an skb but no skb->l4_hash: the dissected addresses, final L4 protocol, ports.
Selected select_policy1(const FlowKey& k) {
    Selected s;
    s.src = s.dst = true;
    s.proto = k.proto;
    if (dissector_has_ports(k.l4)) {
        s.sport = k.sport;
        s.dport = k.dport;
    }
    return s;
}

// Policy 3, outer part (fib_multipath_custom_hash_outer / rt6_multipath_custom_hash_outer):
// only the selected dissected fields; the flow label (IPv6 only) in host order.
Selected select_policy3(const FlowKey& k, std::uint32_t fields) {
    Selected s;
    s.src = fields & src_ip;
    s.dst = fields & dst_ip;
    if (fields & ip_proto) s.proto = k.proto;
    if (k.family == Family::v6 && (fields & flow_label))
        s.label = stored_label(k.flow_label, /*network_order=*/false);
    if (dissector_has_ports(k.l4)) {
        if (fields & src_port) s.sport = k.sport;
        if (fields & dst_port) s.dport = k.dport;
    }
    return s;
}

// Always inlined: the Selected fields then stay in registers (as a call: ~30 instructions).
[[gnu::always_inline]] inline Selected select_fields(const FlowKey& k, std::uint8_t policy,
                                                     std::uint32_t fields) {
    switch (policy) {
    case 0: return select_policy0(k);
    case 1: return select_policy1(k);
    default: return select_policy3(k, fields);
    }
}

// --- the byte image ---------------------------------------------------------------------------

void put_be16(LinuxKeyImage& img, std::size_t off, std::uint16_t v) {
    img.bytes[off] = static_cast<std::uint8_t>(v >> 8);
    img.bytes[off + 1] = static_cast<std::uint8_t>(v);
}

void put_le32(LinuxKeyImage& img, std::size_t off, std::uint32_t v) {
    for (int i = 0; i < 4; ++i)
        img.bytes[off + i] = static_cast<std::uint8_t>(v >> (8 * i));
}

void put_addrs(LinuxKeyImage& img, const FlowKey& k, bool src, bool dst) {
    const std::size_t n = k.family == Family::v4 ? 4 : 16;
    const std::size_t dst_off = k.family == Family::v4 ? L::v4_dst : L::v6_dst;
    if (src) std::memcpy(&img.bytes[L::src], k.src.b.data(), n);
    if (dst) std::memcpy(&img.bytes[dst_off], k.dst.b.data(), n);
}

std::uint32_t load_le32(const std::uint8_t* p) {
    return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 |
           std::uint32_t{p[3]} << 24;
}
std::uint16_t load_le16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>(p[0] | p[1] << 8);
}

// --- the direct words -------------------------------------------------------------------------

// The SipHash state after the image's first three words: w0 (bytes 8..15), then vlan and cvlan
// (bytes 16..31), which this path never sets.
detail::SipState state_after_head(std::uint64_t k0, std::uint64_t k1, std::uint64_t w0) {
    detail::SipState s = detail::sip_init(k0, k1);
    s.compress(w0);
    s.compress(0);
    s.compress(0);
    return s;
}

// LinuxHashKey::midstate_protos as a lookup table (-1: none), so picking a midstate does not
// branch on the protocol, which alternates between TCP and UDP in real traffic.
constexpr std::array<std::int8_t, 256> midstate_slot = [] {
    std::array<std::int8_t, 256> t{};
    t.fill(-1);
    for (std::size_t i = 0; i < std::size(LinuxHashKey::midstate_protos); ++i)
        t[LinuxHashKey::midstate_protos[i]] = static_cast<std::int8_t>(i);
    return t;
}();

std::uint64_t load_native64(const std::uint8_t* p) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}
std::uint32_t load_native32(const std::uint8_t* p) {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

template <class T>
void sort_pair(T& lo, T& hi, bool swap) {
    const T a = lo, b = hi;
    lo = swap ? b : a; // selects, not branches: the outcome is a coin flip per flow
    hi = swap ? a : b;
}

} // namespace

LinuxKeyImage linux_flow_keys(const FlowKey& k, std::uint8_t policy,
                              std::uint32_t fields) noexcept {
    LinuxKeyImage img; // zeroed, as the kernel's memset(&hash_keys, 0, ...)
    img.family = k.family;
    const Selected s = select_fields(k, policy, fields);
    put_addrs(img, k, s.src, s.dst);
    img.bytes[L::ip_proto] = s.proto;
    put_le32(img, L::flow_label, s.label);
    put_be16(img, L::sport, s.sport);
    put_be16(img, L::dport, s.dport);
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

LinuxHashKey linux_hash_key(std::uint32_t seed) noexcept {
    LinuxHashKey key;
    key.k0 = key.k1 = linux_siphash_key_word(seed);
    for (std::size_t i = 0; i < key.mid.size(); ++i) {
        const std::uint64_t w0 = std::uint64_t{LinuxHashKey::midstate_protos[i]} << 16;
        const detail::SipState s = state_after_head(key.k0, key.k1, w0);
        key.mid[i] = {s.v0, s.v1, s.v2, s.v3};
    }
    return key;
}

// The words of the image (LinuxKeyLayout) read little-endian, as siphash24 reads them:
//   w0 = bytes  8..15: n_proto (0 here), ip_proto, padding, flow_label
//   w1, w2 = bytes 16..31: vlan, cvlan (0)
//   w3 = bytes 32..39: keyid (0), ports.src, ports.dst (big-endian in memory)
//   w4 = bytes 40..47: icmp (0), the first 4 bytes of the source address
//   then the rest of the addresses; IPv4 ends with 4 zero bytes (48 bytes hashed), IPv6 with
//   4 bytes of tail padding (72 bytes hashed). Both lengths are multiples of 8, so the last
//   SipHash word is the length alone.
// Consistentify is done on the loaded values exactly as linux_consistentify compares them.
// The state after w0..w2 goes to sink.start(), each word from w3 on to sink.word(), the length
// word to sink.last(): compressed at once (linux_flow_hash_fixed) or put in a SIMD lane
// (linux_flow_lane). Always inlined with the sink, so either way the words stay in registers.
template <std::uint8_t Policy, class Sink>
[[gnu::always_inline]] inline void linux_words(const FlowKey& k, std::uint32_t fields,
                                               const LinuxHashKey& key, Sink& sink) {
    // A constant policy: select_fields() folds to that policy's copies, so a policy-1 hash
    // neither branches on the policy nor tests which fields to take.
    const Selected f = select_fields(k, Policy, fields);

    const std::uint64_t w0 = std::uint64_t{f.proto} << 16 | std::uint64_t{f.label} << 32;
    const std::int8_t slot = midstate_slot[f.proto];
    if (f.label == 0 && slot >= 0) {
        const auto& m = key.mid[static_cast<std::size_t>(slot)];
        sink.start({m[0], m[1], m[2], m[3]});
    } else {
        sink.start(state_after_head(key.k0, key.k1, w0));
    }

    // Ports: big-endian in the image, compared as little-endian u16 loads.
    std::uint16_t sp = __builtin_bswap16(f.sport), dp = __builtin_bswap16(f.dport);
    sort_pair(sp, dp, dp < sp);
    sink.word(0, (std::uint64_t{sp} | std::uint64_t{dp} << 16) << 32);

    const std::uint8_t* src = k.src.b.data();
    const std::uint8_t* dst = k.dst.b.data();
    if (k.family == Family::v4) {
        std::uint32_t a = f.src ? load_native32(src) : 0;
        std::uint32_t b = f.dst ? load_native32(dst) : 0;
        sort_pair(a, b, b < a);
        sink.word(1, std::uint64_t{a} << 32);
        sink.word(2, b);
        sink.last(3, std::uint64_t{48} << 56);
        return;
    }
    // IPv6: memcmp order is the big-endian order of each 8-byte half.
    std::uint64_t a_lo = f.src ? load_native64(src) : 0, a_hi = f.src ? load_native64(src + 8) : 0;
    std::uint64_t b_lo = f.dst ? load_native64(dst) : 0, b_hi = f.dst ? load_native64(dst + 8) : 0;
    const std::uint64_t a0 = __builtin_bswap64(a_lo), b0 = __builtin_bswap64(b_lo);
    const bool swap = b0 < a0 || (b0 == a0 && __builtin_bswap64(b_hi) < __builtin_bswap64(a_hi));
    sort_pair(a_lo, b_lo, swap);
    sort_pair(a_hi, b_hi, swap);
    sink.word(1, a_lo << 32);              // icmp, src[0..3]
    sink.word(2, a_lo >> 32 | a_hi << 32); // src[4..11]
    sink.word(3, a_hi >> 32 | b_lo << 32); // src[12..15], dst[0..3]
    sink.word(4, b_lo >> 32 | b_hi << 32); // dst[4..11]
    sink.word(5, b_hi >> 32);              // dst[12..15], padding
    sink.last(6, std::uint64_t{72} << 56);
}

// The sink that hashes: every word compressed as it comes.
struct Compress {
    detail::SipState s{};
    std::uint32_t hash = 0;
    void start(const detail::SipState& from) { s = from; }
    void word(std::size_t, std::uint64_t w) { s.compress(w); }
    void last(std::size_t, std::uint64_t w) {
        hash = linux_hash_from_sip(detail::sip_finish(s, w));
    }
};

// The sink that fills lane j.
struct Lane {
    SipLanes& l;
    std::size_t j;
    void start(const detail::SipState& s) {
        l.v[0][j] = s.v0;
        l.v[1][j] = s.v1;
        l.v[2][j] = s.v2;
        l.v[3][j] = s.v3;
    }
    void word(std::size_t i, std::uint64_t w) { l.m[i][j] = w; }
    void last(std::size_t i, std::uint64_t w) { l.m[i][j] = w; }
};

template <std::uint8_t Policy>
std::uint32_t linux_flow_hash_fixed(const FlowKey& k, std::uint32_t fields,
                                    const LinuxHashKey& key) noexcept {
    Compress c;
    linux_words<Policy>(k, fields, key, c);
    return c.hash;
}

template <std::uint8_t Policy>
void linux_flow_lane(const FlowKey& k, std::uint32_t fields, const LinuxHashKey& key,
                     SipLanes& lanes, std::size_t j) noexcept {
    Lane sink{lanes, j};
    linux_words<Policy>(k, fields, key, sink);
}

template std::uint32_t linux_flow_hash_fixed<0>(const FlowKey&, std::uint32_t,
                                                const LinuxHashKey&) noexcept;
template std::uint32_t linux_flow_hash_fixed<1>(const FlowKey&, std::uint32_t,
                                                const LinuxHashKey&) noexcept;
template std::uint32_t linux_flow_hash_fixed<3>(const FlowKey&, std::uint32_t,
                                                const LinuxHashKey&) noexcept;
template void linux_flow_lane<0>(const FlowKey&, std::uint32_t, const LinuxHashKey&, SipLanes&,
                                 std::size_t) noexcept;
template void linux_flow_lane<1>(const FlowKey&, std::uint32_t, const LinuxHashKey&, SipLanes&,
                                 std::size_t) noexcept;
template void linux_flow_lane<3>(const FlowKey&, std::uint32_t, const LinuxHashKey&, SipLanes&,
                                 std::size_t) noexcept;

std::uint32_t linux_flow_hash_direct(const FlowKey& k, std::uint8_t policy, std::uint32_t fields,
                                     const LinuxHashKey& key) noexcept {
    switch (policy) {
    case 0: return linux_flow_hash_fixed<0>(k, fields, key);
    case 1: return linux_flow_hash_fixed<1>(k, fields, key);
    default: return linux_flow_hash_fixed<3>(k, fields, key);
    }
}

} // namespace ptbsteer::hash
