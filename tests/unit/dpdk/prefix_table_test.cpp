// PrefixTable over rte_lpm/rte_lpm6: longest match, edges, errors, and agreement with a naive
// linear longest-prefix match over many random prefixes and addresses.
#include <catch2/catch.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <vector>

#include <arpa/inet.h>

#include "packet/flow_key.h"
#include "steer/prefix_table.h"

using ptbsteer::packet::Family;
using ptbsteer::packet::IpAddr;
using ptbsteer::steer::PrefixTable;

namespace {

IpAddr v4(const char* text) {
    IpAddr a;
    REQUIRE(inet_pton(AF_INET, text, a.b.data()) == 1);
    return a;
}

IpAddr v6(const char* text) {
    IpAddr a;
    REQUIRE(inet_pton(AF_INET6, text, a.b.data()) == 1);
    return a;
}

struct Rule {
    Family family;
    IpAddr prefix;
    unsigned len;
    std::uint32_t group;
};

bool bit(const IpAddr& a, unsigned i) {
    return (a.b[i / 8] >> (7 - i % 8)) & 1u;
}

bool covers(const Rule& r, Family f, const IpAddr& a) {
    if (r.family != f) return false;
    for (unsigned i = 0; i < r.len; ++i)
        if (bit(r.prefix, i) != bit(a, i)) return false;
    return true;
}

// The obvious definition: among the rules of the family covering the address, the longest.
std::optional<std::uint32_t> naive_lookup(const std::vector<Rule>& rules, Family f,
                                          const IpAddr& a) {
    std::optional<std::uint32_t> best;
    int best_len = -1;
    for (const Rule& r : rules)
        if (covers(r, f, a) && static_cast<int>(r.len) > best_len) {
            best = r.group;
            best_len = static_cast<int>(r.len);
        }
    return best;
}

// Clears every bit from `len` on (all 16 bytes: IPv4 keys keep bytes 4..15 zero).
IpAddr masked(IpAddr a, unsigned len) {
    for (unsigned i = len; i < 128; ++i)
        a.b[i / 8] &= static_cast<std::uint8_t>(~(0x80u >> (i % 8)));
    return a;
}

IpAddr random_addr(std::mt19937_64& rng, Family f) {
    IpAddr a;
    const unsigned bytes = f == Family::v4 ? 4 : 16;
    for (unsigned i = 0; i < bytes; ++i)
        a.b[i] = static_cast<std::uint8_t>(rng());
    return a;
}

// Addresses near the prefix: the prefix itself, its last address, random hosts inside it, and the
// addresses just past either end.
std::vector<IpAddr> probes_for(std::mt19937_64& rng, const Rule& r) {
    const unsigned width = r.family == Family::v4 ? 32 : 128;
    std::vector<IpAddr> out;
    out.push_back(r.prefix);
    IpAddr last = r.prefix;
    for (unsigned i = r.len; i < width; ++i)
        last.b[i / 8] |= static_cast<std::uint8_t>(0x80u >> (i % 8));
    out.push_back(last);
    IpAddr inside = random_addr(rng, r.family);
    for (unsigned i = 0; i < r.len; ++i) {
        const auto m = static_cast<std::uint8_t>(0x80u >> (i % 8));
        inside.b[i / 8] =
            static_cast<std::uint8_t>((inside.b[i / 8] & ~m) | (r.prefix.b[i / 8] & m));
    }
    out.push_back(inside);
    // last + 1 and prefix - 1 (big-endian increment/decrement within the family's width).
    IpAddr after = last, before = r.prefix;
    for (int i = static_cast<int>(width / 8) - 1; i >= 0; --i)
        if (++after.b[static_cast<unsigned>(i)] != 0) break;
    for (int i = static_cast<int>(width / 8) - 1; i >= 0; --i)
        if (before.b[static_cast<unsigned>(i)]-- != 0) break;
    out.push_back(after);
    out.push_back(before);
    return out;
}

} // namespace

