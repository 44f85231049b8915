// "Where would this flow's PTBs go?" answered by the serving tables: the group its destination
// falls in, the hash the router computes, the next-hop it picks, or why ptbsteer would replicate
// or drop. The flow is given as the router sees it (client -> server), the direction it hashed.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "datapath/tables.h"
#include "packet/flow_key.h"

namespace ptbsteer::api {

// The largest list POST /v1/decide takes.
inline constexpr std::size_t max_decide_flows = 10000;

// A flow from {"src", "dst", "proto", "sport", "dport", "flow_label"} ("router" is read by
// router_number) (proto: a number or tcp,
// udp, sctp, dccp, udplite, icmp, icmpv6, esp, ah; ports required when the protocol has them).
// On a mistake: nullopt, `error` a sentence, `path` the field's pointer relative to the flow.
std::optional<packet::FlowKey> flow_from(const nlohmann::json& j, std::string& error,
                                         std::string& path);

// The decision of `tables` for `flow` at `now` (TSC), for a PTB from router number `router`
// (0: none matched; datapath/router.h): during a transition, the flow's earlier owners that
// get copies too (datapath/transition.h).
nlohmann::json decide_json(const datapath::Tables& tables, const packet::FlowKey& flow,
                           std::uint64_t now, std::uint32_t router = 0);

// The number of the flow's "router" (a name under routers:) in `tables`, 0 without the key;
// nullopt with `error` a sentence when no router has that name.
std::optional<std::uint32_t> router_number(const datapath::Tables& tables,
                                           const nlohmann::json& flow, std::string& error);

} // namespace ptbsteer::api
