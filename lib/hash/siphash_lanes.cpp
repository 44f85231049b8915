#include "hash/siphash_lanes.h"

#include "hash/siphash.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ptbsteer::hash {
namespace detail {

void sip_finish_lanes_scalar(const SipLanes& l, std::size_t nwords, std::uint64_t last,
                             std::uint64_t out[SipLanes::lanes]) noexcept {
    for (std::size_t i = 0; i < SipLanes::lanes; ++i) {
        SipState s{l.v[0][i], l.v[1][i], l.v[2][i], l.v[3][i]};
        for (std::size_t j = 0; j < nwords; ++j)
            s.compress(l.w[j][i]);
        out[i] = sip_finish(s, last);
    }
}

#if defined(__x86_64__)
namespace {

// The paper's SipRound (siphash.h, SipState::round), on 4 lanes. AVX2 has no 64-bit rotate:
// two shifts and an or, except by 32 (a dword shuffle).
struct Avx2State {
    __m256i v0, v1, v2, v3;
};

__attribute__((target("avx2"), always_inline)) inline __m256i rotl_avx2(__m256i x, int b) {
    return _mm256_or_si256(_mm256_slli_epi64(x, b), _mm256_srli_epi64(x, 64 - b));
}
__attribute__((target("avx2"), always_inline)) inline __m256i rotl32_avx2(__m256i x) {
    return _mm256_shuffle_epi32(x, 0xb1); // swap the 32-bit halves of each 64-bit lane
}

__attribute__((target("avx2"), always_inline)) inline void round_avx2(Avx2State& s) {
    s.v0 = _mm256_add_epi64(s.v0, s.v1);
    s.v1 = _mm256_xor_si256(rotl_avx2(s.v1, 13), s.v0);
    s.v0 = rotl32_avx2(s.v0);
    s.v2 = _mm256_add_epi64(s.v2, s.v3);
    s.v3 = _mm256_xor_si256(rotl_avx2(s.v3, 16), s.v2);
    s.v0 = _mm256_add_epi64(s.v0, s.v3);
    s.v3 = _mm256_xor_si256(rotl_avx2(s.v3, 21), s.v0);
    s.v2 = _mm256_add_epi64(s.v2, s.v1);
    s.v1 = _mm256_xor_si256(rotl_avx2(s.v1, 17), s.v2);
    s.v2 = rotl32_avx2(s.v2);
}

__attribute__((target("avx2"), always_inline)) inline void compress_avx2(Avx2State& s, __m256i m) {
    s.v3 = _mm256_xor_si256(s.v3, m);
    round_avx2(s);
    round_avx2(s);
    s.v0 = _mm256_xor_si256(s.v0, m);
}

__attribute__((target("avx2"), always_inline)) inline __m256i load4(const std::uint64_t* p) {
    return _mm256_load_si256(reinterpret_cast<const __m256i*>(p)); // 32-byte aligned rows
}

__attribute__((target("avx2"))) void finish4_avx2(const SipLanes& l, std::size_t first,
                                                  std::size_t nwords, std::uint64_t last,
                                                  std::uint64_t* out) {
    Avx2State s{load4(l.v[0] + first), load4(l.v[1] + first), load4(l.v[2] + first),
                load4(l.v[3] + first)};
    for (std::size_t j = 0; j < nwords; ++j)
        compress_avx2(s, load4(l.w[j] + first));
    compress_avx2(s, _mm256_set1_epi64x(static_cast<long long>(last)));
    s.v2 = _mm256_xor_si256(s.v2, _mm256_set1_epi64x(0xff));
    for (int r = 0; r < 4; ++r)
        round_avx2(s);
    const __m256i h = _mm256_xor_si256(_mm256_xor_si256(s.v0, s.v1), _mm256_xor_si256(s.v2, s.v3));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + first), h);
}

// AVX-512: vprolq rotates in one instruction; 8 lanes per register.
struct Avx512State {
    __m512i v0, v1, v2, v3;
};

