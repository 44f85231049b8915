// Configuration -> the fast path's Tables (lib/datapath/tables.h): resolved once per generation
// on the control thread, so the lcores never see a YAML option.
#pragma once

#include <cstdint>
#include <vector>

#include "config/config.h"
#include "control/transition.h"
#include "datapath/tables.h"

namespace ptbsteer::control {

using namespace datapath; // control builds, publishes and observes the datapath's types

// The versions of groups that served before their current one (transition.h), and the clock
// their windows run on.
struct PastState {
    const History* history = nullptr;
    std::uint64_t now = 0; // TSC
    std::uint64_t hz = 0;  // TSC cycles per second
};

// port_ids[i] and port_macs[i] are config port i's DPDK id and MAC. Needs the EAL (rte_lpm).
// `previous` (the tables serving now, if any): when its prefix routes are the same, its prefix
// table is shared rather than built again. `recycler` (if any) gives and takes the DPDK tables.
// `past` and `departed` (departed_hops(cfg, *past->history)), both or neither: the groups' past
// versions still in their window become Tables::past_groups, and the departed next-hops follow
// the serving ones in Tables::next_hops.
Tables compile_tables(const config::Config& cfg, const std::vector<std::uint16_t>& port_ids,
                      const std::vector<Mac>& port_macs, const Tables* previous = nullptr,
                      steer::PrefixRecycler* recycler = nullptr, const PastState* past = nullptr,
                      const std::vector<DepartedHop>* departed = nullptr);

// Gives `t` its own neighbour words, by its next-hops' counter slots: static MACs permanent,
// `via` ones incomplete for good. For tables served without a neighbour manager (unit tests);
// compile_tables() calls it, and build_generation() again once the slots are assigned.
void own_neighbor_words(Tables& t);

} // namespace ptbsteer::control
