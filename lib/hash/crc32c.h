// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78; RFC 3720 §12.1, the SSE4.2 crc32
// instruction). crc32c_update() is the bare register update: it applies NO initial or final
// XOR, exactly like DPDK's rte_hash_crc(data, len, init) and the crc32 instruction. The
// standard CRC-32C of a message is ~crc32c_update(0xffffffff, msg) (check value of "123456789":
// 0xE3069283).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#if defined(__SSE4_2__)
#include <nmmintrin.h>
#endif

namespace ptbsteer::hash {

namespace detail {
constexpr std::array<std::uint32_t, 256> make_crc32c_table() {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        t[i] = c;
    }
    return t;
}
inline constexpr std::array<std::uint32_t, 256> crc32c_table = make_crc32c_table();
} // namespace detail

inline std::uint32_t crc32c_update(std::uint32_t crc, std::span<const std::uint8_t> data) noexcept {
    const std::uint8_t* p = data.data();
    std::size_t n = data.size();
#if defined(__SSE4_2__)
    // The instruction computes the same reflected CRC, 8 bytes (little-endian) at a time.
    std::uint64_t c64 = crc;
    for (; n >= 8; n -= 8, p += 8) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);
        c64 = _mm_crc32_u64(c64, w);
    }
    crc = static_cast<std::uint32_t>(c64);
    for (; n > 0; --n, ++p)
        crc = _mm_crc32_u8(crc, *p);
#else
    for (; n > 0; --n, ++p)
        crc = detail::crc32c_table[(crc ^ *p) & 0xff] ^ (crc >> 8);
#endif
    return crc;
}

// Register updates with one integer's bytes in little-endian order (memory order on x86_64):
// one crc32 instruction each with SSE4.2, so callers can feed a key's fields without first
// copying them into a byte string. crc32c_u32(c, v) == crc32c_update(c, v's 4 LE bytes).
namespace detail {
template <class T>
std::uint32_t crc32c_table_int(std::uint32_t crc, T v) noexcept {
    for (std::size_t i = 0; i < sizeof(T); ++i)
        crc = crc32c_table[(crc ^ static_cast<std::uint8_t>(v >> (8 * i))) & 0xff] ^ (crc >> 8);
    return crc;
}
} // namespace detail

#if defined(__SSE4_2__)
inline std::uint32_t crc32c_u8(std::uint32_t c, std::uint8_t v) noexcept {
    return _mm_crc32_u8(c, v);
}
inline std::uint32_t crc32c_u16(std::uint32_t c, std::uint16_t v) noexcept {
    return _mm_crc32_u16(c, v);
}
inline std::uint32_t crc32c_u32(std::uint32_t c, std::uint32_t v) noexcept {
    return _mm_crc32_u32(c, v);
}
inline std::uint32_t crc32c_u64(std::uint32_t c, std::uint64_t v) noexcept {
    return static_cast<std::uint32_t>(_mm_crc32_u64(c, v));
}
#else
inline std::uint32_t crc32c_u8(std::uint32_t c, std::uint8_t v) noexcept {
    return detail::crc32c_table_int(c, v);
}
inline std::uint32_t crc32c_u16(std::uint32_t c, std::uint16_t v) noexcept {
    return detail::crc32c_table_int(c, v);
}
inline std::uint32_t crc32c_u32(std::uint32_t c, std::uint32_t v) noexcept {
    return detail::crc32c_table_int(c, v);
}
inline std::uint32_t crc32c_u64(std::uint32_t c, std::uint64_t v) noexcept {
    return detail::crc32c_table_int(c, v);
}
#endif

// Table-only variant, so tests can check the table path on machines that have SSE4.2.
inline std::uint32_t crc32c_update_portable(std::uint32_t crc,
                                            std::span<const std::uint8_t> data) noexcept {
    for (std::uint8_t b : data)
        crc = detail::crc32c_table[(crc ^ b) & 0xff] ^ (crc >> 8);
    return crc;
}

} // namespace ptbsteer::hash
