// SipHash-2-4 in SIMD lanes. Each lane runs exactly siphash24() (siphash.h, written from
// Aumasson & Bernstein, "SipHash: a fast short-input PRF", 2012): the same initialisation,
// c = 2 rounds per message word, the length byte in the last word, v2 ^= 0xff and d = 4 rounds.
// Lane j of every vector belongs to message j of the block; no lane ever reads another.
//
// The SIMD code is compiled with GCC/Clang per-function target attributes (not -mavx2 on the
// file): the rest of the library, and any inline function it shares with this file, stays at
// the project's baseline instruction set, so no AVX instruction runs on a CPU without it.
#include "hash/siphash_batch.h"

#include <algorithm>
#include <span>

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

// Initialisation constants: "somepseudorandomlygeneratedbytes" (paper §2.1), as in sip_init().
constexpr std::uint64_t init0 = 0x736f6d6570736575ULL, init1 = 0x646f72616e646f6dULL;
constexpr std::uint64_t init2 = 0x6c7967656e657261ULL, init3 = 0x7465646279746573ULL;

// The last message word of each lane (paper §2: the 0..7 bytes after the whole words, with
// the length mod 256 in the top byte), built with siphash24()'s own load so that a message is
// never read past `len`.
void last_words(const std::uint8_t* const* msgs, std::size_t lanes, std::size_t len,
                std::uint64_t* words) noexcept {
    const std::size_t whole = len & ~std::size_t{7};
    for (std::size_t j = 0; j < lanes; ++j)
        words[j] = detail::load_le(msgs[j] + whole, len - whole) | std::uint64_t{len & 0xff} << 56;
}

// Runs `wide` on full blocks of W messages, `narrow` on full blocks of V, then `narrow` on one
// block padded with copies of message 0 of the tail (their results are dropped), so every path
// handles any n.
template <std::size_t W, std::size_t V, class Wide, class Narrow>
void run_blocks(std::size_t n, const std::uint64_t* k0, const std::uint64_t* k1,
                const std::uint8_t* const* msgs, std::size_t len, std::uint64_t* out, Wide wide,
                Narrow narrow) noexcept {
    std::size_t i = 0;
    for (; i + W <= n; i += W)
        wide(k0 + i, k1 + i, msgs + i, len, out + i);
    for (; i + V <= n; i += V)
        narrow(k0 + i, k1 + i, msgs + i, len, out + i);
    if (i == n) return;
    const std::size_t r = n - i;
    std::uint64_t pk0[V], pk1[V], pout[V];
    const std::uint8_t* pmsgs[V];
    for (std::size_t j = 0; j < V; ++j) {
        const std::size_t from = i + (j < r ? j : 0);
        pk0[j] = k0[from];
        pk1[j] = k1[from];
        pmsgs[j] = msgs[from];
    }
    narrow(pk0, pk1, pmsgs, len, pout);
    std::copy_n(pout, r, out + i);
}

#if PTBSTEER_SIMD
static_assert(sizeof(const std::uint8_t*) == 8, "lanes hold message pointers as 64-bit offsets");

// Groups of lanes each block function interleaves. ns per hash, AVX-512 / AVX2, IPv4 length,
// burst 32 (siphash-batch-bench, medians; noisy 2-vCPU VM): 1 group 12.1 / 25.1, 2 groups
// 9.3 / 17.0, 3 groups 8.6 / 16.8, 4 groups 9.9 / 20.2 (AVX2's 16 registers spill). 2 divides 32.
constexpr std::size_t ways = 2;
// Loops over the groups must be unrolled so that each group's state stays in registers (GCC 12
// -O2 does not unroll them by itself: the states went through the stack, 30 % slower).
#define PTBSTEER_EACH(g, n) _Pragma("GCC unroll 8") for (std::size_t g = 0; g < (n); ++g)

// A message word of every lane is fetched with one gather: lane j reads base + off[j], where
// off[j] is message j's address minus message 0's (so base = message 0 + word offset). The
// offsets are computed on the pointer array loaded as 64-bit integers.
long long address(const std::uint8_t* p) noexcept {
    return static_cast<long long>(reinterpret_cast<std::uintptr_t>(p));
}

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

// The last words through memory (the common lengths, 48 and 72, are whole words: block4 then
// broadcasts the length word and skips this store-then-load).
PTBSTEER_AVX2 __m256i last_words4(const std::uint8_t* const* msgs, std::size_t len) {
    alignas(32) std::uint64_t last[4];
    last_words(msgs, 4, len, last);
    return load4(last);
}

