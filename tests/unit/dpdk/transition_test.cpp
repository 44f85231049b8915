// Transitions (lib/control/transition.h, lib/datapath/transition.h): which versions a change
// keeps, and the owners decide() sends a PTB to while they own flows. The truth for every flow
// is the decision of each version's tables compiled on their own, without any history.
#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "config/config.h"
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
constexpr std::uint64_t hz = 1000; // TSC cycles per second, for the tests' clock

// Group `web` with next-hops named by `hops` (MAC 02:00:00:00:01:<i + 1> unless `mac_base`).
config::Config version(const std::vector<std::string>& hops, unsigned copies = 2,
                       unsigned transition = 60, unsigned mac_base = 0, unsigned seed = 7) {
    std::string text = fmt::format(R"(
ports:
  - {{name: in, device: net_null0}}
  - {{name: out, device: net_null1}}
lcores: [{{id: 0, rx: [in, out], tx: true}}]
groups:
  - name: web
    prefixes: [198.51.100.0/24]
    hash: {{model: linux, policy: 1, seed: {}}}
    transition: {}
    transition_copies: {}
    next_hops:
)",
                                   seed, transition, copies);
    for (std::size_t i = 0; i < hops.size(); ++i)
        text += fmt::format("      - {{name: {}, port: out, mac: \"02:00:00:00:{:02x}:{:02x}\"}}\n",
                            hops[i], 1 + mac_base, i + 1);
    config::LoadResult r = config::load_config_text(text, "transition_test.yaml");
    REQUIRE(r.errors.empty());
    return *r.config;
}

Tables compile(const config::Config& cfg, const History* history = nullptr, std::uint64_t now = 0) {
    if (!history) return compile_tables(cfg, {0, 1}, {port_in, port_out});
    const PastState past{history, now, hz};
    const std::vector<DepartedHop> departed = departed_hops(cfg, *history);
    return compile_tables(cfg, {0, 1}, {port_in, port_out}, nullptr, nullptr, &past, &departed);
}

// A PTB for the connection of client 192.0.2.<c> port <port> to server 198.51.100.10.
test::Bytes ptb(unsigned c, std::uint16_t port) {
    test::Outer o;
    test::Inner in;
    o.src = "203.0.113.1";
    o.dst = in.src = "198.51.100.10";
    in.dst = fmt::format("192.0.2.{}", c);
    in.sport = 443;
    in.dport = port;
    in.l4_len = 1480;
    return test::build_ptb(o, in, 548);
}

std::vector<test::Bytes> flows() {
    std::vector<test::Bytes> v;
    for (unsigned c = 1; c < 255; c += 3)
        for (std::uint16_t port = 40000; port < 40040; port += 7)
            v.push_back(ptb(c, port));
    return v;
}

struct Seen {
    Action action;
    std::vector<std::string> owners; // the newest first
};

Seen decided(const Tables& t, const test::Bytes& f, std::uint64_t now, Guard* g = nullptr) {
    packet::PtbInfo info;
    const Decision d = decide(t, f, 0, info, g, now);
    Seen s{d.action, {}};
    if (d.action != Action::unicast && d.action != Action::transition) return s;
    s.owners.push_back(t.next_hop_names.at(d.target));
    const GroupEntry& group = t.groups.at(t.next_hop_group.at(d.target));
    for (unsigned i = 0; i < d.past_count; ++i)
        s.owners.push_back(t.next_hop_names.at(owner_index(group, d.past[i])));
    return s;
}

// The owner of a flow in a version's own tables.
std::string owner(const Tables& t, const test::Bytes& f) {
    const Seen s = decided(t, f, 0);
    REQUIRE(s.action == Action::unicast);
    return s.owners.at(0);
}

// The owners a PTB must reach: each version's, newest first, each once, at most `copies`.
std::vector<std::string> truth(const std::vector<const Tables*>& newest_first, const test::Bytes& f,
                               unsigned copies) {
    std::vector<std::string> out;
    for (const Tables* t : newest_first) {
        const std::string o = owner(*t, f);
        if (out.size() < copies && std::find(out.begin(), out.end(), o) == out.end())
            out.push_back(o);
    }
    return out;
}

} // namespace

