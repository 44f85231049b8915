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
inline constexpr unsigned max_past_owners = 3;

// Writes to `out` the flow's owners in g's past versions still within their window at `now`
// (TSC), newest version first, skipping `newest` (its owner now: an index into t.next_hops) and
// every owner already written; at most g.transition_copies - 1 of them (never more than
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
