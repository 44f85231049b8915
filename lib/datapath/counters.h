// Per-lcore counters: plain integers, one cache-aligned block per lcore.
//
// Ownership: the owning lcore (worker.cpp) is the only writer, with plain `++`; readers (the exit
// table in report.cpp, the metrics thread in lib/metrics) only load. No atomics or locks on the
// fast path: a reader may see a value a few packets old, never a torn one (aligned 64-bit loads
// and stores are single instructions on x86-64). The vectors are sized by the control thread
// before the lcores start and never resized while they run.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "datapath/drop_reason.h"

namespace ptbsteer::datapath {

// What a received frame carried, by the EtherType after its VLAN tags.
enum class RxFamily : std::uint8_t { ipv4, ipv6, other };
inline constexpr std::size_t rx_family_count = 3;
constexpr std::string_view name(RxFamily f) {
    switch (f) {
    case RxFamily::ipv4: return "ipv4";
    case RxFamily::ipv6: return "ipv6";
    case RxFamily::other: return "other";
    }
    return "?";
}

// Upper bounds (bytes, inclusive) of the advertised-MTU histogram. Routers advertise the MTU of a
// real link, so the common values sit exactly on a bound and a bucket (1480, 1492] in practice
// means 1492 (PPPoE). 0: an IPv4 router older than RFC 1191 that did not say (RFC 1191 §5).
// 1279: below the IPv6 minimum link MTU (RFC 8200 §5), which a host must not act on (RFC 8201
// §4), and suspicious in IPv4 too. 1400..1480: the usual tunnel overheads (WireGuard 1420,
// GRE/IPsec 1400..1476, IPv6-in-IPv4 1480). 9000: jumbo frames. Above: +Inf.
inline constexpr std::array<std::uint32_t, 13> mtu_bounds = {
    0, 576, 1279, 1280, 1400, 1420, 1450, 1460, 1480, 1492, 1500, 9000, 65535};
inline constexpr std::size_t mtu_bucket_count = mtu_bounds.size() + 1; // the last is +Inf

constexpr std::size_t mtu_bucket(std::uint32_t mtu) {
    std::size_t i = 0;
    while (i < mtu_bounds.size() && mtu > mtu_bounds[i])
        ++i;
    return i;
}

// Non-cumulative counts per bucket (the metrics thread accumulates them at scrape time).
struct MtuHistogram {
    std::array<std::uint64_t, mtu_bucket_count> buckets{};
    std::uint64_t sum = 0; // of the advertised MTUs, for the histogram's _sum
};

// Per router (router.h: by number, 0 for frames no router matched): PTBs received, and those
// steered (given a unicast, transition or replication) by the router's own state of their group
// or by the group's shared state (the router has none: the group's unknown_router policy).
enum class RouterCount : std::uint8_t { ptbs, steered_own, steered_shared };
inline constexpr std::size_t router_count_kinds = 3;

struct alignas(64) LcoreCounters {
    // Every frame taken from an RX queue ends in exactly one of: unicast, replicated, answered
    // (ARP/ND replies), neighbor_updates or drops[...]. So rx == unicast + replicated +
    // answered + neighbor_updates + sum(drops), once no PTB waits for its neighbour.
    std::uint64_t rx = 0;
    std::uint64_t ptb_v4 = 0; // PTBs parsed, by family
    std::uint64_t ptb_v6 = 0;
    std::uint64_t unicast = 0;    // PTBs sent to the one owning next-hop
    std::uint64_t replicated = 0; // PTBs sent to every next-hop of their group (originals)
    std::uint64_t copies = 0;     // frames emitted for replicated PTBs (one per next-hop)
    std::uint64_t answered = 0;   // ARP requests / Neighbor Solicitations answered
    std::uint64_t tx_failed = 0;  // frames the NIC did not take (unicast, copies or replies)
    // ARP / Neighbor Advertisements from next-hops' `via`, handed to the neighbour manager.
    std::uint64_t neighbor_updates = 0;
    std::uint64_t neighbor_queued = 0;   // PTBs that waited for their next-hop's resolution
    std::uint64_t copies_unresolved = 0; // replicated/transition copies not made: unresolved
    // Transitions (transition.h): frames to a flow's earlier owners, beside its unicast to the
    // newest; PTBs that went to the newest only because the replication budget was spent.
    std::uint64_t transition_copies = 0;
    std::uint64_t transition_budget_exhausted = 0;
    std::array<std::uint64_t, drop_count> drops{};
    std::array<MtuHistogram, 2> mtu{}; // advertised MTU of parsed PTBs: [0] IPv4, [1] IPv6
    // Heartbeat for /healthz: the TSC at the top of the lcore's latest loop iteration.
    std::uint64_t heartbeat_tsc = 0;
    // Capture on demand (lib/control/capture.h): frames copied, and copies lost because the
    // capture ring was full or the copy pool was empty. Never blocks the fast path.
    std::uint64_t capture_copied = 0;
    std::uint64_t capture_lost = 0;
    std::vector<std::array<std::uint64_t, rx_family_count>> rx_by_port; // by config port index
    std::vector<std::uint64_t> unicast_per_next_hop;    // frames sent per next-hop (global index)
    std::vector<std::uint64_t> copies_per_next_hop;     // replicated copies per next-hop
    std::vector<std::uint64_t> transition_per_next_hop; // transition copies per next-hop
    std::vector<std::array<std::uint64_t, router_count_kinds>> per_router; // by router number