// N independent groups of 4 lanes, interleaved word by word: one group's SipRounds form a
// dependency chain, so the out-of-order core overlaps the groups' rounds.
template <std::size_t N>
__attribute__((target("avx2"))) void block4(const std::uint64_t* k0, const std::uint64_t* k1,
                                            const std::uint8_t* const* msgs, std::size_t len,
                                            std::uint64_t* out) noexcept {
    Sip4 s[N];
    __m256i off[N];
    const std::uint8_t* base[N];
    PTBSTEER_EACH(g, N) {
        const __m256i key0 = load4(k0 + 4 * g), key1 = load4(k1 + 4 * g);
        s[g] = {_mm256_xor_si256(key0, _mm256_set1_epi64x(init0)),
                _mm256_xor_si256(key1, _mm256_set1_epi64x(init1)),
                _mm256_xor_si256(key0, _mm256_set1_epi64x(init2)),
                _mm256_xor_si256(key1, _mm256_set1_epi64x(init3))};
        base[g] = msgs[4 * g];
        off[g] = _mm256_sub_epi64(load4(msgs + 4 * g), _mm256_set1_epi64x(address(base[g])));
    }
    const std::size_t whole = len & ~std::size_t{7};
    for (std::size_t i = 0; i < whole; i += 8) {
        PTBSTEER_EACH(g, N) {
            compress4(s[g], _mm256_i64gather_epi64(reinterpret_cast<const long long*>(base[g] + i),
                                                   off[g], 1));
        }
    }
    PTBSTEER_EACH(g, N) {
        compress4(s[g], len == whole ? _mm256_set1_epi64x(static_cast<long long>(len << 56))
                                     : last_words4(msgs + 4 * g, len));
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
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 4 * g), h);
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

PTBSTEER_AVX512 __m512i last_words8(const std::uint8_t* const* msgs, std::size_t len) {
    alignas(64) std::uint64_t last[8];
    last_words(msgs, 8, len, last);
    return _mm512_load_si512(last);
}

// As block4: N groups of 8 lanes, interleaved.
template <std::size_t N>
__attribute__((target("avx512f"))) void block8(const std::uint64_t* k0, const std::uint64_t* k1,
                                               const std::uint8_t* const* msgs, std::size_t len,
                                               std::uint64_t* out) noexcept {
    Sip8 s[N];
    __m512i off[N];
    const std::uint8_t* base[N];
    PTBSTEER_EACH(g, N) {
        const __m512i key0 = _mm512_loadu_si512(k0 + 8 * g), key1 = _mm512_loadu_si512(k1 + 8 * g);
        s[g] = {_mm512_xor_si512(key0, _mm512_set1_epi64(init0)),
                _mm512_xor_si512(key1, _mm512_set1_epi64(init1)),
                _mm512_xor_si512(key0, _mm512_set1_epi64(init2)),
                _mm512_xor_si512(key1, _mm512_set1_epi64(init3))};
        base[g] = msgs[8 * g];
        off[g] =
            _mm512_sub_epi64(_mm512_loadu_si512(msgs + 8 * g), _mm512_set1_epi64(address(base[g])));
    }
    const std::size_t whole = len & ~std::size_t{7};
    for (std::size_t i = 0; i < whole; i += 8) {
        PTBSTEER_EACH(g, N) {
            compress8(s[g], _mm512_i64gather_epi64(off[g], base[g] + i, 1));
        }
    }
    PTBSTEER_EACH(g, N) {
        compress8(s[g], len == whole ? _mm512_set1_epi64(static_cast<long long>(len << 56))
                                     : last_words8(msgs + 8 * g, len));
        s[g].v2 = _mm512_xor_si512(s[g].v2, _mm512_set1_epi64(0xff));
    }
    for (int r = 0; r < 4; ++r) {
        PTBSTEER_EACH(g, N) {
            round8(s[g]);
        }
    }
    PTBSTEER_EACH(g, N) {
        const Sip8& t = s[g];
        _mm512_storeu_si512(out + 8 * g, _mm512_xor_si512(_mm512_xor_si512(t.v0, t.v1),
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

void siphash24_batch_scalar(std::size_t n, const std::uint64_t* k0, const std::uint64_t* k1,
                            const std::uint8_t* const* msgs, std::size_t len,
                            std::uint64_t* out) noexcept {
    for (std::size_t i = 0; i < n; ++i)
        out[i] = siphash24(k0[i], k1[i], std::span(msgs[i], len));
}

void siphash24_batch_avx2(std::size_t n, const std::uint64_t* k0, const std::uint64_t* k1,
                          const std::uint8_t* const* msgs, std::size_t len,
                          std::uint64_t* out) noexcept {
#if PTBSTEER_SIMD
    run_blocks<4 * ways, 4>(n, k0, k1, msgs, len, out, block4<ways>, block4<1>);
#else
    siphash24_batch_scalar(n, k0, k1, msgs, len, out);
#endif
}

void siphash24_batch_avx512(std::size_t n, const std::uint64_t* k0, const std::uint64_t* k1,
                            const std::uint8_t* const* msgs, std::size_t len,
                            std::uint64_t* out) noexcept {
#if PTBSTEER_SIMD
    run_blocks<8 * ways, 8>(n, k0, k1, msgs, len, out, block8<ways>, block8<1>);
#else
    siphash24_batch_scalar(n, k0, k1, msgs, len, out);
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
    case SimdPath::avx512: return SiphashBatch{p, siphash24_batch_avx512};
    case SimdPath::avx2: return SiphashBatch{p, siphash24_batch_avx2};
    default: return SiphashBatch{SimdPath::scalar, siphash24_batch_scalar};
    }
}

} // namespace ptbsteer::hash
