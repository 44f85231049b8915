// The per-packet decision: parse, look up the group, hash, select. Pure (bytes in, Decision
// out, no DPDK types), so unit tests, benchmarks and fuzzers run exactly what the lcores run.
#pragma once

#include <cstdint>
#include <span>

#include "datapath/counters.h"
#include "datapath/drop_reason.h"
#include "datapath/router.h"
#include "datapath/tables.h"
#include "datapath/transition.h"
#include "guard/rate_limit.h"
#include "packet/ptb_info.h"

namespace ptbsteer::datapath {

enum class Action : std::uint8_t {
    unicast,    // target: global next-hop index
    transition, // unicast to target, and a copy to each of `past` (transition.h)
    replicate,  // target: group index
    reply,      // an ARP request / Neighbor Solicitation for us: answer out the RX port
    learn,      // ARP or a Neighbor Advertisement from a next-hop's `via`: to the neighbour manager
    drop,       // reason in `drop`
};

struct Decision {
    Action action = Action::drop;
    bool ptb = false; // the frame parsed as a PTB (even if dropped)
    Drop drop = Drop::ptb;
    // A PTB: the router that handed it over (router.h; 0: none matched).
    std::uint8_t router = 0;
    std::uint16_t l3_offset = 0;                // length of the incoming Ethernet + VLAN header
    packet::Family family = packet::Family::v4; // of a PTB; reply: v4 = ARP, v6 = ND
    // transition: the flow's earlier owners in `past` (local_owner(): places in the group of
    // `target`), newest first. 0: it had some, but the replication budget had no room.
    std::uint8_t past_count = 0;
    std::uint32_t target = 0;
    std::uint16_t past[max_past_owners]{};
};
// 16 bytes: it rides in an mbuf dynfield with its Tables (Handover). `past` holds a hash for a
// moment inside decide() (decide.cpp).
static_assert(sizeof(Decision) <= 16);
static_assert(max_router_number <= 0xff);
static_assert(sizeof(Decision::past) >= sizeof(std::uint32_t));

// One RX lcore's rate limiters: its share of each configured rate (docs/security.md). Written
// only by that lcore. Default-constructed limiters admit everything.
struct Guard {
    guard::PerSourceLimiter per_source;
    guard::Gcra global;
    guard::Gcra replication; // cost = copies
};

// `rx_port` is the config index of the port the frame arrived on. `info` is scratch space.
// `guard` (nullable: no rate limits) is the calling lcore's; `now` is its clock (TSC cycles).
Decision decide(const Tables& t, std::span<const std::uint8_t> frame, std::size_t rx_port,
                packet::PtbInfo& info, Guard* guard = nullptr, std::uint64_t now = 0) noexcept;

// Prefetches the part of a received frame decide() will read (Tables::prefetch_bytes: the
// headers, or with checksum verification the whole PTB), one frame ahead of decide(), so the
// lines arrive while the frame before is decided. With full quotes (548 / 1,232 bytes) the
// checksum otherwise waits on line after line: decide-bench's full-quote mix went from 78 to
// 66 ns per PTB (docs/performance.md). Prefetch hints never fault, so a short frame is safe.
inline void prefetch_frame(const Tables& t, const std::uint8_t* p, std::size_t len) noexcept {
    // Line by line from the frame's start: an mbuf's data starts on a line boundary (128 bytes
    // of headroom in a line-aligned buffer). Offsets stay inside the frame.
    const std::size_t n = len < t.prefetch_bytes ? len : t.prefetch_bytes;
    __builtin_prefetch(p);
    for (std::size_t off = 64; off < n; off += 64)
        __builtin_prefetch(p + off);
}

// The family a received frame counts under: the EtherType just before its L3 header (after any
// VLAN tags), which decide() located in `d.l3_offset` for every outcome. A frame refused inside
// its L2 header (l3_offset 0) is `other`.
// Inline: it runs for every frame received.
inline RxFamily rx_family(std::span<const std::uint8_t> frame, const Decision& d) noexcept {
    // A PTB's family is its EtherType's (the parser refuses a version that does not match).
    if (d.ptb) return d.family == packet::Family::v4 ? RxFamily::ipv4 : RxFamily::ipv6;
    constexpr std::size_t eth_header = 14;
    if (d.l3_offset < eth_header || d.l3_offset > frame.size()) return RxFamily::other;
    const unsigned type = unsigned(frame[d.l3_offset - 2]) << 8 | frame[d.l3_offset - 1];
    if (type == 0x0800) return RxFamily::ipv4;
    if (type == 0x86dd) return RxFamily::ipv6;
    return RxFamily::other;
}

} // namespace ptbsteer::datapath
