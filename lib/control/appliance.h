// The appliance's life: EAL, mempools, ports, tables, lcores; run until SIGTERM/SIGINT,
// reloading the configuration on SIGHUP; drain; report. The control thread (main) owns
// everything here; lcores see it through datapath::Shared.
#pragma once

#include <sched.h>

#include <memory>
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

// The whole run as one call: returns the process exit code, prints the final counter table on
// stdout and any refusal on stderr ("ptbsteer: <sentence>").
int run_appliance(const config::Config& cfg, const RunOptions& opt);

// The EAL argument vector for a configuration: its eal: list, a --vdev for each vdev port not
// already given, an allow-list entry for each PCI port, then the extra arguments.
std::vector<std::string> eal_arguments(const config::Config& cfg,
                                       const std::vector<std::string>& extra);

// One appliance, in three steps: the constructor initialises the EAL; start() builds pools,
// ports, generation 1, the lcores' configuration and the observer (nothing polls yet); run()
// launches the lcores and returns once they have stopped and drained. The destructor frees
// everything in reverse and cleans the EAL up. Each step throws std::runtime_error with a
// sentence when it cannot go on. One per process (the EAL is).
class Appliance {
  public:
    Appliance(const config::Config& cfg, RunOptions opt);
    ~Appliance();
    Appliance(const Appliance&) = delete;
    Appliance& operator=(const Appliance&) = delete;

    void start();
    void run();
    // The exit report: counters summed over lcores, then the reload outcomes.
    std::string report() const;

  private:
    struct State;                 // what start() creates, destroyed before the EAL
    Runtime make_runtime() const; // the view start() hands the observer
    const config::Config& cfg_;
    RunOptions opt_;
    cpu_set_t allowed_cpus_{};    // the process's, before the EAL pinned the main thread
    cpu_set_t main_lcore_cpus_{}; // the main thread's after rte_eal_init
    std::unique_ptr<State> state_;
};

} // namespace ptbsteer::control
