// datapath::decide_frames() (burst.h: a burst in stages, its Linux hashes side by side in SIMD
// lanes) against its truth, datapath::decide() frame by frame: random bursts of a pool mixing
// PTBs of every shape with broken and non-PTB frames, on each SIMD path and several tables, with
// rate limits small enough to run out inside bursts. Every field of every Decision must match,
// and so must each PTB's parse; counts prove the interesting cases really ran.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "config/config.h"
#include "control/compile_tables.h"
#include "control/transition.h"
#include "datapath/burst.h"
#include "datapath/decide.h"
#include "frame_builder.h"
#include "hash/siphash_batch.h"

using namespace ptbsteer;
using namespace ptbsteer::datapath;
using namespace ptbsteer::control;
using packet::Family;
using test::Bytes;

namespace {

const Mac port_in = {0x02, 0xaa, 0, 0, 0, 0x01};
const Mac port_out = {0x02, 0xaa, 0, 0, 0, 0x02};
const Mac station = {0x02, 0x70, 0x74, 0x62, 0x00, 0x50}; // sends the ARP and ND frames
constexpr std::uint64_t hz = 1'000'000;                   // the tests' clock: 1 cycle = 1 us
constexpr std::uint64_t start = 10 * hz;                  // the first burst's `now`

// Several thousand bursts per tables and path; ASan runs each decision many times slower.
#if defined(__SANITIZE_ADDRESS__)
constexpr int bursts_per_run = 300;
#else
constexpr int bursts_per_run = 3000;
#endif

// Tables to decide with: web, strict (fallback drop) and rep (mode replicate) hash with `hash`,
// other with `other`, so a burst mixes flows hashed in lanes with flows hashed one by one.
struct Variant {
    const char* name;
    std::string hash;
    std::string other;
    bool lanes;              // some group's model has a lane: the SIMD paths must use lanes
    bool ports;              // `hash` needs the ports: a portless quote meets the fallback
    bool routers = false;    // web has a state of its own for router edge2 (VLAN 20)
    bool transition = false; // web has two earlier versions (windows close in a release run)
};

// Web's next-hops in `order`, less `skip`, and one behind port `in` with the frame builder's
// source MAC: its flows would loop back to the sender (would_loop).
std::string web_hops(const std::string& order, char skip) {
    std::string s = "    next_hops:\n";
    for (const char c : order)
        if (c != skip)
            s += fmt::format("      - {{name: {}, port: out, mac: \"02:00:00:00:01:{:02x}\"}}\n", c,
                             c - 'a' + 1);
    return s + "      - {name: back, port: in, mac: \"02:00:00:00:00:02\"}\n";
}

std::string config_text(const Variant& v, const char* simd, char skip = 0) {
    std::string s = fmt::format(R"(
ports:
  - {{name: in, device: net_null0}}
  - {{name: out, device: net_null1}}
lcores: [{{id: 0, rx: [in, out], tx: true}}]
simd: {}
addresses:
  - {{port: in, ipv4: 203.0.113.2/24, ipv6: "2001:db8:ff::2/64"}}
)",
                                simd);
    if (v.routers) s += "routers:\n  - {name: edge2, vlan: 20}\n";
    s += "groups:\n";
    const auto group = [&](const char* name, int site, const std::string& hash) {
        s += fmt::format("  - name: {}\n    prefixes: [198.51.100.{}/26, \"2001:db8:10{}::/48\"]\n"
                         "    hash: {}\n",
                         name, site * 64, site, hash);
    };
    group("web", 0, v.hash);
    if (v.transition) s += "    transition: 20\n    transition_copies: 3\n";
    s += web_hops("abcdef", skip);
    if (v.routers) {
        group("web", 0, "{model: linux, policy: 1, seed: 99}");
        s += "    router: edge2\n" + web_hops("fedcba", skip);
    }
    group("strict", 1, v.hash);
    s += "    fallback: drop\n    next_hops:\n";
    for (int i = 1; i <= 3; ++i)
        s +=
            fmt::format("      - {{name: s{}, port: out, mac: \"02:00:00:00:02:{:02x}\"}}\n", i, i);
    group("rep", 2, v.hash);
    s += "    mode: replicate\n    next_hops:\n";
    for (int i = 1; i <= 3; ++i)
        s +=
            fmt::format("      - {{name: r{}, port: out, mac: \"02:00:00:00:03:{:02x}\"}}\n", i, i);
    group("other", 3, v.other);
    s += "    next_hops:\n";
    for (int i = 1; i <= 4; ++i)
        s +=
            fmt::format("      - {{name: o{}, port: out, mac: \"02:00:00:00:04:{:02x}\"}}\n", i, i);
    // Next-hops by address: their ARP replies and Neighbor Advertisements are `learn`.
    s += "      - {name: v4, port: in, via: 203.0.113.11}\n";
    s += "      - {name: v6, port: in, via: \"2001:db8:ff::c\"}\n";
    return s;
}

