// SipHash-2-4 (siphash.h) of a burst of messages of one length, several at a time in SIMD lanes:
// the flow keys of a burst are independent, so their hashes can run side by side (issue 23).
// AVX2 runs 4 lanes of 64 bits, AVX-512F 8 lanes; the scalar path is siphash24() in a loop.
// Every path gives siphash24()'s 64-bit value, bit for bit (tests/unit/hash/siphash_batch_test).
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

// out[i] = siphash24(k0[i], k1[i], {msgs[i], len}) for i < n.
//  - one key per message (a burst mixes groups, each with its own seed); Linux's key has
//    k0 == k1 (linux_siphash_key_word), so a caller may pass the same array twice;
//  - any len; Linux's flow_keys images hash 48 (IPv4) or 72 (IPv6) bytes, so a burst is hashed
//    in at most two calls, one per family;
//  - any n: a tail shorter than the lane count runs in one vector padded with a copy of one
//    of its messages (bursts of 32 fill the lanes exactly).
// Pure: no state, any thread. out must not overlap the inputs; each message must have `len`
// readable bytes (never more are read).
using Siphash24BatchFn = void (*)(std::size_t n, const std::uint64_t* k0, const std::uint64_t* k1,
                                  const std::uint8_t* const* msgs, std::size_t len,
                                  std::uint64_t* out) noexcept;

struct SiphashBatch {
    SimdPath path = SimdPath::scalar; // the path taken: never automatic
    Siphash24BatchFn fn = nullptr;
};

// The implementation of path `want` (automatic: best_simd_path()), or nullopt when this CPU or
// build lacks it: a forced path the machine cannot run is a configuration error, not a silent
// fallback. Pick once at start and keep the function pointer; no per-packet dispatch.
std::optional<SiphashBatch> siphash24_batch_for(SimdPath want) noexcept;

// The three paths, for tests and benchmarks. The SIMD ones must only be called when
// simd_path_supported() says so (they execute AVX2 / AVX-512F instructions).
void siphash24_batch_scalar(std::size_t n, const std::uint64_t* k0, const std::uint64_t* k1,
                            const std::uint8_t* const* msgs, std::size_t len,
                            std::uint64_t* out) noexcept;
void siphash24_batch_avx2(std::size_t n, const std::uint64_t* k0, const std::uint64_t* k1,
                          const std::uint8_t* const* msgs, std::size_t len,
                          std::uint64_t* out) noexcept;
void siphash24_batch_avx512(std::size_t n, const std::uint64_t* k0, const std::uint64_t* k1,
                            const std::uint8_t* const* msgs, std::size_t len,
                            std::uint64_t* out) noexcept;

} // namespace ptbsteer::hash
