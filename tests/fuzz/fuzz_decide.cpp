// libFuzzer harness: the whole per-packet decision, datapath::decide() (parse, validation,
// prefix lookup, hash, select), over any bytes, against the fixed site of decide_site.h compiled
// once, and the same frame through the staged burst path with its SIMD lanes, which must agree.
// A reply decision also runs the ARP/ND responder in place, as worker.cpp does.
//
// Input: byte 0 = RX port (bit 0) and responder tailroom (bits 1..7); the rest is the frame.
//
// The prefix table is rte_lpm/rte_lpm6, so the EAL is initialised once, in
// LLVMFuzzerInitialize, without hugepages, devices or telemetry (as tests/unit/dpdk/dpdk_main.cpp).
#include <rte_eal.h>
#include <rte_errno.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "control/compile_tables.h"
#include "datapath/burst.h"
#include "datapath/decide.h"
#include "datapath/neighbor.h"
#include "datapath/responder.h"
#include "datapath/tables.h"
#include "decide_site.h"
#include "fuzz_check.h"

namespace {

using namespace ptbsteer;
using datapath::Action;
using datapath::Decision;

const datapath::Tables* tables = nullptr;
// FUZZ_DECIDE_PRINT=1: one line per input with the decision (for replaying reproducers and
// checking that the seeds reach every outcome).
bool print_decisions = false;

void init_eal() {
    // --file-prefix: runtime files of our own, never another DPDK process's; --no-huge -m 512:
    // anonymous memory, so no hugepages are needed (rte_lpm6 wants a few MB).
    static std::array<std::string, 9> args = {
        "fuzz-decide",   "--no-huge",      "-m",
        "512",           "--no-pci",       "--file-prefix",
        "ptbsteer-fuzz", "--no-telemetry", "--log-level=lib.eal:error"};
    std::vector<char*> argv;
    for (std::string& s : args)
        argv.push_back(s.data());
    if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
        std::fprintf(stderr, "fuzz-decide: rte_eal_init failed: %s\n", rte_strerror(rte_errno));
        std::exit(2);
    }
}

const datapath::Tables* compile_site() {
    const config::LoadResult r = config::load_config_text(fuzz::decide_config, "decide_site.h");
    if (!r.config) {
        for (const config::ConfigError& e : r.errors)
            std::fprintf(stderr, "fuzz-decide: %s\n", config::to_string(e).c_str());
        std::exit(2);
    }
    const std::vector<std::uint16_t> ids = {0, 1};
    const std::vector<datapath::Mac> macs(fuzz::decide_port_macs.begin(),
                                          fuzz::decide_port_macs.end());
    try {
        // Leaked on purpose: the tables live as long as the process, as in the appliance.
        return new datapath::Tables(control::compile_tables(*r.config, ids, macs));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fuzz-decide: compile_tables: %s\n", e.what());
        std::exit(2);
    }
}

// The promises decide.h makes whatever the frame: every index it returns is in range, every
// drop has a reason, and a PTB verdict agrees with the parser.
void check_decision(const datapath::Tables& t, std::span<const std::uint8_t> frame,
                    std::size_t rx_port, const Decision& d, const packet::PtbInfo& info) {
    FUZZ_CHECK(d.l3_offset <= frame.size());
    packet::PtbInfo again;
    const bool parsed_ptb = packet::parse_frame(frame, again) == packet::ParseStatus::ptb;
    // A PTB verdict needs a PTB; the only PTB decided without parsing on is one we sent.
    if (d.ptb) FUZZ_CHECK(parsed_ptb && d.family == info.family);
    if (parsed_ptb && !d.ptb)
        FUZZ_CHECK(d.action == Action::drop && d.drop == datapath::Drop::own_frame);
    switch (d.action) {
    case Action::unicast:
        FUZZ_CHECK(d.ptb);
        FUZZ_CHECK(d.target < t.next_hops.size());
        break;
    case Action::replicate:
        FUZZ_CHECK(d.ptb);
        FUZZ_CHECK(d.target < t.groups.size());
        break;
    case Action::reply:
        FUZZ_CHECK(!d.ptb);
        FUZZ_CHECK(d.target == rx_port);
        break;
    case Action::learn: // an ARP/NA of a next-hop's via: what the RX lcore hands on must parse
        FUZZ_CHECK(!d.ptb);
        FUZZ_CHECK(datapath::neighbor_update(t, frame, d.l3_offset, rx_port).has_value());
        break;
    case Action::drop:
        FUZZ_CHECK(datapath::is_drop(d.drop));
        FUZZ_CHECK(static_cast<std::size_t>(d.drop) < datapath::drop_count);
        break;
    default: FUZZ_CHECK(!"an Action outside the enum");
    }
    const datapath::RxFamily f = datapath::rx_family(frame, d);
    FUZZ_CHECK(static_cast<std::size_t>(f) < datapath::rx_family_count);
    if (d.ptb) { // counted by the PTB's family: it must be the one its EtherType says
        FUZZ_CHECK(d.l3_offset >= 14 && d.l3_offset <= frame.size());
        const unsigned type = unsigned(frame[d.l3_offset - 2]) << 8 | frame[d.l3_offset - 1];
        FUZZ_CHECK(type == (f == datapath::RxFamily::ipv4 ? 0x0800u : 0x86ddu));
    }
}