config::Config load(const std::string& text) {
    const config::LoadResult r = config::load_config_text(text, "burst_test.yaml");
    std::string errors;
    for (const auto& e : r.errors)
        errors += config::to_string(e) + "\n";
    INFO(errors);
    REQUIRE(r.config);
    return *r.config;
}

Tables tables(const Variant& v, const char* simd) {
    if (!v.transition)
        return compile_tables(load(config_text(v, simd)), {0, 1}, {port_in, port_out});
    // Web without b since 2 s before the first burst, and without d (b back) since 1 s before:
    // b's and d's flows have earlier owners, up to two copies, until the 20 s windows close.
    const config::Config v0 = load(config_text(v, simd)), v1 = load(config_text(v, simd, 'b')),
                         v2 = load(config_text(v, simd, 'd'));
    History h = next_history({}, v0, v1, start - 2 * hz, hz);
    h = next_history(h, v1, v2, start - hz, hz);
    const PastState past{&h, start, hz};
    const std::vector<DepartedHop> departed = departed_hops(v2, h);
    return compile_tables(v2, {0, 1}, {port_in, port_out}, nullptr, nullptr, &past, &departed);
}

using Rng = std::mt19937_64;

unsigned below(Rng& r, unsigned n) {
    return unsigned(r() % n);
}

// A PTB before it is built, so the pool can break one of its rules.
struct Ptb {
    test::Outer o;
    test::Inner in;
    std::size_t quote = 0;
    std::size_t headers = 0; // of the quoted packet, up to its ports
    Bytes build() const { return test::build_ptb(o, in, quote); }
};

// A server of site `site` (0 web, 1 strict, 2 rep, 3 other; 4: an address no group serves).
std::string server(Rng& r, bool v6, unsigned site) {
    if (v6)
        return site < 4 ? fmt::format("2001:db8:10{}::{:x}", site, 1 + below(r, 0xfffe))
                        : fmt::format("2001:db8:999::{:x}", 1 + below(r, 0xfffe));
    return site < 4 ? fmt::format("198.51.100.{}", site * 64 + 1 + below(r, 62))
                    : fmt::format("233.252.0.{}", 1 + below(r, 250));
}

unsigned random_site(Rng& r) {
    const unsigned k = below(r, 20);
    return k < 7 ? 0 : k < 10 ? 1 : k < 13 ? 2 : k < 18 ? 3 : 4;
}

