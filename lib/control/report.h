// The counter table printed when the appliance stops: per-lcore counters summed.
#pragma once

#include <string>
#include <vector>

#include "control/reload.h"
#include "control/runtime.h"
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

// "ptbsteer-mempools packets=IN_USE/SIZE headers=IN_USE/SIZE": mbufs still taken when the
// lcores have stopped. The ports' RX rings hold theirs until the ports close, so a healthy stop
// shows about the RX descriptors in use; a count that grows from run to run is a leak.
std::string format_pools(const std::vector<PoolInfo>& pools);

// "ptbsteer-routers unmatched=P/O/S NAME=P/O/S ...": per router (`names`, by number; [0] the
// frames no router matched), PTBs received / steered by the router's own state / steered by
// the group's shared state (LcoreCounters::per_router).
std::string format_routers(const LcoreCounters& total, const std::vector<std::string>& names);

} // namespace ptbsteer::control
