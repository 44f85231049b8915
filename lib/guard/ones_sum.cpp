#include "guard/ones_sum.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ptbsteer::guard {
namespace detail {

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
        lo = _mm256_add_epi32(
            lo, _mm256_add_epi32(_mm256_and_si256(a, low16), _mm256_and_si256(b, low16)));
        hi = _mm256_add_epi32(hi,
                              _mm256_add_epi32(_mm256_srli_epi32(a, 16), _mm256_srli_epi32(b, 16)));
    }
    // lo + hi fits 32 bits per lane (both below 2^28); then the 8 lanes into 64 bits.
    const __m256i both = _mm256_add_epi32(lo, hi);
    const __m256i wide = _mm256_add_epi64(_mm256_and_si256(both, _mm256_set1_epi64x(0xffffffff)),
                                          _mm256_srli_epi64(both, 32));
    const __m128i half =
        _mm_add_epi64(_mm256_castsi256_si128(wide), _mm256_extracti128_si256(wide, 1));
    sum += std::uint64_t(_mm_cvtsi128_si64(half)) + std::uint64_t(_mm_extract_epi64(half, 1));
    return ones_sum_scalar(p, n, sum);
}

// 128 bytes per step in two 512-bit registers, the same low/high split as the AVX2 version;
// the last 0..127 bytes go through masked loads (zeros beyond the end, nothing read past it), so
// no scalar tail remains but the odd byte. AVX-512BW is needed for the byte-granular masks.
__attribute__((target("avx512f,avx512bw"), always_inline)) inline void
add_words512(__m512i& lo, __m512i& hi, __m512i v) noexcept {
    lo = _mm512_add_epi32(lo, _mm512_and_si512(v, _mm512_set1_epi32(0xffff)));
    hi = _mm512_add_epi32(
        hi, _mm512_maskz_srli_epi32(0xffff, v, 16)); // maskz: GCC 12 warns on the unmasked form
}

__attribute__((target("avx512f,avx512bw"))) std::uint64_t
ones_sum_avx512(const std::uint8_t* p, std::size_t n, std::uint64_t sum) noexcept {
    if (n < 64) return ones_sum_scalar(p, n, sum);
    __m512i lo = _mm512_setzero_si512();
    __m512i hi = _mm512_setzero_si512();
    for (; n >= 128; p += 128, n -= 128) {
        add_words512(lo, hi, _mm512_loadu_si512(p));
        add_words512(lo, hi, _mm512_loadu_si512(p + 64));
    }
    if (n >= 64) {
        add_words512(lo, hi, _mm512_loadu_si512(p));
        p += 64, n -= 64;
    }
    const std::size_t even = n & ~std::size_t{1};
    if (even)
        add_words512(lo, hi,
                     _mm512_maskz_loadu_epi8(_cvtu64_mask64((std::uint64_t{1} << even) - 1), p));
    const __m512i both = _mm512_add_epi32(lo, hi); // each lane below 2^28, as in the AVX2 version
    alignas(64) std::uint32_t lanes[16];
    _mm512_store_si512(lanes, both); // (GCC 12's reduce/extract intrinsics trip -Werror)
    for (const std::uint32_t v : lanes)
        sum += v;
    return ones_sum_scalar(p + even, n - even, sum);
}

bool cpu_has_avx512bw() noexcept {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
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
    if (cpu_has_avx512bw())
        chosen = {ones_sum_avx512, "avx512"};
    else if (cpu_has_avx2())
        chosen = {ones_sum_avx2, "avx2"};
#endif
    return true;
}();

} // namespace

const char* ones_sum_impl() noexcept {
    return chosen.name;
}

std::uint64_t ones_sum_dispatch(const std::uint8_t* p, std::size_t n, std::uint64_t sum) noexcept {
    return chosen.fn(p, n, sum);
}

} // namespace detail

} // namespace ptbsteer::guard
