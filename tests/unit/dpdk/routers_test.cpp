// Per-router group states (config `routers:`, docs/configuration.md "Routers"): decide() picks
// the state of the router that handed the PTB over, told apart by source MAC, VLAN or port. The
// truth for each router is decide() on a configuration holding that router's state alone as a
// plain group (the path every other test proves against the kernel).
#include <catch2/catch.hpp>

#include <string>

#include <fmt/format.h>

#include "config/config.h"
#include "control/build.h"
#include "control/compile_tables.h"
#include "control/transition.h"
#include "datapath/decide.h"
#include "frame_builder.h"

using namespace ptbsteer;
using namespace ptbsteer::datapath;
using namespace ptbsteer::control;

namespace {

const Mac port_in = {0x02, 0xaa, 0, 0, 0, 0x01};
const Mac port_out = {0x02, 0xaa, 0, 0, 0, 0x02};
const Mac edge1_mac = {0x02, 0, 0, 0, 0xe1, 0x01};

const std::string head = R"(
ports:
  - {name: in, device: net_null0}
  - {name: out, device: net_null1}
lcores: [{id: 0, rx: [in, out], tx: true}]
)";

// Edge1 and edge2 order the same servers differently and hash with other seeds; edge2 also
// sees server d.
// `like`: whose next-hops and hash (default: the router's own); a state without `router:` needs
// it.
std::string state(const std::string& router, const std::string& extra = "",
                  const std::string& like = "") {
    const bool one = (like.empty() ? router : like) == "edge1";
    std::string s = "  - name: web\n";
    if (!router.empty()) s += "    router: " + router + "\n";
    s += extra;
    s += "    prefixes: [198.51.100.0/24, 2001:db8:100::/48]\n";
    s += std::string("    hash: {model: linux, policy: 1, seed: ") + (one ? "7" : "99") + "}\n";
    s += "    next_hops:\n";
    const char* order = one ? "abc" : "cbda";
    for (const char* c = order; *c; ++c)
        s += fmt::format("      - {{name: {}, port: out, mac: \"02:00:00:00:01:0{}\", weight: "
                         "{}}}\n",
                         *c, *c - 'a' + 1, one ? 1 : (*c - 'a' + 1));
    return s;
}

const std::string routers = R"(routers:
  - {name: edge1, mac: "02:00:00:00:e1:01"}
  - {name: edge2, vlan: 20}
  - {name: edge3, port: in}
)";

Tables compile(const std::string& text) {
    const config::LoadResult r = config::load_config_text(text, "routers_test.yaml");
    std::string errors;
    for (const auto& e : r.errors)
        errors += config::to_string(e) + "\n";
    INFO(errors);
    REQUIRE(r.config);
    return compile_tables(*r.config, {0, 1}, {port_in, port_out});
}

// A PTB quoting flow `i` (its client port), from source MAC `src` with the VLANs given.
test::Bytes ptb(int i, const Mac& src, std::vector<std::pair<std::uint16_t, std::uint16_t>> vlans,
                bool v6 = false) {
    test::Outer o;
    test::Inner in;
    o.family = in.family = v6 ? packet::Family::v6 : packet::Family::v4;
    o.src = v6 ? "2001:db8:ffff::1" : "203.0.113.1";
    o.dst = in.src = v6 ? "2001:db8:100::10" : "198.51.100.10";
    in.dst =
        v6 ? "2001:db8:1::" + std::to_string(i % 97 + 1) : "192.0.2." + std::to_string(i % 250 + 1);
    in.sport = 443;
    in.dport = std::uint16_t(1024 + i);
    in.l4_len = 1480;
    o.vlans = std::move(vlans);
    test::Bytes f = test::build_ptb(o, in, 548);
    std::copy(src.begin(), src.end(), f.begin() + 6);
    return f;
}

struct Seen {
    std::string what; // the next-hop's name, "replicate:N" or the drop reason
    std::uint8_t router = 0;
    std::string group; // the key of the state that decided ("web": the shared one)
    bool shared = false;
};

Seen seen(const Tables& t, const test::Bytes& f, std::size_t rx_port = 1) {
    packet::PtbInfo info;
    const Decision d = decide(t, f, rx_port, info);
    Seen s{"", d.router, "", false};
    if (d.action == Action::unicast || d.action == Action::transition) {
        const std::string& n = t.next_hop_names.at(d.target);
        s.what = n.substr(n.find('/') + 1);
        s.group = t.group_names.at(t.next_hop_group.at(d.target));
        s.shared = t.group_is_shared.at(t.next_hop_group.at(d.target));
    } else if (d.action == Action::replicate) {
        s.what = "replicate:" + std::to_string(t.groups.at(d.target).next_hop_count);
        s.group = t.group_names.at(d.target);
        s.shared = t.group_is_shared.at(d.target);
    } else {
        s.what = std::string(name(d.drop));
    }
    return s;
}

} // namespace

