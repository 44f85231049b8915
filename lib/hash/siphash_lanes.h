// SipHash-2-4 finished for up to 8 independent messages at once, one per SIMD lane: the part of
// the Linux flow hash left after the per-key words are packed (linux_flow_hash_prepare). One
// SipRound is 14 dependent scalar operations per key; across lanes the same 14 operations serve
// 8 keys (AVX-512: 64-bit rotates in one instruction) or 4 (AVX2). Chosen once at start.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ptbsteer::hash {

// Structure of arrays: lane i's state is v[0..3][i], its j-th remaining word w[j][i].
struct SipLanes {
    static constexpr std::size_t lanes = 8;
    static constexpr std::size_t max_words = 6; // the IPv6 key after the midstate
    alignas(64) std::uint64_t v[4][lanes];
    alignas(64) std::uint64_t w[max_words][lanes];
};

// For every lane: compress w[0..nwords), then the last word (`last`, the same for every lane:
// the message length in the top byte), finalise; out[i] = the 64-bit SipHash of lane i. Lanes
// beyond those in use are computed too (harmless: callers ignore them).
void sip_finish_lanes(const SipLanes& l, std::size_t nwords, std::uint64_t last,
                      std::uint64_t out[SipLanes::lanes]) noexcept;

namespace detail {
void sip_finish_lanes_scalar(const SipLanes& l, std::size_t nwords, std::uint64_t last,
                             std::uint64_t out[SipLanes::lanes]) noexcept;
#if defined(__x86_64__)
void sip_finish_lanes_avx2(const SipLanes& l, std::size_t nwords, std::uint64_t last,
                           std::uint64_t out[SipLanes::lanes]) noexcept;
void sip_finish_lanes_avx512(const SipLanes& l, std::size_t nwords, std::uint64_t last,
                             std::uint64_t out[SipLanes::lanes]) noexcept;
bool cpu_has_avx2_lanes() noexcept;
bool cpu_has_avx512_lanes() noexcept; // AVX-512F + VL
#endif
const char* sip_lanes_impl() noexcept; // "avx512", "avx2" or "scalar"
} // namespace detail

} // namespace ptbsteer::hash
