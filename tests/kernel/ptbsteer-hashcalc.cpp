// ptbsteer-hashcalc: which next-hop would ptbsteer pick? The C++ half of the kernel-agreement
// test (tests/kernel/kernel_agreement.py asks the Linux kernel the same question).
//
// Selection = steer::Selector hash_threshold over hash::Model::linux_kernel(seed, policy,
// fields).hash(flow), i.e. exactly the decision the datapath makes for a Linux router group.
//
// Input, one of:
//   - tuple lines "FAMILY SRC DST PROTO SPORT DPORT FLOWLABEL" (client->server, the flow the
//     router hashed; FAMILY 4 or 6; '#' starts a comment), from a file or '-' for stdin;
//   - --pcap FILE: Ethernet frames holding PTBs; each goes through packet::parse_frame and the
//     flow is PtbInfo::flow (the reversed quote).
// Output: one line per input line/frame: the next-hop index (0-based, route order), or
// "skip:<status>" for a frame that is not a PTB. --show-hash appends the 32-bit model hash.
//
// Every flow is hashed on every path the datapath can take: Model::hash (scalar) and, in
// bursts of 32 as datapath/burst.h does, the SIMD lanes of each path this CPU runs (AVX2,
// AVX-512F). Should any path differ from the scalar hash, it exits 3 naming it: the kernel's
// agreement with the printed choices then holds for every path (issue 23).
#include <arpa/inet.h>
#include <pcap/pcap.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "hash/hash_model.h"
#include "hash/siphash_batch.h"
#include "packet/flow_key.h"
#include "packet/parser.h"
#include "steer/select.h"

namespace {

using namespace ptbsteer;

struct Options {
    hash::LinuxParams params;
    std::vector<std::uint32_t> weights;
    std::string pcap_path;
    std::string tuple_path;
    bool show_hash = false;
};

void usage(const char* argv0) {
    std::fprintf(stderr,
                 "Usage: %s --seed N --policy 0|1|3 [--fields 0xNN] --weights W1,W2,...\n"
                 "          [--show-hash] (--pcap FILE | TUPLES-FILE | -)\n"
                 "Tuple line: FAMILY SRC DST PROTO SPORT DPORT FLOWLABEL (client->server)\n",
                 argv0);
}

// Strict unsigned parse (decimal or 0x hex); nullopt on trailing junk or overflow.
std::optional<std::uint64_t> parse_uint(const std::string& s, std::uint64_t max) {
    if (s.empty() || s[0] == '-') return std::nullopt;
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(s.c_str(), &end, 0);
    if (errno != 0 || *end != '\0' || v > max) return std::nullopt;
    return v;
}

std::optional<std::vector<std::uint32_t>> parse_weights(const std::string& s) {
    std::vector<std::uint32_t> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) {
        const auto w = parse_uint(item, 0xffffffffu);
        if (!w) return std::nullopt;
        out.push_back(static_cast<std::uint32_t>(*w));
    }
    if (out.empty()) return std::nullopt;
    return out;
}

std::optional<Options> parse_args(int argc, char** argv) {
    Options o;
    bool have_seed = false, have_policy = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::optional<std::string> {
            if (i + 1 >= argc) return std::nullopt;
            return std::string(argv[++i]);
        };
        if (a == "--show-hash") {
            o.show_hash = true;
        } else if (a == "--seed" || a == "--policy" || a == "--fields" || a == "--weights" ||
                   a == "--pcap") {
            const auto v = value();
            if (!v) return std::nullopt;
            if (a == "--seed") {
                const auto n = parse_uint(*v, 0xffffffffu);
                if (!n) return std::nullopt;
                o.params.seed = static_cast<std::uint32_t>(*n);
                have_seed = true;
            } else if (a == "--policy") {
                const auto n = parse_uint(*v, 255);
                if (!n) return std::nullopt;
                o.params.policy = static_cast<std::uint8_t>(*n);
                have_policy = true;
            } else if (a == "--fields") {
                const auto n = parse_uint(*v, 0xffffffffu);
                if (!n) return std::nullopt;
                o.params.fields = static_cast<std::uint32_t>(*n);
            } else if (a == "--weights") {
                auto w = parse_weights(*v);
                if (!w) return std::nullopt;
                o.weights = std::move(*w);
            } else {
                o.pcap_path = *v;
            }
        } else if (o.tuple_path.empty() && (a == "-" || a[0] != '-')) {
            o.tuple_path = a;
        } else {
            return std::nullopt;
        }
    }
    if (!have_seed || !have_policy || o.weights.empty()) return std::nullopt;
    if (o.pcap_path.empty() == o.tuple_path.empty()) return std::nullopt; // exactly one input
    return o;
}

