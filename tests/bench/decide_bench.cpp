// Benchmark: datapath::decide() per frame (parse + prefix lookup + hash + select) over a
// pre-built array of realistic PTB frames, and its flatness in the group size (2, 64 and 4096
// next-hops). Needs the EAL for rte_lpm/rte_lpm6: initialised with no hugepages, devices or
// telemetry. Not a test: see docs/performance.md.
#include <rte_eal.h>
#include <rte_errno.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "bench_common.h"
#include "config/config.h"
#include "control/compile_tables.h"
#include "control/transition.h"
#include "datapath/burst.h"
#include "datapath/decide.h"
#include "datapath/tables.h"
#include "frame_builder.h"

namespace ptbsteer::bench {
namespace {

using packet::Family;
using test::Bytes;

// Served prefixes: the servers' (quoted sources') addresses.
const char* const served_v4 = "192.0.2.0";
const char* const served_v6 = "2001:db8:1::";

std::string v4_host(const char* net24, std::uint32_t host) {
    std::string s(net24);
    return s.substr(0, s.rfind('.') + 1) + std::to_string(host & 0xff);
}

std::string v6_host(const char* prefix, Rng& r) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s%x:%x", prefix, r.below(0x10000), r.below(0x10000));
    return buf;
}

// One PTB as routers send them: the quoted packet is a server's TCP (60 %) or UDP reply to a
// random client. A quarter of the frames carry a VLAN tag; some IPv4 quotes have options and
// some IPv6 quotes extension headers (hop-by-hop, destination options).
// Quote sizes: routers' full quotes (the realistic case), or headers + 8 bytes (RFC 792's
// minimum; the most PTBs per second a link can carry, the line-rate case in packets).
enum class Quote { full, minimal };

// Frames dropped before any hash, a third of each: a PTB quoting an address no group serves
// (no_group), a PTB with a bad ICMP checksum (bad_checksum) and an ICMP echo request, no PTB
// (icmp_other). `forged_share` of a set's frames (in percent) are of these.
enum class Forge { none, no_group, bad_checksum, not_ptb };

Bytes random_ptb(Rng& r, Family f, Quote q, Forge forge = Forge::none) {
    test::Outer o;
    test::Inner in;
    o.family = in.family = f;
    in.proto = r.below(10) < 6 ? 6 : 17;
    in.sport = r.below(2) ? 443 : 53;
    in.dport = static_cast<std::uint16_t>(1024 + r.below(64512));
    // A full-size 1500-byte packet that met a smaller MTU (so the PTB passes validation).
    in.l4_len = 1460;
    if (r.below(4) == 0) o.vlans = {{0x8100, static_cast<std::uint16_t>(1 + r.below(4094))}};
    if (f == Family::v4) {
        in.src = v4_host(forge == Forge::no_group ? "203.0.113.0" : served_v4, 1 + r.below(254));
        in.dst = std::to_string(1 + r.below(223)) + "." + std::to_string(r.below(256)) + "." +
                 std::to_string(r.below(256)) + "." + std::to_string(1 + r.below(254));
        if (r.below(8) == 0) in.v4_options = 4 * (1 + r.below(3));
        o.src = "198.51.100." + std::to_string(1 + r.below(254)); // the router
        o.dst = in.src;
        o.mtu = 1280 + r.below(200);
    } else {
        in.src = v6_host(forge == Forge::no_group ? "2001:db8:dead::" : "2001:db8:1::", r);
        in.dst = v6_host("2001:db8:c1::", r);
        in.flow_label = static_cast<std::uint32_t>(r.next()) & 0xFFFFF;
        if (r.below(8) == 0) in.ext.push_back({0, 8});
        if (r.below(8) == 0) in.ext.push_back({60, 16});
        o.src = v6_host("2001:db8:ffff::", r);
        o.dst = in.src;
        o.mtu = 1280 + r.below(200);
    }
    // Routers quote as much as fits: 576 bytes of IPv4 datagram (RFC 1812 §4.3.2.3), 1280 of
    // IPv6 (RFC 4443 §2.4(c)). Validation (checksums included) runs over all of it.
    std::size_t headers = f == Family::v4 ? 20 + in.v4_options : 40;
    for (const test::ExtHeader& e : in.ext)
        headers += e.length;
    // Minimal: the ports survive, every frame still steers.
    Bytes b =
        test::build_ptb(o, in, q == Quote::full ? (f == Family::v4 ? 548 : 1232) : headers + 8);
    if (forge == Forge::bad_checksum) b.back() ^= 0x5a; // a quote byte: the ICMP sum breaks
    if (forge == Forge::not_ptb) // the ICMP type after Ethernet, the tag and the outer header
        b[14 + 4 * o.vlans.size() + (f == Family::v4 ? 20 : 40)] = f == Family::v4 ? 8 : 128;
    return b;
}

// Frames laid out as a mempool lays out mbufs: one fixed-size slot each (DPDK's default data
// room, RTE_MBUF_DEFAULT_BUF_SIZE), the frame after 128 bytes of headroom. Separately allocated
// vectors sit back to back, which flattered the single-family cases (one dense stream the
// hardware prefetcher follows) and penalised the mix (a size-dependent stride it cannot).
// Slots start on a cache line, as mbuf buffers do, so a frame's lines are the mbuf's.
struct MbufLikeFrames {
    static constexpr std::size_t slot = 2048 + 128;
    static constexpr std::size_t headroom = 128;
    std::vector<std::uint8_t> arena;
    std::vector<std::span<const std::uint8_t>> frames;

