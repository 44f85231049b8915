// decide_burst() must decide every frame exactly as decide() called frame by frame: same action,
// reason, target, offsets and PtbInfo, and the same rate-limiter outcomes (each limiter sees the
// frames in the same order). Random bursts over groups of every hash model and mode, both
// families, valid and broken PTBs, frames that are not PTBs, with and without limits.
#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "config/config.h"
#include "dataplane/decide.h"
#include "frame_builder.h"

using namespace ptbsteer;
using namespace ptbsteer::dataplane;

namespace {

const char* config_text = R"(
ports:
  - {name: in, device: net_null0}
  - {name: out, device: net_null1}
lcores: [{id: 0, rx: [in, out], tx: true}]
groups:
  - name: p1
    prefixes: [198.51.100.0/27, "2001:db8:1::/48"]
    hash: {model: linux, policy: 1, seed: 7}
    next_hops:
      - {name: a, port: out, mac: "02:00:00:00:01:01"}
      - {name: b, port: out, mac: "02:00:00:00:01:02", weight: 3}
      - {name: c, port: out, mac: "02:00:00:00:01:03"}
  - name: p3
    prefixes: [198.51.100.32/27, "2001:db8:2::/48"]
    hash: {model: linux, policy: 3, seed: 99, fields: [src_ip, dst_ip, ip_proto, src_port, dst_port, flow_label]}
    fallback: drop
    next_hops:
      - {name: a, port: out, mac: "02:00:00:00:02:01"}
      - {name: b, port: out, mac: "02:00:00:00:02:02"}
  - name: p0
    prefixes: [198.51.100.64/27, "2001:db8:3::/48"]
    hash: {model: linux, policy: 0, seed: 5}
    select: maglev
    next_hops:
      - {name: a, port: out, mac: "02:00:00:00:03:01"}
      - {name: b, port: in, mac: "02:00:00:00:00:02"}
  - name: crc
    prefixes: [198.51.100.96/27, "2001:db8:4::/48"]
    hash: {model: crc32c}
    next_hops:
      - {name: a, port: out, mac: "02:00:00:00:04:01"}
      - {name: b, port: out, mac: "02:00:00:00:04:02"}
  - name: rss
    prefixes: [198.51.100.128/27, "2001:db8:5::/48"]
    hash: {model: toeplitz}
    next_hops:
      - {name: a, port: out, mac: "02:00:00:00:05:01"}
      - {name: b, port: out, mac: "02:00:00:00:05:02"}
  - name: rep
    prefixes: [198.51.100.160/27, "2001:db8:6::/48"]
    hash: {model: linux, policy: 1, seed: 7}
    mode: replicate
    next_hops:
      - {name: a, port: out, mac: "02:00:00:00:06:01"}
      - {name: b, port: out, mac: "02:00:00:00:06:02"}
)";

const Mac port_in = {0x02, 0xaa, 0, 0, 0, 0x01};
const Mac port_out = {0x02, 0xaa, 0, 0, 0, 0x02};

Tables tables() {
    const config::LoadResult r = config::load_config_text(config_text, "decide_burst_test.yaml");
    REQUIRE(r.errors.empty());
    return compile_tables(*r.config, {0, 1}, {port_in, port_out});
}

