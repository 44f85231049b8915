// Writes the fuzzers' seed corpus (tests/fuzz/corpus/<target>/seed-*) from the test fixtures:
//   parser, decide: frames built by tests/unit/packet/frame_builder (one per parse outcome and
//                   per validation rule, every L4 kind, VLANs, options, extension headers, cut
//                   quotes), hand-built ARP requests and Neighbor Solicitations, and every frame
//                   of tests/data/sample-ptbs.pcap (serialised by scapy, not by us). decide seeds
//                   carry the harness's leading selector byte and address decide_site.h's groups.
//   config:         every ```yaml block of docs/*.md, the raw-string configurations of
//                   tests/unit/config/*.cpp, drivers-config/*.yaml and decide_site.h's site.
//
// Usage: make-fuzz-corpus SOURCE_ROOT OUT_DIR   (scripts/fuzz --seeds runs it)
// Only seed-* files are written; inputs libFuzzer added (named by SHA-1) are left alone.
#include <pcap/pcap.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "decide_site.h"
#include "frame_builder.h"

namespace fs = std::filesystem;
using namespace ptbsteer;
using packet::Family;
using test::Bytes;
using test::ExtHeader;
using test::Inner;
using test::Outer;

namespace {

struct Frame {
    std::string name;
    Bytes bytes;
    bool reply_candidate = false; // ARP/ND: seeded on both ports and with tailroom
};

void write_file(const fs::path& p, const void* data, std::size_t n) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(static_cast<const char*>(data), std::streamsize(n));
    if (!out) throw std::runtime_error("cannot write " + p.string());
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// A PTB the fixed site steers: the router reports MTU `mtu` for a full-sized packet (1500 bytes)
// that server `server` sent to a client, quoting `quote` bytes of it; addressed to the server.
struct Ptb {
    Outer o;
    Inner in;
    std::size_t quote = SIZE_MAX;
};

Ptb v4_ptb(const char* server, std::uint8_t proto = 6, std::size_t quote = 520) {
    Ptb p;
    p.o.family = p.in.family = Family::v4;
    p.o.src = "203.0.113.1";
    p.o.dst = p.in.src = server;
    p.in.dst = "203.0.113.77";
    p.in.proto = proto;
    p.in.l4_len = 1480;
    p.o.mtu = 1400;
    p.quote = quote;
    return p;
}

Ptb v6_ptb(const char* server, std::uint8_t proto = 6, std::size_t quote = 200) {
    Ptb p;
    p.o.family = p.in.family = Family::v6;
    p.o.src = "2001:db8:ffff::1";
    p.o.dst = p.in.src = server;
    p.in.dst = "2001:db8:c1::77";
    p.in.proto = proto;
    p.in.l4_len = 1460;
    p.in.flow_label = 0x12345;
    p.o.mtu = 1280;
    p.quote = quote;
    return p;
}

Frame built(std::string name, const Ptb& p) {
    return Frame{std::move(name), test::build_ptb(p.o, p.in, p.quote)};
}

template <class Edit>
Frame edited(std::string name, Ptb p, Edit edit) {
    edit(p);
    return built(std::move(name), p);
}

void put(Bytes& b, std::initializer_list<std::uint8_t> bytes) {
    b.insert(b.end(), bytes);
}
void put_addr(Bytes& b, const std::string& text, Family f) {
    const packet::IpAddr a = test::addr(text);
    b.insert(b.end(), a.b.begin(), a.b.begin() + (f == Family::v4 ? 4 : 16));
}

// An ARP request (RFC 826) from the router for `target`, optionally VLAN-tagged.
Bytes arp_request(const std::string& target, bool vlan = false) {
    Bytes f = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0x02};
    if (vlan) put(f, {0x81, 0x00, 0x00, 0x64});
    put(f, {0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1, 0x02, 0, 0, 0, 0, 0x02});
    put_addr(f, "203.0.113.1", Family::v4);
    put(f, {0, 0, 0, 0, 0, 0});
    put_addr(f, target, Family::v4);
    f.resize(std::max<std::size_t>(f.size(), 60), 0); // Ethernet minimum frame
    return f;
}

