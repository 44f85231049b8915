// The batched hash (Model::hash_many, SipHash in SIMD lanes) against the one-key hash it must
// equal: every model kind and Linux policy, both families, keys with and without ports or flow
// labels, batch sizes around the 8-lane width and the scalar cut-off, each SIMD version the CPU
// has. Model::hash itself is checked against the kernel's byte image and the kernel itself
// (direct_path_test.cpp, tests/kernel).
#include <catch2/catch.hpp>

#include <cstring>
#include <random>
#include <vector>

#include "hash/hash_model.h"
#include "hash/siphash.h"
#include "hash/siphash_lanes.h"

namespace {

using namespace ptbsteer;
using packet::Family;
using packet::FlowKey;

FlowKey random_key(std::mt19937_64& rng) {
    FlowKey k;
    k.family = rng() % 2 ? Family::v6 : Family::v4;
    const std::uint8_t protos[] = {6, 17, 47, 50, 132, 0};
    k.proto = protos[rng() % 6];
    k.first_nexthdr = rng() % 4 ? k.proto : 0; // sometimes a hop-by-hop header first
    const packet::L4 states[] = {packet::L4::ports, packet::L4::ports, packet::L4::ports,
                                 packet::L4::portless, packet::L4::truncated, packet::L4::spi};
    k.l4 = states[rng() % 6];
    if (packet::ports_known(k.l4) && k.l4 != packet::L4::portless) {
        k.sport = std::uint16_t(rng());
        k.dport = std::uint16_t(rng());
    }
    const std::size_t len = k.family == Family::v4 ? 4 : 16;
    for (std::size_t i = 0; i < len; ++i) {
        k.src.b[i] = std::uint8_t(rng());
        k.dst.b[i] = std::uint8_t(rng());
    }
    if (rng() % 8 == 0) k.dst = k.src; // equal addresses: consistentify's tie
    if (k.family == Family::v6 && rng() % 2) k.flow_label = std::uint32_t(rng()) & 0xfffff;
    return k;
}

std::vector<hash::Model> all_models() {
    using hash::Field;
    return {
        hash::Model::linux_kernel({0x1234, 0, hash::five_tuple}),
        hash::Model::linux_kernel({0x5678, 1, hash::five_tuple}),
        hash::Model::linux_kernel({0x9abc, 3, hash::five_tuple}),
        hash::Model::linux_kernel({0x9abc, 3, hash::five_tuple | Field::flow_label}),
        hash::Model::linux_kernel({0x9abc, 3, Field::src_ip | Field::dst_ip}),
        hash::Model::toeplitz({hash::default_rss_key(), hash::five_tuple}),
        hash::Model::crc32c({0xffffffff, hash::five_tuple}),
    };
}

} // namespace

TEST_CASE("hash_many equals hash for every model, family and batch size", "[hash][batch]") {
    INFO("SIMD lanes: " << hash::detail::sip_lanes_impl());
    std::mt19937_64 rng(2024);
    const std::vector<hash::Model> models = all_models();
    for (std::size_t n : {0, 1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 64, 200}) {
        for (int round = 0; round < 20; ++round) {
            std::vector<FlowKey> keys(n);
            std::vector<const FlowKey*> key_ptrs(n);
            std::vector<const hash::Model*> model_ptrs(n);
            // Half the rounds one model for the whole burst (one group), half a model per key.
            const std::size_t only = rng() % models.size();
            for (std::size_t i = 0; i < n; ++i) {
                keys[i] = random_key(rng);
                key_ptrs[i] = &keys[i];
                model_ptrs[i] = &models[round % 2 ? only : rng() % models.size()];
            }
            std::vector<std::uint32_t> out(n + 1, 0xdeadbeef);
            hash::Model::hash_many(model_ptrs.data(), key_ptrs.data(), n, out.data());
            for (std::size_t i = 0; i < n; ++i)
                REQUIRE(out[i] == model_ptrs[i]->hash(keys[i]));
            REQUIRE(out[n] == 0xdeadbeef); // nothing written past the end
        }
    }
}

TEST_CASE("every SIMD SipHash version equals the scalar one on every lane", "[hash][batch]") {
    std::mt19937_64 rng(7);
    for (std::size_t words = 0; words <= hash::SipLanes::max_words; ++words) {
        for (int round = 0; round < 50; ++round) {
            hash::SipLanes l;
            for (auto& row : l.v)
                for (auto& x : row) x = rng();
            for (auto& row : l.w)
                for (auto& x : row) x = rng();
            const std::uint64_t last = rng();
            std::uint64_t want[8], got[8];
            // The scalar lanes against SipHash itself: lane i is a message whose state after
            // its head is v[.][i] (the scalar version is the reference for the SIMD ones).
            hash::detail::sip_finish_lanes_scalar(l, words, last, want);
            for (std::size_t i = 0; i < 8; ++i) {
                hash::detail::SipState s{l.v[0][i], l.v[1][i], l.v[2][i], l.v[3][i]};
                for (std::size_t j = 0; j < words; ++j) s.compress(l.w[j][i]);
                REQUIRE(want[i] == hash::detail::sip_finish(s, last));
            }
#if defined(__x86_64__)
            if (hash::detail::cpu_has_avx2_lanes()) {
                hash::detail::sip_finish_lanes_avx2(l, words, last, got);
                REQUIRE(std::memcmp(got, want, sizeof want) == 0);
            }
            if (hash::detail::cpu_has_avx512_lanes()) {
                hash::detail::sip_finish_lanes_avx512(l, words, last, got);
                REQUIRE(std::memcmp(got, want, sizeof want) == 0);
            }
#endif
            hash::sip_finish_lanes(l, words, last, got);
            REQUIRE(std::memcmp(got, want, sizeof want) == 0);
        }
    }
}
