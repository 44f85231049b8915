// DPDK ports from the configuration: find each device, configure queues, descriptors, RSS, TX
// offloads and promiscuous mode as its resolved config::Port says (preset + own keys), start it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"
#include "datapath/tables.h"

struct rte_mempool;

namespace ptbsteer::control {

using namespace datapath; // control builds, publishes and observes the datapath's types

struct PortRuntime {
    std::uint16_t id = 0;
    Mac mac{};
};

// The DPDK device name of a configured device: its text before the first ',' (net_pcap0, or the
// PCI address without devargs).
std::string ethdev_name(const config::Port& p);

// Configures and starts every port. Throws std::runtime_error naming the port on failure.
std::vector<PortRuntime> start_ports(const config::Config& cfg, rte_mempool* pool);
void stop_ports(const std::vector<PortRuntime>& ports);

} // namespace ptbsteer::control