// A Neighbor Solicitation (RFC 4861 §4.3) for `target` from `src`, with a source link-layer
// address option, to the target's solicited-node multicast address.
Bytes neighbor_solicitation(const std::string& target, const std::string& src,
                            std::uint8_t hop_limit = 255) {
    const packet::IpAddr t = test::addr(target);
    Bytes f = {0x33, 0x33, 0xff, t.b[13], t.b[14], t.b[15], 0x02, 0, 0, 0, 0, 0x02, 0x86, 0xdd};
    const std::size_t ip = f.size();
    put(f, {0x60, 0, 0, 0, 0, 32, 58, hop_limit});
    put_addr(f, src, Family::v6);
    put(f, {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, t.b[13], t.b[14], t.b[15]});
    const std::size_t icmp = f.size();
    put(f, {135, 0, 0, 0, 0, 0, 0, 0});
    put_addr(f, target, Family::v6);
    put(f, {1, 1, 0x02, 0, 0, 0, 0, 0x02});
    // RFC 4443 §2.3 checksum over the pseudo-header (addresses, length, next header).
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i < 32; i += 2)
        sum += std::uint32_t(f[ip + 8 + i] << 8 | f[ip + 9 + i]);
    sum += 32 + 58;
    const std::uint16_t c = test::internet_checksum(f.data() + icmp, 32, sum);
    f[icmp + 2] = std::uint8_t(c >> 8);
    f[icmp + 3] = std::uint8_t(c);
    return f;
}

std::vector<Frame> steerable_ptbs() {
    std::vector<Frame> v;
    // Every group of decide_site.h, every L4 kind the parser distinguishes.
    struct L4 {
        const char* name;
        std::uint8_t proto;
    };
    const L4 l4s[] = {{"tcp", 6},    {"udp", 17},  {"esp", 50},      {"ah", 51},
                      {"sctp", 132}, {"dccp", 33}, {"udplite", 136}, {"gre", 47}};
    for (const char* server : {"192.0.2.10", "198.51.100.10", "198.51.100.200"})
        for (const L4& l : l4s)
            v.push_back(built(std::string("v4-") + l.name + "-" + server, v4_ptb(server, l.proto)));
    for (const char* server :
         {"2001:db8:1::10", "2001:db8:2::10", "2001:db8:3::10", "2001:db8:100::10"})
        for (const L4& l : l4s)
            v.push_back(built(std::string("v6-") + l.name + "-" + server, v6_ptb(server, l.proto)));
    const Ptb web4 = v4_ptb("192.0.2.10"), web6 = v6_ptb("2001:db8:1::10");
    v.push_back(edited("v4-vlan", web4, [](Ptb& p) { p.o.vlans = {{0x8100, 100}}; }));
    v.push_back(edited("v4-qinq", web4, [](Ptb& p) { p.o.vlans = {{0x88a8, 10}, {0x8100, 100}}; }));
    v.push_back(edited("v6-qinq-legacy", web6, [](Ptb& p) {
        p.o.vlans = {{0x9100, 5}, {0x8100, 6}};
    }));
    v.push_back(
        edited("v4-options", web4, [](Ptb& p) { p.o.v4_options = 8, p.in.v4_options = 12; }));
    v.push_back(edited("v4-quote-8", web4, [](Ptb& p) { p.quote = 8; }));
    v.push_back(edited("v4-quote-20", web4, [](Ptb& p) { p.quote = 20; }));
    v.push_back(edited("v4-quote-22", web4, [](Ptb& p) { p.quote = 22; }));
    v.push_back(edited("v4-quote-28", web4, [](Ptb& p) { p.quote = 28; }));
    v.push_back(edited("v4-inner-first-fragment", web4, [](Ptb& p) { p.in.v4_frag = 0x2000; }));
    v.push_back(edited("v4-inner-later-fragment", web4, [](Ptb& p) { p.in.v4_frag = 0x00b9; }));
    v.push_back(edited("v4-eth-padding", web4, [](Ptb& p) { p.quote = 28, p.o.eth_padding = 30; }));
    v.push_back(edited("v6-outer-hbh-dst", web6, [](Ptb& p) { p.o.ext = {{0, 8}, {60, 16}}; }));
    v.push_back(edited("v6-outer-ah", web6, [](Ptb& p) { p.o.ext = {{51, 24}}; }));
    v.push_back(edited("v6-inner-ext", web6, [](Ptb& p) {
        p.in.ext = {{0, 8}, {43, 24}, {60, 8}};
    }));
    v.push_back(edited("v6-inner-frag-first", web6, [](Ptb& p) { p.in.ext = {{44, 8, 0x0001}}; }));
    v.push_back(edited("v6-inner-frag-later", web6, [](Ptb& p) { p.in.ext = {{44, 8, 0x00b9}}; }));
    v.push_back(edited("v6-inner-ext-cut", web6, [](Ptb& p) {
        p.in.ext = {{0, 64}}, p.quote = 60;
    }));
    v.push_back(edited("v6-quote-40", web6, [](Ptb& p) { p.quote = 40; }));
    v.push_back(edited("v6-quote-1232", web6, [](Ptb& p) { p.quote = 1232; }));
    return v;
}

