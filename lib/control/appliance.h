// The appliance's life: EAL, mempools, ports, tables, lcores; run until SIGTERM/SIGINT, reloading
// the configuration on SIGHUP; drain; report. The control thread (main) owns everything here; lcores see it through worker::Shared.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "control/runtime.h"

namespace ptbsteer::control {

using namespace datapath; // control builds, publishes and observes the datapath's types

struct RunOptions {
    std::string config_path;            // re-read on SIGHUP / POST /reload (reload.h)
    std::vector<std::string> extra_eal; // after "--" on the command line: they win
    Observer observe;                   // e.g. the metrics endpoint (lib/metrics); may be empty
};

// Returns the process exit code. Prints the final counter table on stdout.
int run_appliance(const config::Config& cfg, const RunOptions& opt);

// The EAL argument vector for a configuration: its eal: list, a --vdev for each vdev port not
// already given, an allow-list entry for each PCI port, then the extra arguments.
std::vector<std::string> eal_arguments(const config::Config& cfg, const std::vector<std::string>& extra);

} // namespace ptbsteer::control