// A believable PTB (as decide_bench.cpp's): a 1,500-byte packet of a server met a smaller MTU.
// Four routers per family send them, so each router's budget runs out. Quotes are full, headers
// + 8 (the ports just survive), or cut inside the ports: then the group's fallback applies.
Ptb random_ptb(Rng& r, bool v6, unsigned site) {
    Ptb p;
    p.o.family = p.in.family = v6 ? Family::v6 : Family::v4;
    const unsigned proto = below(r, 20);
    p.in.proto = proto < 10 ? 6 : proto < 17 ? 17 : proto < 18 ? 50 : proto < 19 ? 132 : 47;
    p.in.sport = below(r, 2) ? 443 : 53;
    p.in.dport = std::uint16_t(1024 + below(r, 64000));
    p.in.spi = std::uint32_t(r());
    p.in.l4_len = 1460;
    p.o.dst = p.in.src = server(r, v6, site);
    std::size_t& headers = p.headers;
    if (v6) {
        p.in.dst = fmt::format("2001:db8:c1::{:x}:{:x}", below(r, 0x10000), below(r, 0x10000));
        p.o.src = fmt::format("2001:db8:ffff::{}", 1 + below(r, 4));
        p.in.flow_label = std::uint32_t(r()) & 0xfffff;
        if (below(r, 8) == 0) p.in.ext.push_back({60, 16});
        headers = 40;
        for (const test::ExtHeader& e : p.in.ext)
            headers += e.length;
    } else {
        p.in.dst = fmt::format("10.{}.{}.{}", below(r, 256), below(r, 256), 1 + below(r, 254));
        p.o.src = fmt::format("203.0.113.{}", 1 + below(r, 4));
        if (below(r, 8) == 0) p.in.v4_options = 4 * (1 + below(r, 3));
        if (below(r, 16) == 0) p.in.v4_frag = 0x0010; // a later fragment: no ports
        headers = 20 + p.in.v4_options;
    }
    p.o.mtu = 1280 + below(r, 200);
    if (below(r, 4) == 0) // VLAN 20 is router edge2's
        p.o.vlans = {{0x8100, std::uint16_t(below(r, 3) == 0 ? 20 : 1 + below(r, 4000))}};
    const unsigned q = below(r, 8);
    p.quote = q < 3 ? (v6 ? 1232 : 548) : q < 6 ? headers + 8 : headers + below(r, 4);
    return p;
}

// An ARP packet from the station: op 1 (request) or 2 (reply).
Bytes arp(unsigned op, const char* sender_ip, const char* target_ip) {
    return test::arp_frame(op, station, sender_ip, target_ip);
}

// A Neighbor Solicitation (135) or Advertisement (136, solicited, override) about `target` from
// `src`, with the station's link-layer address option.
Bytes nd(std::uint8_t type, const char* src, const char* target) {
    Bytes f(port_in.begin(), port_in.end());
    f.insert(f.end(), station.begin(), station.end());
    const std::uint8_t plen = 32;
    f.insert(f.end(), {0x86, 0xdd, 0x60, 0, 0, 0, 0, plen, 58, 255});
    const auto s = test::addr(src), d = test::addr("2001:db8:ff::2"), t = test::addr(target);
    f.insert(f.end(), s.b.begin(), s.b.end());
    f.insert(f.end(), d.b.begin(), d.b.end());
    f.insert(f.end(), {type, 0, 0, 0, std::uint8_t(type == 136 ? 0x60 : 0), 0, 0, 0});
    f.insert(f.end(), t.b.begin(), t.b.end());
    f.insert(f.end(), {std::uint8_t(type == 136 ? 2 : 1), 1});
    f.insert(f.end(), station.begin(), station.end());
    test::set_icmpv6_checksum(f);
    return f;
}

