// SipHash-2-4 (Aumasson & Bernstein, "SipHash: a fast short-input PRF", 2012), 64-bit output.
// The Linux kernel's flow hash (__flow_hash_from_keys, net/core/flow_dissector.c) is this
// function truncated to 32 bits. Written from the paper; verified against the paper's test
// vectors in tests/unit/hash/primitives_test.cpp.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace ptbsteer::hash {

namespace detail {

constexpr std::uint64_t rotl64(std::uint64_t x, int b) {
    return (x << b) | (x >> (64 - b));
}

// Little-endian load of n <= 8 bytes (the paper reads message words little-endian).
inline std::uint64_t load_le(const std::uint8_t* p, std::size_t n) noexcept {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i)
        v |= std::uint64_t{p[i]} << (8 * i);
    return v;
}

// A whole little-endian word: one 8-byte load on a little-endian machine (the compiler turns
// the memcpy into a mov), instead of eight byte loads and shifts.
inline std::uint64_t load_le64(const std::uint8_t* p) noexcept {
    if constexpr (std::endian::native == std::endian::little) {
        std::uint64_t v;
        std::memcpy(&v, p, 8);
        return v;
    } else {
        return load_le(p, 8);
    }
}

struct SipState {
    std::uint64_t v0, v1, v2, v3;

    // One line per SipRound step, as the paper draws it.
    // clang-format off
    void round() noexcept {
        v0 += v1; v1 = rotl64(v1, 13); v1 ^= v0; v0 = rotl64(v0, 32);
        v2 += v3; v3 = rotl64(v3, 16); v3 ^= v2;
        v0 += v3; v3 = rotl64(v3, 21); v3 ^= v0;
        v2 += v1; v1 = rotl64(v1, 17); v1 ^= v2; v2 = rotl64(v2, 32);
    }
    // clang-format on
    void compress(std::uint64_t m) noexcept { // c = 2 rounds per message word
        v3 ^= m;
        round();
        round();
        v0 ^= m;
    }
};

// Initialisation constants: "somepseudorandomlygeneratedbytes" (paper §2.1).
constexpr SipState sip_init(std::uint64_t k0, std::uint64_t k1) noexcept {
    return {k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL, k0 ^ 0x6c7967656e657261ULL,
            k1 ^ 0x7465646279746573ULL};
}

// Compresses the last word (the trailing bytes with the length mod 256 in its top byte, built
// by the caller) and finalises: d = 4 rounds. Always inlined: as a call, the state would go
// through the stack (measured: ~20 extra instructions per hash).
[[gnu::always_inline]] inline std::uint64_t sip_finish(SipState s,
                                                       std::uint64_t last_word) noexcept {
    s.compress(last_word);
    s.v2 ^= 0xff;
    s.round();
    s.round();
    s.round();
    s.round();
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

} // namespace detail

// SipHash-2-4 of msg under the 128-bit key (k0, k1); k0 is key bytes 0..7 read little-endian.
inline std::uint64_t siphash24(std::uint64_t k0, std::uint64_t k1,
                               std::span<const std::uint8_t> msg) noexcept {
    detail::SipState s = detail::sip_init(k0, k1);
    const std::uint8_t* p = msg.data();
    const std::size_t n = msg.size();
    const std::size_t whole = n & ~std::size_t{7};
    for (std::size_t i = 0; i < whole; i += 8)
        s.compress(detail::load_le64(p + i));
    // Last word: remaining bytes, with the message length mod 256 in the top byte.
    return detail::sip_finish(s, detail::load_le(p + whole, n - whole) |
                                     (std::uint64_t{n & 0xff} << 56));
}

} // namespace ptbsteer::hash
