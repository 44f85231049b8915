// The transition when a group's ownership moves (docs/configuration.md, "Transitions").
//
// A change of a group's next-hops, order, weights, hash or selection gives many flows another
// owner (hash-threshold moves about half of them when one next-hop goes). A connection made
// before the change still lives on its old server, and a PTB that quotes it must reach that
// server, while new connections belong to the new owner. Which one a PTB's connection is on
// cannot be told from the PTB, so for `transition` seconds after a change a PTB goes to its
// owner in every version that served in that window, newest first, distinct owners only, at
// most `transition_copies` frames in all. Stateless per packet: no flow table, so appliances
// given the same changes in the same order decide alike.
//
// This file keeps the versions (config, on the control thread); compile_tables() turns them
// into Tables::past_groups, and datapath/transition.h picks the owners per PTB.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "datapath/tables.h"
#include "steer/group.h"

namespace ptbsteer::control {

// A version of a group that served before its current one.
struct PastVersion {
    config::Group group;
    std::uint64_t retired_tsc = 0; // when the version after it started serving (TSC)
    // Its hash and selection as the tables it served in had them (keep_compiled()), so a
    // later change copies them instead of building a 4096-next-hop Maglev table again.
    std::shared_ptr<const steer::Group> compiled;
};
// By group name: the versions that served before the current one, newest first.
using History = std::map<std::string, std::vector<PastVersion>>;

// The serving version and at most 7 past ones: a burst of changes inside one window costs at
// most 7 extra selections per PTB (the copies stay bounded by transition_copies).
inline constexpr std::size_t max_versions = 8;

// What `history` becomes when `after` replaces `before` at `now` (TSC, `hz` per second): a
// group whose owners change (config::same_owners) gains `before`'s version as its newest past
// one; versions whose window (`after`'s `transition` for the group) has passed, and those
// beyond max_versions, go; a group no longer served, or renamed, loses its history.
History next_history(const History& history, const config::Config& before,
                     const config::Config& after, std::uint64_t now, std::uint64_t hz);

// Removes the past version whose window ends first (by `cfg`'s groups' `transition`), of any
// group; false when none is left.
bool drop_first_ending(History& history, const config::Config& cfg, std::uint64_t hz);

// Gives each version `next_history` just added the compiled group of `live` (the tables it
// served in) of the same name.
void keep_compiled(History& history, const datapath::Tables& live);

// The TSC until which a past version still owns flows, by the current group's window.
std::uint64_t window_end(const PastVersion& v, const config::Group& current, std::uint64_t hz);

// A next-hop only past versions of a group name: the group (index in cfg.groups) and the
// newest past version's entry for that name. A name the group still has is reached as it is
// now (the same server, its flows its own); a departed one as it was last configured.
struct DepartedHop {
    std::uint32_t group = 0;
    const config::NextHop* hop = nullptr; // points into the History
};
// Every departed next-hop, group by group in cfg's order, each name once per group.
std::vector<DepartedHop> departed_hops(const config::Config& cfg, const History& history);

} // namespace ptbsteer::control
