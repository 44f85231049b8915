// ptbsteer-sync's rules (lib/sync/plan.h, sync_config.h) on kernel states built by hand: which
// next-hops are pushed, in what order, and when the group can only be replicated, each with the
// sentence that says why. No kernel needed.
#include <catch2/catch.hpp>

#include <linux/neighbour.h>

#include "config/values.h"
#include "sync/plan.h"
#include "sync/sync_config.h"

using namespace ptbsteer;
using namespace ptbsteer::sync;

namespace {

packet::IpAddr ip(const char* text) {
    packet::Family f;
    return *config::parse_ip(text, f);
}

KernelNextHop hop(const char* gw, std::uint32_t weight, int ifindex = 2) {
    KernelNextHop h;
    h.family =
        std::string(gw).find(':') == std::string::npos ? packet::Family::v4 : packet::Family::v6;
    h.gateway = ip(gw);
    h.weight = weight;
    h.ifindex = ifindex;
    h.ifname = "eth" + std::to_string(ifindex);
    return h;
}

// The route 198.51.100.0/24 over three gateways, seed 7, policy 0.
KernelState state() {
    KernelState k;
    KernelRoute r;
    r.dst = ip("198.51.100.0");
    r.length = 24;
    r.kind = GroupKind::multipath;
    r.hops = {hop("203.0.113.2", 1), hop("203.0.113.6", 3), hop("203.0.113.10", 1)};
    k.routes.push_back(r);
    k.sysctls.seed = 7;
    return k;
}

GroupSpec spec() {
    GroupSpec g;
    g.name = "web";
    g.dst = ip("198.51.100.0");
    g.length = 24;
    g.port = "servers";
    return g;
}

std::vector<std::string> names(const Plan& p) {
    std::vector<std::string> v;
    for (const auto& h : p.body["next_hops"])
        v.push_back(h["name"]);
    return v;
}

} // namespace

TEST_CASE("plan: the kernel's order and weights, its hash; exact", "[sync]") {
    KernelState k = state();
    const Plan p = plan_group(spec(), k);
    REQUIRE(p.found);
    CHECK(p.exact);
    CHECK(p.why.empty());
    CHECK(names(p) == std::vector<std::string>{"203.0.113.2", "203.0.113.6", "203.0.113.10"});
    CHECK(p.body["next_hops"][1]["weight"] == 3);
    CHECK(p.body["next_hops"][1]["via"] == "203.0.113.6");
    CHECK(p.body["next_hops"][1]["port"] == "servers");
    CHECK(p.body["mode"] == "unicast");
    CHECK(p.body["hash"] == nlohmann::json{{"model", "linux"}, {"policy", 0}, {"seed", 7}});
    CHECK(p.body["prefixes"] == nlohmann::json::array({"198.51.100.0/24"}));
    k.sysctls.v4_policy = 3;
    k.sysctls.v4_fields = 0x37;
    CHECK(plan_group(spec(), k).body["hash"]["fields"] == 0x37);
}

TEST_CASE("plan: dead next-hops are left out, as the kernel's bounds leave them", "[sync]") {
    KernelState k = state();
    k.routes[0].hops[1].dead = true;
    CHECK(names(plan_group(spec(), k)) == std::vector<std::string>{"203.0.113.2", "203.0.113.10"});
    k.routes[0].hops[1].dead = false;
    k.routes[0].hops[2].linkdown = true; // counted unless the family ignores linkdown routes
    CHECK(plan_group(spec(), k).body["next_hops"].size() == 3);
    k.sysctls.v4_ignore_linkdown = true;
    CHECK(plan_group(spec(), k).body["next_hops"].size() == 2);
    for (KernelNextHop& h : k.routes[0].hops)
        h.dead = true;
    const Plan none = plan_group(spec(), k);
    CHECK(none.found);
    CHECK(none.body.is_null());
    CHECK_THAT(none.why, Catch::Contains("no live next-hop"));
}

