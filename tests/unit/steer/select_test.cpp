// Selector: Linux hash-threshold bounds and selection, weighted modulo, Maglev.
#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <vector>

#include "steer/select.h"

using ptbsteer::steer::SelectKind;
using ptbsteer::steer::Selector;

namespace {

// --- Independent references (written from the kernel text, not from select.cpp) ---

// fib_rebalance's bound as exact rounding of the rational w * 2^31 / total, half up:
// floor((2 * w * 2^31 + total) / (2 * total)) - 1.
std::vector<std::int64_t> reference_bounds(const std::vector<std::uint32_t>& weights) {
    unsigned __int128 total = 0;
    for (auto w : weights)
        total += w;
    std::vector<std::int64_t> out;
    unsigned __int128 w = 0;
    for (auto x : weights) {
        w += x;
        const unsigned __int128 num = 2 * (w << 31) + total;
        out.push_back(static_cast<std::int64_t>(num / (2 * total)) - 1);
    }
    return out;
}

// fib_select_multipath: walk the next-hops in order, skip while (hash >> 1) > upper_bound.
std::uint32_t linear_threshold(const std::vector<std::int64_t>& bounds, std::uint32_t h) {
    const std::int64_t x = h >> 1;
    for (std::uint32_t i = 0; i < bounds.size(); ++i)
        if (x <= bounds[i]) return i;
    return 0; // the kernel falls back to the first next-hop; unreachable when all are live
}

// fib_select_multipath / nexthop_select_path_hthr since Linux 6.6, with neighbour checks: walk in
// order, skip an unusable next-hop, remember the first usable one, return the first usable one
// whose bound holds the hash; else the first usable one; else entry 0.
std::uint32_t linear_threshold_neigh(const std::vector<std::int64_t>& bounds,
                                     const std::vector<std::uint8_t>& usable, std::uint32_t h) {
    const std::int64_t x = h >> 1;
    std::optional<std::uint32_t> first;
    for (std::uint32_t i = 0; i < bounds.size(); ++i) {
        if (!usable[i]) continue;
        if (!first) first = i;
        if (x <= bounds[i]) return i;
    }
    return first.value_or(0);
}

// Weighted modulo: next-hop i owns [sum(w[0..i-1]), sum(w[0..i])) of hash % total.
std::uint32_t linear_modulo(const std::vector<std::uint32_t>& weights, std::uint32_t h) {
    std::uint64_t total = 0;
    for (auto w : weights)
        total += w;
    std::uint64_t r = h % total, acc = 0;
    for (std::uint32_t i = 0; i < weights.size(); ++i) {
        acc += weights[i];
        if (r < acc) return i;
    }
    return ~0u;
}

std::vector<std::uint32_t> edge_hashes(const std::vector<std::int64_t>& bounds) {
    std::vector<std::uint32_t> hs = {0u,          1u,          2u,          3u,
                                     0x7fffffffu, 0x80000000u, 0xfffffffeu, 0xffffffffu};
    for (std::int64_t b : bounds) {
        // hash >> 1 == bound and bound + 1, each with both values of the dropped low bit.
        for (std::int64_t x : {b - 1, b, b + 1})
            if (x >= 0 && x <= 0x7fffffff) {
                hs.push_back(static_cast<std::uint32_t>(x) << 1);
                hs.push_back((static_cast<std::uint32_t>(x) << 1) | 1u);
            }
    }
    return hs;
}

std::vector<std::uint32_t> random_weights(std::mt19937_64& rng, std::size_t n,
                                          std::uint32_t max_w) {
    std::uniform_int_distribution<std::uint32_t> d(1, max_w);
    std::vector<std::uint32_t> w(n);
    for (auto& x : w)
        x = d(rng);
    return w;
}

} // namespace

