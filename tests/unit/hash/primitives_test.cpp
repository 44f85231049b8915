// The hash primitives against independent sources: the SipHash paper's vectors, the
// Microsoft/Intel RSS verification suite, the CRC-32C check value, and DPDK's own
// implementations (rte_jhash, rte_softrss, rte_hash_crc) over many pseudo-random inputs.
#include <catch2/catch.hpp>

#include <rte_hash_crc.h>
#include <rte_jhash.h>
#include <rte_thash.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <vector>

#include <arpa/inet.h>

#include "hash/crc32c.h"
#include "hash/hash_model.h"
#include "hash/jhash.h"
#include "hash/siphash.h"
#include "hash/toeplitz.h"

using namespace ptbsteer::hash;

namespace {

// SipHash reference implementation's vectors.h (github.com/veorq/SipHash), vectors_sip64:
// key = 00 01 .. 0f, message i = 00 01 .. (i-1); output bytes little-endian.
struct SipVector {
    std::size_t len;
    std::array<std::uint8_t, 8> out;
};
const SipVector sip_vectors[] = {
    {0, {0x31, 0x0e, 0x0e, 0xdd, 0x47, 0xdb, 0x6f, 0x72}},
    {1, {0xfd, 0x67, 0xdc, 0x93, 0xc5, 0x39, 0xf8, 0x74}},
    {7, {0x37, 0xd1, 0x01, 0x8b, 0xf5, 0x00, 0x02, 0xab}},
    {8, {0x62, 0x24, 0x93, 0x9a, 0x79, 0xf5, 0xf5, 0x93}},
    {15, {0xe5, 0x45, 0xbe, 0x49, 0x61, 0xca, 0x29, 0xa1}},
    {16, {0xdb, 0x9b, 0xc2, 0x57, 0x7f, 0xcc, 0x2a, 0x3f}},
    {47, {0xeb, 0x75, 0x09, 0x5c, 0xcd, 0x98, 0x6c, 0xd0}},
    {48, {0x51, 0xa9, 0xcb, 0x9e, 0xcb, 0xa3, 0x12, 0xe6}}, // the IPv4 flow_keys length
    {63, {0x72, 0x45, 0x06, 0xeb, 0x4c, 0x32, 0x8a, 0x95}},
};

std::uint64_t le64(const std::array<std::uint8_t, 8>& b) {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i)
        v = (v << 8) | b[i];
    return v;
}

// Microsoft "Verifying the RSS hash calculation" / Intel 82599 datasheet §7.1.2.8.3, as
// DPDK's app/test/test_thash.c carries them: source and destination, ports, hash of the
// addresses only, hash of addresses and ports. Default key.
struct RssVector {
    const char* src; // IPv4 or IPv6 text
    const char* dst;
    std::uint16_t sport, dport;
    std::uint32_t l3, l3l4;
};
const RssVector rss_vectors[] = {
    {"66.9.149.187", "161.142.100.80", 2794, 1766, 0x323e8fc2, 0x51ccc178},
    {"199.92.111.2", "65.69.140.83", 14230, 4739, 0xd718262a, 0xc626b0ea},
    {"24.19.198.95", "12.22.207.184", 12898, 38024, 0xd2d0a5de, 0x5c2b394a},
    {"38.27.205.30", "209.142.163.6", 48228, 2217, 0x82989176, 0xafc7327f},
    {"153.39.163.191", "202.188.127.2", 44251, 1303, 0x5d1809c5, 0x10e828a2},
    {"3ffe:2501:200:1fff::7", "3ffe:2501:200:3::1", 2794, 1766, 0x2cc18cd5, 0x40207d3d},
    {"3ffe:501:8::260:97ff:fe40:efab", "ff02::1", 14230, 4739, 0x0f0c461c, 0xdde51bbf},
    {"3ffe:1900:4545:3:200:f8ff:fe21:67cf", "fe80::200:f8ff:fe21:67cf", 44251, 38024, 0x4b61e985,
     0x02d1feef},
};

// The address's bytes in network order (4 or 16 of them).
std::vector<std::uint8_t> address_bytes(const char* text) {
    const bool v6 = std::strchr(text, ':') != nullptr;
    std::vector<std::uint8_t> b(v6 ? 16 : 4);
    REQUIRE(inet_pton(v6 ? AF_INET6 : AF_INET, text, b.data()) == 1);
    return b;
}