    std::size_t size() const { return frames.size(); }
};

MbufLikeFrames make_frames(Mix m, std::size_t n, std::uint64_t seed, Quote q = Quote::full,
                           unsigned forged_share = 0) {
    Rng r(seed);
    MbufLikeFrames out;
    constexpr std::size_t line = 64;
    out.arena.resize(n * MbufLikeFrames::slot + line);
    const std::size_t align =
        (line - reinterpret_cast<std::uintptr_t>(out.arena.data()) % line) % line;
    for (std::size_t i = 0; i < n; ++i) {
        const Family f = m == Mix::v4     ? Family::v4
                         : m == Mix::v6   ? Family::v6
                         : (r.next() & 1) ? Family::v6
                                          : Family::v4;
        // (No draw without forgeries: the other sets stay the frames they always were.)
        const Forge forge =
            forged_share && r.below(100) < forged_share ? Forge(1 + r.below(3)) : Forge::none;
        const Bytes b = random_ptb(r, f, q, forge);
        std::uint8_t* at =
            out.arena.data() + align + i * MbufLikeFrames::slot + MbufLikeFrames::headroom;
        std::copy(b.begin(), b.end(), at);
        out.frames.emplace_back(at, b.size());
    }
    return out;
}

// The ports and lcore every benchmark configuration starts with.
constexpr const char* bench_ports = R"(
ports:
  - {name: in, device: net_null0}
  - {name: out, device: net_null1}
lcores: [{id: 0, rx: [in, out], tx: true}]
)";

// Next-hop i of a group: a server behind port `out`.
std::string next_hop_line(std::size_t i) {
    return fmt::format("      - {{name: n{}, port: out, mac: \"02:00:00:01:{:02x}:{:02x}\"}}\n", i,
                       i >> 8, i & 0xff);
}

config::Config load(const std::string& yaml, const char* name) {
    const config::LoadResult r = config::load_config_text(yaml, name);
    if (!r.errors.empty())
        throw std::runtime_error("decide-bench config: " + to_string(r.errors.front()));
    return *r.config;
}

// One group serving both prefixes, `next_hops` equal-weight servers, compiled from its YAML as
// the appliance compiles it. `hash` is the group's hash setting.
config::Config make_config(const std::string& hash, std::size_t next_hops,
                           bool verify_checksum = true, std::size_t skip = SIZE_MAX,
                           const char* simd = "auto") {
    std::string yaml = bench_ports + fmt::format(R"(simd: {}
groups:
  - name: bench
    prefixes: [{}/24, {}/48]
    hash: {}
    validate: {{checksum: {}}}
    next_hops:
)",
                                                 simd, served_v4, served_v6, hash, verify_checksum);
    for (std::size_t i = 0; i < next_hops; ++i)
        if (i != skip) yaml += next_hop_line(i);
    return load(yaml, "decide-bench.yaml");
}