TEST_CASE("hash_threshold bounds match fib_rebalance", "[steer][select]") {
    // 1,2,1 from docs/reference (linux-multipath-hash.md); the others computed with Python's
    // fractions.Fraction as round-half-up(w * 2^31 / total) - 1, independently of this code.
    struct Case {
        std::vector<std::uint32_t> weights;
        std::vector<std::int32_t> bounds;
    };
    const std::vector<Case> cases = {
        {{1, 2, 1}, {536870911, 1610612735, 2147483647}},
        {{1, 1, 1}, {715827882, 1431655764, 2147483647}},
        {{1, 1}, {1073741823, 2147483647}},
        {{3, 5, 7, 11}, {247786574, 660764198, 1238932873, 2147483647}},
        {{256, 1, 1}, {2130836487, 2139160067, 2147483647}},
        {{1, 1, 1, 1, 1, 1, 1},
         {306783377, 613566756, 920350134, 1227133512, 1533916890, 1840700269, 2147483647}},
        {{100, 200}, {715827882, 2147483647}},
        {{1}, {2147483647}},
    };
    for (const auto& c : cases) {
        const Selector s = Selector::build(SelectKind::hash_threshold, c.weights);
        CHECK(s.upper_bounds() == c.bounds);
        CHECK(s.size() == c.weights.size());
    }
}

TEST_CASE("hash_threshold 1,2,1 picks by hash >> 1 <= bound", "[steer][select]") {
    const std::vector<std::uint32_t> w = {1, 2, 1};
    const Selector s = Selector::build(SelectKind::hash_threshold, w);
    CHECK(s.select(0) == 0);
    CHECK(s.select(536870911u * 2 + 1) == 0); // hash >> 1 == bound[0]
    CHECK(s.select(536870912u * 2) == 1);     // bound[0] + 1
    CHECK(s.select(1610612735u * 2 + 1) == 1);
    CHECK(s.select(1610612736u * 2) == 2);
    CHECK(s.select(0xffffffffu) == 2);
}

// Random hashes per selector: fewer in the AddressSanitizer build (debug, instrumented), which
// looks for bad accesses, not for more agreement; the release build runs them all.
#if defined(__SANITIZE_ADDRESS__)
constexpr int random_hashes = 1000;
#else
constexpr int random_hashes = 5000;
#endif

TEST_CASE("hash_threshold with unusable neighbours equals the kernel's fallback walk",
          "[steer][select]") {
    std::mt19937_64 rng(0x5eed0007);
    std::uniform_int_distribution<std::uint32_t> any_hash;
    std::uint64_t checked = 0;
    for (std::size_t n : {1u, 2u, 3u, 5u, 8u, 64u, 4096u}) {
        for (int round = 0; round < 12; ++round) {
            const std::vector<std::uint32_t> w = random_weights(rng, n, round % 2 ? 256u : 1u);
            // Rounds 0 and 1: none usable; 2 and 3: only the last; then random subsets.
            std::vector<std::uint8_t> usable(n, 0);
            if (round >= 2 && round < 4) usable[n - 1] = 1;
            if (round >= 4)
                for (auto& u : usable)
                    u = static_cast<std::uint8_t>(rng() % 3 != 0);
            const Selector s = Selector::build_threshold(w, usable);
            const auto ref = reference_bounds(w);
            REQUIRE(s.upper_bounds().size() == n); // every next-hop keeps its share of the bounds
            for (std::uint32_t h : edge_hashes(ref)) {
                REQUIRE(s.select(h) == linear_threshold_neigh(ref, usable, h));
                ++checked;
            }
            for (int k = 0; k < random_hashes; ++k) {
                const std::uint32_t h = any_hash(rng);
                REQUIRE(s.select(h) == linear_threshold_neigh(ref, usable, h));
                ++checked;
            }
        }
    }
    CHECK(checked > std::uint64_t(84 * random_hashes));
    // All usable: the plain kernel walk.
    const std::vector<std::uint32_t> w = {1, 2, 1};
    const Selector all = Selector::build_threshold(w, std::vector<std::uint8_t>{1, 1, 1});
    const Selector none = Selector::build_threshold(w, std::vector<std::uint8_t>{0, 0, 0});
    const Selector middle = Selector::build_threshold(w, std::vector<std::uint8_t>{1, 0, 1});
    const Selector last = Selector::build_threshold(w, std::vector<std::uint8_t>{1, 1, 0});
    CHECK(all.select(1610612736u * 2) == 2);
    CHECK(none.select(0xffffffffu) == 0);
    CHECK(middle.select(536870912u * 2) == 2); // next-hop 1's range goes on to 2
    CHECK(last.select(1610612736u * 2) == 0);  // past the last usable: the first usable
    CHECK(last.select(536870912u * 2) == 1);
    CHECK_THROWS_AS(Selector::build_threshold(w, std::vector<std::uint8_t>{1, 1}),
                    std::invalid_argument);
}