// Lookups of one family: each address and the group it must find (nullopt: a miss). The
// other family's table is probed too: a default route of one never answers the other.
struct Probe {
    const char* address;
    std::optional<std::uint32_t> group;
};

IpAddr parse(Family f, const char* text) {
    return f == Family::v4 ? v4(text) : v6(text);
}

struct Route {
    const char* prefix;
    std::uint8_t length;
    std::uint32_t group;
};

void add_routes(PrefixTable& t, Family f, std::initializer_list<Route> routes) {
    for (const Route& r : routes)
        t.add(f, parse(f, r.prefix), r.length, r.group);
}

void check_lookups(const PrefixTable& t, Family f, std::initializer_list<Probe> probes) {
    for (const Probe& p : probes) {
        INFO(p.address);
        CHECK(t.lookup(f, parse(f, p.address)) == p.group);
    }
}

TEST_CASE("IPv4 longest match, /0, /32 and misses", "[dpdk][prefix]") {
    PrefixTable t;
    check_lookups(t, Family::v4, {{"192.0.2.1", std::nullopt}});
    add_routes(t, Family::v4,
               {{"192.0.2.0", 24, 1},
                {"192.0.2.128", 25, 2},
                {"192.0.2.200", 32, 3},
                {"198.51.100.0", 24, 4}});
    check_lookups(t, Family::v4,
                  {{"192.0.2.1", 1},
                   {"192.0.2.127", 1},
                   {"192.0.2.128", 2},
                   {"192.0.2.199", 2},
                   {"192.0.2.200", 3},
                   {"192.0.2.201", 2},
                   {"198.51.100.255", 4},
                   {"203.0.113.1", std::nullopt},
                   {"192.0.3.0", std::nullopt}});
    // An IPv4 default route does not answer IPv6 lookups and vice versa.
    check_lookups(t, Family::v6, {{"2001:db8::1", std::nullopt}});
    t.add(Family::v4, v4("0.0.0.0"), 0, 9);
    check_lookups(t, Family::v4, {{"203.0.113.1", 9}, {"255.255.255.255", 9}, {"192.0.2.200", 3}});
    check_lookups(t, Family::v6, {{"2001:db8::1", std::nullopt}});
    CHECK(t.size() == 5);
}

TEST_CASE("IPv6 longest match, /0, /128 and misses", "[dpdk][prefix]") {
    PrefixTable t;
    add_routes(t, Family::v6,
               {{"2001:db8::", 32, 10},
                {"2001:db8:1::", 48, 11},
                {"2001:db8:1::1", 128, 12},
                {"2001:db8:1:2::", 63, 13}});
    check_lookups(t, Family::v6,
                  {{"2001:db8:ffff::1", 10},
                   {"2001:db8:1::", 11},
                   {"2001:db8:1::1", 12},
                   {"2001:db8:1::2", 11},
                   {"2001:db8:1:3:ffff::", 13}, // the /63 covers :2 and :3
                   {"2001:db8:1:4::", 11},
                   {"2001:db9::", std::nullopt}});
    check_lookups(t, Family::v4, {{"192.0.2.1", std::nullopt}});
    t.add(Family::v6, v6("::"), 0, 14);
    check_lookups(t, Family::v6,
                  {{"2001:db9::", 14},
                   {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 14},
                   {"2001:db8:1::1", 12}});
    check_lookups(t, Family::v4, {{"192.0.2.1", std::nullopt}});
}