// One frame per validation rule (docs/security.md) a group of decide_site.h enforces.
std::vector<Frame> validation_drops() {
    const Ptb web4 = v4_ptb("192.0.2.10"), web6 = v6_ptb("2001:db8:1::10");
    std::vector<Frame> v;
    v.push_back(edited("v4-mtu-0", web4, [](Ptb& p) { p.o.mtu = 0; }));
    v.push_back(edited("v4-mtu-68", web4, [](Ptb& p) { p.o.mtu = 68; }));
    v.push_back(edited("v4-mtu-68-api", v4_ptb("198.51.100.200"), [](Ptb& p) { p.o.mtu = 68; }));
    v.push_back(edited("v6-mtu-1200", web6, [](Ptb& p) { p.o.mtu = 1200; }));
    v.push_back(edited("v6-mtu-9300", web6, [](Ptb& p) { p.o.mtu = 9300; }));
    v.push_back(edited("v6-mtu-1499-ceiling-1500", v6_ptb("2001:db8:3::10"),
                       [](Ptb& p) { p.o.mtu = 1499, p.in.l4_len = 8000; }));
    v.push_back(edited("v4-mtu-not-smaller", web4, [](Ptb& p) { p.o.mtu = 1500; }));
    v.push_back(edited("v4-dst-not-source", web4, [](Ptb& p) { p.o.dst = "192.0.2.11"; }));
    v.push_back(edited("v6-dst-not-source", web6, [](Ptb& p) { p.o.dst = "2001:db8:1::11"; }));
    v.push_back(edited("v4-no-group", web4, [](Ptb& p) { p.o.dst = p.in.src = "203.0.113.9"; }));
    Frame bad4 = built("v4-bad-checksum", web4);
    bad4.bytes[14 + 20 + 2] ^= 0xff;
    v.push_back(bad4);
    Frame bad6 = built("v6-bad-checksum", web6);
    bad6.bytes[14 + 40 + 2] ^= 0xff;
    v.push_back(bad6);
    Frame own = built("v4-own-source-mac", web4);
    std::copy(fuzz::decide_port_macs[1].begin(), fuzz::decide_port_macs[1].end(),
              own.bytes.begin() + 6);
    v.push_back(own);
    // From next-hop a3's own MAC on uplink, its own port: with today's crc32c + maglev the
    // flow to client port 40011 picks a3, which must not get its PTB back (would_loop); 40010
    // picks another server. (Seeds only steer the fuzzer: a changed hash breaks nothing.)
    for (std::uint16_t port : {40010, 40011}) {
        Ptb p = v4_ptb("198.51.100.200");
        p.in.dport = port;
        Frame f = built("v4-from-a3-" + std::to_string(port), p);
        const std::uint8_t a3[6] = {0x02, 0, 0, 0, 0x03, 0x03};
        std::copy(a3, a3 + 6, f.bytes.begin() + 6);
        v.push_back(f);
    }
    return v;
}

