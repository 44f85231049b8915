// The owners of a flow during a transition (lib/control/transition.h says why): its owner in
// each version of its group that served in the window, newest first, each next-hop once.
// Pure (tables in, indices out), so decide(), the control API's /v1/decide and the unit tests
// pick the same owners.
#pragma once

#include <cstdint>

#include "datapath/tables.h"
#include "packet/flow_key.h"

namespace ptbsteer::datapath {

// The most earlier owners a PTB can go to: config::max_transition_copies, less its newest owner.
inline constexpr unsigned max_past_owners = 2;

// An owner as the Decision carries it (16 bits, so the Decision fits its mbuf dynfield): its
// place in its group's owners, the serving next-hops then the departed ones
// (GroupEntry::departed_first). A group has at most 4096 serving next-hops and 7 x 4096
// departed ones.
inline std::uint16_t local_owner(const GroupEntry& g, std::uint32_t idx) noexcept {
    return std::uint16_t(idx < g.first_next_hop + g.next_hop_count
                             ? idx - g.first_next_hop
                             : g.next_hop_count + (idx - g.departed_first));
}
inline std::uint32_t owner_index(const GroupEntry& g, std::uint16_t local) noexcept {
    return local < g.next_hop_count ? g.first_next_hop + local
                                    : g.departed_first + (local - g.next_hop_count);
}

// Writes to `out` the flow's owners in g's past versions still within their window at `now`
// (TSC), newest version first, skipping `newest` (its owner now: an index into t.next_hops) and
// every owner already written (indices into t.next_hops); at most g.transition_copies - 1 of
// them (never more than
// max_past_owners). Returns how many. `hash`: the serving version's hash of the flow, which
// versions of the same hash select with. A version that would replicate the flow (mode
// replicate, or a model whose ports the flow lacks) names no owner.
inline unsigned past_owners(const Tables& t, const GroupEntry& g, const packet::FlowKey& flow,
                            std::uint32_t hash, std::uint32_t newest, std::uint64_t now,
                            std::uint32_t (&out)[max_past_owners]) noexcept {
    const unsigned room =
        g.transition_copies - 1 < max_past_owners ? g.transition_copies - 1 : max_past_owners;
    unsigned n = 0;
    for (std::uint32_t v = 0; v < g.past_count && n < room; ++v) {
        const PastGroup& p = t.past_groups[g.past_first + v];
        // Newest first, and every version's window has the same length: the rest ended too.
        if (now >= p.until_tsc) break;
        const steer::Verdict verdict =
            p.same_hash && p.group.mode() == steer::Mode::unicast
                ? steer::Verdict::unicast(p.group.selector().select(hash))
                : p.group.decide(flow);
        if (verdict.kind != steer::VerdictKind::unicast) continue;
        const std::uint32_t idx = t.past_hops[p.first_hop + verdict.next_hop()];
        if (idx == no_next_hop || idx == newest) continue;
        bool seen = false;
        for (unsigned i = 0; i < n; ++i)
            seen |= out[i] == idx;
        if (!seen) out[n++] = idx;
    }
    return n;
}

} // namespace ptbsteer::datapath
