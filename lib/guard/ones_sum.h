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
// 16 bits. `sum` must be below 2^48 so that nothing overflows for any n below 64 KiB.
std::uint64_t ones_sum(const std::uint8_t* p, std::size_t n, std::uint64_t sum) noexcept;

// A 16-bit host-order value (a length or protocol number of a pseudo-header) as the native-order
// word ones_sum() would have read from its network-order bytes.
constexpr std::uint16_t ones_word(std::uint16_t host) noexcept {
    if constexpr (std::endian::native == std::endian::little)
        return std::uint16_t(host >> 8 | host << 8);
    return host;
}

// Folds a 64-bit sum to 16 bits with end-around carry.
constexpr std::uint16_t ones_fold(std::uint64_t sum) noexcept {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return std::uint16_t(sum);
}

// The implementations, for tests and benchmarks: each must give the same folded sum.
namespace detail {
// Portable, 8 bytes per step: both 32-bit halves of a 64-bit word go into a 64-bit accumulator.
// Inline, so short fixed-size sums (an IPv4 header, the IPv6 pseudo-header's addresses) cost a
// few instructions rather than a call.
inline std::uint64_t ones_sum_scalar(const std::uint8_t* p, std::size_t n, std::uint64_t sum) noexcept {
    for (; n >= 8; p += 8, n -= 8) {
        std::uint64_t v;
        std::memcpy(&v, p, 8);
        sum += (v & 0xffffffffu) + (v >> 32);
    }
    if (n >= 4) {
        std::uint32_t v;
        std::memcpy(&v, p, 4);
        sum += v;
        p += 4, n -= 4;
    }
    if (n >= 2) {
        std::uint16_t v;
        std::memcpy(&v, p, 2);
        sum += v;
        p += 2, n -= 2;
    }
    if (n) {
        const std::uint8_t last[2] = {p[0], 0}; // padded with a zero byte (RFC 1071 §1)
        std::uint16_t v;
        std::memcpy(&v, last, 2);
        sum += v;
    }
    return sum;
}
#if defined(__x86_64__)
std::uint64_t ones_sum_avx2(const std::uint8_t* p, std::size_t n, std::uint64_t sum) noexcept;
bool cpu_has_avx2() noexcept;
std::uint64_t ones_sum_avx512(const std::uint8_t* p, std::size_t n, std::uint64_t sum) noexcept;
bool cpu_has_avx512bw() noexcept;
#endif
// Which one ones_sum() uses on this CPU: "avx512", "avx2" or "scalar".
const char* ones_sum_impl() noexcept;
} // namespace detail

} // namespace ptbsteer::guard
