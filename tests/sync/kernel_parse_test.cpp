// sync::Kernel's parsers (lib/sync/kernel_parse.h) on messages built here with libmnl: what
// the kernel sends, what older kernels sent (IPv6 multipath as one route per sibling), and
// malformed or truncated ones, which must be skipped without reading past their end (suite
// `unit` too: scripts/test runs it under ASan + UBSan).
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/neighbour.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>

#include <catch2/catch.hpp>

#include <cstring>
#include <memory>
#include <vector>

#include "sync/kernel_parse.h"

using namespace ptbsteer;
using namespace ptbsteer::sync;
using namespace ptbsteer::sync::detail;

namespace {

// One message, built in a zeroed, aligned buffer of its own.
struct Msg {
    std::unique_ptr<std::uint32_t[]> mem = std::make_unique<std::uint32_t[]>(1024);
    nlmsghdr* nlh;
    template <class H>
    H* start(std::uint16_t type) {
        nlh = mnl_nlmsg_put_header(mem.get());
        nlh->nlmsg_type = type;
        return static_cast<H*>(mnl_nlmsg_put_extra_header(nlh, sizeof(H)));
    }
};

std::array<std::uint8_t, 16> v6(const char* text) {
    std::array<std::uint8_t, 16> a{};
    inet_pton(AF_INET6, text, a.data());
    return a;
}

std::array<std::uint8_t, 4> v4(const char* text) {
    std::array<std::uint8_t, 4> a{};
    inet_pton(AF_INET, text, a.data());
    return a;
}

rtmsg* route(Msg& m, int family, std::uint8_t len, std::uint8_t protocol = RTPROT_BOOT) {
    auto* rtm = m.start<rtmsg>(RTM_NEWROUTE);
    *rtm = {};
    rtm->rtm_family = family;
    rtm->rtm_dst_len = len;
    rtm->rtm_type = RTN_UNICAST;
    rtm->rtm_table = RT_TABLE_MAIN;
    rtm->rtm_protocol = protocol;
    return rtm;
}

// An IPv6 single-path route to 2001:db8:100::/48 via `gw`, as kernels before 4.11 dumped
// each sibling of a multipath route.
void sibling(Msg& m, const char* gw, std::uint32_t metric, std::uint8_t protocol = RTPROT_BOOT) {
    route(m, AF_INET6, 48, protocol);
    const auto dst = v6("2001:db8:100::");
    mnl_attr_put(m.nlh, RTA_DST, 16, dst.data());
    mnl_attr_put_u32(m.nlh, RTA_PRIORITY, metric);
    if (gw) mnl_attr_put(m.nlh, RTA_GATEWAY, 16, v6(gw).data());
    mnl_attr_put_u32(m.nlh, RTA_OIF, 3);
}

// One rtnexthop of an RTA_MULTIPATH being built; returns it to let tests corrupt it.
rtnexthop* hop(nlmsghdr* nlh, std::uint8_t hops, std::uint8_t flags, const void* gw,
               std::uint16_t gw_type, std::size_t gw_len) {
    auto* nh = static_cast<rtnexthop*>(mnl_nlmsg_get_payload_tail(nlh));
    nlh->nlmsg_len += RTNH_ALIGN(sizeof(rtnexthop));
    *nh = {};
    nh->rtnh_hops = hops;
    nh->rtnh_flags = flags;
    nh->rtnh_ifindex = 7;
    mnl_attr_put(nlh, gw_type, gw_len, gw);
    nh->rtnh_len = static_cast<std::uint16_t>(static_cast<char*>(mnl_nlmsg_get_payload_tail(nlh)) -
                                              reinterpret_cast<char*>(nh));
    return nh;
}

std::string text(const std::optional<packet::IpAddr>& a, packet::Family f) {
    if (!a) return "-";
    char out[INET6_ADDRSTRLEN];
    inet_ntop(f == packet::Family::v4 ? AF_INET : AF_INET6, a->b.data(), out, sizeof out);
    return out;
}

void group(Msg& m, std::uint32_t id, std::vector<std::pair<std::uint32_t, std::uint16_t>> es,
           bool resilient = false, std::uint16_t buckets = 0) {
    *m.start<nhmsg>(RTM_NEWNEXTHOP) = {};
    mnl_attr_put_u32(m.nlh, NHA_ID, id);
    std::vector<std::uint8_t> raw;
    for (const auto& [member, weight] : es) {
        std::uint8_t e[8]{};
        std::memcpy(e, &member, 4);
        e[4] = std::uint8_t(weight - 1); // weight - 1: low byte, then the high byte (6.12)
        e[5] = std::uint8_t((weight - 1) >> 8);
        raw.insert(raw.end(), e, e + 8);
    }
    mnl_attr_put(m.nlh, NHA_GROUP, raw.size(), raw.data());
    if (!resilient) return;
    mnl_attr_put_u16(m.nlh, NHA_GROUP_TYPE, NEXTHOP_GRP_TYPE_RES);
    nlattr* nest = mnl_attr_nest_start(m.nlh, NHA_RES_GROUP);
    mnl_attr_put_u16(m.nlh, NHA_RES_GROUP_BUCKETS, buckets);
    mnl_attr_nest_end(m.nlh, nest);
}

void plain(Msg& m, std::uint32_t id, const char* gw, std::uint32_t oif) {
    auto* nhm = m.start<nhmsg>(RTM_NEWNEXTHOP);
    *nhm = {};
    nhm->nh_family = AF_INET;
    mnl_attr_put_u32(m.nlh, NHA_ID, id);
    mnl_attr_put(m.nlh, NHA_GATEWAY, 4, v4(gw).data());
    mnl_attr_put_u32(m.nlh, NHA_OIF, oif);
}

void bucket(Msg& m, std::uint32_t group, std::uint16_t index, std::uint32_t id) {
    *m.start<nhmsg>(RTM_NEWNEXTHOPBUCKET) = {};
    mnl_attr_put_u32(m.nlh, NHA_ID, group);
    nlattr* nest = mnl_attr_nest_start(m.nlh, NHA_RES_BUCKET);
    mnl_attr_put_u16(m.nlh, NHA_RES_BUCKET_INDEX, index);
    mnl_attr_put_u32(m.nlh, NHA_RES_BUCKET_NH_ID, id);
    mnl_attr_nest_end(m.nlh, nest);
}

} // namespace