// The same group with two routers configured (config `routers:`, docs/configuration.md), each
// with its own state of it (another order and seed): the frames come from edge1's MAC (the
// benchmark frames' source), so every PTB takes the router match and edge1's own state.
config::Config make_router_config(const std::string& hash, std::size_t next_hops) {
    std::string yaml = std::string(bench_ports) + R"(routers:
  - {name: edge1, mac: "02:00:00:00:00:02"}
  - {name: edge2, mac: "02:00:00:00:aa:02"}
groups:
)";
    for (const char* router : {"edge1", "edge2"}) {
        yaml += fmt::format("  - name: bench\n    router: {}\n    prefixes: [{}/24, {}/48]\n"
                            "    hash: {}\n    next_hops:\n",
                            router, served_v4, served_v6, hash);
        for (std::size_t k = 0; k < next_hops; ++k) // edge2's in the reverse order
            yaml += next_hop_line(router[4] == '1' ? k : next_hops - 1 - k);
    }
    return load(yaml, "decide-bench-routers.yaml");
}

// PTBs arrive on port 0 ("in", the MAC the frames are addressed to) and leave by port 1.
const datapath::Mac in_mac{0x02, 0, 0, 0, 0, 0x01}, out_mac{0x02, 0, 0, 0, 0, 0x11};

// One group serving both prefixes, `next_hops` equal-weight servers, compiled from its YAML as
// the appliance compiles it. `hash` is the group's hash setting.
datapath::Tables make_tables(const std::string& hash, std::size_t next_hops,
                             bool verify_checksum = true, const char* simd = "auto") {
    return control::compile_tables(make_config(hash, next_hops, verify_checksum, SIZE_MAX, simd),
                                   {0, 1}, {in_mac, out_mac});
}

// The same group of 8 in a transition (docs/configuration.md): `versions` earlier versions
// still own flows, version k without next-hop n<k>, so about half the flows have another owner
// in each. decide() is called with a clock of 0: every window is open.
datapath::Tables make_transition_tables(const std::string& hash, std::size_t versions) {
    control::History h;
    config::Config before = make_config(hash, 8, true, 0);
    for (std::size_t k = 1; k <= versions; ++k) {
        const config::Config next =
            k == versions ? make_config(hash, 8) : make_config(hash, 8, true, k);
        h = control::next_history(h, before, next, k, 1000);
        before = next;
    }
    const control::PastState past{&h, 0, 1000};
    const std::vector<control::DepartedHop> departed = control::departed_hops(before, h);
    return control::compile_tables(before, {0, 1}, {in_mac, out_mac}, nullptr, nullptr, &past,
                                   &departed);
}

// As the worker decides: bursts of 32 in stages (datapath/burst.h; the next frame prefetched
// while one is parsed, the Linux hashes of a burst side by side on the tables' SIMD path).
datapath::BurstStage stage; // an lcore's, set up once

[[gnu::noinline]] std::uint64_t
decide_all(const datapath::Tables& t, const std::vector<std::span<const std::uint8_t>>& frames) {
    std::uint64_t acc = 0;
    datapath::Decision out[datapath::burst];
    for (std::size_t i = 0; i < frames.size(); i += datapath::burst) {
        const unsigned n = unsigned(std::min<std::size_t>(datapath::burst, frames.size() - i));
        datapath::decide_frames(t, &frames[i], n, 0, stage, nullptr, 0, out);
        for (unsigned j = 0; j < n; ++j)
            acc += out[j].target + static_cast<std::uint64_t>(out[j].action);
    }
    return acc;
}

// Every frame must steer (unicast, or during a transition also to earlier owners): otherwise
// the benchmark times drops, not decisions.
bool all_unicast(const datapath::Tables& t,
                 const std::vector<std::span<const std::uint8_t>>& frames) {
    packet::PtbInfo info;
    for (const auto& f : frames) {
        const datapath::Action a = datapath::decide(t, f, 0, info).action;
        if (a != datapath::Action::unicast && a != datapath::Action::transition) return false;
    }
    return true;
}

