// Group::decide: mode, the no-ports fallback, and hash -> selector composition. Verdict type.
#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "hash/hash_model.h"
#include "packet/flow_key.h"
#include "steer/group.h"
#include "steer/select.h"
#include "steer/verdict.h"

using namespace ptbsteer;
using steer::DropReason;
using steer::Fallback;
using steer::Group;
using steer::Mode;
using steer::SelectKind;
using steer::Selector;
using steer::Verdict;
using steer::VerdictKind;

namespace {

packet::FlowKey v4_flow(std::uint16_t sport, packet::L4 l4 = packet::L4::ports) {
    packet::FlowKey k;
    k.family = packet::Family::v4;
    k.proto = 6;
    k.l4 = l4;
    if (packet::ports_known(l4)) {
        k.sport = sport;
        k.dport = 443;
    }
    k.src.b = {198, 51, 100, 7};
    k.dst.b = {192, 0, 2, 10};
    return k;
}

hash::Model l4_model() {
    hash::LinuxParams p;
    p.seed = 0x1234567;
    p.policy = 1; // L4: hashes ports
    return hash::Model::linux_kernel(p);
}

hash::Model l3_model() {
    hash::LinuxParams p;
    p.seed = 0x1234567;
    p.policy = 0; // L3: addresses only (plus flow label for IPv6)
    return hash::Model::linux_kernel(p);
}

Selector four_way() {
    const std::vector<std::uint32_t> w = {1, 2, 1, 4};
    return Selector::build(SelectKind::hash_threshold, w);
}

} // namespace

TEST_CASE("verdict is a small trivially copyable value", "[steer][verdict]") {
    STATIC_REQUIRE(std::is_trivially_copyable_v<Verdict>);
    STATIC_REQUIRE(sizeof(Verdict) == 8);
    constexpr Verdict u = Verdict::unicast(3);
    STATIC_REQUIRE(u.kind == VerdictKind::unicast);
    STATIC_REQUIRE(u.next_hop() == 3);
    constexpr Verdict r = Verdict::replicate(9);
    STATIC_REQUIRE(r.kind == VerdictKind::replicate);
    STATIC_REQUIRE(r.group() == 9);
    constexpr Verdict d = Verdict::drop(DropReason::no_ports_fallback_drop);
    STATIC_REQUIRE(d.kind == VerdictKind::drop);
    STATIC_REQUIRE(d.reason == DropReason::no_ports_fallback_drop);
    STATIC_REQUIRE(name(DropReason::no_ports_fallback_drop) == "no_ports_fallback_drop");
    STATIC_REQUIRE(name(VerdictKind::replicate) == "replicate");
}

TEST_CASE("group in unicast mode picks selector(model.hash(flow))", "[steer][group]") {
    const hash::Model model = l4_model();
    const Group g(5, model, four_way());
    CHECK(g.next_hop_count() == 4);
    CHECK(g.id() == 5);
    const Selector sel = four_way();
    std::mt19937 rng(7);
    std::vector<int> seen(4, 0);
    for (int i = 0; i < 2000; ++i) {
        const auto flow = v4_flow(static_cast<std::uint16_t>(rng()));
        const Verdict v = g.decide(flow);
        REQUIRE(v.kind == VerdictKind::unicast);
        REQUIRE(v.next_hop() == sel.select(model.hash(flow)));
        ++seen[v.next_hop()];
    }
    for (int c : seen)
        CHECK(c > 0); // all four reachable over varied source ports
}

TEST_CASE("group in replicate mode always replicates", "[steer][group]") {
    const Group g(2, l4_model(), four_way(), Mode::replicate, Fallback::drop);
    CHECK(g.decide(v4_flow(1000)) == Verdict::replicate(2));
    CHECK(g.decide(v4_flow(0, packet::L4::truncated)) == Verdict::replicate(2));
}

TEST_CASE("missing ports apply the fallback only when the model hashes ports", "[steer][group]") {
    for (packet::L4 l4 : {packet::L4::truncated, packet::L4::unknown}) {
        const auto flow = v4_flow(0, l4);
        SECTION("fallback replicate (default)") {
            const Group g(1, l4_model(), four_way());
            CHECK(g.decide(flow) == Verdict::replicate(1));
        }
        SECTION("fallback drop") {
            const Group g(1, l4_model(), four_way(), Mode::unicast, Fallback::drop);
            CHECK(g.decide(flow) == Verdict::drop(DropReason::no_ports_fallback_drop));
        }
        SECTION("an L3 model does not need ports") {
            const hash::Model m = l3_model();
            REQUIRE_FALSE(m.needs_ports());
            const Group g(1, m, four_way(), Mode::unicast, Fallback::drop);
            const Verdict v = g.decide(flow);
            CHECK(v.kind == VerdictKind::unicast);
            CHECK(v.next_hop() == four_way().select(m.hash(flow)));
        }
    }
    SECTION("portless and SPI keys count as known") {
        const Group g(1, l4_model(), four_way(), Mode::unicast, Fallback::drop);
        CHECK(g.decide(v4_flow(0, packet::L4::portless)).kind == VerdictKind::unicast);
        CHECK(g.decide(v4_flow(77, packet::L4::spi)).kind == VerdictKind::unicast);
    }
}

TEST_CASE("group rejects an unbuilt selector", "[steer][group]") {
    CHECK_THROWS_AS(Group(0, l4_model(), Selector{}), std::invalid_argument);
}