// A PTB for a server of one of the groups (or of none), sometimes broken on purpose.
test::Bytes random_frame(std::mt19937_64& rng) {
    const unsigned kind = rng() % 20;
    if (kind == 0) { // not a PTB at all
        test::Bytes junk(14 + rng() % 100);
        for (auto& b : junk) b = std::uint8_t(rng());
        return junk;
    }
    test::Outer o;
    test::Inner in;
    const bool v6 = rng() % 2;
    o.family = in.family = v6 ? packet::Family::v6 : packet::Family::v4;
    const unsigned group = rng() % 7; // 6 groups, 7: no group
    if (v6) {
        in.src = "2001:db8:" + std::to_string(group + 1) + "::" + std::to_string(1 + rng() % 999);
        in.dst = "2001:db8:c::" + std::to_string(1 + rng() % 999);
        o.src = "2001:db8:ff::" + std::to_string(1 + rng() % 3);
        in.flow_label = rng() % 2 ? std::uint32_t(rng()) & 0xfffff : 0;
        o.mtu = 1280 + rng() % 100;
    } else {
        in.src = "198.51.100." + std::to_string(group * 32 + 1 + rng() % 30);
        in.dst = "192.0.2." + std::to_string(1 + rng() % 250);
        o.src = "203.0.113." + std::to_string(1 + rng() % 3); // few routers: limits bite
        o.mtu = 1200 + rng() % 200;
    }
    o.dst = in.src;
    in.proto = rng() % 5 ? (rng() % 2 ? 6 : 17) : 47; // GRE: portless
    in.sport = std::uint16_t(rng());
    in.dport = std::uint16_t(rng());
    in.l4_len = 1460;
    if (rng() % 4 == 0) o.vlans = {{0x8100, std::uint16_t(1 + rng() % 4000)}};
    std::size_t quote = v6 ? 1232 : 548;
    if (kind == 1) quote = v6 ? 44 : 22; // ports cut off: the fallback decides
    test::Bytes f = test::build_ptb(o, in, quote);
    if (kind == 2) f[f.size() - 1 - rng() % 20] ^= 0x5a;      // checksum
    if (kind == 3) f.resize(f.size() / 2);                    // truncated
    if (kind == 4) std::copy(port_out.begin(), port_out.end(), f.begin() + 6); // our own frame
    return f;
}

Guard limited_guard() {
    Guard g;
    const std::uint64_t hz = 1000;
    g.per_source = guard::PerSourceLimiter(200, 20, hz, 64);
    g.global = guard::Gcra(400, 40, hz);
    g.replication = guard::Gcra(50, 10, hz);
    return g;
}

} // namespace

TEST_CASE("decide_burst decides every frame as decide() does, in order", "[decide][burst]") {
    const Tables t = tables();
    std::mt19937_64 rng(31337);
    for (bool limits : {false, true}) {
        Guard seq_guard = limits ? limited_guard() : Guard{};
        Guard burst_guard = limits ? limited_guard() : Guard{};
        std::uint64_t now = 0;
        std::size_t compared = 0, unicast = 0, replicate = 0, dropped = 0, limited = 0;
        for (int round = 0; round < 300; ++round) {
            const std::size_t n = rng() % 3 == 0 ? rng() % 130 : 32; // beyond 64: two chunks
            std::vector<test::Bytes> frames(n);
            std::vector<std::span<const std::uint8_t>> spans(n);
            for (std::size_t i = 0; i < n; ++i) {
                frames[i] = random_frame(rng);
                spans[i] = frames[i];
            }
            std::vector<packet::PtbInfo> infos(n);
            std::vector<Decision> got(n);
            decide_burst(t, spans.data(), n, 0, infos.data(), &burst_guard, now, got.data());
            for (std::size_t i = 0; i < n; ++i) {
                packet::PtbInfo info;
                const Decision want = decide(t, spans[i], 0, info, &seq_guard, now);
                INFO("round " << round << " frame " << i << " of " << n);
                REQUIRE(int(got[i].action) == int(want.action));
                REQUIRE(int(got[i].drop) == int(want.drop));
                REQUIRE(got[i].target == want.target);
                REQUIRE(got[i].l3_offset == want.l3_offset);
                REQUIRE(got[i].ptb == want.ptb);
                REQUIRE(int(got[i].family) == int(want.family));
                if (want.ptb) REQUIRE(infos[i].flow == info.flow);
                ++compared;
                unicast += want.action == Action::unicast;
                replicate += want.action == Action::replicate;
                dropped += want.action == Action::drop;
                limited += want.drop == Drop::rate_limited_source || want.drop == Drop::rate_limited_global ||
                           want.drop == Drop::replication_budget;
            }
            now += rng() % 50; // ms at hz 1000
        }
        INFO("limits " << limits);
        // The mix exercised what it is meant to: every outcome, and the limiters when on.
        CHECK(compared > 10000);
        CHECK(unicast > 1000);
        CHECK(replicate > 100);
        CHECK(dropped > 1000);
        CHECK((limits ? limited > 100 : limited == 0));
    }
}