// Mostly good PTBs; then PTBs that break one rule of parsing or validation, frames that are
// not PTBs, frames of our own, and ARP / ND for us, from a next-hop, and for someone else.
std::vector<Bytes> make_pool() {
    Rng r(20240523);
    std::vector<Bytes> pool;
    for (int i = 0; i < 1500; ++i) {
        const bool v6 = r() & 1;
        Ptb p = random_ptb(r, v6, random_site(r));
        const unsigned k = below(r, 100);
        if (k < 60) {
            pool.push_back(p.build());
        } else if (k < 64) {
            Bytes f = p.build();
            f.back() ^= 0x5a; // bad_checksum
            pool.push_back(f);
        } else if (k < 68) {
            Bytes f = p.build(); // cut anywhere: truncated headers, lengths that lie
            f.resize(below(r, unsigned(f.size())));
            pool.push_back(f);
        } else if (k < 72) {
            const unsigned m = below(r, 3);
            p.o.mtu = m == 0 ? (v6 ? 1000 : 100) : m == 1 ? 1500 : (v6 ? 1300 : 0);
            pool.push_back(p.build());
        } else if (k < 74) {
            p.o.dst = server(r, v6, random_site(r)); // dst_not_quoted_source
            pool.push_back(p.build());
        } else if (k < 76) {
            Bytes f = p.build();
            std::copy(port_in.begin(), port_in.end(), f.begin() + 6); // own_frame
            pool.push_back(f);
        } else if (k < 82) {
            const unsigned m = below(r, 4);
            if (m == 0) p.o.icmp_type = v6 ? 128 : 8, p.o.icmp_code = 0; // an echo request
            if (m == 1) p.o.ip_proto_override = 17;
            if (m == 2) p.o.vlans = {{0x88a8, 1}, {0x8100, 2}, {0x8100, 3}}; // vlan_too_deep
            Bytes f = p.build();
            if (m == 3) f[12] = 0x88, f[13] = 0xcc; // LLDP's EtherType
            pool.push_back(f);
        } else {
            switch (below(r, 6)) {
            case 0: pool.push_back(arp(1, "203.0.113.50", "203.0.113.2")); break;  // reply
            case 1: pool.push_back(arp(2, "203.0.113.11", "203.0.113.2")); break;  // learn
            case 2: pool.push_back(arp(1, "203.0.113.50", "203.0.113.99")); break; // not ours
            case 3: pool.push_back(nd(135, "2001:db8:ff::50", "2001:db8:ff::2")); break;
            case 4: pool.push_back(nd(136, "2001:db8:ff::c", "2001:db8:ff::c")); break;
            default: pool.push_back(nd(135, "2001:db8:ff::50", "2001:db8:ff::99")); break;
            }
        }
    }
    return pool;
}

// Web PTBs of one family whose ports survive: a burst of them fills all 32 lanes of a family.
std::vector<Bytes> make_dense(bool v6) {
    Rng r(v6 ? 66 : 44);
    std::vector<Bytes> pool;
    for (int i = 0; i < 48; ++i) {
        Ptb p = random_ptb(r, v6, 0);
        p.in.v4_frag = 0x4000;
        p.quote = i % 2 ? (v6 ? 1232 : 548) : p.headers + 8;
        pool.push_back(p.build());
    }
    return pool;
}

// Budgets small enough to run out inside a burst: four routers per family at 300 PTBs/s with
// bursts of 4 each, 1,500 PTBs/s over all with bursts of 24, and 1,500 copies/s with bursts of
// 14 (a replicated web PTB costs 7).
Guard limited() {
    Guard g;
    g.per_source = guard::PerSourceLimiter(300, 4, hz, 64);
    g.global = guard::Gcra(1500, 24, hz);
    g.replication = guard::Gcra(1500, 14, hz);
    return g;
}

bool same(const Decision& a, const Decision& b) {
    if (a.action != b.action || a.ptb != b.ptb || a.drop != b.drop || a.router != b.router ||
        a.l3_offset != b.l3_offset || a.family != b.family || a.past_count != b.past_count ||
        a.target != b.target)
        return false;
    for (unsigned k = 0; k < a.past_count && k < max_past_owners; ++k)
        if (a.past[k] != b.past[k]) return false;
    return true;
}

std::string describe(const Decision& d) {
    return fmt::format("action {} ptb {} drop {} router {} l3 {} family {} target {} past {} "
                       "[{}, {}]",
                       int(d.action), d.ptb, name(d.drop), d.router, d.l3_offset, int(d.family),
                       d.target, d.past_count, d.past[0], d.past[1]);
}

// A broken lane path: every flow hashes to 0.
void zero_lanes(const hash::SipLanes&, std::size_t, std::size_t, std::uint64_t* out) noexcept {
    std::fill(out, out + hash::SipLanes::lanes, std::uint64_t(0));
}

