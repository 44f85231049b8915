// datapath::decide() with the guards of docs/security.md: validation, loop guards and rate
// limits, in their documented order, on Tables compiled from a real configuration.
#include <catch2/catch.hpp>

#include <string>

#include "config/config.h"
#include "control/compile_tables.h"
#include "datapath/decide.h"
#include "frame_builder.h"

using namespace ptbsteer;
using namespace ptbsteer::datapath;
using namespace ptbsteer::control;

namespace {

// The frame builder sends from 02:00:00:00:00:02 to 02:00:00:00:00:01.
const Mac builder_src = {0x02, 0, 0, 0, 0, 0x02};
const Mac port_in = {0x02, 0xaa, 0, 0, 0, 0x01};
const Mac port_out = {0x02, 0xaa, 0, 0, 0, 0x02};

const char* config_text = R"(
ports:
  - {name: in, device: net_null0}
  - {name: out, device: net_null1}
lcores: [{id: 0, rx: [in, out], tx: true}]
groups:
  - name: web
    prefixes: [198.51.100.0/25]
    hash: {model: linux, policy: 1, seed: 7}
    next_hops:
      - {name: a, port: out, mac: "02:00:00:00:01:01"}
      - {name: b, port: out, mac: "02:00:00:00:01:02"}
  - name: loop
    prefixes: [198.51.100.128/26]
    hash: {model: linux, policy: 1, seed: 7}
    next_hops:
      - {name: back, port: in, mac: "02:00:00:00:00:02"}
  - name: rep
    prefixes: [198.51.100.192/26]
    hash: {model: linux, policy: 1, seed: 7}
    mode: replicate
    next_hops:
      - {name: r1, port: out, mac: "02:00:00:00:02:01"}
      - {name: r2, port: out, mac: "02:00:00:00:02:02"}
      - {name: r3, port: out, mac: "02:00:00:00:02:03"}
      - {name: r4, port: out, mac: "02:00:00:00:02:04"}
)";

Tables tables(Mac in_mac = port_in) {
    const config::LoadResult r = config::load_config_text(config_text, "decide_test.yaml");
    REQUIRE(r.errors.empty());
    return compile_tables(*r.config, {0, 1}, {in_mac, port_out});
}

// A believable PTB: a 1500-byte packet of server `server` met a 1400-byte link.
test::Bytes ptb(const std::string& server, const std::string& router = "203.0.113.1",
                std::uint32_t mtu = 1400) {
    test::Outer o;
    test::Inner in;
    o.src = router;
    o.dst = in.src = server;
    in.dst = "192.0.2.1";
    in.l4_len = 1480;
    o.mtu = mtu;
    return test::build_ptb(o, in, 548);
}

std::string outcome(const Tables& t, const test::Bytes& f, Guard* g = nullptr,
                    std::uint64_t now = 0) {
    packet::PtbInfo info;
    const Decision d = decide(t, f, 0, info, g, now);
    switch (d.action) {
    case Action::unicast: return "unicast";
    case Action::transition: return "transition";
    case Action::replicate: return "replicate";
    case Action::reply: return "reply";
    case Action::learn: return "learn";
    case Action::drop: return std::string(name(d.drop));
    }
    return "?";
}

} // namespace

TEST_CASE("validation and loop guards, end to end through decide()", "[decide][guard]") {
    const Tables t = tables();
    CHECK(outcome(t, ptb("198.51.100.10")) == "unicast");
    CHECK(outcome(t, ptb("198.51.100.10", "203.0.113.1", 0)) == "mtu_unspecified");
    CHECK(outcome(t, ptb("198.51.100.10", "203.0.113.1", 1500)) == "mtu_not_smaller");
    test::Bytes corrupt = ptb("198.51.100.10");
    corrupt.back() ^= 0xff;
    CHECK(outcome(t, corrupt) == "bad_checksum");
    CHECK(outcome(t, ptb("192.0.2.99")) == "no_group");
    // The only owner is the station the PTB came from: sending it back would loop.
    CHECK(outcome(t, ptb("198.51.100.130")) == "would_loop");
    // A frame carrying our own source MAC came back to us.
    const Tables mine = tables(builder_src);
    CHECK(outcome(mine, ptb("198.51.100.10")) == "own_frame");
}

