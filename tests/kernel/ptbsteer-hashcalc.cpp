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
#include <arpa/inet.h>
#include <pcap/pcap.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <iostream>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "hash/hash_model.h"
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

void print_choice(const hash::Model& model, const steer::Selector& sel, const packet::FlowKey& k,
                  bool show_hash) {
    const std::uint32_t h = model.hash(k);
    if (show_hash)
        std::printf("%u 0x%08x\n", sel.select(h), h);
    else
        std::printf("%u\n", sel.select(h));
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
        print_choice(model, sel, *k, o.show_hash);
    }
    return 0;
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
    while ((rc = pcap_next_ex(pc, &hdr, &data)) == 1) {
        packet::PtbInfo info;
        const auto status = packet::parse_frame(std::span(data, hdr->caplen), info);
        if (status == packet::ParseStatus::ptb)
            print_choice(model, sel, info.flow, o.show_hash);
        else
            std::printf("skip:%.*s\n", static_cast<int>(packet::name(status).size()),
                        packet::name(status).data());
    }
    const bool failed = rc == PCAP_ERROR;
    if (failed) std::fprintf(stderr, "%s: %s\n", o.pcap_path.c_str(), pcap_geterr(pc));
    pcap_close(pc);
    return failed ? 2 : 0;
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