// The RSS input: source and destination address, then (with `ports`) both ports big-endian.
std::vector<std::uint8_t> rss_input(const RssVector& v, bool ports) {
    std::vector<std::uint8_t> in = address_bytes(v.src);
    const std::vector<std::uint8_t> dst = address_bytes(v.dst);
    in.insert(in.end(), dst.begin(), dst.end());
    if (ports) {
        for (std::uint16_t port : {v.sport, v.dport}) {
            in.push_back(static_cast<std::uint8_t>(port >> 8));
            in.push_back(static_cast<std::uint8_t>(port));
        }
    }
    return in;
}

// rte_softrss takes the input as host-order 32-bit words: word i = bytes 4i..4i+3 big-endian.
std::uint32_t dpdk_softrss(std::span<const std::uint8_t> in, const std::uint8_t* key) {
    std::array<std::uint32_t, 9> words{};
    for (std::size_t i = 0; i < in.size(); ++i)
        words[i / 4] |= std::uint32_t{in[i]} << (8 * (3 - i % 4));
    return rte_softrss(words.data(), static_cast<std::uint32_t>(in.size() / 4), key);
}

} // namespace

TEST_CASE("SipHash-2-4 matches the SipHash paper's test vectors", "[hash][siphash]") {
    std::array<std::uint8_t, 64> msg{};
    for (std::size_t i = 0; i < msg.size(); ++i)
        msg[i] = static_cast<std::uint8_t>(i);
    const std::uint64_t k0 = 0x0706050403020100ULL, k1 = 0x0f0e0d0c0b0a0908ULL;
    for (const auto& v : sip_vectors) {
        CAPTURE(v.len);
        CHECK(siphash24(k0, k1, std::span(msg.data(), v.len)) == le64(v.out));
    }
}

TEST_CASE("jhash_2words agrees with DPDK's independent lookup3 (rte_jhash_2words)",
          "[hash][jhash]") {
    std::mt19937 rng(7);
    static_assert(jhash_2words(0, 0, 0) == jhash_2words(0, 0, 0)); // usable at compile time
    CHECK(jhash_2words(0, 0, 0) == rte_jhash_2words(0, 0, 0));
    for (int i = 0; i < 10000; ++i) {
        const std::uint32_t a = rng(), b = rng(), init = (i % 3 == 0) ? 0 : rng();
        REQUIRE(jhash_2words(a, b, init) == rte_jhash_2words(a, b, init));
    }
}

TEST_CASE("Toeplitz matches the Microsoft RSS verification suite", "[hash][toeplitz]") {
    const auto key = default_rss_key();
    for (const auto& v : rss_vectors) {
        INFO(v.src << " -> " << v.dst);
        CHECK(toeplitz(key, rss_input(v, false)) == v.l3);
        CHECK(toeplitz(key, rss_input(v, true)) == v.l3l4);
    }
}

TEST_CASE("Toeplitz agrees with DPDK's rte_softrss on random inputs and keys", "[hash][toeplitz]") {
    std::mt19937 rng(11);
    alignas(4) std::array<std::uint8_t, 40> key{};
    for (int round = 0; round < 200; ++round) {
        for (auto& b : key)
            b = static_cast<std::uint8_t>(rng());
        for (std::size_t len : {8u, 12u, 32u, 36u}) {
            std::vector<std::uint8_t> in(len);
            for (auto& b : in)
                b = static_cast<std::uint8_t>(rng());
            REQUIRE(toeplitz(key, in) == dpdk_softrss(in, key.data()));
        }
    }
}

TEST_CASE("CRC-32C: standard check value and agreement with rte_hash_crc", "[hash][crc32c]") {
    const std::uint8_t check[] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
    // Standard CRC-32C ("CRC-32/ISCSI"): init 0xffffffff, final XOR 0xffffffff.
    CHECK(~crc32c_update(0xffffffff, check) == 0xE3069283u);
    CHECK(~crc32c_update_portable(0xffffffff, check) == 0xE3069283u);
    // rte_hash_crc is the bare register update: no final XOR.
    CHECK(rte_hash_crc(check, sizeof check, 0xffffffff) == crc32c_update(0xffffffff, check));

    std::mt19937 rng(3);
    for (int i = 0; i < 2000; ++i) {
        std::vector<std::uint8_t> in(rng() % 45);
        for (auto& b : in)
            b = static_cast<std::uint8_t>(rng());
        const std::uint32_t init = rng();
        const auto len = static_cast<std::uint32_t>(in.size());
        REQUIRE(crc32c_update(init, in) == rte_hash_crc(in.data(), len, init));
        REQUIRE(crc32c_update_portable(init, in) == crc32c_update(init, in));
    }
}
