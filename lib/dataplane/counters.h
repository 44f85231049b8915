// Per-lcore counters: plain integers, one cache-aligned block per lcore, written only by that
// lcore and summed by readers (the exit table, later the metrics thread). No atomics: a reader
// may see a value a few packets old, never a torn one (aligned 64-bit stores on x86-64).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "dataplane/drop_reason.h"

namespace ptbsteer::dataplane {

struct alignas(64) LcoreCounters {
    // Every frame taken from an RX queue ends in exactly one of: unicast, replicated, answered
    // (ARP/ND replies) or drops[...]. So rx == unicast + replicated + answered + sum(drops).
    std::uint64_t rx = 0;
    std::uint64_t ptb_v4 = 0;         // PTBs parsed, by family
    std::uint64_t ptb_v6 = 0;
    std::uint64_t unicast = 0;        // PTBs sent to the one owning next-hop
    std::uint64_t replicated = 0;     // PTBs sent to every next-hop of their group (originals)
    std::uint64_t copies = 0;         // frames emitted for replicated PTBs (one per next-hop)
    std::uint64_t answered = 0;       // ARP requests / Neighbor Solicitations answered
    std::uint64_t tx_failed = 0;      // frames the NIC did not take (unicast, copies or replies)
    std::array<std::uint64_t, drop_count> drops{};
    std::vector<std::uint64_t> per_next_hop; // frames sent per next-hop (global index)
};

} // namespace ptbsteer::dataplane
