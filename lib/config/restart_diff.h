// Hot reload (docs/configuration.md, "Reload"): which parts of a configuration a running
// appliance can take over, and which only a restart can change. Pure, no DPDK: unit-tested.
//
// Reloadable: `groups` (prefixes, hash, selection, mode, next-hops, validation), `addresses` and
// `limits` — everything lib/control compiles into a Tables generation or a per-lcore guard.
// Restart only: `eal`, `presets_dir`, `ports` (devices, queues, resolved preset settings),
// `lcores`, `metrics` and `capture`, which the EAL, the started ports, the launched lcores, the
// bound listener and the open capture file were made from.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace ptbsteer::config {

// One sentence per restart-only setting that differs between the running configuration and a
// candidate, e.g. "port 'out': device changed from 'net_pcap1,...' to 'net_pcap2,...'".
// Empty: the candidate differs (if at all) only in what a reload can change.
std::vector<std::string> restart_only_changes(const Config& running, const Config& next);

// Whether two groups steer alike: the same name, prefixes, hash, selection, mode, fallback,
// next-hops (names, ports, MACs or vias, VLANs, weights, delivery), checks and transition.
// Where they were written (file positions, the source) does not count.
bool same_group(const Group& a, const Group& b);

// Whether two groups give every flow the same owner: the same hash, selection, mode and
// next-hop names and weights in the same order. How a next-hop is reached (port, MAC, via,
// delivery) does not count: its flows stay its own. A change that is not same_owners starts a
// transition (lib/control/transition.h).
bool same_owners(const Group& a, const Group& b);

// Whether two hash settings hash every flow alike (model, seed, policy, fields, key).
bool same_hash(const HashConfig& a, const HashConfig& b);

} // namespace ptbsteer::config
