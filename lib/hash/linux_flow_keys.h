// The byte image of the Linux kernel's `struct flow_keys` (include/net/flow_dissector.h, x86_64)
// as fib_multipath_hash / rt6_multipath_hash fill it on the FORWARDING path, and the flow hash
// the kernel computes over it (__flow_hash_from_keys, net/core/flow_dissector.c).
// Exposed separately from Model so tests can check the image byte by byte.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "packet/flow_key.h"

namespace ptbsteer::hash {

// Offsets in struct flow_keys (80 bytes, 8-byte aligned for siphash). The hash covers the
// bytes from `basic` (offset 8) to the end of the address family's addresses, rounded so that
// flow_keys_hash_length() = sizeof(flow_keys) - 8 - (sizeof(addrs) - sizeof(v4/v6 addrs)).
struct LinuxKeyLayout {
    static constexpr std::size_t size = 80;
    static constexpr std::size_t hash_start = 8;  // basic.n_proto
    static constexpr std::size_t ip_proto = 10;   // basic.ip_proto
    static constexpr std::size_t flow_label = 12; // tags.flow_label (u32, stored raw)
    static constexpr std::size_t sport = 36;      // ports.src (__be16)
    static constexpr std::size_t dport = 38;      // ports.dst (__be16)
    static constexpr std::size_t src = 44;        // addrs.v4addrs.src / v6addrs.src
    static constexpr std::size_t v4_dst = 48;
    static constexpr std::size_t v6_dst = 60;
    static constexpr std::size_t v4_hash_len = 48; // bytes 8..55 (4 zero bytes after the addrs)
    static constexpr std::size_t v6_hash_len = 72; // bytes 8..79 (4 bytes of tail padding)
};

struct LinuxKeyImage {
    alignas(8) std::array<std::uint8_t, LinuxKeyLayout::size> bytes{};
    packet::Family family = packet::Family::v4;

    std::size_t hash_len() const noexcept {
        return family == packet::Family::v4 ? LinuxKeyLayout::v4_hash_len
                                            : LinuxKeyLayout::v6_hash_len;
    }
    std::span<const std::uint8_t> hashed() const noexcept {
        return {bytes.data() + LinuxKeyLayout::hash_start, hash_len()};
    }
};

// The keys the kernel builds for a client->server packet it forwards (skb present, no skb L4
// hash, not an ICMP error, no encapsulation) under `policy` 0, 1 or 3 (`fields` = the
// fib_multipath_hash_fields bits, policy 3 only). Before __flow_hash_consistentify.
LinuxKeyImage linux_flow_keys(const packet::FlowKey& k, std::uint8_t policy,
                              std::uint32_t fields) noexcept;

// __flow_hash_consistentify: makes the image direction-independent, in place.
void linux_consistentify(LinuxKeyImage& img) noexcept;

// __flow_hash_from_keys after consistentify: SipHash-2-4 of the hashed bytes, truncated to
// 32 bits; 0 becomes 1.
std::uint32_t linux_flow_hash(const LinuxKeyImage& img, std::uint64_t k0,
                              std::uint64_t k1) noexcept;

// fib_multipath_hash_construct_key (include/net/ip_fib.h): the 32-bit seed fills both halves
// of both 64-bit key words.
constexpr std::uint64_t linux_siphash_key_word(std::uint32_t seed) {
    return (std::uint64_t{seed} << 32) | seed;
}

// The fast path's form of the SipHash key: the key words plus SipHash midstates. Every hashed
// image starts with three words of which only the first (basic + tags: ip_proto, flow label)
// can be non-zero (vlan and cvlan are never set on this path), so for the common first words
// (ip_proto 0, TCP or UDP, no flow label) the state after those three words depends on the
// seed alone and is computed once, saving 6 of the 18 (IPv4) or 24 (IPv6) SipRounds.
struct LinuxHashKey {
    static constexpr std::uint8_t midstate_protos[] = {0, 6, 17};
    std::uint64_t k0 = 0, k1 = 0;
    std::array<std::array<std::uint64_t, 4>, 3> mid{}; // v0..v3, per midstate_protos entry
};
LinuxHashKey linux_hash_key(std::uint32_t seed) noexcept;

// Equal to linux_flow_hash(img, key.k0, key.k1) of img = linux_flow_keys(k, policy, fields)
// after linux_consistentify(img), but computed from k's fields as 64-bit words, without
// building (and zeroing) the 80-byte image, for a policy known only at run time (tests).
std::uint32_t linux_flow_hash_direct(const packet::FlowKey& k, std::uint8_t policy,
                                     std::uint32_t fields, const LinuxHashKey& key) noexcept;

// The same with the policy (0, 1 or 3) fixed at compile time: Model::hash runs one of these,
// picked once when the model is built, so no packet branches on the policy.
template <std::uint8_t Policy>
std::uint32_t linux_flow_hash_fixed(const packet::FlowKey& k, std::uint32_t fields,
                                    const LinuxHashKey& key) noexcept;

struct SipLanes; // siphash_batch.h

// The same hash in a SIMD lane: lane j of `lanes` gets the SipHash state and the words
// linux_flow_hash_fixed() would compress, linux_lane_words(k.family) of them, so a burst's
// keys are hashed side by side (siphash24_batch_for()). Each family has its own lanes.
template <std::uint8_t Policy>
void linux_flow_lane(const packet::FlowKey& k, std::uint32_t fields, const LinuxHashKey& key,
                     SipLanes& lanes, std::size_t j) noexcept;
constexpr std::size_t linux_lane_words(packet::Family f) noexcept {
    return f == packet::Family::v4 ? 4 : 7;
}

// __flow_hash_from_keys' last step: the 64-bit SipHash truncated to 32 bits, 0 becoming 1.
constexpr std::uint32_t linux_hash_from_sip(std::uint64_t sip) noexcept {
    const auto h = static_cast<std::uint32_t>(sip);
    return h ? h : 1;
}

} // namespace ptbsteer::hash
