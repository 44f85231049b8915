// The lcores' configuration (datapath::WorkerConfig: queues, TX buffers, RX -> TX rings,
// capture taps) and their launch. Part of the Appliance (appliance.h).
#pragma once

#include <vector>

#include "config/config.h"
#include "control/capture.h"
#include "control/ports.h"
#include "datapath/worker.h"

struct rte_ring;

namespace ptbsteer::control {

using namespace datapath; // control builds, publishes and observes the datapath's types

// Slots of each RX -> TX ring: a few bursts of slack for a TX lcore that falls behind.
inline constexpr unsigned lcore_ring_size = 1024;

// What build_workers() allocated, freed by the destructor (after the lcores have stopped).
struct LcoreResources {
    std::vector<rte_ring*> rings;  // RX -> TX, one per RX-only lcore
    std::vector<void*> tx_buffers; // rte_eth_dev_tx_buffer, one per TX lcore and port
    LcoreResources() = default;
    LcoreResources(const LcoreResources&) = delete;
    LcoreResources& operator=(const LcoreResources&) = delete;
    ~LcoreResources();
};

// Fills s.workers (one per configured lcore, by index) and s.rx_running. Every worker gets its
// capture tap.
void build_workers(const config::Config& cfg, Shared& s, const std::vector<PortRuntime>& ports,
                   std::vector<LcoreCounters>& counters, Capture& capture, LcoreResources& res);

// Runs the lcores until they stop (Shared::stop) and drain.
void launch_and_wait(const config::Config& cfg, Shared& shared);

} // namespace ptbsteer::control