TEST_CASE("hash_threshold acceleration equals the linear kernel walk", "[steer][select]") {
    std::mt19937_64 rng(0x5eed0001);
    std::uniform_int_distribution<std::uint32_t> any_hash;
    const std::vector<std::size_t> sizes = {1, 2, 3, 4, 5, 7, 8, 16, 31, 64, 100, 255, 1000, 4096};
    std::uint64_t checked = 0;
    for (std::size_t n : sizes) {
        for (std::uint32_t max_w : {1u, 3u, 256u, 100000u}) {
            std::vector<std::uint32_t> w = random_weights(rng, n, max_w);
            if (n > 2 && max_w == 256u)
                w[n / 2] = 1u << 20; // a heavy next-hop: many buckets share one index
            const Selector s = Selector::build(SelectKind::hash_threshold, w);
            const auto ref = reference_bounds(w);
            REQUIRE(s.upper_bounds().size() == ref.size());
            for (std::size_t i = 0; i < ref.size(); ++i)
                REQUIRE(s.upper_bounds()[i] == ref[i]);
            for (std::uint32_t h : edge_hashes(ref)) {
                REQUIRE(s.select(h) == linear_threshold(ref, h));
                ++checked;
            }
            for (int k = 0; k < 20000; ++k) {
                const std::uint32_t h = any_hash(rng);
                REQUIRE(s.select(h) == linear_threshold(ref, h));
                ++checked;
            }
            // Every acceleration bucket's first value and last value.
            const std::size_t buckets = s.table().size();
            const unsigned shift = 31 - static_cast<unsigned>(std::countr_zero(buckets));
            for (std::size_t k = 0; k < buckets; ++k) {
                const std::uint32_t lo = static_cast<std::uint32_t>(k) << shift;
                const std::uint32_t hi = lo | ((1u << shift) - 1);
                for (std::uint32_t x : {lo, hi}) {
                    REQUIRE(s.select(x << 1) == linear_threshold(ref, x << 1));
                    REQUIRE(s.select((x << 1) | 1) == linear_threshold(ref, (x << 1) | 1));
                }
                checked += 4;
            }
        }
    }
    // A total weight at the limit (Linux keeps it in an int).
    const std::vector<std::uint32_t> big = {0x7fffffffu - 2, 1, 1};
    const Selector s = Selector::build(SelectKind::hash_threshold, big);
    const auto ref = reference_bounds(big);
    for (std::uint32_t h : edge_hashes(ref))
        REQUIRE(s.select(h) == linear_threshold(ref, h));
    CHECK(checked > 1000000);
}

TEST_CASE("hash_threshold acceleration table sizing and step counts", "[steer][select]") {
    std::mt19937_64 rng(0x5eed0002);
    std::uniform_int_distribution<std::uint32_t> any_hash;
    for (std::size_t n : {2u, 64u, 4096u}) {
        const std::vector<std::uint32_t> w(n, 1);
        const Selector s = Selector::build(SelectKind::hash_threshold, w);
        const std::size_t buckets = s.table().size();
        CHECK(buckets >= 4096);
        CHECK(buckets <= 65536);
        CHECK((buckets & (buckets - 1)) == 0);
        const unsigned shift = 31 - static_cast<unsigned>(std::countr_zero(buckets));
        std::uint64_t steps = 0, max_steps = 0;
        const int samples = 200000;
        for (int k = 0; k < samples; ++k) {
            const std::uint32_t h = any_hash(rng);
            const std::uint32_t start = s.table()[(h >> 1) >> shift];
            const std::uint64_t st = s.select(h) - start;
            steps += st;
            max_steps = std::max(max_steps, st);
        }
        // Equal weights, >= 16 buckets per next-hop: a bucket holds at most one bound.
        CHECK(max_steps <= 1);
        INFO("n=" << n << " mean steps " << double(steps) / samples);
        CHECK(double(steps) / samples < 0.1);
    }
}

