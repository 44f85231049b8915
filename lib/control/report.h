// The counter table printed when the appliance stops: per-lcore counters summed.
#pragma once

#include <string>
#include <vector>

#include "control/reload.h"
#include "datapath/counters.h"

namespace ptbsteer::control {

using namespace datapath; // control builds, publishes and observes the datapath's types

// Read with load_counter: safe while the lcores run (the control API's /v1/counters) and after.
LcoreCounters sum(const std::vector<LcoreCounters>& per_lcore);

// A human table, then one machine-readable line "ptbsteer-counters key=value ..." for scripts.
// `next_hops` (NextHopSlots::totals): every next-hop any published generation had, by name, so
// that the per-next-hop rows add up across reloads and API changes.
std::string format_report(const LcoreCounters& total,
                          const std::vector<NextHopSlots::Total>& next_hops);

// "ptbsteer-reloads generation=N success=S failure=F restart_required=R".
std::string format_reloads(const ReloadStats& stats);

} // namespace ptbsteer::control