TEST_CASE("rate limits: per source, global, and the replication budget", "[decide][guard]") {
    const Tables t = tables();
    const std::uint64_t hz = 1000;
    SECTION("per source: one router's burst does not spend another's") {
        Guard g;
        g.per_source = guard::PerSourceLimiter(10, 2, hz, 64);
        CHECK(outcome(t, ptb("198.51.100.10", "203.0.113.1"), &g, 0) == "unicast");
        CHECK(outcome(t, ptb("198.51.100.11", "203.0.113.1"), &g, 0) == "unicast");
        CHECK(outcome(t, ptb("198.51.100.12", "203.0.113.1"), &g, 0) == "rate_limited_source");
        CHECK(outcome(t, ptb("198.51.100.12", "203.0.113.2"), &g, 0) == "unicast");
        CHECK(outcome(t, ptb("198.51.100.12", "203.0.113.1"), &g, 100) ==
              "unicast"); // 1/10 s later
    }
    SECTION("forged PTBs are refused before they can spend the router's tokens") {
        Guard g;
        g.per_source = guard::PerSourceLimiter(10, 2, hz, 64);
        for (int i = 0; i < 100; ++i)
            CHECK(outcome(t, ptb("198.51.100.10", "203.0.113.1", 40), &g, 0) == "mtu_below_floor");
        CHECK(outcome(t, ptb("198.51.100.10", "203.0.113.1"), &g, 0) == "unicast");
        CHECK(outcome(t, ptb("198.51.100.11", "203.0.113.1"), &g, 0) == "unicast");
    }
    SECTION("global") {
        Guard g;
        g.global = guard::Gcra(100, 3, hz);
        for (int i = 1; i <= 3; ++i)
            CHECK(outcome(t, ptb("198.51.100.10", "203.0.113." + std::to_string(i)), &g, 0) ==
                  "unicast");
        CHECK(outcome(t, ptb("198.51.100.10", "203.0.113.9"), &g, 0) == "rate_limited_global");
    }
    SECTION("the budget counts copies; unicast PTBs still flow when it is spent") {
        Guard g;
        g.replication = guard::Gcra(8, 8, hz); // 8 copies/s: two 4-way PTBs at once
        CHECK(outcome(t, ptb("198.51.100.200"), &g, 0) == "replicate");
        CHECK(outcome(t, ptb("198.51.100.201"), &g, 0) == "replicate");
        CHECK(outcome(t, ptb("198.51.100.202"), &g, 0) == "replication_budget");
        CHECK(outcome(t, ptb("198.51.100.10"), &g, 0) == "unicast");
        CHECK(outcome(t, ptb("198.51.100.202"), &g, 500) == "replicate"); // 4 copies' worth later
    }
}

TEST_CASE("the RX prefetch covers a whole PTB exactly when some group verifies checksums",
          "[decide][tables]") {
    // Every group of config_text verifies checksums (the default).
    CHECK(tables().prefetch_bytes == Tables::whole_ptb_prefetch);
    std::string unchecked = config_text;
    std::size_t at = 0, groups = 0;
    while ((at = unchecked.find("    hash: {model", at)) != std::string::npos) {
        unchecked.insert(at, "    validate: {checksum: false}\n");
        at += 40;
        ++groups;
    }
    REQUIRE(groups == 3);
    const config::LoadResult none = config::load_config_text(unchecked, "unchecked.yaml");
    REQUIRE(none.errors.empty());
    CHECK(compile_tables(*none.config, {0, 1}, {port_in, port_out}).prefetch_bytes ==
          Tables::header_prefetch);
    // One group verifying is enough, wherever it stands: its PTBs are read whole.
    const std::string off = "    validate: {checksum: false}\n";
    for (std::size_t k = 0; k < groups; ++k) {
        std::string one = unchecked;
        std::size_t pos = 0;
        for (std::size_t skip = 0; skip <= k; ++skip)
            pos = one.find(off, skip ? pos + off.size() : 0);
        one.replace(pos, off.size(), "    validate: {checksum: true}\n");
        const config::LoadResult some = config::load_config_text(one, "one.yaml");
        REQUIRE(some.errors.empty());
        CHECK(compile_tables(*some.config, {0, 1}, {port_in, port_out}).prefetch_bytes ==
              Tables::whole_ptb_prefetch);
    }
    STATIC_REQUIRE(Tables::header_prefetch >= 14 + 4 + 40 + 8 + 40 + 4);
    STATIC_REQUIRE(Tables::whole_ptb_prefetch >= 14 + 8 + 1280);
}
