// Bob Jenkins' lookup3 hash for exactly two 32-bit words, as the Linux kernel defines
// jhash_2words() in include/linux/jhash.h: a = x + c0, b = y + c0, c = c0 with
// c0 = initval + 0xdeadbeef + 8, then lookup3's final() mix, result c.
// Linux applies it in the policy-3 multipath hash (fib_multipath_custom_hash_skb,
// rt6_multipath_custom_hash_skb: jhash_2words(outer_hash, inner_hash, 0)).
#pragma once

#include <cstdint>

namespace ptbsteer::hash {

namespace detail {
constexpr std::uint32_t rotl32(std::uint32_t x, int b) {
    return (x << b) | (x >> (32 - b));
}
} // namespace detail

constexpr std::uint32_t jhash_2words(std::uint32_t x, std::uint32_t y,
                                     std::uint32_t initval) noexcept {
    constexpr std::uint32_t golden = 0xdeadbeef; // lookup3's (and Linux's JHASH_INITVAL)
    const std::uint32_t c0 = initval + golden + (2u << 2);
    std::uint32_t a = x + c0, b = y + c0, c = c0;
    // lookup3 final(): each line mixes one register into the next.
    // clang-format off
    c ^= b; c -= detail::rotl32(b, 14);
    a ^= c; a -= detail::rotl32(c, 11);
    b ^= a; b -= detail::rotl32(a, 25);
    c ^= b; c -= detail::rotl32(b, 16);
    a ^= c; a -= detail::rotl32(c, 4);
    b ^= a; b -= detail::rotl32(a, 14);
    c ^= b; c -= detail::rotl32(b, 24);
    // clang-format on
    return c;
}

} // namespace ptbsteer::hash