TEST_CASE("plan: replicate, with the reason, where the kernel's pick cannot be known", "[sync]") {
    struct Case {
        const char* what;
        void (*edit)(KernelState&, GroupSpec&);
        const char* says;
    };
    const Case cases[] = {
        {"seed 0", [](KernelState& k, GroupSpec&) { k.sysctls.seed = 0; },
         "fib_multipath_hash_seed is 0"},
        {"no seed sysctl", [](KernelState& k, GroupSpec&) { k.sysctls.seed.reset(); },
         "no net.ipv4.fib_multipath_hash_seed"},
        {"policy 1", [](KernelState& k, GroupSpec&) { k.sysctls.v4_policy = 1; },
         "software_hash: true"},
        {"policy 2", [](KernelState& k, GroupSpec&) { k.sysctls.v4_policy = 2; }, "policy 2"},
        {"no valid neighbour, and entry 0 is dead",
         [](KernelState& k, GroupSpec&) {
             k.sysctls.use_neigh = true;
             k.routes[0].hops[0].dead = true;
             for (const KernelNextHop& h : k.routes[0].hops)
                 k.neighbors[{h.ifindex, h.family, h.gateway->b}] = NUD_FAILED;
         },
         "first next-hop 203.0.113.2, which is dead"},
    };
    for (const Case& c : cases) {
        DYNAMIC_SECTION(c.what) {
            KernelState k = state();
            GroupSpec g = spec();
            c.edit(k, g);
            const Plan p = plan_group(g, k);
            CHECK_FALSE(p.exact);
            CHECK(p.body["mode"] == "replicate");
            CHECK(p.body["next_hops"].size() >= 2);
            CHECK_THAT(p.why, Catch::Contains(c.says));
            // Still a group ptbsteer takes: a seed and a policy it knows.
            CHECK(p.body["hash"]["seed"] != 0);
            CHECK(p.body["hash"]["policy"] != 2);
        }
    }
    SECTION("policy 1 with software_hash, neighbours valid: exact") {
        KernelState k = state();
        GroupSpec g = spec();
        k.sysctls.v4_policy = 1;
        g.software_hash = true;
        k.sysctls.use_neigh = true;
        for (const KernelNextHop& h : k.routes[0].hops)
            k.neighbors[{h.ifindex, h.family, h.gateway->b}] = NUD_REACHABLE;
        CHECK(plan_group(g, k).exact);
    }
}

TEST_CASE("plan: a next-hop whose neighbour is not valid, where the kernel checks it", "[sync]") {
    // The kernel passes such a next-hop's flows on (fib_select_multipath, since Linux 6.6), so
    // the group stays exact and says which next-hops are passed over.
    const auto invalid = [](const Plan& p) {
        std::vector<std::string> v;
        for (const auto& h : p.body["next_hops"])
            if (h.value("neighbour", "valid") == "invalid") v.push_back(h["name"]);
        return v;
    };
    KernelState k = state();
    const KernelNextHop& middle = k.routes[0].hops[1];
    k.neighbors[{middle.ifindex, middle.family, middle.gateway->b}] = NUD_FAILED;
    // Entry 2 has no neighbour entry at all: the kernel counts it as reachable.
    const KernelNextHop& first = k.routes[0].hops[0];
    k.neighbors[{first.ifindex, first.family, first.gateway->b}] = NUD_STALE;
    SECTION("legacy IPv4 without use_neigh: not checked") {
        const Plan p = plan_group(spec(), k);
        CHECK(p.exact);
        CHECK(invalid(p).empty());
    }
    SECTION("legacy IPv4 with use_neigh") {
        k.sysctls.use_neigh = true;
        const Plan p = plan_group(spec(), k);
        CHECK(p.exact);
        CHECK(invalid(p) == std::vector<std::string>{"203.0.113.6"});
    }
    SECTION("a nexthop group: always checked") {
        k.routes[0].nhid = 100;
        const Plan p = plan_group(spec(), k);
        CHECK(p.exact);
        CHECK(invalid(p) == std::vector<std::string>{"203.0.113.6"});
    }
    SECTION("a resilient group: never checked") {
        k.routes[0].nhid = 100;
        k.routes[0].kind = GroupKind::resilient;
        k.routes[0].buckets = {0, 1, 2};
        const Plan p = plan_group(spec(), k);
        CHECK(p.exact);
        CHECK(invalid(p).empty());
    }
    SECTION("none valid, entry 0 live: exact, every flow to entry 0 as in the kernel") {
        k.sysctls.use_neigh = true;
        for (const KernelNextHop& h : k.routes[0].hops)
            k.neighbors[{h.ifindex, h.family, h.gateway->b}] = NUD_INCOMPLETE;
        const Plan p = plan_group(spec(), k);
        CHECK(p.exact);
        CHECK(invalid(p).size() == 3);
    }
}