std::optional<packet::FlowKey> parse_tuple(const std::string& line) {
    std::istringstream in(line);
    std::string fam, src, dst, proto, sport, dport, label;
    if (!(in >> fam >> src >> dst >> proto >> sport >> dport >> label)) return std::nullopt;
    std::string extra;
    if (in >> extra) return std::nullopt;
    packet::FlowKey k;
    int af = 0;
    if (fam == "4") {
        k.family = packet::Family::v4;
        af = AF_INET;
    } else if (fam == "6") {
        k.family = packet::Family::v6;
        af = AF_INET6;
    } else {
        return std::nullopt;
    }
    if (inet_pton(af, src.c_str(), k.src.b.data()) != 1) return std::nullopt;
    if (inet_pton(af, dst.c_str(), k.dst.b.data()) != 1) return std::nullopt;
    const auto p = parse_uint(proto, 255);
    const auto sp = parse_uint(sport, 0xffff);
    const auto dp = parse_uint(dport, 0xffff);
    const auto fl = parse_uint(label, 0xfffff);
    if (!p || !sp || !dp || !fl) return std::nullopt;
    k.proto = static_cast<std::uint8_t>(*p);
    // No extension headers in tuple input: the fixed header's Next Header is the L4 protocol.
    k.first_nexthdr = k.family == packet::Family::v6 ? k.proto : 0;
    k.l4 = packet::l4_of_protocol(k.proto);
    if (k.l4 != packet::L4::portless) {
        k.sport = static_cast<std::uint16_t>(*sp);
        k.dport = static_cast<std::uint16_t>(*dp);
    }
    k.flow_label = k.family == packet::Family::v6 ? static_cast<std::uint32_t>(*fl) : 0;
    return k;
}

// The hashes of `keys` through the SIMD lanes of `fn`, in bursts of SipLanes::lanes, each
// family's flows in their own lanes (as HashLanes does).
std::vector<std::uint32_t> lane_hashes(const hash::Model& model, hash::SipLanesFn fn,
                                       const std::vector<packet::FlowKey>& keys) {
    std::vector<std::uint32_t> out(keys.size());
    auto v4 = std::make_unique<hash::SipLanes>(), v6 = std::make_unique<hash::SipLanes>();
    std::uint64_t r4[hash::SipLanes::lanes], r6[hash::SipLanes::lanes];
    for (std::size_t at = 0; at < keys.size(); at += hash::SipLanes::lanes) {
        const std::size_t n = std::min(keys.size() - at, hash::SipLanes::lanes);
        std::size_t lane[hash::SipLanes::lanes], n4 = 0, n6 = 0;
        for (std::size_t j = 0; j < n; ++j) {
            const bool is4 = keys[at + j].family == packet::Family::v4;
            lane[j] = is4 ? n4++ : n6++;
            model.lane(keys[at + j], is4 ? *v4 : *v6, lane[j]);
        }
        if (n4) fn(*v4, n4, hash::linux_lane_words(packet::Family::v4), r4);
        if (n6) fn(*v6, n6, hash::linux_lane_words(packet::Family::v6), r6);
        for (std::size_t j = 0; j < n; ++j)
            out[at + j] = model.from_lane(keys[at + j].family == packet::Family::v4 ? r4[lane[j]]
                                                                                    : r6[lane[j]]);
    }
    return out;
}

