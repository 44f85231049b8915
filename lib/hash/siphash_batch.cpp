// SipHash-2-4 in SIMD lanes. Each lane runs exactly siphash24() (siphash.h, written from
// Aumasson & Bernstein, "SipHash: a fast short-input PRF", 2012): the same initialisation,
// c = 2 rounds per message word, the length byte in the last word, v2 ^= 0xff and d = 4 rounds.
// Lane j of every vector belongs to message j of the block; no lane ever reads another.
//
// The SIMD code is compiled with GCC/Clang per-function target attributes (not -mavx2 on the
// file): the rest of the library, and any inline function it shares with this file, stays at
// the project's baseline instruction set, so no AVX instruction runs on a CPU without it.
#include "hash/siphash_batch.h"

#include "hash/siphash.h"

#if defined(__x86_64__)
// GCC 12's AVX-512 intrinsics fill don't-care lanes with a self-initialised variable, which
// -Wuninitialized flags once they are inlined (GCC bug 105593, fixed in 12.3 and 13): silence it
// for the header's own lines only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#define PTBSTEER_SIMD 1
#else
#define PTBSTEER_SIMD 0
#endif

namespace ptbsteer::hash {

namespace {

// The scalar path: siphash24()'s rounds (siphash.h), lane by lane.
void lanes_scalar(const SipLanes& l, std::size_t from, std::size_t to, std::size_t words,
                  std::uint64_t* out) noexcept {
    for (std::size_t j = from; j < to; ++j) {
        detail::SipState s{l.v[0][j], l.v[1][j], l.v[2][j], l.v[3][j]};
        for (std::size_t w = 0; w + 1 < words; ++w)
            s.compress(l.m[w][j]);
        out[j] = detail::sip_finish(s, l.m[words - 1][j]);
    }
}

// Runs `wide` (W lanes) on whole blocks, then `narrow` (V lanes) on the rest, rounded up to V:
// lanes past n are computed from what they hold and their results never read.
template <std::size_t W, std::size_t V, class Wide, class Narrow>
void run_blocks(const SipLanes& l, std::size_t n, std::size_t words, std::uint64_t* out, Wide wide,
                Narrow narrow) noexcept {
    std::size_t i = 0;
    for (; i + W <= n; i += W)
        wide(l, i, words, out);
    for (; i < n; i += V)
        narrow(l, i, words, out);
}

#if PTBSTEER_SIMD
// Groups of lanes each block function interleaves. ns per hash, AVX-512 / AVX2, IPv4 length,
// burst 32 (siphash-batch-bench, medians; noisy 2-vCPU VM): 1 group 12.1 / 25.1, 2 groups
// 9.3 / 17.0, 3 groups 8.6 / 16.8, 4 groups 9.9 / 20.2 (AVX2's 16 registers spill). 2 divides 32.
constexpr std::size_t ways = 2;
// Loops over the groups must be unrolled so that each group's state stays in registers (GCC 12
// -O2 does not unroll them by itself: the states went through the stack, 30 % slower).
#define PTBSTEER_EACH(g, n) _Pragma("GCC unroll 8") for (std::size_t g = 0; g < (n); ++g)

// --- AVX2: 4 lanes -----------------------------------------------------------------------------
#define PTBSTEER_AVX2 __attribute__((target("avx2"), always_inline)) inline

struct Sip4 {
    __m256i v0, v1, v2, v3;
};

// AVX2 has no 64-bit rotate: shifts and an or, except the byte-aligned rotations, which are
// one shuffle (32: swap the 32-bit halves; 16: move every byte up two places in its word).
template <int B>
PTBSTEER_AVX2 __m256i rol4(__m256i x) {
    if constexpr (B == 32) {
        return _mm256_shuffle_epi32(x, _MM_SHUFFLE(2, 3, 0, 1));
    } else if constexpr (B == 16) {
        const __m256i up2 = _mm256_setr_epi8(6, 7, 0, 1, 2, 3, 4, 5, 14, 15, 8, 9, 10, 11, 12, 13,
                                             6, 7, 0, 1, 2, 3, 4, 5, 14, 15, 8, 9, 10, 11, 12, 13);
        return _mm256_shuffle_epi8(x, up2);
    } else {
        return _mm256_or_si256(_mm256_slli_epi64(x, B), _mm256_srli_epi64(x, 64 - B));
    }
}

PTBSTEER_AVX2 __m256i add4(__m256i a, __m256i b) {
    return _mm256_add_epi64(a, b);
}
PTBSTEER_AVX2 __m256i xor4(__m256i a, __m256i b) {
    return _mm256_xor_si256(a, b);
}

// SipRound (paper §2.1), one line per step as SipState::round() draws it.
PTBSTEER_AVX2 void round4(Sip4& s) {
    // clang-format off
    s.v0 = add4(s.v0, s.v1); s.v1 = rol4<13>(s.v1); s.v1 = xor4(s.v1, s.v0); s.v0 = rol4<32>(s.v0);
    s.v2 = add4(s.v2, s.v3); s.v3 = rol4<16>(s.v3); s.v3 = xor4(s.v3, s.v2);
    s.v0 = add4(s.v0, s.v3); s.v3 = rol4<21>(s.v3); s.v3 = xor4(s.v3, s.v0);
    s.v2 = add4(s.v2, s.v1); s.v1 = rol4<17>(s.v1); s.v1 = xor4(s.v1, s.v2); s.v2 = rol4<32>(s.v2);
    // clang-format on
}

PTBSTEER_AVX2 void compress4(Sip4& s, __m256i m) {
    s.v3 = _mm256_xor_si256(s.v3, m);
    round4(s);
    round4(s);
    s.v0 = _mm256_xor_si256(s.v0, m);
}

PTBSTEER_AVX2 __m256i load4(const void* p) {
    return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

// N independent groups of 4 lanes from lane `at`, interleaved word by word: one group's
// SipRounds form a dependency chain, so the out-of-order core overlaps the groups' rounds.
template <std::size_t N>
__attribute__((target("avx2"))) void block4(const SipLanes& l, std::size_t at, std::size_t words,
                                            std::uint64_t* out) noexcept {
    Sip4 s[N];
    PTBSTEER_EACH(g, N) {
        const std::size_t j = at + 4 * g;
        s[g] = {load4(&l.v[0][j]), load4(&l.v[1][j]), load4(&l.v[2][j]), load4(&l.v[3][j])};
    }
    for (std::size_t w = 0; w < words; ++w) {
        PTBSTEER_EACH(g, N) {
            compress4(s[g], load4(&l.m[w][at + 4 * g]));
        }
    }
    PTBSTEER_EACH(g, N) {
        s[g].v2 = _mm256_xor_si256(s[g].v2, _mm256_set1_epi64x(0xff));
    }
    for (int r = 0; r < 4; ++r) {
        PTBSTEER_EACH(g, N) {
            round4(s[g]);
        }
    }
    PTBSTEER_EACH(g, N) {
        const Sip4& t = s[g];
        const __m256i h =
            _mm256_xor_si256(_mm256_xor_si256(t.v0, t.v1), _mm256_xor_si256(t.v2, t.v3));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + at + 4 * g), h);
    }
}

// --- AVX-512F: 8 lanes -------------------------------------------------------------------------
#define PTBSTEER_AVX512 __attribute__((target("avx512f"), always_inline)) inline

struct Sip8 {
    __m512i v0, v1, v2, v3;
};

// AVX-512F rotates 64-bit lanes in one instruction (vprolq); rotating by 32 is a swap of the
// 32-bit halves, which a shuffle does on another execution port.
template <int B>
PTBSTEER_AVX512 __m512i rol8(__m512i x) {
    if constexpr (B == 32)
        return _mm512_shuffle_epi32(x, _MM_PERM_CDAB);
    else
        return _mm512_rol_epi64(x, B);
}

PTBSTEER_AVX512 __m512i add8(__m512i a, __m512i b) {
    return _mm512_add_epi64(a, b);
}
PTBSTEER_AVX512 __m512i xor8(__m512i a, __m512i b) {
    return _mm512_xor_si512(a, b);
}

// SipRound, as round4.
PTBSTEER_AVX512 void round8(Sip8& s) {
    // clang-format off
    s.v0 = add8(s.v0, s.v1); s.v1 = rol8<13>(s.v1); s.v1 = xor8(s.v1, s.v0); s.v0 = rol8<32>(s.v0);
    s.v2 = add8(s.v2, s.v3); s.v3 = rol8<16>(s.v3); s.v3 = xor8(s.v3, s.v2);
    s.v0 = add8(s.v0, s.v3); s.v3 = rol8<21>(s.v3); s.v3 = xor8(s.v3, s.v0);
    s.v2 = add8(s.v2, s.v1); s.v1 = rol8<17>(s.v1); s.v1 = xor8(s.v1, s.v2); s.v2 = rol8<32>(s.v2);
    // clang-format on
}

PTBSTEER_AVX512 void compress8(Sip8& s, __m512i m) {
    s.v3 = _mm512_xor_si512(s.v3, m);
    round8(s);
    round8(s);
    s.v0 = _mm512_xor_si512(s.v0, m);
}

// As block4: N groups of 8 lanes, interleaved.
template <std::size_t N>
__attribute__((target("avx512f"))) void block8(const SipLanes& l, std::size_t at, std::size_t words,
                                               std::uint64_t* out) noexcept {
    Sip8 s[N];
    PTBSTEER_EACH(g, N) {
        const std::size_t j = at + 8 * g;
        s[g] = {_mm512_load_si512(&l.v[0][j]), _mm512_load_si512(&l.v[1][j]),
                _mm512_load_si512(&l.v[2][j]), _mm512_load_si512(&l.v[3][j])};
    }
    for (std::size_t w = 0; w < words; ++w) {
        PTBSTEER_EACH(g, N) {
            compress8(s[g], _mm512_load_si512(&l.m[w][at + 8 * g]));
        }
    }
    PTBSTEER_EACH(g, N) {
        s[g].v2 = _mm512_xor_si512(s[g].v2, _mm512_set1_epi64(0xff));
    }
    for (int r = 0; r < 4; ++r) {
        PTBSTEER_EACH(g, N) {
            round8(s[g]);
        }
    }
    PTBSTEER_EACH(g, N) {
        const Sip8& t = s[g];
        _mm512_storeu_si512(out + at + 8 * g, _mm512_xor_si512(_mm512_xor_si512(t.v0, t.v1),
                                                               _mm512_xor_si512(t.v2, t.v3)));
    }
}
#endif // PTBSTEER_SIMD

bool cpu_has(SimdPath p) noexcept {
#if PTBSTEER_SIMD
    __builtin_cpu_init(); // idempotent; needed only before constructors, cheap after
    if (p == SimdPath::avx2) return __builtin_cpu_supports("avx2");
    if (p == SimdPath::avx512) return __builtin_cpu_supports("avx512f");
#endif
    return p == SimdPath::scalar || p == SimdPath::automatic;
}

} // namespace

