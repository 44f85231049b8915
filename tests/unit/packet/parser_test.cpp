// The PTB parser against frames built byte by byte in tests/unit/packet/frame_builder.cpp.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <set>
#include <span>

#include "frame_builder.h"
#include "packet/format.h"
#include "packet/parser.h"

using namespace ptbsteer;
using namespace ptbsteer::packet;
using test::Bytes;
using test::ExtHeader;
using test::Inner;
using test::Outer;

namespace {

// Parses from an exactly-sized heap copy, so AddressSanitizer catches any read past the end.
ParseStatus parse_exact(const std::uint8_t* data, std::size_t n, PtbInfo& out) {
    auto copy = std::make_unique<std::uint8_t[]>(n ? n : 1);
    if (n) std::memcpy(copy.get(), data, n);
    return parse_frame(std::span<const std::uint8_t>(copy.get(), n), out);
}
ParseStatus parse_exact(const Bytes& b, PtbInfo& out) {
    return parse_exact(b.data(), b.size(), out);
}

bool has_ports(std::uint8_t proto) {
    return proto == 6 || proto == 17 || proto == 136 || proto == 132 || proto == 33;
}
bool has_spi(std::uint8_t proto) {
    return proto == 50 || proto == 51;
}
std::size_t l4_bytes_needed(std::uint8_t proto) {
    return proto == 51 ? 8 : 4;
}
std::size_t ext_len(const std::vector<ExtHeader>& ext) {
    std::size_t n = 0;
    for (const auto& e : ext)
        n += e.length;
    return n;
}

// What a complete quote of `in` must parse to, worked out from the description alone.
FlowKey expected_inner(const Inner& in) {
    FlowKey k;
    k.family = in.family;
    k.proto = in.proto;
    k.first_nexthdr = in.family == Family::v6 && !in.ext.empty() ? in.ext.front().type : in.proto;
    k.flow_label = in.family == Family::v6 ? in.flow_label : 0;
    k.src = test::addr(in.src);
    k.dst = test::addr(in.dst);
    if (has_ports(in.proto)) {
        k.l4 = L4::ports;
        k.sport = in.sport;
        k.dport = in.dport;
    } else if (has_spi(in.proto)) {
        k.l4 = L4::spi;
        k.sport = std::uint16_t(in.spi >> 16);
        k.dport = std::uint16_t(in.spi);
    } else {
        k.l4 = L4::portless;
    }
    return k;
}

FlowKey expected_flow(const Inner& in) {
    FlowKey k = expected_inner(in);
    std::swap(k.src, k.dst);
    if (k.l4 == L4::ports) std::swap(k.sport, k.dport);
    if (k.l4 == L4::spi) k.l4 = L4::unknown, k.sport = k.dport = 0;
    return k;
}

struct Variant {
    const char* name;
    std::vector<std::pair<std::uint16_t, std::uint16_t>> vlans;
    bool options; // IPv4 options / IPv6 extension headers, outer and inner
};

const std::vector<Variant> variants = {
    {"untagged", {}, false},
    {"802.1Q", {{0x8100, 0x2064}}, false},
    {"QinQ", {{0x88a8, 0x00c8}, {0x8100, 0x0064}}, false},
    {"untagged+opts", {}, true},
    {"QinQ+opts", {{0x88a8, 0x0fff}, {0x8100, 0x0001}}, true},
};

struct Proto {
    const char* name;
    std::uint8_t number;
};
const std::vector<Proto> protos = {{"tcp", 6},   {"udp", 17}, {"udplite", 136}, {"sctp", 132},
                                   {"dccp", 33}, {"esp", 50}, {"ah", 51},       {"gre", 47}};

struct Case {
    std::string name;
    Outer outer;
    Inner inner;
};

std::vector<Case> matrix() {
    std::vector<Case> cases;
    for (Family fam : {Family::v4, Family::v6}) {
        for (const Proto& p : protos) {
            for (const Variant& v : variants) {
                Case c;
                c.name = fmt::format("{} {} {}", to_string(fam), p.name, v.name);
                const bool v4 = fam == Family::v4;
                c.outer.family = c.inner.family = fam;
                c.outer.src = v4 ? "203.0.113.1" : "2001:db8:ffff::1";
                c.outer.dst = v4 ? "198.51.100.10" : "2001:db8:100::10";
                c.outer.vlans = v.vlans;
                c.outer.mtu = v4 ? 1400 : 0x00012345; // v6: all 32 bits count
                c.inner.src = c.outer.dst;
                c.inner.dst = v4 ? "192.0.2.77" : "2001:db8:2::77";
                c.inner.proto = p.number;
                c.inner.sport = 443;
                c.inner.dport = 51234;
                c.inner.spi = 0xdeadbeef;
                c.inner.flow_label = v4 ? 0 : 0xabcde;
                c.inner.l4_len = 1200;
                if (v.options) {
                    c.outer.v4_options = 8;
                    c.inner.v4_options = 12;
                    c.outer.ext = {{0, 8}, {60, 16}};
                    c.inner.ext = {{0, 8}, {43, 24}, {60, 16}};
                }
                cases.push_back(std::move(c));
            }
        }
    }
    return cases;
}

} // namespace