struct Counts {
    std::uint64_t compared = 0, differ = 0, lanes = 0, from_router = 0;
    unsigned max_lanes = 0;                 // the most lanes of one family a burst filled
    std::array<std::uint64_t, 6> actions{}; // by Action
    std::array<std::uint64_t, drop_count> drops{};
    std::uint64_t past_copies = 0, past_spent = 0; // transitions with earlier owners; without room
    std::uint64_t control_differ = 0;              // decisions the broken lane path changed

    std::uint64_t action(Action a) const { return actions[std::size_t(a)]; }
    std::uint64_t drop(Drop d) const { return drops[std::size_t(d)]; }
};

// Decides the same random bursts both ways, with a Guard each (the same budgets, the same clock).
// One burst in ten comes from a dense pool, without limits (which would refuse most of it).
void compare(const Variant& v, hash::SimdPath path, const std::vector<Bytes>& pool,
             const std::array<std::vector<Bytes>, 2>& dense, Counts& c, std::uint64_t seed) {
    Tables t = tables(v, hash::simd_path_name(path));
    REQUIRE(t.simd == path);
    switch (path) {
    case hash::SimdPath::avx2: REQUIRE(t.hash_lanes == &hash::siphash24_lanes_avx2); break;
    case hash::SimdPath::avx512: REQUIRE(t.hash_lanes == &hash::siphash24_lanes_avx512); break;
    default: REQUIRE(t.hash_lanes == nullptr); break;
    }
    Rng r(seed);
    Guard staged = limited(), single = limited();
    // As an lcore's: set up once, never cleared between bursts (stale lanes must not matter).
    const auto stage = std::make_unique<BurstStage>();
    std::array<std::span<const std::uint8_t>, burst> frames;
    Decision out[burst];
    std::uint64_t now = start;
    for (int b = 0; b < bursts_per_run; ++b) {
        const bool full = below(r, 10) == 0;
        const std::vector<Bytes>& from = full ? dense[below(r, 2)] : pool;
        const unsigned n = full && below(r, 2) ? burst : 1 + below(r, burst);
        for (unsigned i = 0; i < n; ++i)
            frames[i] = from[below(r, unsigned(from.size()))];
        const std::size_t rx_port = below(r, 5) == 0 ? 1 : 0;
        // A quarter of the bursts back to back: the budgets have no time to refill.
        now += below(r, 4) == 0 ? 0 : below(r, 20000);
        // Some other bursts without limits (a null Guard), as with `limits: off`.
        const bool unlimited = full || below(r, 8) == 0;
        stage->lanes.n4 = stage->lanes.n6 = 0;
        decide_frames(t, frames.data(), n, rx_port, *stage, unlimited ? nullptr : &staged, now,
                      out);
        c.lanes += stage->lanes.n4 + stage->lanes.n6;
        c.max_lanes = std::max({c.max_lanes, stage->lanes.n4, stage->lanes.n6});
        for (unsigned i = 0; i < n; ++i) {
            packet::PtbInfo info;
            const Decision d =
                decide(t, frames[i], rx_port, info, unlimited ? nullptr : &single, now);
            ++c.compared;
            ++c.actions[std::size_t(d.action)];
            if (d.action == Action::drop) ++c.drops[std::size_t(d.drop)];
            if (d.action == Action::transition) ++(d.past_count ? c.past_copies : c.past_spent);
            c.from_router += d.ptb && d.router != 0;
            const bool info_same =
                !d.ptb || (stage->info[i] == info && stage->info[i].family == info.family &&
                           stage->info[i].mtu == info.mtu);
            if (same(out[i], d) && info_same) continue;
            if (++c.differ <= 5)
                FAIL_CHECK(fmt::format("{} {}: burst {} frame {}/{} rx_port {} now {}:\n  staged  "
                                       "{}\n  decide  {}\n  parse {}",
                                       v.name, hash::simd_path_name(path), b, i, n, rx_port, now,
                                       describe(out[i]), describe(d),
                                       info_same ? "same" : "differs"));
        }
    }
    // The negative control: with a lane path that hashes every flow to 0, the comparison above
    // sees other owners (a scalar table takes the lane path too once it has a function).
    if (!v.lanes) return;
    t.hash_lanes = zero_lanes;
    for (int b = 0; b < 20; ++b) {
        for (unsigned i = 0; i < burst; ++i)
            frames[i] = pool[below(r, unsigned(pool.size()))];
        decide_frames(t, frames.data(), burst, 0, *stage, nullptr, now, out);
        for (unsigned i = 0; i < burst; ++i) {
            packet::PtbInfo info;
            c.control_differ += !same(out[i], decide(t, frames[i], 0, info, nullptr, now));
        }
    }
}

} // namespace