void siphash24_lanes_scalar(const SipLanes& l, std::size_t n, std::size_t words,
                            std::uint64_t* out) noexcept {
    lanes_scalar(l, 0, n, words, out);
}

void siphash24_lanes_avx2(const SipLanes& l, std::size_t n, std::size_t words,
                          std::uint64_t* out) noexcept {
#if PTBSTEER_SIMD
    run_blocks<4 * ways, 4>(l, n, words, out, block4<ways>, block4<1>);
#else
    lanes_scalar(l, 0, n, words, out);
#endif
}

void siphash24_lanes_avx512(const SipLanes& l, std::size_t n, std::size_t words,
                            std::uint64_t* out) noexcept {
#if PTBSTEER_SIMD
    run_blocks<8 * ways, 8>(l, n, words, out, block8<ways>, block8<1>);
#else
    lanes_scalar(l, 0, n, words, out);
#endif
}

const char* simd_path_name(SimdPath p) noexcept {
    switch (p) {
    case SimdPath::scalar: return "scalar";
    case SimdPath::avx2: return "avx2";
    case SimdPath::avx512: return "avx512";
    case SimdPath::automatic: return "auto";
    }
    return "?";
}

std::optional<SimdPath> parse_simd_path(std::string_view name) noexcept {
    for (SimdPath p : {SimdPath::scalar, SimdPath::avx2, SimdPath::avx512, SimdPath::automatic})
        if (name == simd_path_name(p)) return p;
    return std::nullopt;
}

bool simd_path_supported(SimdPath p) noexcept {
    return cpu_has(p);
}

SimdPath best_simd_path() noexcept {
    if (cpu_has(SimdPath::avx512)) return SimdPath::avx512;
    if (cpu_has(SimdPath::avx2)) return SimdPath::avx2;
    return SimdPath::scalar;
}

std::optional<SiphashBatch> siphash24_batch_for(SimdPath want) noexcept {
    const SimdPath p = want == SimdPath::automatic ? best_simd_path() : want;
    if (!cpu_has(p)) return std::nullopt;
    switch (p) {
    case SimdPath::avx512: return SiphashBatch{p, siphash24_lanes_avx512};
    case SimdPath::avx2: return SiphashBatch{p, siphash24_lanes_avx2};
    default: return SiphashBatch{SimdPath::scalar, siphash24_lanes_scalar};
    }
}

} // namespace ptbsteer::hash