TEST_CASE("every PTB of the matrix parses to the PtbInfo its description implies", "[parser]") {
    for (const Case& c : matrix()) {
        DYNAMIC_SECTION(c.name) {
            test::Geometry g;
            const Bytes frame = test::build_ptb(c.outer, c.inner, SIZE_MAX, &g);
            PtbInfo info;
            REQUIRE(name(parse_exact(frame, info)) == name(ParseStatus::ptb));
            CHECK(info.family == c.outer.family);
            REQUIRE(info.vlan_count == c.outer.vlans.size());
            for (std::size_t i = 0; i < c.outer.vlans.size(); ++i) {
                CHECK(info.vlans[i].tpid == c.outer.vlans[i].first);
                CHECK(info.vlans[i].tci == c.outer.vlans[i].second);
            }
            CHECK(info.outer_src == test::addr(c.outer.src));
            CHECK(info.outer_dst == test::addr(c.outer.dst));
            CHECK(info.mtu == c.outer.mtu);
            CHECK(info.l3_offset == g.l3);
            CHECK(info.icmp_offset == g.icmp);
            CHECK(info.quote_offset == g.quote);
            CHECK(info.quote_len == g.inner_full);
            CHECK(info.icmp_len == g.inner_full + 8);
            CHECK(info.inner_total_len == g.inner_full);
            CHECK_FALSE(info.inner_fragment);
            CHECK(to_string(info.inner) == to_string(expected_inner(c.inner)));
            CHECK(info.inner == expected_inner(c.inner));
            CHECK(to_string(info.flow) == to_string(expected_flow(c.inner)));
            CHECK(info.flow == expected_flow(c.inner));
        }
    }
}

TEST_CASE("a quote cut anywhere gives its defined outcome: drop inside the IP header, "
          "a no-ports key before the ports, the full key after them",
          "[parser][truncation]") {
    for (const Case& c : matrix()) {
        DYNAMIC_SECTION(c.name) {
            test::Geometry full;
            test::build_ptb(c.outer, c.inner, SIZE_MAX, &full);
            const bool v4 = c.inner.family == Family::v4;
            const std::size_t ip_header = v4 ? 20 + c.inner.v4_options : 40;
            const std::size_t ext = v4 ? 0 : ext_len(c.inner.ext);
            const std::size_t ports_end = ip_header + ext + l4_bytes_needed(c.inner.proto);
            const bool portful = has_ports(c.inner.proto) || has_spi(c.inner.proto);
            // Every cut up to the ports and a few past them; beyond that nothing changes.
            for (std::size_t q = 0; q <= ports_end + 4; ++q) {
                const Bytes frame = test::build_ptb(c.outer, c.inner, q);
                PtbInfo info;
                const ParseStatus s = parse_exact(frame, info);
                INFO("quote length " << q);
                if (q < ip_header) {
                    CHECK(name(s) == name(ParseStatus::inner_truncated));
                    continue;
                }
                REQUIRE(name(s) == name(ParseStatus::ptb));
                CHECK(info.quote_len == q);
                CHECK(info.inner.src == test::addr(c.inner.src));
                CHECK(info.flow.dst == test::addr(c.inner.src));
                CHECK(info.inner_total_len == full.inner_full); // the header's claim, not the quote
                if (!portful) {
                    if (q >= ip_header + ext) CHECK(info.inner.l4 == L4::portless);
                } else if (q < ports_end) {
                    CHECK(to_string(info.inner.l4) == "truncated");
                    CHECK(to_string(info.flow.l4) == "truncated");
                    CHECK(info.flow.sport == 0);
                    CHECK(info.flow.dport == 0);
                    // Inside an IPv6 extension chain only the fixed header's Next Header is known.
                    const std::uint8_t proto =
                        q < ip_header + ext ? expected_inner(c.inner).first_nexthdr : c.inner.proto;
                    CHECK(int(info.flow.proto) == int(proto));
                } else {
                    CHECK(info.inner == expected_inner(c.inner));
                    CHECK(info.flow == expected_flow(c.inner));
                }
            }
        }
    }
}