TEST_CASE("transition history: which changes start one, how long versions last, how many",
          "[transition]") {
    const config::Config a = version({"a", "b", "c", "d"});
    const config::Config b = version({"a", "b", "d"});
    History h = next_history({}, a, b, 1000, hz);
    REQUIRE(h.size() == 1);
    REQUIRE(h.at("web").size() == 1);
    CHECK(h.at("web")[0].group.next_hops.size() == 4);
    CHECK(h.at("web")[0].retired_tsc == 1000);

    SECTION("a change of how next-hops are reached keeps the owners: no new version") {
        const config::Config moved = version({"a", "b", "d"}, 2, 60, 7); // other MACs
        const History same = next_history(h, b, moved, 2000, hz);
        REQUIRE(same.at("web").size() == 1);
        CHECK(same.at("web")[0].retired_tsc == 1000);
    }
    SECTION("a weight, an order or a hash change starts one") {
        config::Config weighted = b;
        weighted.groups[0].next_hops[0].weight = 3;
        CHECK(next_history(h, b, weighted, 2000, hz).at("web").size() == 2);
        CHECK(next_history(h, b, version({"b", "a", "d"}), 2000, hz).at("web").size() == 2);
        config::Config seeded = b;
        seeded.groups[0].hash.linux_params.seed = 8;
        CHECK(next_history(h, b, seeded, 2000, hz).at("web").size() == 2);
    }
    SECTION("a version leaves when its window closes, by the group's setting now") {
        CHECK(next_history(h, b, b, 1000 + 59 * hz, hz).at("web").size() == 1);
        CHECK(next_history(h, b, b, 1000 + 60 * hz, hz).empty());
        CHECK(next_history(h, b, version({"a", "b", "d"}, 2, 10), 1000 + 10 * hz, hz).empty());
        CHECK(next_history(h, b, version({"a", "b", "d"}, 2, 0), 1001, hz).empty());
    }
    SECTION("at most 7 past versions: the oldest go") {
        config::Config before = b;
        for (unsigned i = 0; i < 10; ++i) {
            config::Config next = before;
            next.groups[0].next_hops[0].weight = i + 2;
            h = next_history(h, before, next, 2000 + i, hz);
            before = next;
        }
        REQUIRE(h.at("web").size() == max_versions - 1);
        CHECK(h.at("web")[0].retired_tsc == 2009); // newest first
        CHECK(h.at("web")[6].retired_tsc == 2003);
    }
    SECTION("drop_first_ending: the version whose window ends first, of any group") {
        config::Config two = b;
        two.groups.push_back(b.groups[0]);
        two.groups[1].name = "api";
        two.groups[1].prefixes = {
            config::Prefix{packet::Family::v4, test::addr("203.0.113.0"), 24}};
        config::Config two_next = two;
        two_next.groups[1].next_hops.pop_back();
        History both = next_history(h, two, two_next, 3000, hz); // web: 1000; api: 3000
        REQUIRE(both.size() == 2);
        SECTION("the same window: the older version") {
            CHECK(drop_first_ending(both, two_next, hz));
            CHECK(both.size() == 1);
            CHECK(both.contains("api"));
        }
        SECTION("a shorter window ends first, though its version is newer") {
            two_next.groups[0].transition = 3600; // web: ends at 1000 + 3600 s
            two_next.groups[1].transition = 10;   // api: at 3000 + 10 s
            CHECK(drop_first_ending(both, two_next, hz));
            CHECK(both.size() == 1);
            CHECK(both.contains("web"));
        }
        CHECK(drop_first_ending(both, two_next, hz));
        CHECK_FALSE(drop_first_ending(both, two_next, hz));
    }
    SECTION("a group no longer served loses its history") {
        config::Config other = b;
        other.groups[0].name = "other";
        CHECK(next_history(h, b, other, 2000, hz).empty());
    }
    SECTION("departed next-hops: names the group lost, each once, the newest version's entry") {
        const config::Config c = version({"a", "d", "e"}, 2, 60, 5);
        const History hc = next_history(h, b, c, 2000, hz); // versions: b (a,b,d), a (a,b,c,d)
        const std::vector<DepartedHop> gone = departed_hops(c, hc);
        REQUIRE(gone.size() == 2);
        CHECK(gone[0].hop->name == "b");
        CHECK(gone[0].hop->mac == b.groups[0].next_hops[1].mac); // from b, the newer one
        CHECK(gone[1].hop->name == "c");
        CHECK(gone[1].group == 0);
    }
}

TEST_CASE("a removed next-hop: its flows go to their new owner and to it, until the window ends",
          "[transition]") {
    const config::Config a = version({"a", "b", "c", "d"});
    const config::Config b = version({"a", "b", "d"});
    const Tables ta = compile(a), tb = compile(b);
    const History h = next_history({}, a, b, 0, hz);
    const Tables t = compile(b, &h, 0);
    // The same history with a's compiled group taken from the tables it served in, as the
    // Reloader does: the same tables.
    History reused = h;
    keep_compiled(reused, ta);
    REQUIRE(reused.at("web")[0].compiled);
    const Tables t_reused = compile(b, &reused, 0);
    REQUIRE(t.serving_next_hops == 3);
    REQUIRE(t.past_groups.size() == 1);
    CHECK(t.past_groups[0].same_hash); // only the next-hops changed
    REQUIRE(t.next_hops.size() == 4);  // c, departed, after the serving ones
    CHECK(t.next_hop_names[3] == "web/c");
    unsigned moved = 0, kept = 0;
    for (const test::Bytes& f : flows()) {
        const std::vector<std::string> want = truth({&tb, &ta}, f, 2);
        const Seen s = decided(t, f, 1);
        CHECK(s.owners == want);
        CHECK(decided(t_reused, f, 1).owners == want);
        CHECK(s.action == (want.size() > 1 ? Action::transition : Action::unicast));
        (want.size() > 1 ? moved : kept)++;
        // After the window: the newest owner only.
        const Seen after = decided(t, f, 60 * hz);
        CHECK(after.action == Action::unicast);
        CHECK(after.owners == std::vector<std::string>{want[0]});
    }
    // Hash-threshold: removing one of four moves more than c's quarter.
    CHECK(moved > flows().size() / 4);
    CHECK(kept > 0);
}

