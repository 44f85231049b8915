// The RFC 1071 one's-complement sum over a buffer: the body of every Internet checksum ptbsteer
// verifies. It runs over a PTB's whole quote (up to 548 bytes for IPv4, 1232 for IPv6), which
// made it the largest per-packet cost of the decision path; so there are SIMD versions, chosen
// once for the CPU at program start.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace ptbsteer::guard {

// Adds the 16-bit words of [p, p + n) to `sum`, in native byte order (RFC 1071 §2(B): the sum
// is independent of byte order, so callers fold and compare in native order too). An odd last
// byte is padded with a zero byte (RFC 1071 §1). The result is not folded: callers fold it to
// 16 bits; it is below 2^34, so it can be passed on as the `sum` of the next call. `sum` must be
// below 2^48 so that nothing overflows for any n below 64 KiB. Defined below.
inline std::uint64_t ones_sum(const std::uint8_t* p, std::size_t n, std::uint64_t sum) noexcept;

// A 16-bit host-order value (a length or protocol number of a pseudo-header) as the native-order
// word ones_sum() would have read from its network-order bytes.
constexpr std::uint16_t ones_word(std::uint16_t host) noexcept {
    if constexpr (std::endian::native == std::endian::little)
        return std::uint16_t(host >> 8 | host << 8);
    return host;
}

// Folds a 64-bit sum to 16 bits with end-around carry.
constexpr std::uint16_t ones_fold(std::uint64_t sum) noexcept {
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return std::uint16_t(sum);
}

// The implementations, for tests and benchmarks: each must give the same folded sum.
namespace detail {
inline std::uint64_t load64(const std::uint8_t* p) noexcept {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}

// Adds v to acc, counting the carry out of bit 63 (an add and an add-with-carry on x86).
inline void add_carry(std::uint64_t& acc, std::uint64_t& carries, std::uint64_t v) noexcept {
    carries += __builtin_add_overflow(acc, v, &acc);
}

// Portable: whole 64-bit words, 32 bytes per step, with the carries out of bit 63 counted and
// added back at the end (end-around carry). That is the same sum modulo 0xffff, because
// 2^64 = 1 (mod 2^16 - 1) (RFC 1071 §2(C): the word size is free). Inline, so short sums (an
// IPv4 header, a minimal PTB's ICMP message, the IPv6 pseudo-header's addresses) cost a few
// instructions rather than a call.
inline std::uint64_t ones_sum_scalar(const std::uint8_t* p, std::size_t n,
                                     std::uint64_t sum) noexcept {
    std::uint64_t acc = sum, carries = 0;
    for (; n >= 32; p += 32, n -= 32) {
        add_carry(acc, carries, load64(p));
        add_carry(acc, carries, load64(p + 8));
        add_carry(acc, carries, load64(p + 16));
        add_carry(acc, carries, load64(p + 24));
    }
    for (; n >= 8; p += 8, n -= 8)
        add_carry(acc, carries, load64(p));
    std::uint64_t tail = 0;
    if (n >= 4) {
        std::uint32_t v;
        std::memcpy(&v, p, 4);
        tail += v;
        p += 4, n -= 4;
    }
    if (n >= 2) {
        std::uint16_t v;
        std::memcpy(&v, p, 2);
        tail += v;
        p += 2, n -= 2;
    }
    if (n) {
        const std::uint8_t last[2] = {p[0], 0}; // padded with a zero byte (RFC 1071 §1)
        std::uint16_t v;
        std::memcpy(&v, last, 2);
        tail += v;
    }
    add_carry(acc, carries, tail);
    std::uint64_t folded = acc + carries; // carries < 2^60: at most one more carry
    folded += folded < acc;
    // Below 2^33, as callers may go on adding to it (the contract of ones_sum above).
    return (folded & 0xffffffffu) + (folded >> 32);
}
#if defined(__x86_64__)
std::uint64_t ones_sum_avx2(const std::uint8_t* p, std::size_t n, std::uint64_t sum) noexcept;
bool cpu_has_avx2() noexcept;
std::uint64_t ones_sum_avx512(const std::uint8_t* p, std::size_t n, std::uint64_t sum) noexcept;
bool cpu_has_avx512bw() noexcept;
#endif
// Which one ones_sum() uses on this CPU for 64 bytes or more: "avx512", "avx2" or "scalar".
const char* ones_sum_impl() noexcept;
// That one, through a pointer chosen once at program start.
std::uint64_t ones_sum_dispatch(const std::uint8_t* p, std::size_t n, std::uint64_t sum) noexcept;
} // namespace detail

// Below 64 bytes (a minimal PTB's ICMP message) the vector versions would only run their scalar
// tail, so the scalar loop runs inline and the call is saved.
inline std::uint64_t ones_sum(const std::uint8_t* p, std::size_t n, std::uint64_t sum) noexcept {
    if (n < 64) return detail::ones_sum_scalar(p, n, sum);
    return detail::ones_sum_dispatch(p, n, sum);
}

} // namespace ptbsteer::guard