// The scalar hashes, after checking every SIMD path this CPU runs gives the same; nullopt (and
// a message) if one does not.
std::optional<std::vector<std::uint32_t>> hashes(const hash::Model& model,
                                                 const std::vector<packet::FlowKey>& keys) {
    std::vector<std::uint32_t> scalar;
    for (const packet::FlowKey& k : keys)
        scalar.push_back(model.hash(k));
    if (!model.has_lane()) return scalar; // policy 3 without an outer field: no SipHash
    for (hash::SimdPath p :
         {hash::SimdPath::scalar, hash::SimdPath::avx2, hash::SimdPath::avx512}) {
        const auto impl = hash::siphash24_batch_for(p);
        if (!impl) continue;
        if (lane_hashes(model, impl->fn, keys) != scalar) {
            std::fprintf(stderr, "ptbsteer-hashcalc: the %s lanes differ from the scalar hash\n",
                         hash::simd_path_name(p));
            return std::nullopt;
        }
    }
    return scalar;
}

// One output line per entry: a key's choice, or the skip text of a frame that is not a PTB.
struct Entry {
    std::optional<packet::FlowKey> key;
    std::string skip;
};

int print_choices(const hash::Model& model, const steer::Selector& sel,
                  const std::vector<Entry>& entries, bool show_hash) {
    std::vector<packet::FlowKey> keys;
    for (const Entry& e : entries)
        if (e.key) keys.push_back(*e.key);
    const auto h = hashes(model, keys);
    if (!h) return 3;
    std::size_t i = 0;
    for (const Entry& e : entries) {
        if (!e.key) {
            std::printf("%s\n", e.skip.c_str());
            continue;
        }
        const std::uint32_t v = (*h)[i++];
        if (show_hash)
            std::printf("%u 0x%08x\n", sel.select(v), v);
        else
            std::printf("%u\n", sel.select(v));
    }
    return 0;
}

int run_tuples(const Options& o, const hash::Model& model, const steer::Selector& sel) {
    std::ifstream file;
    std::istream* in = &std::cin;
    if (o.tuple_path != "-") {
        file.open(o.tuple_path);
        if (!file) {
            std::fprintf(stderr, "%s: cannot open\n", o.tuple_path.c_str());
            return 2;
        }
        in = &file;
    }
    std::string line;
    unsigned long lineno = 0;
    std::vector<Entry> entries;
    while (std::getline(*in, line)) {
        ++lineno;
        const auto hash_pos = line.find('#');
        if (hash_pos != std::string::npos) line.resize(hash_pos);
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        const auto k = parse_tuple(line);
        if (!k) {
            std::fprintf(stderr, "line %lu: bad tuple: %s\n", lineno, line.c_str());
            return 2;
        }
        entries.push_back({*k, {}});
    }
    return print_choices(model, sel, entries, o.show_hash);
}

int run_pcap(const Options& o, const hash::Model& model, const steer::Selector& sel) {
    char err[PCAP_ERRBUF_SIZE];
    pcap_t* pc = pcap_open_offline(o.pcap_path.c_str(), err);
    if (!pc) {
        std::fprintf(stderr, "%s: %s\n", o.pcap_path.c_str(), err);
        return 2;
    }
    pcap_pkthdr* hdr = nullptr;
    const u_char* data = nullptr;
    int rc;
    std::vector<Entry> entries;
    while ((rc = pcap_next_ex(pc, &hdr, &data)) == 1) {
        packet::PtbInfo info;
        const auto status = packet::parse_frame(std::span(data, hdr->caplen), info);
        if (status == packet::ParseStatus::ptb)
            entries.push_back({info.flow, {}});
        else
            entries.push_back({std::nullopt, "skip:" + std::string(packet::name(status))});
    }
    const bool failed = rc == PCAP_ERROR;
    if (failed) std::fprintf(stderr, "%s: %s\n", o.pcap_path.c_str(), pcap_geterr(pc));
    pcap_close(pc);
    return failed ? 2 : print_choices(model, sel, entries, o.show_hash);
}

} // namespace

int main(int argc, char** argv) {
    const auto opts = parse_args(argc, argv);
    if (!opts) {
        usage(argv[0]);
        return 2;
    }
    try {
        const hash::Model model = hash::Model::linux_kernel(opts->params);
        const steer::Selector sel =
            steer::Selector::build(steer::SelectKind::hash_threshold, opts->weights);
        return opts->pcap_path.empty() ? run_tuples(*opts, model, sel)
                                       : run_pcap(*opts, model, sel);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ptbsteer-hashcalc: %s\n", e.what());
        return 2;
    }
}
