// SipHash-2-4 (siphash.h) of a burst of messages of one length, several at a time in SIMD lanes:
// the flow keys of a burst are independent, so their hashes can run side by side (issue 23).
// AVX2 runs 4 lanes of 64 bits, AVX-512F 8 lanes; the scalar path is siphash24() in a loop.
// Every path gives siphash24()'s 64-bit value, bit for bit (tests/unit/hash/siphash_batch_test).
// The datapath fills the lanes of a burst's Linux flow keys (datapath/burst.h) and hashes each
// family's lanes with one call.
//
// The library is built for the project's baseline instruction set; the AVX2 and AVX-512F paths
// are compiled with per-function target attributes and only run when the CPU reports the
// feature, so one binary runs everywhere and picks its best path at start.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace ptbsteer::hash {

// `automatic` is the config switch's `auto` (a C++ keyword): the best path this CPU runs.
enum class SimdPath : std::uint8_t { scalar, avx2, avx512, automatic };

// "scalar", "avx2", "avx512", "auto": the config switch's words and the start-up line's name.
const char* simd_path_name(SimdPath p) noexcept;
std::optional<SimdPath> parse_simd_path(std::string_view name) noexcept;

// Whether this build and this CPU can run path p (automatic and scalar: always).
bool simd_path_supported(SimdPath p) noexcept;

// The best path this CPU runs: avx512 > avx2 > scalar. Never automatic.
SimdPath best_simd_path() noexcept;

// A burst's SipHash-2-4 computations in structure-of-arrays form, so a vector register loads
// one word of 4 or 8 lanes at once (no gathers): lane j's state after its first message words
// in v[0..3][j], and the words still to compress in m[0..words)[j], the last of them carrying
// the message length in its top byte (paper §2). A plain message starts from sip_init(k0, k1)
// with all its words; a Linux flow key starts from a midstate of its seed and protocol
// (LinuxHashKey), so only 4 (IPv4) or 7 (IPv6) words remain (linux_flow_lane()).
struct SipLanes {
    static constexpr std::size_t lanes = 32;     // an RX burst
    static constexpr std::size_t max_words = 11; // an 80-byte message and its length word
    alignas(64) std::uint64_t v[4][lanes]{};
    alignas(64) std::uint64_t m[max_words][lanes]{};
};

// out[j] = the 64-bit SipHash-2-4 of lane j, for j < n: `words` (<= max_words) compressions
// (c = 2 rounds each), v2 ^= 0xff, d = 4 rounds (paper §2). The vector paths compute whole
// vectors, so `out` must have room for SipLanes::lanes values and lanes from n up to the next
// multiple of 8 are computed from whatever they hold (their results are not meaningful).
// Pure: no state, any thread.
using SipLanesFn = void (*)(const SipLanes& l, std::size_t n, std::size_t words,
                            std::uint64_t* out) noexcept;

struct SiphashBatch {
    SimdPath path = SimdPath::scalar; // the path taken: never automatic
    SipLanesFn fn = nullptr;
};

// The implementation of path `want` (automatic: best_simd_path()), or nullopt when this CPU or
// build lacks it: a forced path the machine cannot run is a configuration error, not a silent
// fallback. Pick once at start and keep the function pointer; no per-packet dispatch.
std::optional<SiphashBatch> siphash24_batch_for(SimdPath want) noexcept;

// The three paths, for tests and benchmarks. The SIMD ones must only be called when
// simd_path_supported() says so (they execute AVX2 / AVX-512F instructions).
void siphash24_lanes_scalar(const SipLanes& l, std::size_t n, std::size_t words,
                            std::uint64_t* out) noexcept;
void siphash24_lanes_avx2(const SipLanes& l, std::size_t n, std::size_t words,
                          std::uint64_t* out) noexcept;
void siphash24_lanes_avx512(const SipLanes& l, std::size_t n, std::size_t words,
                            std::uint64_t* out) noexcept;

} // namespace ptbsteer::hash