TEST_CASE("routers: each router's PTBs are steered by its own state", "[routers]") {
    const Tables both = compile(head + routers + "groups:\n" + state("edge1") + state("edge2"));
    // Each router's state alone, as a plain group.
    const Tables only1 = compile(head + "groups:\n" + state("", "", "edge1"));
    const Tables only2 = compile(head + "groups:\n" + state("", "", "edge2"));
    const Mac other = {0x02, 0, 0, 0, 0, 0x99};
    int differ = 0;
    for (int i = 0; i < 400; ++i)
        for (const bool v6 : {false, true}) {
            const auto from1 = ptb(i, edge1_mac, {}, v6);
            const auto from2 = ptb(i, other, {{0x8100, 20}}, v6);
            const Seen a = seen(both, from1), b = seen(both, from2);
            CHECK(a.what == seen(only1, from1).what);
            CHECK(a.router == 1);
            CHECK(a.group == "edge1/web");
            CHECK_FALSE(a.shared);
            // The VLAN is edge2's whatever the MAC; a MAC match would win over it.
            CHECK(b.what == seen(only2, ptb(i, other, {{0x8100, 20}}, v6)).what);
            CHECK(b.router == 2);
            differ += a.what != b.what;
            // edge1's MAC in edge2's VLAN: the MAC wins.
            CHECK(seen(both, ptb(i, edge1_mac, {{0x8100, 20}}, v6)).router == 1);
        }
    // The two states disagree on many flows: a single state would misdeliver them.
    CHECK(differ > 200);
}

TEST_CASE("routers: a PTB from a router without a state of its own", "[routers]") {
    const Mac stranger = {0x02, 0, 0, 0, 0, 0x77};
    SECTION("by default: replicated to every next-hop of the group's states") {
        const Tables t = compile(head + routers + "groups:\n" + state("edge1") + state("edge2"));
        // No router matched (another MAC, no VLAN, port out): the derived shared state.
        const Seen s = seen(t, ptb(1, stranger, {}), 1);
        CHECK(s.what == "replicate:4"); // a, b, c and edge2's d
        CHECK(s.router == 0);
        CHECK(s.group == "web"); // the shared state (derived)
        CHECK(s.shared);
        // edge3 (by port) has no state of its own: the shared state too, counted as edge3's.
        const Seen e3 = seen(t, ptb(1, stranger, {}), 0);
        CHECK(e3.what == "replicate:4");
        CHECK(e3.router == 3);
        CHECK(e3.group == "web");
    }
    SECTION("unknown_router: a named router's state") {
        const Tables t = compile(head + routers + "groups:\n" +
                                 state("edge1", "    unknown_router: edge2\n") + state("edge2"));
        const Tables only2 = compile(head + "groups:\n" + state("", "", "edge2"));
        for (int i = 0; i < 100; ++i)
            CHECK(seen(t, ptb(i, stranger, {}), 0).what == seen(only2, ptb(i, stranger, {})).what);
    }
    SECTION("a state for every router beside a router's own") {
        const Tables t =
            compile(head + routers + "groups:\n" + state("", "", "edge1") + state("edge2"));
        const Tables only1 = compile(head + "groups:\n" + state("", "", "edge1"));
        for (int i = 0; i < 100; ++i) {
            const Seen s = seen(t, ptb(i, stranger, {}), 0);
            CHECK(s.what == seen(only1, ptb(i, stranger, {})).what);
            CHECK(s.router == 3);
            CHECK(s.group == "web");
        }
    }
}