int init_eal() {
    // As tests/unit/dpdk/dpdk_main.cpp: anonymous memory instead of hugepages, no devices, our
    // own runtime-file prefix (never attach to another DPDK process), no telemetry thread.
    std::array<const char*, 8> args = {"decide-bench",
                                       "--no-huge",
                                       "-m",
                                       "512",
                                       "--no-pci",
                                       "--file-prefix=ptbsteer-bench",
                                       "--no-telemetry",
                                       "--log-level=lib.eal:error"};
    std::vector<char*> argv;
    std::vector<std::string> storage(args.begin(), args.end());
    for (std::string& s : storage)
        argv.push_back(s.data());
    if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
        std::fprintf(stderr, "rte_eal_init failed: %s\n", rte_strerror(rte_errno));
        return -1;
    }
    return 0;
}

int run(const Options& o) {
    // An RX ring's worth (1,024 descriptors, the default): the mbufs a poll loop cycles through,
    // warm in the cache as they are when the NIC or the PMD has just written them. --count
    // 16384 puts 35 MB of frames beyond the cache: every frame's first touch then misses.
    const std::size_t count = o.count ? o.count : 1024;
    const std::string linux_l4 = "{model: linux, policy: 1, seed: 0x12345678}";
    const std::string linux_l3 = "{model: linux, policy: 0, seed: 0x12345678}";
    const std::string crc = "{model: crc32c, seed: 0xffffffff, fields: [src_ip, dst_ip, ip_proto, "
                            "src_port, dst_port]}";
    const MbufLikeFrames frames[] = {make_frames(Mix::v4, count, 11),
                                     make_frames(Mix::v6, count, 12),
                                     make_frames(Mix::mixed, count, 13)};
    const MbufLikeFrames minimal = make_frames(Mix::mixed, count, 14, Quote::minimal);

    std::printf("decide() per PTB frame (parse + LPM + hash + hash_threshold select), "
                "%zu frames per run, median of %d\n",
                count, o.runs);
    print_header("pkt");
    struct ModelCase {
        const char* name;
        const std::string& hash;
    };
    for (const ModelCase& m : {ModelCase{"linux-p1", linux_l4}, ModelCase{"linux-p0", linux_l3},
                               ModelCase{"crc32c", crc}}) {
        const datapath::Tables t = make_tables(m.hash, 8);
        for (Mix mix : {Mix::v4, Mix::v6, Mix::mixed}) {
            const std::string name = std::string("decide/") + m.name + "/8/" + mix_name(mix);
            if (!selected(o, name)) continue;
            const auto& fs = frames[static_cast<int>(mix)];
            if (!all_unicast(t, fs.frames)) {
                std::fprintf(stderr, "%s: a frame did not steer\n", name.c_str());
                return 1;
            }
            time_case(name, o, fs.size(), [&] { sink = sink + decide_all(t, fs.frames); });
        }
        // The full-quote mix with `verify_checksum: false`: what the checksums cost.
        if (const std::string name = std::string("decide/") + m.name + "/8/no-checksum-mix";
            selected(o, name)) {
            const datapath::Tables unchecked = make_tables(m.hash, 8, false);
            if (!all_unicast(unchecked, frames[2].frames)) {
                std::fprintf(stderr, "%s: a frame did not steer\n", name.c_str());
                return 1;
            }
            time_case(name, o, frames[2].size(),
                      [&] { sink = sink + decide_all(unchecked, frames[2].frames); });
        }
        // The same mix with minimal quotes: the per-packet cost without the per-byte checksum.
        const std::string name = std::string("decide/") + m.name + "/8/minimal";
        if (!selected(o, name)) continue;
        if (!all_unicast(t, minimal.frames)) {
            std::fprintf(stderr, "%s: a frame did not steer\n", name.c_str());
            return 1;
        }
        time_case(name, o, minimal.size(), [&] { sink = sink + decide_all(t, minimal.frames); });
    }
    // Each SIMD path forced (config `simd:`), Linux policy 1: the minimal and full-quote mixes.
    for (const char* path : {"scalar", "avx2", "avx512"}) {
        if (!hash::simd_path_supported(*hash::parse_simd_path(path))) continue;
        const datapath::Tables t = make_tables(linux_l4, 8, true, path);
        for (auto [what, fs] : {std::pair{"minimal", &minimal}, std::pair{"mix", &frames[2]}}) {
            const std::string name = fmt::format("decide/linux-p1-{}/8/{}", path, what);
            if (!selected(o, name)) continue;
            time_case(name, o, fs->size(), [&] { sink = sink + decide_all(t, fs->frames); });
        }
    }
    // Frames dropped before hashing (minimal quotes): all of them, and 90 % among PTBs that
    // steer (issue 23: drops must cost less than deliveries).
    for (unsigned share : {100u, 90u}) {
        const std::string name = fmt::format("decide/linux-p1/8/forged-{}", share);
        if (!selected(o, name)) continue;
        const MbufLikeFrames forged = make_frames(Mix::mixed, count, 15, Quote::minimal, share);
        const datapath::Tables t = make_tables(linux_l4, 8);
        // What the set holds, decided once before timing: the drops must be the forged kinds.
        std::map<std::string, std::size_t> outcomes;
        packet::PtbInfo info;
        for (const auto& f : forged.frames) {
            const datapath::Decision d = datapath::decide(t, f, 0, info);
            ++outcomes[d.action == datapath::Action::drop ? std::string(datapath::name(d.drop))
                                                          : "steered"];
        }
        std::string seen;
        for (const auto& [what, n] : outcomes)
            seen += fmt::format(" {}={}", what, n);
        std::fprintf(stderr, "%s:%s\n", name.c_str(), seen.c_str());
        const std::size_t steered = outcomes.count("steered") ? outcomes["steered"] : 0;
        if (outcomes.size() != (share == 100 ? 3u : 4u) || (share == 100) != (steered == 0)) {
            std::fprintf(stderr, "%s: not the forged kinds\n", name.c_str());
            return 1;
        }
        time_case(name, o, forged.size(), [&] { sink = sink + decide_all(t, forged.frames); });
    }
    // Two routers configured, each with its own state of the group (issue 22).
    for (auto [what, fs] : {std::pair{"minimal", &minimal}, std::pair{"mix", &frames[2]}}) {
        const std::string name = fmt::format("decide/linux-p1-2-routers/8/{}", what);
        if (!selected(o, name)) continue;
        const datapath::Tables t =
            control::compile_tables(make_router_config(linux_l4, 8), {0, 1}, {in_mac, out_mac});
        if (!all_unicast(t, fs->frames)) {
            std::fprintf(stderr, "%s: a frame did not steer\n", name.c_str());
            return 1;
        }
        time_case(name, o, fs->size(), [&] { sink = sink + decide_all(t, fs->frames); });
    }
    // A group in transition: one earlier version, and the most there can be (7).
    for (std::size_t versions : {1, 7}) {
        const std::string name = "decide/linux-p1/8/transition-" + std::to_string(versions);
        if (!selected(o, name)) continue;
        const datapath::Tables t = make_transition_tables(linux_l4, versions);
        if (!all_unicast(t, minimal.frames)) {
            std::fprintf(stderr, "%s: a frame did not steer\n", name.c_str());
            return 1;
        }
        time_case(name, o, minimal.size(), [&] { sink = sink + decide_all(t, minimal.frames); });
    }
    // Group-size flatness: hash_threshold's acceleration table keeps select() O(1).
    for (std::size_t n : {2, 64, 4096}) {
        const std::string name = "decide/linux-p1/" + std::to_string(n) + "/mix";
        if (!selected(o, name)) continue;
        const datapath::Tables t = make_tables(linux_l4, n);
        time_case(name, o, frames[2].size(),
                  [&] { sink = sink + decide_all(t, frames[2].frames); });
    }
    return 0;
}

} // namespace
} // namespace ptbsteer::bench

int main(int argc, char** argv) {
    const ptbsteer::bench::Options o = ptbsteer::bench::parse_options(argc, argv);
    if (ptbsteer::bench::init_eal() < 0) return 2;
    int rc = 0;
    try {
        rc = ptbsteer::bench::run(o);
    } catch (const std::exception& e) { // set-up only: the timed loops never throw
        std::fprintf(stderr, "decide-bench: %s\n", e.what());
        rc = 1;
    }
    rte_eal_cleanup();
    return rc;
}