// What worker.cpp does with a reply: rewrite the request in place inside the mbuf's room.
void run_responder(const datapath::Tables& t, std::span<const std::uint8_t> frame,
                   const Decision& d, std::size_t tailroom) {
    // Exactly sized, so ASan sees any write past the room.
    std::unique_ptr<std::uint8_t[]> room(new std::uint8_t[frame.size() + tailroom]);
    std::copy(frame.begin(), frame.end(), room.get());
    const std::span<std::uint8_t> buf(room.get(), frame.size() + tailroom);
    const datapath::PortAddresses& own = t.ports[d.target];
    const std::size_t n = d.family == packet::Family::v4
                              ? datapath::make_arp_reply(buf, frame.size(), d.l3_offset, own)
                              : datapath::make_neighbor_advert(buf, frame.size(), d.l3_offset, own);
    FUZZ_CHECK(n <= buf.size());
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    init_eal();
    tables = compile_site();
    print_decisions = std::getenv("FUZZ_DECIDE_PRINT") != nullptr;
    return 0;
}

// The frame again as a burst of one through the staged path (datapath/burst.h) on this CPU's
// best SIMD path (the site sets no `simd:`): its flow goes through a lane, and the decision must
// be decide()'s, field for field.
void check_staged(const datapath::Tables& t, std::span<const std::uint8_t> frame,
                  std::size_t rx_port, const Decision& d) {
    static auto* stage = new datapath::BurstStage; // an lcore's: never freed, like the tables
    Decision staged[1];
    datapath::decide_frames(t, &frame, 1, rx_port, *stage, nullptr, 0, staged);
    const Decision& s = staged[0];
    FUZZ_CHECK(s.action == d.action && s.ptb == d.ptb && s.drop == d.drop);
    FUZZ_CHECK(s.router == d.router && s.l3_offset == d.l3_offset && s.family == d.family);
    FUZZ_CHECK(s.target == d.target && s.past_count == d.past_count);
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::size_t rx_port = data[0] & 1;
    const std::size_t tailroom = data[0] >> 1;
    // libFuzzer's buffer ends where the input does: a read past the frame is one ASan reports.
    const std::span<const std::uint8_t> frame(data + 1, size - 1);
    packet::PtbInfo info;
    const Decision d = datapath::decide(*tables, frame, rx_port, info);
    check_decision(*tables, frame, rx_port, d, info);
    check_staged(*tables, frame, rx_port, d);
    if (print_decisions) {
        static const char* const actions[] = {"unicast", "replicate", "reply", "drop"};
        std::printf("decide: port %zu, %zu bytes: %s %s target %u\n", rx_port, frame.size(),
                    actions[static_cast<int>(d.action)],
                    d.action == Action::drop ? std::string(datapath::name(d.drop)).c_str() : "-",
                    d.target);
    }
    if (d.action == Action::reply) run_responder(*tables, frame, d, tailroom);
    return 0;
}
