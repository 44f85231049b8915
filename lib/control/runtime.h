// What the control plane may observe while the lcores run: lib/metrics reads counters, port and
// pool state through this view. The Appliance owns everything it points to and keeps it alive
// until the observer it hands the view to has been destroyed.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "control/api_stats.h"
#include "datapath/counters.h"
#include "datapath/tables.h"

struct rte_mempool;
struct rte_ring;

namespace ptbsteer::control {

using namespace datapath; // control builds, publishes and observes the datapath's types

class Capture;
class Reloader;

struct PortInfo {
    std::string name;     // config name
    std::uint16_t id = 0; // DPDK port id
};

struct PoolInfo {
    std::string name;
    rte_mempool* pool = nullptr;
};

struct RingInfo {
    std::string name;
    rte_ring* ring = nullptr;
    std::size_t producer = 0; // lcore index whose drops[ring_full] count this ring's overflow
};

struct Runtime {
    // The configuration read at start. Its restart-only parts (ports, lcores, metrics, capture)
    // hold for the whole run; groups, addresses and limits may since have been reloaded: the
    // serving generation is the Reloader's (next-hop names: reloader->slots()).
    const config::Config* config = nullptr;
    Reloader* reloader = nullptr;    // reload() from any thread; stats() and slots() for metrics
    std::vector<PortInfo> ports;     // by config port index
    std::vector<unsigned> lcore_ids; // by config lcore index
    const std::vector<LcoreCounters>* counters = nullptr; // parallel to lcore_ids
    std::vector<PoolInfo> pools;
    std::vector<RingInfo> rings; // RX -> TX hand-over rings
    Capture* capture = nullptr;  // start/stop at run time; the pool once made
    ApiStats* api = nullptr;     // the control API's request counts
    std::uint64_t tsc_hz = 0;
};

// What an observer started: an opaque holder (destroyed after the lcores stop, before anything
// in the Runtime is freed) and a line to print once the appliance runs.
struct Observation {
    std::shared_ptr<void> holder;
    std::string announce;
};
// Called after the tables are built and before the lcores start. Throwing std::runtime_error
// refuses to start (exit 1) with its message.
using Observer = std::function<Observation(const Runtime&)>;

} // namespace ptbsteer::control