TEST_CASE("a frame cut anywhere is refused with the reason for where it was cut",
          "[parser][truncation]") {
    for (const Case& c : matrix()) {
        DYNAMIC_SECTION(c.name) {
            test::Geometry g;
            const Bytes frame = test::build_ptb(c.outer, c.inner, 200, &g);
            const std::size_t ip_min = c.outer.family == Family::v4 ? 20 : 40;
            for (std::size_t n = 0; n < frame.size(); ++n) {
                PtbInfo info;
                const ParseStatus s = parse_exact(frame.data(), n, info);
                INFO("frame cut to " << n << " of " << frame.size() << " bytes");
                if (n < g.l3)
                    CHECK(name(s) == name(ParseStatus::truncated_l2));
                else if (n < g.l3 + ip_min)
                    CHECK(name(s) == name(ParseStatus::truncated_ip));
                else
                    CHECK(name(s) == name(ParseStatus::bad_ip_length));
            }
        }
    }
}

// The datapath parses every frame into the same PtbInfo without clearing it, so a field the
// parser forgot to set would carry the previous frame's value (or garbage) into the decision.
TEST_CASE("a PtbInfo reused from frame to frame parses as a fresh one would", "[parser]") {
    std::vector<Bytes> corpus;
    for (const Case& c : matrix()) {
        for (std::size_t q = 0; q <= 120; q += 3)
            corpus.push_back(test::build_ptb(c.outer, c.inner, q));
        const Bytes whole = test::build_ptb(c.outer, c.inner, SIZE_MAX);
        corpus.push_back(whole);
        for (std::size_t n = 0; n < 100; n += 7)
            corpus.emplace_back(whole.begin(), whole.begin() + n);
    }
    PtbInfo carried; // holds whatever the previous frame left
    std::size_t ptbs = 0;
    for (std::size_t i = 0; i < corpus.size(); ++i) {
        INFO("frame " << i << " of " << corpus.size() << ", " << corpus[i].size() << " bytes");
        PtbInfo fresh;
        const ParseStatus want = parse_exact(corpus[i], fresh);
        PtbInfo poisoned;
        std::memset(static_cast<void*>(&poisoned), 0xa5, sizeof poisoned);
        for (PtbInfo* out : {&poisoned, &carried}) {
            const ParseStatus got = parse_exact(corpus[i], *out);
            REQUIRE(name(got) == name(want));
            CHECK(out->l3_offset == fresh.l3_offset); // reported for every outcome
            if (want == ParseStatus::ptb) CHECK(*out == fresh);
        }
        ptbs += want == ParseStatus::ptb;
    }
    CHECK(ptbs > corpus.size() / 2);
}

// parse_frame() tries a fast path for the common shapes before the general walker. Whatever
// the fast path takes must parse exactly as the walker parses it, and it must take the shapes it
// was written for (or it is dead code and the speed is gone).
TEST_CASE("the fast path parses its shapes exactly as the walker does, and takes them",
          "[parser]") {
    std::size_t taken = 0, common_wholes = 0;
    auto compare = [&](const Bytes& f) {
        PtbInfo fast, walked;
        const ParseStatus got = parse_exact(f, fast);
        const ParseStatus want = detail::parse_frame_walk(std::span<const std::uint8_t>(f), walked);
        REQUIRE(name(got) == name(want));
        CHECK(fast.l3_offset == walked.l3_offset);
        if (want == ParseStatus::ptb) CHECK(fast == walked);
        PtbInfo scratch;
        taken += detail::parse_common(std::span<const std::uint8_t>(f), scratch);
    };
    for (const Case& c : matrix()) {
        INFO(c.name);
        const Bytes whole = test::build_ptb(c.outer, c.inner, SIZE_MAX);
        const bool options = c.outer.v4_options || c.inner.v4_options || !c.outer.ext.empty() ||
                             !c.inner.ext.empty();
        const bool common = !options && c.outer.vlans.size() <= 1 &&
                            (c.outer.vlans.empty() || c.outer.vlans[0].first == 0x8100) &&
                            (c.inner.proto == 6 || c.inner.proto == 17);
        PtbInfo scratch;
        CHECK(detail::parse_common(std::span<const std::uint8_t>(whole), scratch) == common);
        common_wholes += common;
        compare(whole);
        for (std::size_t q = 0; q <= 64; ++q)
            compare(test::build_ptb(c.outer, c.inner, q));
        for (std::size_t n = 0; n < whole.size(); n += 5)
            compare(Bytes(whole.begin(), whole.begin() + n));
        // Every single-bit change in the first 120 bytes (headers and the start of the quote).
        for (std::size_t i = 0; i < std::min<std::size_t>(120, whole.size()); ++i)
            for (unsigned bit = 0; bit < 8; ++bit) {
                Bytes f = whole;
                f[i] ^= std::uint8_t(1u << bit);
                compare(f);
            }
    }
    // Beyond the whole frames, cut and changed ones reached the fast path too (and agreed).
    CHECK(common_wholes == 8); // v4, v6 x TCP, UDP x untagged, 802.1Q
    CHECK(taken > 2 * common_wholes);
}