TEST_CASE("a legacy IPv4 multipath route: order, weights, flags, RTA_VIA", "[sync]") {
    Msg m;
    route(m, AF_INET, 24);
    mnl_attr_put(m.nlh, RTA_DST, 4, v4("198.51.100.0").data());
    mnl_attr_put_u32(m.nlh, RTA_TABLE, 100);
    nlattr* mp = mnl_attr_nest_start(m.nlh, RTA_MULTIPATH);
    hop(m.nlh, 2, 0, v4("192.0.2.2").data(), RTA_GATEWAY, 4);
    hop(m.nlh, 0, RTNH_F_LINKDOWN, v4("192.0.2.18").data(), RTA_GATEWAY, 4);
    std::uint8_t via[18]{};
    const std::uint16_t inet6 = AF_INET6;
    std::memcpy(via, &inet6, 2);
    std::memcpy(via + 2, v6("fe80::9").data(), 16);
    hop(m.nlh, 255, RTNH_F_DEAD | RTNH_F_LINKDOWN, via, RTA_VIA, sizeof via);
    mnl_attr_nest_end(m.nlh, mp);
    const auto p = parse_route(m.nlh);
    REQUIRE(p);
    const KernelRoute& r = p->route;
    CHECK(r.table == 100);
    CHECK(r.length == 24);
    CHECK(r.kind == GroupKind::multipath);
    REQUIRE(r.hops.size() == 3);
    CHECK(text(r.hops[0].gateway, r.hops[0].family) == "192.0.2.2");
    CHECK(r.hops[0].weight == 3);
    CHECK(!r.hops[0].linkdown);
    CHECK((r.hops[1].weight == 1 && r.hops[1].linkdown && !r.hops[1].dead));
    CHECK(r.hops[2].family == packet::Family::v6);
    CHECK(text(r.hops[2].gateway, r.hops[2].family) == "fe80::9");
    CHECK((r.hops[2].weight == 256 && r.hops[2].dead && r.hops[2].linkdown));
    CHECK(r.hops[2].ifindex == 7);

    SECTION("an rtnexthop longer than what is left: the route is skipped") {
        auto* first = reinterpret_cast<rtnexthop*>(mnl_attr_get_payload(mp));
        first->rtnh_len = 200;
        CHECK(!parse_route(m.nlh));
    }
    SECTION("an rtnexthop shorter than its header: skipped") {
        reinterpret_cast<rtnexthop*>(mnl_attr_get_payload(mp))->rtnh_len = 4;
        CHECK(!parse_route(m.nlh));
    }
    SECTION("a message cut inside RTA_MULTIPATH: the attribute is dropped, not over-read") {
        m.nlh->nlmsg_len -= 8;
        const auto q = parse_route(m.nlh);
        REQUIRE(q);
        CHECK(q->route.kind == GroupKind::single);
        CHECK(!q->route.hops[0].gateway);
    }
}