TEST_CASE("modulo is weighted hash % total", "[steer][select]") {
    std::mt19937_64 rng(0x5eed0003);
    std::uniform_int_distribution<std::uint32_t> any_hash;
    const std::vector<std::uint32_t> w = {1, 2, 1};
    const Selector s = Selector::build(SelectKind::modulo, w);
    CHECK(s.table().size() == 4);
    CHECK(s.upper_bounds().empty());
    CHECK(s.select(0) == 0);
    CHECK(s.select(1) == 1);
    CHECK(s.select(2) == 1);
    CHECK(s.select(3) == 2);
    CHECK(s.select(4) == 0);
    CHECK(s.select(0xffffffffu) == 2); // 2^32 - 1 = 3 mod 4

    for (std::size_t n : {1u, 2u, 3u, 7u, 64u, 1000u, 4096u}) {
        const std::uint32_t max_w =
            static_cast<std::uint32_t>(std::min<std::size_t>(16, 65536 / n));
        const auto weights = random_weights(rng, n, max_w);
        const Selector m = Selector::build(SelectKind::modulo, weights);
        for (std::uint32_t h : {0u, 1u, 0x7fffffffu, 0x80000000u, 0xfffffffeu, 0xffffffffu})
            REQUIRE(m.select(h) == linear_modulo(weights, h));
        for (int k = 0; k < 50000; ++k) {
            const std::uint32_t h = any_hash(rng);
            REQUIRE(m.select(h) == linear_modulo(weights, h));
        }
    }
    // Odd totals exercise the fastmod path with non-powers of two, at the largest total.
    const std::vector<std::uint32_t> big = {65535, 1};
    const Selector m = Selector::build(SelectKind::modulo, big);
    for (std::uint32_t h : {65534u, 65535u, 65536u, 0xffffffffu, 0xfffeffffu})
        REQUIRE(m.select(h) == linear_modulo(big, h));
}

TEST_CASE("maglev table size is the smallest prime >= max(101, 100 n)", "[steer][select]") {
    // Hand-checked: 201=3*67, 203=7*29, 205=5*41, 207=9*23, 209=11*19; 301=7*43, 303=3*101.
    CHECK(Selector::maglev_table_size(1) == 101);
    CHECK(Selector::maglev_table_size(2) == 211);
    CHECK(Selector::maglev_table_size(3) == 307);
    CHECK(Selector::maglev_table_size(10) == 1009);
    const std::uint32_t m4096 = Selector::maglev_table_size(4096);
    CHECK(m4096 >= 409600);
    CHECK(m4096 < 409700);
}

TEST_CASE("maglev: lookup is table[h % M], every slot filled, deterministic", "[steer][select]") {
    const std::vector<std::uint32_t> w(7, 1);
    const Selector s = Selector::build(SelectKind::maglev, w);
    const std::uint32_t m = Selector::maglev_table_size(7);
    REQUIRE(s.table().size() == m);
    std::mt19937_64 rng(0x5eed0004);
    std::uniform_int_distribution<std::uint32_t> any_hash;
    for (int k = 0; k < 100000; ++k) {
        const std::uint32_t h = any_hash(rng);
        REQUIRE(s.select(h) == s.table()[h % m]);
    }
    for (std::uint32_t h : {0u, m - 1, m, 0xffffffffu})
        REQUIRE(s.select(h) == s.table()[h % m]);
    for (std::uint32_t nh : s.table())
        REQUIRE(nh < 7);
    const Selector again = Selector::build(SelectKind::maglev, w);
    CHECK(again.table() == s.table());
}

