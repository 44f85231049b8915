// The one's-complement sum's SIMD version against the portable one and against an independent
// 16-bit-at-a-time RFC 1071 sum, over every length a PTB can have, every alignment and the
// carry-heavy all-ones pattern.
#include <catch2/catch.hpp>

#include <bit>
#include <random>
#include <string>
#include <vector>

#include "guard/ones_sum.h"

namespace {

using ptbsteer::guard::ones_fold;
using ptbsteer::guard::ones_sum;
namespace detail = ptbsteer::guard::detail;

// RFC 1071 §4.1's loop, byte by byte in network order; folded, then swapped to native order
// (§2(B): the sum in the other byte order is the byte-swap of this one).
std::uint16_t reference(const std::uint8_t* p, std::size_t n) {
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i + 1 < n; i += 2)
        sum += std::uint32_t(p[i] << 8 | p[i + 1]);
    if (n % 2) sum += std::uint32_t(p[n - 1] << 8);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return std::uint16_t(sum >> 8 | (sum & 0xff) << 8); // little-endian native order
}

std::vector<std::uint8_t> random_bytes(std::size_t n, std::mt19937_64& rng) {
    std::vector<std::uint8_t> v(n);
    for (auto& b : v)
        b = std::uint8_t(rng());
    return v;
}

} // namespace

TEST_CASE("ones_sum agrees with RFC 1071's loop for every length and alignment",
          "[guard][checksum]") {
    static_assert(std::endian::native == std::endian::little, "reference() assumes little-endian");
    std::mt19937_64 rng(1071);
    const auto buf = random_bytes(2100 + 64, rng);
    const std::uint8_t* base = buf.data();
    INFO("dispatched implementation: " << detail::ones_sum_impl());
    for (std::size_t align = 0; align < 4; ++align)
        for (std::size_t n = 0; n <= 2100; ++n) {
            const std::uint8_t* p = base + align;
            const std::uint16_t want = reference(p, n);
            REQUIRE(ones_fold(detail::ones_sum_scalar(p, n, 0)) == want);
            REQUIRE(ones_fold(ones_sum(p, n, 0)) == want);
#if defined(__x86_64__)
            if (detail::cpu_has_avx2()) REQUIRE(ones_fold(detail::ones_sum_avx2(p, n, 0)) == want);
            if (detail::cpu_has_avx512bw())
                REQUIRE(ones_fold(detail::ones_sum_avx512(p, n, 0)) == want);
#endif
        }
}

TEST_CASE("ones_sum carries correctly over a maximal all-ones buffer", "[guard][checksum]") {
    // 0xffff words are the worst case for every accumulator; 65,534 bytes is the largest
    // ICMPv6 message without a jumbogram.
    const std::vector<std::uint8_t> ones(65534, 0xff);
    const std::uint64_t start = 0xffffffffffULL; // a caller's running sum (pseudo-header)
    const std::uint16_t want = ones_fold(reference(ones.data(), ones.size()) + start);
    CHECK(ones_fold(detail::ones_sum_scalar(ones.data(), ones.size(), start)) == want);
    CHECK(ones_fold(ones_sum(ones.data(), ones.size(), start)) == want);
#if defined(__x86_64__)
    if (detail::cpu_has_avx2())
        CHECK(ones_fold(detail::ones_sum_avx2(ones.data(), ones.size(), start)) == want);
    if (detail::cpu_has_avx512bw())
        CHECK(ones_fold(detail::ones_sum_avx512(ones.data(), ones.size(), start)) == want);
#endif
}

// Callers chain sums (pseudo-header, then the message): each result is the next call's start,
// which must stay below 2^48 however the buffers and starts fall.
TEST_CASE("a sum can start the next one: results stay below 2^34", "[guard][checksum]") {
    std::mt19937_64 rng(8200);
    const auto buf = random_bytes(1500, rng);
    const std::vector<std::uint8_t> ones(1500, 0xff);
    for (const auto* data : {&buf, &ones})
        for (const std::uint64_t start : {std::uint64_t{0}, (std::uint64_t{1} << 48) - 1})
            for (const std::size_t n : {0, 1, 20, 36, 63, 64, 1232, 1500}) {
                INFO("n " << n << ", start " << start << ", "
                          << (data == &ones ? "ones" : "random"));
                const std::uint64_t s = ones_sum(data->data(), n, start);
                CHECK(s < (std::uint64_t{1} << 34));
                CHECK(ones_fold(s) == ones_fold(reference(data->data(), n) + start));
                CHECK(ones_fold(ones_sum(data->data(), n, s)) ==
                      ones_fold(std::uint64_t{reference(data->data(), n)} * 2 + start));
            }
}

TEST_CASE("ones_sum picks the SIMD version when the CPU has it", "[guard][checksum]") {
#if defined(__x86_64__)
    const char* want = detail::cpu_has_avx512bw() ? "avx512"
                       : detail::cpu_has_avx2()   ? "avx2"
                                                  : "scalar";
    CHECK(std::string(detail::ones_sum_impl()) == want);
#else
    CHECK(std::string(detail::ones_sum_impl()) == "scalar");
#endif
}
