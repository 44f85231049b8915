// The counter table printed when the appliance stops: per-lcore counters summed.
#pragma once

#include <string>
#include <vector>

#include "dataplane/counters.h"
#include "dataplane/tables.h"

namespace ptbsteer::dataplane {

LcoreCounters sum(const std::vector<LcoreCounters>& per_lcore);

// A human table, then one machine-readable line "ptbsteer-counters key=value ..." for scripts.
std::string format_report(const LcoreCounters& total, const Tables& t);

} // namespace ptbsteer::dataplane
