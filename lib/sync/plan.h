// What ptbsteer-sync pushes for one group: the router's route as the kernel would use it, made
// into a control API group body (docs/api.md). Pure: kernel state in, JSON out, so the rules
// below are unit-tested without a kernel (docs/router-sync.md says what is exact and what
// falls back).
//
// Exact (mode unicast): the next-hops the kernel's hash-threshold selection can pick, in its
// order, with its weights, and the namespace's hash policy, fields and seed; for a resilient
// group, every member and the kernel's bucket table (select: resilient). A next-hop the
// kernel gives no share (RTNH_F_DEAD, or RTNH_F_LINKDOWN with ignore_routes_with_linkdown) is
// left out: the kernel computes the upper bounds over the live ones only (fib_rebalance).
// A next-hop whose neighbour entry is not valid, where the kernel checks it (nexthop-object
// groups; legacy IPv4 routes with fib_multipath_use_neigh), is pushed with `neighbour:
// invalid`: ptbsteer then passes its flows on as the kernel does.
// Replicate (every live next-hop gets a copy), with one sentence saying why, when the kernel's
// choice cannot be known: a seed of 0 or no seed sysctl (a random key per boot), policy 1
// while the router's NICs may hand the kernel an L4 hash, policy 2, and no valid neighbour
// when the kernel's first next-hop (where it then sends everything) is dead.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sync/kernel.h"

namespace ptbsteer::sync {

// One route that feeds one ptbsteer group (ptbsteer-sync's configuration, sync_config.h).
struct GroupSpec {
    std::string name; // the ptbsteer group
    packet::Family family = packet::Family::v4;
    packet::IpAddr dst; // the route's prefix
    std::uint8_t length = 0;
    std::uint32_t table = 254;
    std::vector<std::string> prefixes; // the group's prefixes: the route's when empty
    std::string port;                  // the ptbsteer port its next-hops are reached on
    std::optional<std::uint32_t> transition;
    std::optional<std::uint32_t> transition_copies;
    // The router's ingress NICs hand the kernel no L4 hash (`ethtool -K IF rxhash off`, or
    // veth): policy 1 is then the kernel's own SipHash of the 5-tuple, which ptbsteer computes.
    bool software_hash = false;
};

struct Plan {
    bool found = false;  // the kernel has the route (else nothing is pushed)
    bool exact = false;  // mode unicast; else replicate, and `why` says why
    std::string why;     // one sentence; also set when the route is missing or has no next-hop
    nlohmann::json body; // the PUT body (found, and some next-hop live)
    // The neighbour entries the kernel checks for this route, and whether each was valid: the
    // plan depends on them, and not all their changes are announced (Kernel::neighbor).
    std::map<NeighborKey, bool> neighbors;
};

Plan plan_group(const GroupSpec& spec, const KernelState& kernel);

// Whether the kernel counts a neighbour entry (its NUD state, or nullopt: none) as valid:
// fib_good_nh / nexthop_is_good_nh treat a missing entry as reachable.
bool neighbor_valid(std::optional<std::uint16_t> state);

// A next-hop's name in ptbsteer: its gateway address, or `address@device` for a link-local one
// (the address alone is only unique on its link).
std::string hop_name(const KernelNextHop& h);

} // namespace ptbsteer::sync