TEST_CASE("routers: configuration mistakes", "[routers][config]") {
    struct Bad {
        std::string text;
        const char* says;
    };
    const std::vector<Bad> table = {
        {head + "routers: [{name: e, mac: \"02:00:00:00:00:01\", vlan: 3}]\ngroups:\n" +
             state("", "", "edge1"),
         "needs exactly one of mac"},
        {head + "routers: [{name: e, vlan: 3}, {name: f, vlan: 3}]\ngroups:\n" +
             state("", "", "edge1"),
         "same vlan as another router"},
        {head + "routers: [{name: unmatched, vlan: 3}]\ngroups:\n" + state("", "", "edge1"),
         "cannot name a router"},
        {head + routers + "groups:\n" + state("edge9"), "no router of that name"},
        {head + routers + "groups:\n" + state("edge1", "    unknown_router: edge7\n"),
         "unknown_router names router 'edge7'"},
        {head + routers + "groups:\n" + state("edge1") + state("edge1"),
         "group 'web' of router 'edge1' is defined twice"},
        {head + routers + "groups:\n" + state("edge1") +
             [] {
                 std::string s = state("edge2");
                 s.replace(s.find("198.51.100.0/24"), 15, "198.51.100.0/25");
                 return s;
             }(),
         "serves other prefixes"},
        {head + routers + "groups:\n" + state("edge1") +
             [] {
                 std::string s = state("edge2");
                 s.replace(s.find("02:00:00:00:01:01"), 17, "02:00:00:00:09:09");
                 return s;
             }(),
         "is another server than in the group's other state"},
        {head + routers + "groups:\n" + state("edge1") +
             [] {
                 std::string s = state("edge2");
                 s.replace(s.find("weight: 1}"), 10, "weight: 1, vlan: 100}");
                 return s;
             }(),
         "is another server than in the group's other state"},
        {head + routers + "groups:\n" + state("edge1", "    unknown_router: edge3\n") +
             state("edge2"),
         "unknown_router names router 'edge3', which has no state of this group"},
        {head + routers + "groups:\n" + state("", "    unknown_router: edge1\n", "edge1") +
             state("edge2"),
         "unknown_router applies to a group without a state for every router"},
        {head + "routers: [{name: replicate, vlan: 3}]\ngroups:\n" + state("", "", "edge1"),
         "cannot name a router"},
        {head + "groups:\n" +
             [] {
                 std::string s = state("", "", "edge1");
                 s.replace(s.find("name: web"), 9, "name: we/b");
                 return s;
             }(),
         "a group's name has no '/'"},
    };
    for (const Bad& b : table) {
        const config::LoadResult r = config::load_config_text(b.text, "routers_test.yaml");
        std::string all;
        for (const auto& e : r.errors)
            all += config::to_string(e) + "\n";
        INFO(all);
        CHECK_FALSE(r.config);
        CHECK(all.find(b.says) != std::string::npos);
    }
}

TEST_CASE("routers: the shared state of big states is checked like any group", "[routers]") {
    std::string big = head + routers + "groups:\n";
    for (const char* router : {"edge1", "edge2"}) {
        big += fmt::format("  - name: web\n    router: {}\n    prefixes: [198.51.100.0/24]\n"
                           "    hash: {{model: linux, policy: 1, seed: 7}}\n    next_hops:\n",
                           router);
        for (int i = 0; i < 3000; ++i)
            big += fmt::format(
                "      - {{name: {}{}, port: out, mac: \"02:00:00:{:02x}:{:02x}:{:02x}\"}}\n",
                router, i, router[4] == '1' ? 1 : 2, i >> 8, i & 0xff);
    }
    const config::LoadResult r = config::load_config_text(big, "routers_test.yaml");
    std::string all;
    for (const auto& e : r.errors)
        all += config::to_string(e) + "\n";
    INFO(all);
    CHECK_FALSE(r.config); // each state holds 3000, the union for the other routers 6000
    CHECK(all.find("6000 next-hops exceed the limit of 4096") != std::string::npos);
}

TEST_CASE("routers: a next-hop one state drops while another serves it is not departed",
          "[routers][transition]") {
    const config::LoadResult before = config::load_config_text(
        head + routers + "groups:\n" + state("edge1") + state("edge2"), "before.yaml");
    // edge1 drops a; edge2 still serves it.
    std::string without_a = state("edge1");
    const std::size_t a = without_a.find("      - {name: a,");
    without_a.erase(a, without_a.find("      - {name: b,") - a);
    const config::LoadResult after = config::load_config_text(
        head + routers + "groups:\n" + without_a + state("edge2"), "after.yaml");
    REQUIRE(before.config);
    REQUIRE(after.config);
    const History h = next_history({}, *before.config, *after.config, 1000, 1);
    REQUIRE(h.count("edge1/web") == 1);
    const std::vector<DepartedHop> departed = departed_hops(*after.config, h);
    for (const DepartedHop& d : departed)
        CHECK(d.hop->name != "a");
    // The earlier edge1 version's `a` is edge2's serving `a` (one slot, one neighbour entry).
    const PastState past{&h, 1000, 1};
    const Tables t = compile_tables(*after.config, {0, 1}, {port_in, port_out}, nullptr, nullptr,
                                    &past, &departed);
    CHECK(t.next_hops.size() == t.serving_next_hops);
    std::size_t gi = 0;
    while (t.group_names[gi] != "edge1/web")
        ++gi;
    const GroupEntry& e = t.groups[gi];
    REQUIRE(e.past_count == 1);
    const std::uint32_t first = t.past_groups[e.past_first].first_hop;
    CHECK(t.next_hop_names[t.past_hops[first]] == "web/a");
    // Counter slots: a group's states share a name's slot, counted once.
    NextHopSlots slots(4);
    CHECK(
        slots.needed(
            {{"web", "a"}, {"web", "a"}, {"web", "b"}, {"web", "b"}, {"web", "c"}, {"web", "c"}}) ==
        3);
}