// As parser_test.cpp's "each named outcome has a fixture that trips it", one frame per outcome.
std::vector<Frame> parse_outcomes() {
    const Ptb v4 = v4_ptb("192.0.2.10", 6, 64), v6 = v6_ptb("2001:db8:1::10", 6, 64);
    std::vector<Frame> v;
    v.push_back(edited("three-vlans", v4, [](Ptb& p) {
        p.o.vlans = {{0x88a8, 1}, {0x8100, 2}, {0x8100, 3}};
    }));
    v.push_back(edited("v6-behind-v4-type", v4, [](Ptb& p) { p.o.version_override = 6; }));
    v.push_back(edited("v4-behind-v6-type", v6, [](Ptb& p) { p.o.version_override = 4; }));
    v.push_back(edited("ihl-4", v4, [](Ptb& p) { p.o.ihl_override = 4; }));
    v.push_back(edited("v4-length-past-frame", v4, [](Ptb& p) { p.o.length_adjust = 1; }));
    v.push_back(edited("v6-length-past-frame", v6, [](Ptb& p) { p.o.length_adjust = 1; }));
    v.push_back(edited("v4-length-below-ihl", v4, [](Ptb& p) { p.o.length_adjust = -100; }));
    v.push_back(edited("v4-outer-mf", v4, [](Ptb& p) { p.o.v4_frag = 0x2000; }));
    v.push_back(edited("v6-outer-fragment", v6, [](Ptb& p) { p.o.ext = {{44, 8, 0x0001}}; }));
    v.push_back(edited("v6-nine-ext", v6, [](Ptb& p) { p.o.ext.assign(9, ExtHeader{60, 8}); }));
    v.push_back(edited("v6-264-ext-bytes", v6, [](Ptb& p) { p.o.ext = {{0, 136}, {60, 128}}; }));
    v.push_back(edited("v4-icmp-cut", v4, [](Ptb& p) { p.o.length_adjust = -24, p.quote = 20; }));
    v.push_back(edited("v6-icmp-cut", v6, [](Ptb& p) { p.o.length_adjust = -24, p.quote = 20; }));
    v.push_back(edited("v4-udp-not-icmp", v4, [](Ptb& p) { p.o.ip_proto_override = 17; }));
    v.push_back(edited("v6-no-next-header", v6, [](Ptb& p) { p.o.ip_proto_override = 59; }));
    v.push_back(edited("v4-echo", v4, [](Ptb& p) { p.o.icmp_type = 8, p.o.icmp_code = 0; }));
    v.push_back(edited("v4-port-unreachable", v4, [](Ptb& p) { p.o.icmp_code = 3; }));
    v.push_back(edited("v6-dest-unreachable", v6, [](Ptb& p) { p.o.icmp_type = 1; }));
    v.push_back(edited("v6-router-advert", v6, [](Ptb& p) { p.o.icmp_type = 134; }));
    v.push_back(edited("v6-ptb-code-1", v6, [](Ptb& p) { p.o.icmp_code = 1; }));
    v.push_back(edited("v6-in-icmpv4", v4, [](Ptb& p) { p.in.version_override = 6; }));
    v.push_back(edited("v4-in-icmpv6", v6, [](Ptb& p) { p.in.version_override = 4; }));
    v.push_back(edited("inner-version-7", v4, [](Ptb& p) { p.in.version_override = 7; }));
    v.push_back(edited("inner-ihl-3", v4, [](Ptb& p) { p.in.ihl_override = 3; }));
    v.push_back(edited("quote-in-options", v4, [](Ptb& p) { p.in.v4_options = 40, p.quote = 40; }));
    v.push_back(edited("empty-quote", v4, [](Ptb& p) { p.quote = 0; }));
    v.push_back(edited("v6-nine-inner-ext", v6, [](Ptb& p) {
        p.in.ext.assign(9, ExtHeader{0, 8});
    }));
    // Frames cut inside the Ethernet header, a VLAN tag and the IP header.
    const Bytes whole = test::build_ptb(v4.o, v4.in, 64);
    for (std::size_t cut : {0, 10, 13, 16, 30}) {
        Ptb tagged = v4;
        tagged.o.vlans = {{0x8100, 7}};
        Bytes b = cut == 16 ? test::build_ptb(tagged.o, tagged.in, 64) : whole;
        b.resize(cut);
        v.push_back(Frame{"cut-at-" + std::to_string(cut), b});
    }
    Bytes lldp(60, 0);
    lldp[12] = 0x88, lldp[13] = 0xcc;
    v.push_back(Frame{"lldp", lldp});
    return v;
}

std::vector<Frame> neighbor_frames() {
    return {
        Frame{"arp-uplink", arp_request("203.0.113.2"), true},
        Frame{"arp-servers", arp_request("192.0.2.1"), true},
        Frame{"arp-vlan", arp_request("203.0.113.2", true), true},
        Frame{"arp-not-ours", arp_request("203.0.113.3"), true},
        Frame{"ns-uplink", neighbor_solicitation("2001:db8:ff::2", "fe80::2"), true},
        Frame{"ns-servers", neighbor_solicitation("2001:db8:fe::1", "fe80::2"), true},
        Frame{"ns-dad", neighbor_solicitation("2001:db8:ff::2", "::"), true},
        Frame{"ns-hop-limit-64", neighbor_solicitation("2001:db8:ff::2", "fe80::2", 64), true},
        Frame{"ns-not-ours", neighbor_solicitation("2001:db8:ff::3", "fe80::2"), true},
    };
}

