// ptbsteer-decode: runs the PTB parser over a pcap file and prints what it finds.
// Used by ./scripts/demo and by hand to see how ptbsteer reads a capture from a router.
#include <pcap/pcap.h>

#include <array>
#include <cstdio>
#include <span>
#include <string_view>

#include <fmt/format.h>

#include "packet/format.h"
#include "packet/parser.h"

using namespace ptbsteer::packet;

namespace {

std::string describe_ptb(const PtbInfo& p) {
    std::string mtu = p.mtu == 0 && p.family == Family::v4 ? std::string("0 (pre-RFC 1191 router)")
                                                           : fmt::format("{}", p.mtu);
    std::string vlan;
    for (unsigned i = 0; i < p.vlan_count; ++i)
        vlan += fmt::format(" vlan {}", p.vlans[i].vid());
    return fmt::format("{} PTB from {} mtu {}{}, quote {} B\n    flow (client->server): {}",
                       to_string(p.family), to_string(p.outer_src, p.family), mtu, vlan,
                       p.quote_len, to_string(p.flow));
}

// One line per frame for scripts: status, then for PTBs the fields tests compare.
std::string tsv_line(ParseStatus s, const PtbInfo& p) {
    if (s != ParseStatus::ptb) return std::string(name(s));
    const FlowKey& f = p.flow;
    return fmt::format("ptb\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}", int(p.family), p.mtu,
                       p.vlan_count, p.quote_len, int(f.proto), to_string(f.src, f.family), f.sport,
                       to_string(f.dst, f.family), f.dport, to_string(f.l4), f.flow_label);
}

} // namespace

int main(int argc, char** argv) {
    const bool tsv = argc == 3 && std::string_view(argv[1]) == "--tsv";
    if (argc != 2 && !tsv) {
        fmt::print(stderr, "Usage: {} [--tsv] CAPTURE.pcap\n", argv[0]);
        return 2;
    }
    const char* path = argv[argc - 1];
    char err[PCAP_ERRBUF_SIZE];
    pcap_t* pc = pcap_open_offline(path, err);
    if (!pc) {
        fmt::print(stderr, "{}: {}\n", path, err);
        return 1;
    }
    std::array<unsigned long, parse_status_count> counts{};
    pcap_pkthdr* hdr;
    const u_char* data;
    unsigned long frame = 0;
    int rc;
    while ((rc = pcap_next_ex(pc, &hdr, &data)) == 1) {
        ++frame;
        PtbInfo info;
        const ParseStatus s = parse_frame(std::span(data, hdr->caplen), info);
        ++counts[static_cast<std::size_t>(s)];
        if (tsv)
            fmt::print("{}\n", tsv_line(s, info));
        else if (s == ParseStatus::ptb)
            fmt::print("#{:<3} {}\n", frame, describe_ptb(info));
        else
            fmt::print("#{:<3} {} {}: {}\n", frame,
                       kind(s) == StatusKind::malformed ? "drop" : "skip", name(s), description(s));
    }
    if (rc == PCAP_ERROR) fmt::print(stderr, "{}: {}\n", path, pcap_geterr(pc));
    pcap_close(pc);
    if (tsv) return rc == PCAP_ERROR ? 1 : 0;
    fmt::print("\n{} frames:", frame);
    for (std::size_t i = 0; i < counts.size(); ++i)
        if (counts[i]) fmt::print(" {} {}", name(static_cast<ParseStatus>(i)), counts[i]);
    fmt::print("\n");
    return rc == PCAP_ERROR ? 1 : 0;
}
