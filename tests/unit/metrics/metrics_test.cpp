// The pure parts behind /metrics and /healthz: health verdicts, listen addresses, the MTU
// buckets, the family a received frame counts under, and summing per-lcore counters.
#include <catch2/catch.hpp>

#include <vector>

#include "control/report.h"
#include "datapath/decide.h"
#include "metrics/health.h"
#include "metrics/server.h"

using namespace ptbsteer;
using metrics::LcoreBeat;
using metrics::PortLink;

TEST_CASE("health: every lcore looped within a second and every link is up") {
    const std::uint64_t hz = 1'000'000'000;
    const std::vector<LcoreBeat> fresh = {{0, 10 * hz}, {1, 10 * hz - hz / 2}};
    const std::vector<PortLink> up = {{"in", true}, {"out", true}};
    const auto h = metrics::evaluate(fresh, up, 10 * hz + hz / 10, hz);
    CHECK(h.ok);
    CHECK(h.text == "ok\n");
}

TEST_CASE("health: a stuck lcore, one never started, a down link each give a reason") {
    const std::uint64_t hz = 1000;
    const std::vector<LcoreBeat> beats = {{0, 5000}, {1, 2000}, {2, 0}};
    const std::vector<PortLink> links = {{"in", true}, {"out", false}};
    const auto h = metrics::evaluate(beats, links, 5100, hz);
    CHECK_FALSE(h.ok);
    CHECK(h.text == "lcore 1 has made no progress for 3.10 s\n"
                    "lcore 2 has not started its loop\n"
                    "port out link is down\n");
}

TEST_CASE("health: a heartbeat newer than the reader's clock is age 0, not a wrap-around") {
    const std::vector<LcoreBeat> beats = {{0, 1001}};
    CHECK(metrics::evaluate(beats, {}, 1000, 1000).ok);
}

TEST_CASE("listen addresses") {
    auto a = metrics::parse_listen("127.0.0.1:9469");
    REQUIRE(a);
    CHECK(a->host == "127.0.0.1");
    CHECK_FALSE(a->ipv6);
    CHECK(a->port == 9469);
    a = metrics::parse_listen("[::1]:0");
    REQUIRE(a);
    CHECK(a->host == "::1");
    CHECK(a->ipv6);
    CHECK(a->port == 0);
    for (const char* bad : {"localhost:80", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "::1:80",
                            "[::1]80", "999.1.1.1:5", "127.0.0.1:8x", ""})
        CHECK_FALSE(metrics::parse_listen(bad));
}

TEST_CASE("MTU buckets: each bound is inclusive; above the last is +Inf") {
    using datapath::mtu_bounds;
    using datapath::mtu_bucket;
    CHECK(mtu_bucket(0) == 0);
    CHECK(mtu_bucket(1) == 1);
    CHECK(mtu_bucket(576) == 1);
    CHECK(mtu_bucket(1279) == 2);
    CHECK(mtu_bucket(1280) == 3);
    CHECK(mtu_bucket(1281) == 4);
    CHECK(mtu_bucket(1400) == 4);
    CHECK(mtu_bucket(1492) == 9);
    CHECK(mtu_bucket(1500) == 10);
    CHECK(mtu_bucket(65535) == mtu_bounds.size() - 1);
    CHECK(mtu_bucket(65536) == mtu_bounds.size());
    CHECK(mtu_bucket(0xffffffffu) == datapath::mtu_bucket_count - 1);
}

TEST_CASE("received frames count under the EtherType after their VLAN tags") {
    using datapath::Decision;
    using datapath::RxFamily;
    std::vector<std::uint8_t> f(64, 0);
    auto at = [&](std::uint16_t l3, std::uint16_t type) {
        f[l3 - 2] = std::uint8_t(type >> 8);
        f[l3 - 1] = std::uint8_t(type);
        Decision d;
        d.l3_offset = l3;
        return datapath::rx_family(f, d);
    };
    CHECK(at(14, 0x0800) == RxFamily::ipv4);
    CHECK(at(14, 0x86dd) == RxFamily::ipv6);
    CHECK(at(14, 0x0806) == RxFamily::other);
    CHECK(at(18, 0x86dd) == RxFamily::ipv6); // after one 802.1Q tag
    CHECK(at(22, 0x0800) == RxFamily::ipv4); // after two
    Decision refused;                        // refused inside the L2 header: l3_offset 0
    CHECK(datapath::rx_family(f, refused) == RxFamily::other);
}

TEST_CASE("sum() adds every per-lcore counter, arrays and vectors included") {
    std::vector<datapath::LcoreCounters> per(2);
    per[0].size_for(2, 3);
    per[1].size_for(2, 3);
    per[0].rx = 5;
    per[1].rx = 7;
    per[0].rx_by_port[1][2] = 4;
    per[1].rx_by_port[1][2] = 1;
    per[0].unicast_per_next_hop[2] = 3;
    per[1].copies_per_next_hop[2] = 2;
    per[0].mtu[1].buckets[3] = 6;
    per[1].mtu[1].buckets[3] = 1;
    per[1].mtu[1].sum = 1280;
    per[1].capture_lost = 9;
    const auto t = control::sum(per);
    CHECK(t.rx == 12);
    CHECK(t.rx_by_port[1][2] == 5);
    CHECK(t.unicast_per_next_hop[2] == 3);
    CHECK(t.copies_per_next_hop[2] == 2);
    CHECK(t.mtu[1].buckets[3] == 7);
    CHECK(t.mtu[1].sum == 1280);
    CHECK(t.capture_lost == 9);
}

TEST_CASE("POST /reload: loopback clients only by default") {
    using ptbsteer::config::ReloadAccess;
    for (const char* ok : {"127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.1"})
        CHECK(metrics::reload_allowed(ReloadAccess::loopback, ok));
    for (const char* no :
         {"192.0.2.1", "128.0.0.1", "2001:db8::1", "::ffff:192.0.2.1", "::", "", "x"})
        CHECK_FALSE(metrics::reload_allowed(ReloadAccess::loopback, no));
    CHECK(metrics::reload_allowed(ReloadAccess::any, "192.0.2.1"));
    CHECK_FALSE(metrics::reload_allowed(ReloadAccess::off, "127.0.0.1"));
}