std::vector<Frame> pcap_frames(const fs::path& file) {
    char err[PCAP_ERRBUF_SIZE];
    pcap_t* p = pcap_open_offline(file.c_str(), err);
    if (!p) throw std::runtime_error(std::string("pcap: ") + err);
    std::vector<Frame> v;
    pcap_pkthdr* h;
    const u_char* data;
    while (pcap_next_ex(p, &h, &data) == 1) {
        char name[32];
        std::snprintf(name, sizeof name, "pcap-%03zu", v.size() + 1);
        v.push_back(Frame{name, Bytes(data, data + h->caplen)});
    }
    pcap_close(p);
    return v;
}

std::vector<std::pair<std::string, std::string>> configs(const fs::path& root) {
    std::vector<std::pair<std::string, std::string>> v;
    const std::regex yaml_block("```yaml\n([\\s\\S]*?)```");
    std::vector<fs::path> docs;
    for (const auto& e : fs::directory_iterator(root / "docs"))
        if (e.path().extension() == ".md") docs.push_back(e.path());
    std::sort(docs.begin(), docs.end());
    for (const fs::path& d : docs) {
        const std::string text = read_file(d);
        int i = 0;
        for (std::sregex_iterator it(text.begin(), text.end(), yaml_block), end; it != end; ++it)
            v.emplace_back(d.stem().string() + "-" + std::to_string(++i), (*it)[1].str());
    }
    // Raw strings R"(...)" of the config unit tests: whole files and fragments alike.
    const std::regex raw("R\"\\(([\\s\\S]*?)\\)\"");
    std::vector<fs::path> tests;
    for (const auto& e : fs::directory_iterator(root / "tests/unit/config"))
        if (e.path().extension() == ".cpp") tests.push_back(e.path());
    std::sort(tests.begin(), tests.end());
    for (const fs::path& t : tests) {
        const std::string text = read_file(t);
        int i = 0;
        for (std::sregex_iterator it(text.begin(), text.end(), raw), end; it != end; ++it)
            v.emplace_back(t.stem().string() + "-" + std::to_string(++i), (*it)[1].str());
    }
    std::vector<fs::path> presets;
    for (const auto& e : fs::directory_iterator(root / "drivers-config"))
        if (e.path().extension() == ".yaml") presets.push_back(e.path());
    std::sort(presets.begin(), presets.end());
    for (const fs::path& p : presets)
        v.emplace_back("preset-" + p.stem().string(), read_file(p));
    v.emplace_back("decide-site", fuzz::decide_config);
    return v;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s SOURCE_ROOT OUT_DIR\n", argv[0]);
        return 2;
    }
    const fs::path root = argv[1], out = argv[2];
    try {
        std::vector<Frame> frames;
        for (auto* gen : {&steerable_ptbs, &validation_drops, &parse_outcomes, &neighbor_frames})
            for (Frame& f : gen())
                frames.push_back(std::move(f));
        for (Frame& f : pcap_frames(root / "tests/data/sample-ptbs.pcap"))
            frames.push_back(std::move(f));

        std::size_t counts[3] = {};
        fs::create_directories(out / "parser");
        fs::create_directories(out / "decide");
        fs::create_directories(out / "config");
        for (const Frame& f : frames) {
            write_file(out / "parser" / ("seed-" + f.name), f.bytes.data(), f.bytes.size());
            ++counts[0];
            // Selector byte: bit 0 = RX port, bits 1..7 = responder tailroom (fuzz_decide.cpp).
            std::vector<std::uint8_t> selectors = {0x00};
            if (f.reply_candidate) selectors = {0x00, 0x01, 0x40, 0x81};
            for (std::uint8_t s : selectors) {
                Bytes b{s};
                b.insert(b.end(), f.bytes.begin(), f.bytes.end());
                char suffix[8];
                std::snprintf(suffix, sizeof suffix, "-%02x", s);
                write_file(out / "decide" / ("seed-" + f.name + suffix), b.data(), b.size());
                ++counts[1];
            }
        }
        for (const auto& [name, text] : configs(root)) {
            write_file(out / "config" / ("seed-" + name + ".yaml"), text.data(), text.size());
            ++counts[2];
        }
        std::printf("seeds written: parser %zu, decide %zu, config %zu\n", counts[0], counts[1],
                    counts[2]);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "make-fuzz-corpus: %s\n", e.what());
        return 1;
    }
    return 0;
}
