// The fast per-packet Linux hash (word-wise, with SipHash midstates) must equal the reference
// path that builds the kernel's 80-byte flow_keys image byte by byte, for every policy, field
// subset and kind of key: the image path is what the kernel vectors pin down.
#include <catch2/catch.hpp>

#include <random>

#include "hash/crc32c.h"
#include "hash/linux_flow_keys.h"

using namespace ptbsteer;
using namespace ptbsteer::hash;
using packet::FlowKey;

namespace {

FlowKey random_key(std::mt19937_64& rng) {
    FlowKey k;
    k.family = rng() & 1 ? packet::Family::v4 : packet::Family::v6;
    const std::size_t n = k.family == packet::Family::v4 ? 4 : 16;
    for (std::size_t i = 0; i < n; ++i)
        k.src.b[i] = std::uint8_t(rng()), k.dst.b[i] = std::uint8_t(rng());
    if (rng() % 8 == 0) k.dst = k.src; // equal addresses: the consistentify tie
    static constexpr std::uint8_t protos[] = {6, 17, 132, 50, 51, 47, 1, 58, 0, 136};
    k.proto = protos[rng() % std::size(protos)];
    k.first_nexthdr = rng() % 4 == 0 ? 0 : k.proto;
    static constexpr packet::L4 kinds[] = {packet::L4::ports, packet::L4::spi, packet::L4::portless,
                                           packet::L4::truncated, packet::L4::unknown};
    k.l4 = kinds[rng() % std::size(kinds)];
    if (packet::ports_known(k.l4) && k.l4 != packet::L4::portless) {
        k.sport = std::uint16_t(rng());
        k.dport = rng() % 8 == 0 ? k.sport : std::uint16_t(rng());
    }
    if (k.family == packet::Family::v6 && rng() % 2) k.flow_label = std::uint32_t(rng()) & 0xfffff;
    return k;
}

} // namespace

TEST_CASE("the direct Linux hash equals the flow_keys image path", "[hash][linux]") {
    std::mt19937_64 rng(7690);
    for (std::uint32_t seed : {1u, 12345u, 0x9e3779b9u, 0xffffffffu}) {
        const LinuxHashKey key = linux_hash_key(seed);
        for (int i = 0; i < 20000; ++i) {
            const FlowKey k = random_key(rng);
            const std::uint8_t policy = std::uint8_t(std::array{0, 1, 3}[rng() % 3]);
            const std::uint32_t fields = policy == 3 ? std::uint32_t(rng() % 0x3f) + 1 : 0;
            LinuxKeyImage img = linux_flow_keys(k, policy, fields);
            linux_consistentify(img);
            const std::uint32_t want = linux_flow_hash(img, key.k0, key.k1);
            const std::uint32_t got = linux_flow_hash_direct(k, policy, fields, key);
            if (got != want) {
                INFO("seed " << seed << " policy " << int(policy) << " fields " << fields
                             << " proto " << int(k.proto) << " l4 " << int(k.l4));
                REQUIRE(got == want);
            }
        }
    }
}

TEST_CASE("CRC32C word helpers equal the portable byte loop", "[hash][crc32c]") {
    std::mt19937_64 rng(1191);
    for (int i = 0; i < 10000; ++i) {
        const std::uint32_t c = std::uint32_t(rng());
        const std::uint64_t v = rng();
        std::uint8_t b[8];
        for (int j = 0; j < 8; ++j)
            b[j] = std::uint8_t(v >> (8 * j)); // memory order
        CHECK(crc32c_u8(c, b[0]) == crc32c_update_portable(c, std::span(b, 1)));
        CHECK(crc32c_u16(c, std::uint16_t(v)) == crc32c_update_portable(c, std::span(b, 2)));
        CHECK(crc32c_u32(c, std::uint32_t(v)) == crc32c_update_portable(c, std::span(b, 4)));
        CHECK(crc32c_u64(c, v) == crc32c_update_portable(c, std::span(b, 8)));
    }
}