namespace {

// The PTBs most tests start from: a router's PTB to the server, quoting the server's packet.
Outer v4_outer() {
    return {.src = "203.0.113.1", .dst = "198.51.100.10"};
}
Inner v4_inner() {
    return {.src = "198.51.100.10", .dst = "192.0.2.1"};
}
Outer v6_outer() {
    return {
        .family = Family::v6, .src = "2001:db8:ffff::1", .dst = "2001:db8:100::10", .mtu = 1280};
}
Inner v6_inner() {
    return {.family = Family::v6, .src = "2001:db8:100::10", .dst = "2001:db8:2::1"};
}

struct Named {
    const char* name;
    Outer outer;
    Inner inner;
    std::size_t quote;
    ParseStatus expect;
};

template <class F>
Named make(const char* n, ParseStatus e, F tweak, bool v6 = false, std::size_t quote = SIZE_MAX) {
    Named x{n, v6 ? v6_outer() : v4_outer(), v6 ? v6_inner() : v4_inner(), quote, e};
    tweak(x.outer, x.inner);
    return x;
}

} // namespace

TEST_CASE("each named outcome has a fixture that trips it", "[parser][reasons]") {
    using S = ParseStatus;
    auto none = [](Outer&, Inner&) {};
    const std::vector<Named> table = {
        make("v4 baseline", S::ptb, none),
        make("v6 baseline", S::ptb, none, true),
        make("three VLAN tags", S::vlan_too_deep,
             [](Outer& o, Inner&) {
                 o.vlans = {{0x88a8, 1}, {0x8100, 2}, {0x8100, 3}};
             }),
        make("legacy 0x9100 QinQ is a tag", S::ptb,
             [](Outer& o, Inner&) {
                 o.vlans = {{0x9100, 5}, {0x8100, 6}};
             }),
        make("v6 packet behind the v4 EtherType", S::bad_ip_version,
             [](Outer& o, Inner&) { o.version_override = 6; }),
        make(
            "v4 packet behind the v6 EtherType", S::bad_ip_version,
            [](Outer& o, Inner&) { o.version_override = 4; }, true),
        make("IHL 4", S::bad_ip_header_length, [](Outer& o, Inner&) { o.ihl_override = 4; }),
        make("IPv4 total length past the frame", S::bad_ip_length,
             [](Outer& o, Inner&) { o.length_adjust = 1; }),
        make(
            "IPv6 payload length past the frame", S::bad_ip_length,
            [](Outer& o, Inner&) { o.length_adjust = 1; }, true),
        make(
            "IPv4 total length below IHL", S::bad_ip_length,
            [](Outer& o, Inner&) { o.length_adjust = -100; }, false, 60),
        make("IPv4 MF set", S::outer_fragment, [](Outer& o, Inner&) { o.v4_frag = 0x2000; }),
        make("IPv4 offset set", S::outer_fragment, [](Outer& o, Inner&) { o.v4_frag = 0x0010; }),
        make("IPv4 DF alone is fine", S::ptb, [](Outer& o, Inner&) { o.v4_frag = 0x4000; }),
        make(
            "IPv6 fragment header", S::outer_fragment,
            [](Outer& o, Inner&) {
                o.ext = {{44, 8, 0x0001}};
            },
            true),
        make(
            "IPv6 atomic fragment", S::outer_fragment,
            [](Outer& o, Inner&) {
                o.ext = {{44, 8, 0}};
            },
            true),
        make(
            "nine extension headers", S::ext_header_limit,
            [](Outer& o, Inner&) {
                o.ext.assign(9, ExtHeader{60, 8});
            },
            true),
        make(
            "eight extension headers", S::ptb,
            [](Outer& o, Inner&) {
                o.ext.assign(8, ExtHeader{60, 8});
            },
            true),
        make(
            "264 bytes of extension headers", S::ext_header_limit,
            [](Outer& o, Inner&) {
                o.ext = {{0, 136}, {60, 128}};
            },
            true),
        make(
            "256 bytes of extension headers", S::ptb,
            [](Outer& o, Inner&) {
                o.ext = {{0, 128}, {60, 128}};
            },
            true),
        make(
            "outer AH is walked", S::ptb,
            [](Outer& o, Inner&) {
                o.ext = {{51, 24}};
            },
            true),
        make(
            "ICMP header cut by the IP length", S::truncated_icmp,
            [](Outer& o, Inner&) { o.length_adjust = -24; }, false, 20),
        make(
            "ICMPv6 header cut by the payload length", S::truncated_icmp,
            [](Outer& o, Inner&) { o.length_adjust = -24; }, true, 20),
        make("UDP instead of ICMP", S::not_icmp,
             [](Outer& o, Inner&) { o.ip_proto_override = 17; }),
        make(
            "no next header", S::not_icmp, [](Outer& o, Inner&) { o.ip_proto_override = 59; },
            true),
        make("echo request", S::icmp_other,
             [](Outer& o, Inner&) { o.icmp_type = 8, o.icmp_code = 0; }),
        make("port unreachable", S::icmp_other, [](Outer& o, Inner&) { o.icmp_code = 3; }),
        make(
            "ICMPv6 destination unreachable", S::icmp_other,
            [](Outer& o, Inner&) { o.icmp_type = 1; }, true),
        make(
            "neighbor solicitation", S::neighbor_discovery,
            [](Outer& o, Inner&) { o.icmp_type = 135; }, true),
        make(
            "ICMPv6 PTB with a non-zero code (RFC 4443 §3.2: ignored)", S::ptb,
            [](Outer& o, Inner&) { o.icmp_code = 1; }, true),
        make("IPv6 quoted in ICMPv4", S::inner_family_mismatch,
             [](Outer&, Inner& in) { in.version_override = 6; }),
        make(
            "IPv4 quoted in ICMPv6", S::inner_family_mismatch,
            [](Outer&, Inner& in) { in.version_override = 4; }, true),
        make("quoted version 7", S::inner_bad_header,
             [](Outer&, Inner& in) { in.version_override = 7; }),
        make("quoted IHL 3", S::inner_bad_header, [](Outer&, Inner& in) { in.ihl_override = 3; }),
        make(
            "quote ends inside inner options", S::inner_truncated,
            [](Outer&, Inner& in) { in.v4_options = 40; }, false, 40),
        make("empty quote", S::inner_truncated, none, false, 0),
        make(
            "nine inner extension headers", S::inner_ext_header_limit,
            [](Outer&, Inner& in) {
                in.ext.assign(9, ExtHeader{0, 8});
            },
            true),
        make("RFC 1191 old router: MTU 0 is reported, not refused", S::ptb,
             [](Outer& o, Inner&) { o.mtu = 0; }),
        make(
            "Ethernet padding after a short PTB", S::ptb,
            [](Outer& o, Inner&) { o.eth_padding = 30; }, false, 28),
    };
    for (const Named& t : table) {
        DYNAMIC_SECTION(t.name) {
            const Bytes frame = test::build_ptb(t.outer, t.inner, t.quote);
            PtbInfo info;
            CHECK(name(parse_exact(frame, info)) == name(t.expect));
        }
    }
}