// The masked form with every lane selected: GCC 12's unmasked _mm512_rol_epi64 trips
// -Wmaybe-uninitialized inside its own header.
template <int B>
__attribute__((target("avx512f"), always_inline)) inline __m512i rol512(__m512i x) {
    return _mm512_maskz_rol_epi64(0xff, x, B); // B: an immediate at any optimisation level
}

__attribute__((target("avx512f"), always_inline)) inline void round_avx512(Avx512State& s) {
    s.v0 = _mm512_add_epi64(s.v0, s.v1);
    s.v1 = _mm512_xor_si512(rol512<13>(s.v1), s.v0);
    s.v0 = rol512<32>(s.v0);
    s.v2 = _mm512_add_epi64(s.v2, s.v3);
    s.v3 = _mm512_xor_si512(rol512<16>(s.v3), s.v2);
    s.v0 = _mm512_add_epi64(s.v0, s.v3);
    s.v3 = _mm512_xor_si512(rol512<21>(s.v3), s.v0);
    s.v2 = _mm512_add_epi64(s.v2, s.v1);
    s.v1 = _mm512_xor_si512(rol512<17>(s.v1), s.v2);
    s.v2 = rol512<32>(s.v2);
}

__attribute__((target("avx512f"), always_inline)) inline void compress_avx512(Avx512State& s,
                                                                            __m512i m) {
    s.v3 = _mm512_xor_si512(s.v3, m);
    round_avx512(s);
    round_avx512(s);
    s.v0 = _mm512_xor_si512(s.v0, m);
}

} // namespace

void sip_finish_lanes_avx2(const SipLanes& l, std::size_t nwords, std::uint64_t last,
                           std::uint64_t out[SipLanes::lanes]) noexcept {
    finish4_avx2(l, 0, nwords, last, out);
    finish4_avx2(l, 4, nwords, last, out);
}

__attribute__((target("avx512f"))) void
sip_finish_lanes_avx512(const SipLanes& l, std::size_t nwords, std::uint64_t last,
                        std::uint64_t out[SipLanes::lanes]) noexcept {
    Avx512State s{_mm512_load_si512(l.v[0]), _mm512_load_si512(l.v[1]),
                  _mm512_load_si512(l.v[2]), _mm512_load_si512(l.v[3])};
    for (std::size_t j = 0; j < nwords; ++j)
        compress_avx512(s, _mm512_load_si512(l.w[j]));
    compress_avx512(s, _mm512_set1_epi64(static_cast<long long>(last)));
    s.v2 = _mm512_xor_si512(s.v2, _mm512_set1_epi64(0xff));
    for (int r = 0; r < 4; ++r)
        round_avx512(s);
    _mm512_storeu_si512(out, _mm512_xor_si512(_mm512_xor_si512(s.v0, s.v1),
                                              _mm512_xor_si512(s.v2, s.v3)));
}

bool cpu_has_avx2_lanes() noexcept {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
}

bool cpu_has_avx512_lanes() noexcept {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}
#endif

namespace {

using FinishFn = void (*)(const SipLanes&, std::size_t, std::uint64_t, std::uint64_t*) noexcept;

struct Choice {
    FinishFn fn;
    const char* name;
};

// Constant-initialised to the portable version; upgraded once before main() (as ones_sum).
Choice chosen{sip_finish_lanes_scalar, "scalar"};

[[maybe_unused]] const bool upgraded = [] {
#if defined(__x86_64__)
    if (cpu_has_avx512_lanes())
        chosen = {sip_finish_lanes_avx512, "avx512"};
    else if (cpu_has_avx2_lanes())
        chosen = {sip_finish_lanes_avx2, "avx2"};
#endif
    return true;
}();

} // namespace

const char* sip_lanes_impl() noexcept { return chosen.name; }

} // namespace detail

void sip_finish_lanes(const SipLanes& l, std::size_t nwords, std::uint64_t last,
                      std::uint64_t out[SipLanes::lanes]) noexcept {
    detail::chosen.fn(l, nwords, last, out);
}

} // namespace ptbsteer::hash