TEST_CASE("plan: a resilient group: every member, and the kernel's buckets by name", "[sync]") {
    KernelState k = state();
    k.routes[0].kind = GroupKind::resilient;
    k.routes[0].nhid = 200;
    k.routes[0].buckets = {2, 0, 0, 1, 2, 1};
    k.routes[0].hops[1].dead = true; // still a member: its buckets name it until they move
    for (const KernelNextHop& h : k.routes[0].hops)
        k.neighbors[{h.ifindex, h.family, h.gateway->b}] = NUD_PERMANENT;
    const Plan p = plan_group(spec(), k);
    CHECK(p.exact);
    CHECK(p.body["select"] == "resilient");
    CHECK(p.body["next_hops"].size() == 3);
    CHECK(p.body["buckets"] ==
          nlohmann::json::array({"203.0.113.10", "203.0.113.2", "203.0.113.2", "203.0.113.6",
                                 "203.0.113.10", "203.0.113.6"}));
}

TEST_CASE("plan: a missing route pushes nothing; names of link-local gateways", "[sync]") {
    KernelState k = state();
    GroupSpec g = spec();
    g.table = 100;
    const Plan p = plan_group(g, k);
    CHECK_FALSE(p.found);
    CHECK(p.body.is_null());
    CHECK_THAT(p.why, Catch::Contains("no route 198.51.100.0/24 in table 100"));
    CHECK(hop_name(hop("fe80::1", 1, 7)) == "fe80::1@eth7");
    CHECK(hop_name(hop("2001:db8::1", 1, 7)) == "2001:db8::1");
}

TEST_CASE("sync configuration: values and every mistake at its place", "[sync]") {
    const SyncLoad ok = load_sync_config_text(R"(netns: router
token_file: /etc/ptbsteer/token
appliances: [http://192.0.2.10:9470, "http://[2001:db8::10]:9470"]
groups:
  - {name: web, route: 198.51.100.0/24, port: servers, transition: 30, software_hash: true}
)",
                                              "sync.yaml");
    REQUIRE(ok.config);
    CHECK(ok.config->netns == "router");
    REQUIRE(ok.config->appliances.size() == 2);
    CHECK(ok.config->appliances[1].host == "2001:db8::10");
    CHECK(ok.config->appliances[1].port == 9470);
    CHECK(ok.config->groups[0].transition == 30u);
    CHECK(ok.config->groups[0].software_hash);
    CHECK(ok.config->resync == 300);

    const SyncLoad bad = load_sync_config_text(R"(token_file: /t
appliances: [ftp://x]
groups:
  - {name: web, route: 198.51.100.1/24, port: out, colour: blue}
)",
                                               "sync.yaml");
    CHECK_FALSE(bad.config);
    std::string all;
    for (const auto& e : bad.errors)
        all += config::to_string(e) + "\n";
    INFO(all);
    CHECK_THAT(all, Catch::Contains("sync.yaml:2:14: 'ftp://x' is not a control API URL"));
    CHECK_THAT(all, Catch::Contains("sync.yaml:4:52: unknown key 'colour'"));
    CHECK_THAT(all, Catch::Contains("'198.51.100.1/24' is not a route prefix"));
}