namespace {

std::vector<double> shares(const Selector& s) {
    std::vector<double> count(s.size(), 0);
    for (std::uint32_t nh : s.table())
        count[nh] += 1;
    for (auto& c : count)
        c /= static_cast<double>(s.table().size());
    return count;
}

} // namespace

TEST_CASE("maglev balance follows the weights", "[steer][select]") {
    SECTION("equal weights") {
        for (std::size_t n : {2u, 10u, 100u, 1000u}) {
            const Selector s =
                Selector::build(SelectKind::maglev, std::vector<std::uint32_t>(n, 1));
            for (double share : shares(s))
                REQUIRE(share == Approx(1.0 / n).epsilon(0.03));
        }
    }
    SECTION("weighted") {
        const std::vector<std::uint32_t> w = {1, 2, 3, 4, 10};
        const Selector s = Selector::build(SelectKind::maglev, w);
        const auto sh = shares(s);
        for (std::size_t i = 0; i < w.size(); ++i)
            CHECK(sh[i] == Approx(w[i] / 20.0).epsilon(0.03));
        std::mt19937_64 rng(0x5eed0005);
        const auto ww = random_weights(rng, 50, 8);
        const Selector big = Selector::build(SelectKind::maglev, ww);
        std::uint64_t total = 0;
        for (auto x : ww)
            total += x;
        const auto bs = shares(big);
        for (std::size_t i = 0; i < ww.size(); ++i)
            CHECK(bs[i] == Approx(double(ww[i]) / double(total)).epsilon(0.05));
    }
}

TEST_CASE("maglev minimal disruption with stable ids and a fixed table size", "[steer][select]") {
    const std::size_t n = 20;
    const std::uint32_t m = 65537; // prime; the size a deployment keeps fixed
    std::vector<std::uint64_t> ids;
    for (std::size_t i = 0; i < n; ++i)
        ids.push_back(Selector::maglev_id("server-" + std::to_string(i)));
    const std::vector<std::uint32_t> w(n, 1);
    const Selector before = Selector::build_maglev(w, ids, m);

    double worst = 0;
    for (std::size_t gone = 0; gone < n; ++gone) {
        std::vector<std::uint64_t> ids2 = ids;
        ids2.erase(ids2.begin() + static_cast<std::ptrdiff_t>(gone));
        const Selector after =
            Selector::build_maglev(std::vector<std::uint32_t>(n - 1, 1), ids2, m);
        // Index j after removal names old next-hop j (j < gone) or j + 1.
        std::size_t moved_others = 0, owned_by_gone = 0;
        for (std::uint32_t slot = 0; slot < m; ++slot) {
            const std::uint32_t old_nh = before.table()[slot];
            if (old_nh == gone) {
                ++owned_by_gone;
                continue;
            }
            std::uint32_t new_nh = after.table()[slot];
            if (new_nh >= gone) ++new_nh;
            if (new_nh != old_nh) ++moved_others;
        }
        const double frac = double(moved_others) / double(m - owned_by_gone);
        worst = std::max(worst, frac);
        // The removed next-hop's ~1/N of slots must move; of the rest only a few percent do
        // (the paper's Figure 11 reports similar). A modulo scheme would move ~(N-1)/N.
        REQUIRE(frac <= 1.0 / n);
    }
    INFO("worst fraction of other slots moved: " << worst);
    CHECK(worst > 0.0);
    std::printf("maglev N=%zu M=%u: worst share of surviving slots moved on removal %.4f\n", n, m,
                worst);
}