TEST_CASE("malformed routes and attributes", "[sync]") {
    Msg m;
    route(m, AF_INET, 24);
    SECTION("shorter than rtmsg") {
        m.nlh->nlmsg_len = MNL_NLMSG_HDRLEN + 4;
        CHECK(!parse_route(m.nlh));
    }
    SECTION("an IPv4 RTA_DST of 5 bytes") {
        std::uint8_t five[5]{};
        mnl_attr_put(m.nlh, RTA_DST, 5, five);
        CHECK(!parse_route(m.nlh));
    }
    SECTION("a prefix length above 32") {
        route(m, AF_INET, 33);
        CHECK(!parse_route(m.nlh));
    }
    SECTION("a short RTA_OIF, an IPv6-sized IPv4 gateway, an overlong RTA_TABLE: ignored") {
        mnl_attr_put_u16(m.nlh, RTA_OIF, 9);
        mnl_attr_put(m.nlh, RTA_GATEWAY, 16, v6("2001:db8::1").data());
        auto* table = static_cast<nlattr*>(mnl_nlmsg_get_payload_tail(m.nlh));
        mnl_attr_put_u32(m.nlh, RTA_TABLE, 100);
        table->nla_len = 200;
        const auto p = parse_route(m.nlh);
        REQUIRE(p);
        CHECK(p->route.table == RT_TABLE_MAIN);
        CHECK(p->route.hops[0].ifindex == 0);
        CHECK(!p->route.hops[0].gateway);
    }
    SECTION("not unicast, or a cached clone: skipped") {
        route(m, AF_INET, 24)->rtm_type = RTN_LOCAL;
        CHECK(!parse_route(m.nlh));
        route(m, AF_INET, 24)->rtm_flags = RTM_F_CLONED;
        CHECK(!parse_route(m.nlh));
    }
}

TEST_CASE("IPv6 siblings dumped one per message are merged, in order", "[sync]") {
    std::vector<Parsed> v;
    const auto add = [&](const char* gw, std::uint32_t metric, std::uint8_t proto) {
        Msg m;
        sibling(m, gw, metric, proto);
        v.push_back(*parse_route(m.nlh));
    };
    add("2001:db8:1::2", 1024, RTPROT_BOOT);
    add("fe80::2", 1024, RTPROT_BOOT);
    add("2001:db8:3::2", 1024, RTPROT_BOOT);
    add("2001:db8:4::2", 512, RTPROT_BOOT); // another metric: another route
    add(nullptr, 512, RTPROT_BOOT);         // no gateway: never a sibling
    add("fe80::7", 100, RTPROT_RA);         // router advertisements: not siblings
    add("fe80::8", 100, RTPROT_RA);
    merge_siblings(v);
    REQUIRE(v.size() == 5);
    const KernelRoute& r = v[0].route;
    CHECK(r.kind == GroupKind::multipath);
    REQUIRE(r.hops.size() == 3);
    CHECK(text(r.hops[1].gateway, packet::Family::v6) == "fe80::2");
    CHECK(text(r.hops[2].gateway, packet::Family::v6) == "2001:db8:3::2");
    for (std::size_t i = 1; i < v.size(); ++i)
        CHECK(v[i].route.hops.size() == 1);
}