TEST_CASE("prefix table rejects bad prefixes at build time", "[dpdk][prefix]") {
    PrefixTable t;
    CHECK_THROWS_AS(t.add(Family::v4, v4("192.0.2.0"), 33, 1), std::invalid_argument);
    CHECK_THROWS_AS(t.add(Family::v6, v6("2001:db8::"), 129, 1), std::invalid_argument);
    CHECK_THROWS_AS(t.add(Family::v4, v4("192.0.2.1"), 24, 1), std::invalid_argument);
    CHECK_THROWS_AS(t.add(Family::v6, v6("2001:db8::1"), 64, 1), std::invalid_argument);
    CHECK_THROWS_AS(t.add(Family::v4, v4("192.0.2.0"), 24, PrefixTable::max_group_id + 1),
                    std::invalid_argument);
    t.add(Family::v4, v4("192.0.2.0"), 24, PrefixTable::max_group_id);
    CHECK(t.lookup(Family::v4, v4("192.0.2.9")) == PrefixTable::max_group_id);
    CHECK_THROWS_AS(t.add(Family::v4, v4("192.0.2.0"), 24, 2), std::invalid_argument);
    t.add(Family::v6, v6("::"), 0, 1);
    CHECK_THROWS_AS(t.add(Family::v6, v6("::"), 0, 2), std::invalid_argument);
    t.add(Family::v6, v6("2001:db8::"), 32, 3);
    CHECK_THROWS_AS(t.add(Family::v6, v6("2001:db8::"), 32, 3), std::invalid_argument);
    // An IPv4 key with stray bytes beyond the first four breaks the IpAddr invariant.
    IpAddr bad = v4("192.0.2.0");
    bad.b[5] = 1;
    CHECK_THROWS_AS(t.add(Family::v4, bad, 24, 1), std::invalid_argument);
    CHECK(t.size() == 3);
}

TEST_CASE("prefix tables are independent, movable and uniquely named", "[dpdk][prefix]") {
    PrefixTable a, b;
    a.add(Family::v4, v4("192.0.2.0"), 24, 1);
    b.add(Family::v4, v4("192.0.2.0"), 24, 2);
    CHECK(a.lookup(Family::v4, v4("192.0.2.5")) == 1u);
    CHECK(b.lookup(Family::v4, v4("192.0.2.5")) == 2u);
    PrefixTable c(std::move(a));
    CHECK(c.lookup(Family::v4, v4("192.0.2.5")) == 1u);
    CHECK_FALSE(a.lookup(Family::v4, v4("192.0.2.5"))); // NOLINT: moved-from is empty
    b = std::move(c);
    CHECK(b.lookup(Family::v4, v4("192.0.2.5")) == 1u);
    // Creating and freeing many tables in turn: names never collide, memory is returned.
    for (int i = 0; i < 20; ++i) {
        PrefixTable t;
        t.add(Family::v4, v4("198.51.100.0"), 24, static_cast<std::uint32_t>(i));
        t.add(Family::v6, v6("2001:db8::"), 32, static_cast<std::uint32_t>(i));
        REQUIRE(t.lookup(Family::v6, v6("2001:db8::5")) == static_cast<std::uint32_t>(i));
    }
}

TEST_CASE("rte_lpm/rte_lpm6 agree with a naive longest match", "[dpdk][prefix]") {
    std::mt19937_64 rng(0x1f1f2026);
    for (Family f : {Family::v4, Family::v6}) {
        const unsigned width = f == Family::v4 ? 32 : 128;
        const std::size_t count = f == Family::v4 ? 2000 : 800;
        PrefixTable::Limits lim;
        lim.tbl8s_v4 = 4096;
        PrefixTable t(lim);
        std::vector<Rule> rules;
        // Lengths drawn mostly from the interesting middle plus both ends; nested prefixes come
        // from reusing earlier prefixes' leading bits.
        // Short prefixes would cover everything (two /1s do): start at /8 (v4) and /16 (v6) so
        // random addresses both hit and miss; the explicit tests cover /0.
        std::uniform_int_distribution<unsigned> any_len(f == Family::v4 ? 8 : 16, width);
        while (rules.size() < count) {
            unsigned len = any_len(rng);
            IpAddr base = random_addr(rng, f);
            if (!rules.empty() && rng() % 2 == 0) {
                const Rule& parent = rules[rng() % rules.size()];
                base = parent.prefix;
                for (unsigned i = parent.len; i < width; ++i)
                    if (rng() & 1) base.b[i / 8] |= static_cast<std::uint8_t>(0x80u >> (i % 8));
                len = parent.len + static_cast<unsigned>(rng() % (width - parent.len + 1));
            }
            const Rule r{f, masked(base, len), len,
                         static_cast<std::uint32_t>(rng() % (PrefixTable::max_group_id + 1))};
            bool dup = false;
            for (const Rule& o : rules)
                dup = dup || (o.len == r.len && o.prefix == r.prefix);
            if (dup) continue;
            t.add(f, r.prefix, static_cast<std::uint8_t>(r.len), r.group);
            rules.push_back(r);
        }
        std::size_t hits = 0, probes = 0;
        for (const Rule& r : rules)
            for (const IpAddr& a : probes_for(rng, r)) {
                const auto want = naive_lookup(rules, f, a);
                REQUIRE(t.lookup(f, a) == want);
                hits += want.has_value();
                ++probes;
            }
        for (int k = 0; k < 20000; ++k) {
            const IpAddr a = random_addr(rng, f);
            const auto want = naive_lookup(rules, f, a);
            REQUIRE(t.lookup(f, a) == want);
            hits += want.has_value();
            ++probes;
        }
        INFO("probes " << probes << " hits " << hits);
        CHECK(hits < probes); // misses were exercised too
        // The prefix, its last address and a host inside it always match (at least) the rule.
        CHECK(hits >= 3 * rules.size());
    }
}

