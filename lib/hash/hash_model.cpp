// Hash models: Linux multipath hash, RSS Toeplitz, CRC32C. See docs/hashing.md for exactly
// which bytes each hashes.
#include "hash/hash_model.h"

#include <fmt/format.h>

#include <bit>
#include <cstring>
#include <stdexcept>

#include "hash/crc32c.h"
#include "hash/jhash.h"
#include "hash/linux_flow_keys.h"
#include "hash/toeplitz.h"

namespace ptbsteer::hash {

namespace {

using packet::Family;
using packet::FlowKey;

constexpr std::uint32_t port_fields = src_port | dst_port;
constexpr std::uint32_t outer_fields = 0x3f; // FIB_MULTIPATH_HASH_FIELD_OUTER_MASK

std::size_t addr_len(const FlowKey& k) {
    return k.family == Family::v4 ? 4 : 16;
}

void append(std::uint8_t* buf, std::size_t& n, const void* p, std::size_t len) {
    std::memcpy(buf + n, p, len);
    n += len;
}
void append_be16(std::uint8_t* buf, std::size_t& n, std::uint16_t v) {
    buf[n++] = static_cast<std::uint8_t>(v >> 8);
    buf[n++] = static_cast<std::uint8_t>(v);
}

// RSS input (Microsoft "RSS hashing functions"): source address, destination address, then
// source port, destination port, all in network byte order. NICs use the 4-tuple only for
// packets that have ports (TCP, UDP, SCTP); every other packet gets the 2-tuple hash.
std::uint32_t toeplitz_hash(const FlowKey& k, std::uint32_t fields,
                            const std::array<std::uint8_t, 40>& key) noexcept {
    std::uint8_t buf[36];
    std::size_t n = 0;
    if (fields & src_ip) append(buf, n, k.src.b.data(), addr_len(k));
    if (fields & dst_ip) append(buf, n, k.dst.b.data(), addr_len(k));
    if (k.l4 == packet::L4::ports) {
        if (fields & src_port) append_be16(buf, n, k.sport);
        if (fields & dst_port) append_be16(buf, n, k.dport);
    }
    return toeplitz(std::span<const std::uint8_t, 40>(key), std::span(buf, n));
}

// CRC32C input: the selected fields in this order, network byte order, nothing between them:
// src addr (4|16), dst addr (4|16), protocol (1), IPv6 flow label (4, the 20-bit label
// big-endian), src port (2), dst port (2). Ports are 0 for portless protocols and the SPI
// halves for ESP/AH, as in the Linux model. The result is the raw CRC register (no final XOR).
// Each field goes straight into the CRC register (crc32c_u*: the bytes of an integer in
// little-endian = memory order), which equals the CRC of the concatenated byte string.
std::uint32_t crc_addr(std::uint32_t crc, const FlowKey& k, const packet::IpAddr& a) noexcept {
    const std::uint8_t* p = a.b.data();
    if (k.family == Family::v4) {
        std::uint32_t w;
        std::memcpy(&w, p, 4);
        return crc32c_u32(crc, w);
    }
    std::uint64_t lo, hi;
    std::memcpy(&lo, p, 8);
    std::memcpy(&hi, p + 8, 8);
    return crc32c_u64(crc32c_u64(crc, lo), hi);
}

std::uint32_t crc32c_hash(const FlowKey& k, std::uint32_t fields, std::uint32_t seed) noexcept {
    static_assert(std::endian::native == std::endian::little, "field bytes fed little-endian");
    std::uint32_t crc = seed;
    if (fields & src_ip) crc = crc_addr(crc, k, k.src);
    if (fields & dst_ip) crc = crc_addr(crc, k, k.dst);
    if (fields & ip_proto) crc = crc32c_u8(crc, k.proto);
    if (k.family == Family::v6 && (fields & flow_label))
        crc = crc32c_u32(crc, __builtin_bswap32(k.flow_label & 0xFFFFF));
    const bool have_ports = packet::ports_known(k.l4);
    if (fields & src_port) crc = crc32c_u16(crc, __builtin_bswap16(have_ports ? k.sport : 0));
    if (fields & dst_port) crc = crc32c_u16(crc, __builtin_bswap16(have_ports ? k.dport : 0));
    return crc;
}

std::string fields_string(std::uint32_t f) {
    std::string s;
    auto add = [&](std::uint32_t bit, const char* name) {
        if (!(f & bit)) return;
        if (!s.empty()) s += ',';
        s += name;
    };
    add(src_ip, "src_ip");
    add(dst_ip, "dst_ip");
    add(ip_proto, "proto");
    add(flow_label, "flow_label");
    add(src_port, "src_port");
    add(dst_port, "dst_port");
    return s.empty() ? std::string("none") : s;
}

} // namespace

std::array<std::uint8_t, 40> default_rss_key() {
    // Microsoft RSS specification's sample key (also the Intel 82599 datasheet's).
    return {0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
            0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
            0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};
}

std::array<std::uint8_t, 40> symmetric_rss_key() {
    // A key with a 16-bit period makes the hash of (a, b) equal that of (b, a): swapping two
    // 16-bit-aligned fields of the input shifts their bits by a multiple of 16 key bits.
    std::array<std::uint8_t, 40> k{};
    for (std::size_t i = 0; i < k.size(); i += 2) {
        k[i] = 0x6d;
        k[i + 1] = 0x5a;
    }
    return k;
}

Model Model::linux_kernel(const LinuxParams& p) {
    if (p.policy != 0 && p.policy != 1 && p.policy != 3)
        throw std::invalid_argument(
            fmt::format("linux hash: policy {} is not modelled (0, 1 or 3)", p.policy));
    if (p.seed == 0)
        throw std::invalid_argument(
            "linux hash: fib_multipath_hash_seed 0 means a random boot-time seed; set one");
    Model m;
    m.kind_ = ModelKind::linux_kernel;
    m.policy_ = p.policy;
    m.fields_ = p.policy == 3 ? (p.fields & outer_fields) : 0;
    m.seed_ = p.seed;
    m.linux_key_ = linux_hash_key(p.seed);
    m.needs_ports_ = p.policy == 1 || (p.policy == 3 && (m.fields_ & port_fields));
    m.hash_ = p.policy == 0 ? hash_linux_p0 : p.policy == 1 ? hash_linux_p1 : hash_linux_p3;
    // Policy 3 without an outer field hashes nothing (hash_linux_p3): no lane to fill.
    if (p.policy == 0) m.lane_ = linux_flow_lane<0>;
    if (p.policy == 1) m.lane_ = linux_flow_lane<1>;
    if (p.policy == 3 && (m.fields_ & outer_fields)) m.lane_ = linux_flow_lane<3>;
    return m;
}

Model Model::toeplitz(const ToeplitzParams& p) {
    Model m;
    m.kind_ = ModelKind::toeplitz;
    m.fields_ = p.fields & (src_ip | dst_ip | port_fields);
    m.rss_key_ = p.key;
    m.needs_ports_ = (m.fields_ & port_fields) != 0;
    m.hash_ = hash_toeplitz;
    return m;
}

Model Model::crc32c(const Crc32cParams& p) {
    Model m;
    m.kind_ = ModelKind::crc32c;
    m.fields_ = p.fields & outer_fields;
    m.seed_ = p.seed;
    m.needs_ports_ = (m.fields_ & port_fields) != 0;
    m.hash_ = hash_crc32c;
    return m;
}

// The Linux model. Forwarding path only: ip_mkroute_input() calls
// fib_multipath_hash(net, fl4 = NULL, skb, ...), so fib_multipath_hash's trailing
// `jhash_2words(mhash, fl4->flowi4_multipath_hash, 0)` never applies to a forwarded packet
// (flowi4_multipath_hash is only non-zero for locally generated traffic of some tunnels);
// rt6_multipath_hash has no such step. Policy 3 with an skb
// (fib_multipath_custom_hash_skb / rt6_multipath_custom_hash_skb) returns
// jhash_2words(outer, inner, 0), and inner is 0 for a packet without encapsulation.
std::uint32_t Model::hash_linux_p0(const Model& m, const FlowKey& k) noexcept {
    return linux_flow_hash_fixed<0>(k, m.fields_, m.linux_key_);
}
std::uint32_t Model::hash_linux_p1(const Model& m, const FlowKey& k) noexcept {
    return linux_flow_hash_fixed<1>(k, m.fields_, m.linux_key_);
}
std::uint32_t Model::hash_linux_p3(const Model& m, const FlowKey& k) noexcept {
    // The kernel skips the outer hash when no outer field is set.
    const std::uint32_t outer =
        (m.fields_ & outer_fields) ? linux_flow_hash_fixed<3>(k, m.fields_, m.linux_key_) : 0;
    return jhash_2words(outer, 0, 0);
}
std::uint32_t Model::hash_toeplitz(const Model& m, const FlowKey& k) noexcept {
    return toeplitz_hash(k, m.fields_, m.rss_key_);
}
std::uint32_t Model::hash_crc32c(const Model& m, const FlowKey& k) noexcept {
    return crc32c_hash(k, m.fields_, m.seed_);
}

std::string Model::describe() const {
    switch (kind_) {
    case ModelKind::linux_kernel:
        if (policy_ == 3)
            return fmt::format("linux policy 3 fields {:#x} ({}) seed {:#010x}", fields_,
                               fields_string(fields_), seed_);
        return fmt::format("linux policy {} seed {:#010x}", policy_, seed_);
    case ModelKind::toeplitz: {
        std::string key;
        for (std::uint8_t b : rss_key_)
            key += fmt::format("{:02x}", b);
        return fmt::format("toeplitz fields {} key {}", fields_string(fields_), key);
    }
    case ModelKind::crc32c:
        return fmt::format("crc32c fields {} init {:#010x} (no final xor)", fields_string(fields_),
                           seed_);
    }
    return "unknown";
}

} // namespace ptbsteer::hash