TEST_CASE("decide_frames decides each frame of a burst as decide() does, on every SIMD path",
          "[burst][decide]") {
    const std::vector<Bytes> pool = make_pool();
    const std::array<std::vector<Bytes>, 2> dense = {make_dense(false), make_dense(true)};
    const std::string linux_p1 = "{model: linux, policy: 1, seed: 7}";
    const std::vector<Variant> variants = {
        {"linux-p0", "{model: linux, policy: 0, seed: 11}", linux_p1, true, false},
        {"linux-p1", linux_p1, "{model: crc32c, seed: 5}", true, true},
        {"linux-p3-ports", "{model: linux, policy: 3, seed: 13, fields: 0x37}", linux_p1, true,
         true},
        {"linux-p3-l3", "{model: linux, policy: 3, seed: 17, fields: [src_ip, dst_ip, flow_label]}",
         "{model: linux, policy: 0, seed: 3}", true, false},
        {"crc32c", "{model: crc32c, seed: 0x1234}", "{model: toeplitz, key: default}", false, true},
        {"toeplitz", "{model: toeplitz, key: symmetric}",
         "{model: linux, policy: 3, seed: 5, fields: 0x37}", true, true},
        {"routers", linux_p1, "{model: toeplitz, key: default}", true, true, true},
        {"transition", linux_p1, "{model: crc32c, seed: 9}", true, true, false, true},
    };
    for (const hash::SimdPath path :
         {hash::SimdPath::scalar, hash::SimdPath::avx2, hash::SimdPath::avx512}) {
        if (!hash::simd_path_supported(path)) {
            WARN("SIMD path " << hash::simd_path_name(path) << " not supported here: skipped");
            continue;
        }
        for (std::size_t vi = 0; vi < variants.size(); ++vi) {
            const Variant& v = variants[vi];
            INFO(v.name << " on " << hash::simd_path_name(path));
            Counts c;
            compare(v, path, pool, dense, c, vi + 1);
            CHECK(c.differ == 0);
            // Not vacuous: each tables' interesting outcomes occurred.
            CHECK(c.action(Action::unicast) > 100);
            CHECK(c.action(Action::replicate) > 100);
            CHECK(c.action(Action::reply) > 10);
            CHECK(c.action(Action::learn) > 10);
            for (const Drop d :
                 {Drop::no_group, Drop::would_loop, Drop::bad_checksum, Drop::own_frame,
                  Drop::rate_limited_source, Drop::rate_limited_global, Drop::replication_budget,
                  Drop::arp_not_ours, Drop::nd_not_ours, Drop::mtu_not_smaller})
                CHECK(c.drop(d) > 0);
            if (v.ports) CHECK(c.drop(Drop::no_ports_fallback_drop) > 0);
            if (v.routers) CHECK(c.from_router > 0);
            if (v.transition) {
                CHECK(c.past_copies > 100);
                CHECK(c.past_spent > 0);
            }
            // Lanes were filled exactly when the tables hash in them, all 32 of a family when
            // web does.
            if (path != hash::SimdPath::scalar && v.lanes) {
                CHECK(c.lanes > c.compared / 100);
                if (v.hash.find("linux") != std::string::npos) CHECK(c.max_lanes == burst);
            } else {
                CHECK(c.lanes == 0);
            }
            if (v.lanes) CHECK(c.control_differ > 0);
        }
    }
}