TEST_CASE("maglev ids: a next-hop keeps its permutation, empty ids use the index",
          "[steer][select]") {
    const std::vector<std::uint32_t> w = {1, 1, 1};
    const std::vector<std::uint64_t> ids = {0, 1, 2};
    const Selector by_index = Selector::build(SelectKind::maglev, w);
    const Selector explicit_ids = Selector::build(SelectKind::maglev, w, ids);
    CHECK(by_index.table() == explicit_ids.table());
    // FNV-1a 64 of "" is the offset basis; of "a" is 0xaf63dc4c8601ec8c (FNV test vectors).
    CHECK(Selector::maglev_id("") == 0xcbf29ce484222325ULL);
    CHECK(Selector::maglev_id("a") == 0xaf63dc4c8601ec8cULL);
}

TEST_CASE("selector rejects bad input at build time", "[steer][select]") {
    using V = std::vector<std::uint32_t>;
    for (SelectKind k : {SelectKind::hash_threshold, SelectKind::modulo, SelectKind::maglev}) {
        CHECK_THROWS_AS(Selector::build(k, V{}), std::invalid_argument);
        CHECK_THROWS_AS(Selector::build(k, V{1, 0, 1}), std::invalid_argument);
        CHECK_THROWS_AS(Selector::build(k, V(4097, 1)), std::invalid_argument);
        CHECK_NOTHROW(Selector::build(k, V(4096, 1)));
    }
    CHECK_THROWS_AS(Selector::build(SelectKind::hash_threshold, V{0x7fffffffu, 1}),
                    std::invalid_argument);
    CHECK_NOTHROW(Selector::build(SelectKind::hash_threshold, V{0x7ffffffeu, 1}));
    CHECK_THROWS_AS(Selector::build(SelectKind::modulo, V{65536, 1}), std::invalid_argument);
    CHECK_NOTHROW(Selector::build(SelectKind::modulo, V{65535, 1}));
    const std::vector<std::uint64_t> two_ids = {1, 2};
    CHECK_THROWS_AS(Selector::build(SelectKind::maglev, V{1, 1, 1}, two_ids),
                    std::invalid_argument);
    CHECK_THROWS_AS(Selector::build_maglev(V{1, 1}, {}, 100), std::invalid_argument);  // not prime
    CHECK_THROWS_AS(Selector::build_maglev(V{1, 1, 1}, {}, 2), std::invalid_argument); // < n
    CHECK_NOTHROW(Selector::build_maglev(V{1, 1, 1}, {}, 3));
}

TEST_CASE("an unbuilt selector picks next-hop 0 instead of reading out of bounds",
          "[steer][select]") {
    const Selector s;
    CHECK(s.size() == 0);
    CHECK(s.select(12345) == 0);
}

TEST_CASE("hash_threshold worst-case steps with skewed weights", "[steer][select]") {
    // One heavy next-hop squeezes the others into few buckets: the step loop then walks up to
    // the number of bounds sharing a bucket, but only for the rare hashes that land there.
    std::vector<std::uint32_t> w(4096, 1);
    w.back() = 1u << 20;
    const Selector s = Selector::build(SelectKind::hash_threshold, w);
    const std::size_t buckets = s.table().size();
    const unsigned shift = 31 - static_cast<unsigned>(std::countr_zero(buckets));
    std::uint32_t worst = 0;
    for (std::size_t k = 0; k < buckets; ++k) {
        const std::uint32_t last = (static_cast<std::uint32_t>(k) << shift) | ((1u << shift) - 1);
        worst = std::max(worst, s.select(last << 1) - s.table()[k]);
    }
    std::printf("hash_threshold 4095 x w1 + 1 x w2^20: %zu buckets, worst %u steps\n", buckets,
                worst);
    CHECK(worst <= 32);
}

