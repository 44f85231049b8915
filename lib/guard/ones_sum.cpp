#include "guard/ones_sum.h"

#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ptbsteer::guard {
namespace detail {

// 8 bytes per step: both 32-bit halves of a 64-bit word go into a 64-bit accumulator, which
// cannot overflow for any buffer below 64 KiB.
std::uint64_t ones_sum_scalar(const std::uint8_t* p, std::size_t n, std::uint64_t sum) noexcept {
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
// 64 bytes per step in two 256-bit registers. Each 32-bit lane holds two 16-bit words; the low
// words are added into one set of 32-bit accumulators and the high words into another, so a lane
// grows by at most 2 x 0xffff per step: 1,024 steps (64 KiB) stay below 2^28, far from overflow.
// Built for AVX2 whatever the project's -march; called only when the CPU has it.
__attribute__((target("avx2"))) std::uint64_t ones_sum_avx2(const std::uint8_t* p, std::size_t n,
                                                             std::uint64_t sum) noexcept {
    if (n < 64) return ones_sum_scalar(p, n, sum);
    const __m256i low16 = _mm256_set1_epi32(0xffff);
    __m256i lo = _mm256_setzero_si256();
    __m256i hi = _mm256_setzero_si256();
    for (; n >= 64; p += 64, n -= 64) {
        const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
        const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32));
        lo = _mm256_add_epi32(lo, _mm256_add_epi32(_mm256_and_si256(a, low16), _mm256_and_si256(b, low16)));
        hi = _mm256_add_epi32(hi, _mm256_add_epi32(_mm256_srli_epi32(a, 16), _mm256_srli_epi32(b, 16)));
    }
    // lo + hi fits 32 bits per lane (both below 2^28); then the 8 lanes into 64 bits.
    const __m256i both = _mm256_add_epi32(lo, hi);
    const __m256i wide = _mm256_add_epi64(_mm256_and_si256(both, _mm256_set1_epi64x(0xffffffff)),
                                          _mm256_srli_epi64(both, 32));
    const __m128i half = _mm_add_epi64(_mm256_castsi256_si128(wide), _mm256_extracti128_si256(wide, 1));
    sum += std::uint64_t(_mm_cvtsi128_si64(half)) + std::uint64_t(_mm_extract_epi64(half, 1));
    return ones_sum_scalar(p, n, sum);
}

bool cpu_has_avx2() noexcept {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
}
#endif

namespace {

using SumFn = std::uint64_t (*)(const std::uint8_t*, std::size_t, std::uint64_t) noexcept;

struct Choice {
    SumFn fn;
    const char* name;
};

// Constant-initialised to the portable version, so a caller during static initialisation gets a
// correct sum; upgraded once before main() for the CPU at hand. Per packet: one well-predicted
// indirect call.
Choice chosen{ones_sum_scalar, "scalar"};

[[maybe_unused]] const bool upgraded = [] {
#if defined(__x86_64__)
    if (cpu_has_avx2()) chosen = {ones_sum_avx2, "avx2"};
#endif
    return true;
}();

} // namespace

const char* ones_sum_impl() noexcept { return chosen.name; }

} // namespace detail

std::uint64_t ones_sum(const std::uint8_t* p, std::size_t n, std::uint64_t sum) noexcept {
    return detail::chosen.fn(p, n, sum);
}

} // namespace ptbsteer::guard