TEST_CASE("ARP and unknown EtherTypes are named, not parsed", "[parser][reasons]") {
    Bytes frame(60, 0);
    frame[12] = 0x08, frame[13] = 0x06;
    PtbInfo info;
    CHECK(name(parse_exact(frame, info)) == "arp");
    frame[12] = 0x88, frame[13] = 0xcc; // LLDP
    CHECK(name(parse_exact(frame, info)) == "ethertype_other");
}

TEST_CASE("fields the parser reports exactly", "[parser]") {
    PtbInfo info;
    SECTION("Ethernet padding does not enter the quote") {
        Outer o = v4_outer();
        o.eth_padding = 30;
        const Bytes f = test::build_ptb(o, v4_inner(), 28);
        REQUIRE(parse_exact(f, info) == ParseStatus::ptb);
        CHECK(info.quote_len == 28);
        CHECK(info.flow.l4 == L4::ports);
    }
    SECTION("RFC 792's minimal 8-byte quote after the IPv4 header carries the ports") {
        const Bytes f = test::build_ptb(v4_outer(), v4_inner(), 28);
        REQUIRE(parse_exact(f, info) == ParseStatus::ptb);
        CHECK(info.flow.sport == 40000);
        CHECK(info.flow.dport == 443);
        CHECK(info.inner_total_len == 40);
    }
    SECTION("the high 16 bits of the ICMPv4 MTU word are ignored") {
        Outer o = v4_outer();
        o.mtu = 0xffff05dc; // builder writes the low 16 bits; the unused half stays zero
        REQUIRE(parse_exact(test::build_ptb(o, v4_inner(), SIZE_MAX), info) == ParseStatus::ptb);
        CHECK(info.mtu == 1500);
    }
    SECTION("an inner first fragment keeps its ports, a later one cannot have them") {
        Inner in = v4_inner();
        in.v4_frag = 0x2000; // MF, offset 0
        REQUIRE(parse_exact(test::build_ptb(v4_outer(), in, SIZE_MAX), info) == ParseStatus::ptb);
        CHECK(info.inner_fragment);
        CHECK(info.flow.l4 == L4::ports);
        in.v4_frag = 0x00b9; // offset 1480
        REQUIRE(parse_exact(test::build_ptb(v4_outer(), in, SIZE_MAX), info) == ParseStatus::ptb);
        CHECK(info.inner_fragment);
        CHECK(info.flow.l4 == L4::unknown);
        CHECK(info.flow.sport == 0);
    }
    SECTION("IPv6 inner fragments likewise") {
        Inner in = v6_inner();
        in.ext = {{44, 8, 0x0001}};
        REQUIRE(parse_exact(test::build_ptb(v6_outer(), in, SIZE_MAX), info) == ParseStatus::ptb);
        CHECK(info.inner_fragment);
        CHECK(info.flow.l4 == L4::ports);
        CHECK(info.flow.proto == 6);
        CHECK(info.flow.first_nexthdr == 44);
        in.ext = {{44, 8, 0x05a8}};
        REQUIRE(parse_exact(test::build_ptb(v6_outer(), in, SIZE_MAX), info) == ParseStatus::ptb);
        CHECK(info.flow.l4 == L4::unknown);
        CHECK(info.flow.proto == 6);
    }
    SECTION("a portless protocol's later fragment is still a complete 3-tuple") {
        Inner in = v4_inner();
        in.proto = 47;
        in.v4_frag = 0x0010;
        REQUIRE(parse_exact(test::build_ptb(v4_outer(), in, SIZE_MAX), info) == ParseStatus::ptb);
        CHECK(info.flow.l4 == L4::portless);
    }
}

TEST_CASE("reversing a key twice gives it back, except an SPI which belongs to one direction",
          "[parser]") {
    FlowKey k;
    k.family = Family::v6;
    k.proto = 17;
    k.l4 = L4::ports;
    k.sport = 1;
    k.dport = 2;
    k.flow_label = 7;
    k.src = test::addr("2001:db8::1");
    k.dst = test::addr("2001:db8::2");
    const FlowKey r = reversed(k);
    CHECK(r.src == k.dst);
    CHECK(r.sport == 2);
    CHECK(reversed(r) == k);
    k.l4 = L4::spi;
    CHECK(reversed(k).l4 == L4::unknown);
}

TEST_CASE("every status has a distinct name and a description", "[parser]") {
    std::set<std::string_view> seen;
    for (std::size_t i = 0; i < parse_status_count; ++i) {
        const auto s = static_cast<ParseStatus>(i);
        CHECK(seen.insert(name(s)).second);
        CHECK(description(s).size() > 3);
    }
    CHECK(kind(ParseStatus::ptb) == StatusKind::ptb);
    CHECK(kind(ParseStatus::arp) == StatusKind::not_ptb);
    CHECK(kind(ParseStatus::outer_fragment) == StatusKind::malformed);
}
