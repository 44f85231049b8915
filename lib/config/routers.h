// Routers and per-router group states (docs/configuration.md, "Routers").
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/yaml_reader.h"

namespace ptbsteer::config {

std::string_view name(RouterMatch m);
const Router* find_router(const Config& cfg, const std::string& name);
// The routers' labels by number (datapath/router.h): [0] unmatched_router, then each name.
std::vector<std::string> router_labels(const Config& cfg);

// Router names and matches unique; a state's router and unknown_router exist; a group's states
// serve the same prefixes and mean the same servers by the same next-hop names.
void check_routers(const Config& cfg, Reader& r);

// Appends, for each group with router states but none for all routers, the state routers
// without their own use (Group::derived): a copy of `unknown_router`'s state, or by default
// mode replicate over the union of the states' next-hops. A checked configuration only.
void derive_shared_states(Config& cfg);

} // namespace ptbsteer::config
