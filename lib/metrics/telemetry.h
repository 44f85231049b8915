// ptbsteer's state through DPDK's telemetry socket, for `dpdk-telemetry.py` (Debian dpdk-dev)
// and any tool that speaks it: the same counters /metrics and the exit report give, the
// serving groups, and each group's next-hops with their packets. Off when the EAL runs with
// --no-telemetry (the commands are registered but no socket listens).
//
//   /ptbsteer/counters              the exit report's counters (LcoreCounters, summed)
//   /ptbsteer/drops                 dropped packets by reason
//   /ptbsteer/groups                the serving groups' names
//   /ptbsteer/group,NAME            one group: source, generation, prefixes, next-hops, model
//   /ptbsteer/next_hops,NAME        one group's next-hops: unicast packets and copies each
//
// Telemetry names allow letters, digits, '_' and '/': other characters in a next-hop's name
// read as '_' there.
#pragma once

#include <memory>

#include "control/runtime.h"

namespace ptbsteer::metrics {

// Registers the commands (once per process; needs the EAL) and points them at `rt` until the
// returned holder is destroyed; after that they answer an error.
std::shared_ptr<void> start_telemetry(const control::Runtime& rt);

} // namespace ptbsteer::metrics