TEST_CASE("a change of the hash: the earlier version hashes the flow its own way", "[transition]") {
    const config::Config a = version({"a", "b", "c", "d"});
    const config::Config b = version({"a", "b", "c", "d"}, 2, 60, 0, 8); // another seed
    const Tables ta = compile(a), tb = compile(b);
    const History h = next_history({}, a, b, 0, hz);
    const Tables t = compile(b, &h, 0);
    REQUIRE(t.past_groups.size() == 1);
    CHECK_FALSE(t.past_groups[0].same_hash);
    unsigned moved = 0;
    for (const test::Bytes& f : flows()) {
        const std::vector<std::string> want = truth({&tb, &ta}, f, 2);
        CHECK(decided(t, f, 1).owners == want);
        moved += want.size() > 1;
    }
    CHECK(moved > flows().size() / 2); // a new seed moves about 3/4 of the flows
}

TEST_CASE("chained changes: every version's owner, newest first, at most transition_copies",
          "[transition]") {
    const config::Config a = version({"a", "b", "c", "d"}, 3);
    const config::Config b = version({"a", "b", "d"}, 3);
    const config::Config c = version({"a", "b", "d", "e"}, 3);
    const Tables ta = compile(a), tb = compile(b), tc = compile(c);
    const History hb = next_history({}, a, b, 0, hz);
    const History hc = next_history(hb, b, c, 10 * hz, hz);
    REQUIRE(hc.at("web").size() == 2);
    for (unsigned copies : {1u, 2u, 3u}) {
        config::Config cc = c;
        cc.groups[0].transition_copies = copies;
        const Tables t = compile(cc, &hc, 10 * hz);
        unsigned three = 0;
        for (const test::Bytes& f : flows()) {
            const std::vector<std::string> want = truth({&tc, &tb, &ta}, f, copies);
            CHECK(decided(t, f, 10 * hz).owners == want);
            three += want.size() == 3;
            // a's window (60 s from 0) ends first; b's (60 s from 10 s) goes on.
            CHECK(decided(t, f, 60 * hz).owners == truth({&tc, &tb}, f, copies));
        }
        if (copies == 3) CHECK(three > 0);
    }
}

TEST_CASE("transition copies come out of the replication budget; then the newest owner only",
          "[transition]") {
    const config::Config a = version({"a", "b", "c", "d"});
    const config::Config b = version({"a", "b", "d"});
    const History h = next_history({}, a, b, 0, hz);
    const Tables t = compile(b, &h, 0);
    const Tables ta = compile(a), tb = compile(b);
    Guard g;
    g.replication = guard::Gcra(1, 4, hz); // 4 copies at once, then one a second
    unsigned copies = 0, cut = 0;
    for (const test::Bytes& f : flows()) {
        packet::PtbInfo info;
        const Decision d = decide(t, f, 0, info, &g, 1);
        const std::vector<std::string> want = truth({&tb, &ta}, f, 2);
        REQUIRE(d.action == (want.size() > 1 ? Action::transition : Action::unicast));
        CHECK(t.next_hop_names[d.target] == want[0]); // the newest owner, always
        if (d.action != Action::transition) continue;
        copies += d.past_count;
        cut += d.past_count == 0;
    }
    CHECK(copies == 4);
    CHECK(cut > 0);
}

TEST_CASE("a budget with room for one copy gives it to the newest earlier owner", "[transition]") {
    const config::Config a = version({"a", "b", "c", "d"}, 3);
    const config::Config b = version({"a", "b", "d"}, 3);
    const config::Config c = version({"a", "b", "d", "e"}, 3);
    const Tables ta = compile(a), tb = compile(b), tc = compile(c);
    const History hc = next_history(next_history({}, a, b, 0, hz), b, c, 10 * hz, hz);
    const Tables t = compile(c, &hc, 10 * hz);
    unsigned checked = 0;
    for (const test::Bytes& f : flows()) {
        const std::vector<std::string> want = truth({&tc, &tb, &ta}, f, 3);
        if (want.size() != 3) continue;
        Guard g;
        g.replication = guard::Gcra(1, 1, hz); // one token: never two at once
        const Seen s = decided(t, f, 10 * hz, &g);
        CHECK(s.action == Action::transition);
        CHECK(s.owners == std::vector<std::string>{want[0], want[1]});
        ++checked;
    }
    CHECK(checked > 0);
}