TEST_CASE("nexthop objects: group order, 16-bit weights, resilient buckets", "[sync]") {
    Objects o;
    const auto add = [&](auto build) {
        Msg m;
        build(m);
        if (m.nlh->nlmsg_type == RTM_NEWNEXTHOPBUCKET)
            add_bucket(m.nlh, o);
        else
            add_nexthop(m.nlh, o);
    };
    add([](Msg& m) { plain(m, 13, "192.0.2.50", 4); });
    add([](Msg& m) { plain(m, 11, "192.0.2.2", 1); });
    add([](Msg& m) { group(m, 100, {{13, 1000}, {11, 1}}); });
    add([](Msg& m) { group(m, 120, {{11, 1}, {13, 1}}, true, 4); });
    for (std::uint16_t i = 0; i < 4; ++i)
        add([&](Msg& m) { bucket(m, 120, i, i < 3 ? 13 : 11); });

    KernelRoute r;
    r.nhid = 100;
    REQUIRE(resolve(r, o));
    CHECK(r.kind == GroupKind::multipath);
    REQUIRE(r.hops.size() == 2);
    CHECK((r.hops[0].id == 13 && r.hops[0].weight == 1000 && r.hops[0].ifindex == 4));
    CHECK(text(r.hops[1].gateway, packet::Family::v4) == "192.0.2.2");

    KernelRoute res;
    res.nhid = 120;
    REQUIRE(resolve(res, o));
    CHECK(res.kind == GroupKind::resilient);
    CHECK(res.buckets == std::vector<std::uint32_t>{1, 1, 1, 0});

    SECTION("a bucket missing, or naming a non-member: dump again") {
        o.buckets[120].erase(2);
        KernelRoute again;
        again.nhid = 120;
        CHECK(!resolve(again, o));
        o.buckets[120][2] = 99;
        CHECK(!resolve(again, o));
    }
    SECTION("a member or the group unknown: dump again") {
        o.nh.erase(13);
        KernelRoute again;
        again.nhid = 100;
        CHECK(!resolve(again, o));
        again.nhid = 7;
        CHECK(!resolve(again, o));
    }
    SECTION("an NHA_GROUP that is no whole number of entries: skipped") {
        Msg m;
        group(m, 200, {{11, 1}});
        auto* g = static_cast<nlattr*>(mnl_nlmsg_get_payload_offset(m.nlh, sizeof(nhmsg)));
        g = mnl_attr_next(g); // after NHA_ID
        REQUIRE(mnl_attr_get_type(g) == NHA_GROUP);
        g->nla_len -= 4;
        add_nexthop(m.nlh, o);
        CHECK(o.nh.count(200) == 0);
    }
}

TEST_CASE("links and neighbours", "[sync]") {
    KernelState s;
    Msg m;
    auto* ifi = m.start<ifinfomsg>(RTM_NEWLINK);
    *ifi = {};
    ifi->ifi_index = 5;
    ifi->ifi_flags = IFF_UP | IFF_LOWER_UP;
    mnl_attr_put_strz(m.nlh, IFLA_IFNAME, "v1");
    add_link(m.nlh, s);
    CHECK(s.links.at(5) == "v1");
    CHECK(s.link_up.at(5));

    Msg bad;
    ifi = bad.start<ifinfomsg>(RTM_NEWLINK);
    *ifi = {};
    ifi->ifi_index = 6;
    mnl_attr_put(bad.nlh, IFLA_IFNAME, 2, "v2"); // no terminating NUL
    add_link(bad.nlh, s);
    CHECK(s.links.count(6) == 0);

    Msg n;
    auto* ndm = n.start<ndmsg>(RTM_NEWNEIGH);
    *ndm = {};
    ndm->ndm_family = AF_INET;
    ndm->ndm_ifindex = 5;
    ndm->ndm_state = NUD_PERMANENT;
    mnl_attr_put(n.nlh, NDA_DST, 16, v6("2001:db8::1").data()); // IPv6-sized for AF_INET
    add_neighbor(n.nlh, s);
    CHECK(s.neighbors.empty());
    Msg ok;
    ndm = ok.start<ndmsg>(RTM_NEWNEIGH);
    *ndm = {};
    ndm->ndm_family = AF_INET;
    ndm->ndm_ifindex = 5;
    ndm->ndm_state = NUD_STALE;
    mnl_attr_put(ok.nlh, NDA_DST, 4, v4("192.0.2.2").data());
    add_neighbor(ok.nlh, s);
    REQUIRE(s.neighbors.size() == 1);
    CHECK(s.neighbors.begin()->second == NUD_STALE);
}