    // Sizes the per-port, per-next-hop and per-router arrays (control thread, before the lcores
    // start). `routers`: the configured ones (numbers 1..routers; 0 is counted too).
    void size_for(std::size_t ports, std::size_t next_hops, std::size_t routers = 0) {
        rx_by_port.assign(ports, {});
        per_router.assign(routers + 1, {});
        unicast_per_next_hop.assign(next_hops, 0);
        copies_per_next_hop.assign(next_hops, 0);
        transition_per_next_hop.assign(next_hops, 0);
    }
};

// Every scalar counter, once, in report order. The exit report (lib/control/report.cpp) prints a
// row and a key per entry; the collector (lib/metrics) sums and snapshots through
// for_each_counter; lib/metrics/families.h names the metric family of each.
struct ScalarCounter {
    std::uint64_t LcoreCounters::*field;
    std::string_view key; // in the exit report's machine line "ptbsteer-counters key=value ..."
    std::string_view row; // the exit report's human row
};
inline constexpr std::array<ScalarCounter, 15> scalar_counters = {{
    {&LcoreCounters::rx, "rx", "received"},
    {&LcoreCounters::ptb_v4, "ptb_v4", "PTBs IPv4"},
    {&LcoreCounters::ptb_v6, "ptb_v6", "PTBs IPv6"},
    {&LcoreCounters::unicast, "unicast", "delivered unicast"},
    {&LcoreCounters::replicated, "replicated", "replicated (originals)"},
    {&LcoreCounters::copies, "copies", "  copies emitted"},
    {&LcoreCounters::answered, "answered", "ARP/ND answered"},
    {&LcoreCounters::neighbor_updates, "neighbor_updates", "ARP/ND from next-hops (learned)"},
    {&LcoreCounters::neighbor_queued, "neighbor_queued", "PTBs that waited for ARP/ND"},
    {&LcoreCounters::copies_unresolved, "copies_unresolved", "  copies not made (unresolved)"},
    {&LcoreCounters::transition_copies, "transition_copies", "transition copies (earlier owners)"},
    {&LcoreCounters::transition_budget_exhausted, "transition_budget_exhausted",
     "  newest owner only (budget spent)"},
    {&LcoreCounters::tx_failed, "tx_failed", "not taken by the NIC (tx_failed)"},
    {&LcoreCounters::capture_copied, "capture_copied", "captured (copies queued)"},
    {&LcoreCounters::capture_lost, "capture_lost", "  lost (capture ring or pool full)"},
}};

// Calls f(into, from) for every counter of `from` and the same counter of `into`, first growing
// `into`'s per-port and per-next-hop arrays to `from`'s sizes. The one place that walks every
// field: summing the lcores and snapshotting them for a scrape both go through it.
template <typename F>
void for_each_counter(LcoreCounters& into, const LcoreCounters& from, F&& f) {
    for (const ScalarCounter& s : scalar_counters)
        f(into.*s.field, from.*s.field);
    for (std::size_t i = 0; i < drop_count; ++i)
        f(into.drops[i], from.drops[i]);
    for (std::size_t fam = 0; fam < into.mtu.size(); ++fam) {
        for (std::size_t b = 0; b < mtu_bucket_count; ++b)
            f(into.mtu[fam].buckets[b], from.mtu[fam].buckets[b]);
        f(into.mtu[fam].sum, from.mtu[fam].sum);
    }
    if (into.rx_by_port.size() < from.rx_by_port.size())
        into.rx_by_port.resize(from.rx_by_port.size());
    for (std::size_t p = 0; p < from.rx_by_port.size(); ++p)
        for (std::size_t fam = 0; fam < rx_family_count; ++fam)
            f(into.rx_by_port[p][fam], from.rx_by_port[p][fam]);
    if (into.per_router.size() < from.per_router.size())
        into.per_router.resize(from.per_router.size());
    for (std::size_t r = 0; r < from.per_router.size(); ++r)
        for (std::size_t k = 0; k < router_count_kinds; ++k)
            f(into.per_router[r][k], from.per_router[r][k]);
    for (auto per : {&LcoreCounters::unicast_per_next_hop, &LcoreCounters::copies_per_next_hop,
                     &LcoreCounters::transition_per_next_hop}) {
        auto& to = into.*per;
        const auto& of = from.*per;
        if (to.size() < of.size()) to.resize(of.size());
        for (std::size_t i = 0; i < of.size(); ++i)
            f(to[i], of[i]);
    }
}

// A reader's load of a counter the owning lcore writes with plain stores. A relaxed atomic load
// is one plain `mov` on x86-64; it keeps the compiler from caching or splitting the read.
inline std::uint64_t load_counter(const std::uint64_t& v) noexcept {
    return __atomic_load_n(&v, __ATOMIC_RELAXED);
}

} // namespace ptbsteer::datapath