TEST_CASE("a shared prefix table answers alike, outlives the one it came from, and is frozen",
          "[dpdk][prefix]") {
    auto t = std::make_unique<PrefixTable>();
    add_routes(*t, Family::v4, {{"192.0.2.0", 24, 1}, {"198.51.100.0", 24, 2}});
    add_routes(*t, Family::v6, {{"2001:db8::", 32, 3}});
    const PrefixTable shared = t->share();
    CHECK(shared.size() == t->size());
    CHECK_THROWS_AS(t->add(Family::v4, v4("203.0.113.0"), 24, 4), std::logic_error);
    t.reset(); // the first generation is retired: the DPDK tables stay for the one sharing them
    check_lookups(shared, Family::v4, {{"192.0.2.9", 1}, {"198.51.100.9", 2}});
    check_lookups(shared, Family::v6, {{"2001:db8::9", 3}});
}

TEST_CASE("a recycled prefix table is empty: it forgets every rule it had and serves anew",
          "[dpdk][prefix]") {
    ptbsteer::steer::PrefixRecycler recycler;
    {
        PrefixTable first(PrefixTable::Limits{}, &recycler);
        // Rules that live in tbl24 only and rules that take tbl8 groups (longer than /24).
        add_routes(first, Family::v4,
                   {{"192.0.2.0", 24, 1}, {"198.51.100.128", 26, 2}, {"198.51.100.200", 32, 7}});
        add_routes(first, Family::v6, {{"2001:db8::", 32, 3}, {"2001:db8:1::", 48, 4}});
        check_lookups(first, Family::v4, {{"198.51.100.130", 2}});
        const PrefixTable shared = first.share();
        CHECK(recycler.kept() == 0);
    } // the last table sharing them is gone: both DPDK tables go back, emptied
    CHECK(recycler.kept() == 2);

    PrefixTable next(PrefixTable::Limits{}, &recycler);
    add_routes(next, Family::v4, {{"203.0.113.0", 24, 5}});
    add_routes(next, Family::v6, {{"2001:db8:2::", 48, 6}});
    CHECK(recycler.kept() == 0); // both taken, none created
    check_lookups(next, Family::v4,
                  {{"192.0.2.9", std::nullopt},
                   {"198.51.100.130", std::nullopt},
                   {"198.51.100.200", std::nullopt},
                   {"203.0.113.9", 5}});
    check_lookups(
        next, Family::v6,
        {{"2001:db8::9", std::nullopt}, {"2001:db8:1::1", std::nullopt}, {"2001:db8:2::1", 6}});
    // The old rules can be added again (they were deleted, not only hidden).
    add_routes(next, Family::v4, {{"198.51.100.128", 26, 8}});
    check_lookups(next, Family::v4, {{"198.51.100.130", 8}});
}