// Not run by default (hidden tag): ./unit-tests "[.bench]"
TEST_CASE("selector cost per lookup", "[.bench]") {
    std::mt19937_64 rng(0x5eed0006);
    std::uniform_int_distribution<std::uint32_t> any_hash;
    std::vector<std::uint32_t> hashes(1u << 20);
    for (auto& h : hashes)
        h = any_hash(rng);
    const auto time_ns = [&](auto&& pick, std::size_t count) {
        std::uint64_t sink = 0;
        double best = 1e9;
        for (int round = 0; round < 10; ++round) {
            const auto t0 = std::chrono::steady_clock::now();
            for (std::size_t i = 0; i < count; ++i)
                sink += pick(hashes[i & (hashes.size() - 1)]);
            const auto t1 = std::chrono::steady_clock::now();
            best = std::min(best, std::chrono::duration<double, std::nano>(t1 - t0).count() /
                                      static_cast<double>(count));
        }
        REQUIRE(sink != 0xdeadbeefdeadbeefULL); // keeps the loop alive
        return best;
    };
    const char* names[] = {"hash_threshold", "modulo", "maglev"};
    for (SelectKind kind : {SelectKind::hash_threshold, SelectKind::modulo, SelectKind::maglev}) {
        for (std::size_t n : {2u, 64u, 4096u}) {
            const Selector s = Selector::build(kind, std::vector<std::uint32_t>(n, 1));
            const double ns =
                time_ns([&](std::uint32_t h) { return s.select(h); }, std::size_t{4} << 20);
            std::printf("%-14s n=%4zu: %.2f ns/select\n", names[static_cast<int>(kind)], n, ns);
        }
    }
    // Maglev as the appliance builds it: the stable table size (65537 up to 512 next-hops).
    for (std::size_t n : {2u, 64u, 4096u}) {
        const Selector s = Selector::build_maglev(std::vector<std::uint32_t>(n, 1), {},
                                                  Selector::maglev_stable_table_size(n));
        const double ns =
            time_ns([&](std::uint32_t h) { return s.select(h); }, std::size_t{4} << 20);
        std::printf("maglev stable  n=%4zu: %.2f ns/select (M=%u)\n", n, ns,
                    Selector::maglev_stable_table_size(n));
    }
    // The plain linear walk for comparison (what the acceleration table replaces).
    for (std::size_t n : {2u, 64u, 4096u}) {
        const auto ref = reference_bounds(std::vector<std::uint32_t>(n, 1));
        const double ns = time_ns([&](std::uint32_t h) { return linear_threshold(ref, h); },
                                  std::size_t{1} << 16);
        std::printf("linear walk    n=%4zu: %.2f ns/select\n", n, ns);
    }
}

TEST_CASE("maglev stable table size: one size up to 512 next-hops, then 100 x a power of two",
          "[steer][select]") {
    for (std::size_t n : {1u, 2u, 20u, 100u, 512u})
        CHECK(Selector::maglev_stable_table_size(n) == 65537);
    CHECK(Selector::maglev_stable_table_size(513) == Selector::maglev_table_size(1024));
    CHECK(Selector::maglev_stable_table_size(1024) == Selector::maglev_table_size(1024));
    CHECK(Selector::maglev_stable_table_size(1025) == Selector::maglev_table_size(2048));
    CHECK(Selector::maglev_stable_table_size(4096) == Selector::maglev_table_size(4096));
}

TEST_CASE("resilient: the kernel's bucket (hash >> 1) % buckets, its next-hop as given",
          "[steer][select]") {
    const std::vector<std::uint16_t> buckets = {2, 0, 0, 1, 2, 1, 1};
    const Selector s = Selector::build_resilient(3, buckets);
    CHECK(s.kind() == SelectKind::resilient);
    CHECK(s.size() == 3);
    std::uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 100000; ++i) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        const auto h = static_cast<std::uint32_t>(x);
        // nexthop_select_path_res(): bucket_index = hash % num_nh_buckets, where hash is
        // fib_multipath_hash()'s, already shifted right by one.
        REQUIRE(s.select(h) == buckets[(h >> 1) % buckets.size()]);
    }
    CHECK_THROWS_WITH(Selector::build_resilient(2, buckets), Catch::Contains("next-hop 2 of 2"));
    CHECK_THROWS_WITH(Selector::build_resilient(3, {}), Catch::Contains("0 buckets"));
    CHECK_THROWS_WITH(Selector::build(SelectKind::resilient, std::vector<std::uint32_t>{1}),
                      Catch::Contains("bucket table"));
}
