// ptbsteer-sync's configuration (docs/router-sync.md): which routes of the router's kernel feed
// which ptbsteer groups, and which appliances to keep in step. Read with lib/config's checked
// reader, so every mistake is reported at file:line:column in a sentence, all in one run.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "sync/plan.h"

namespace ptbsteer::sync {

struct Appliance {
    std::string name; // for metrics and messages: the URL's host:port unless given
    std::string host;
    std::uint16_t port = 9470;
};

struct SyncConfig {
    std::string file;
    std::string netns; // the router's network namespace ("": ptbsteer-sync's own)
    // The appliances' name of this router (their `routers:`): its groups are pushed as that
    // router's states (/v1/routers/ROUTER/groups/NAME). "": the groups for every router.
    std::string router;
    std::string token_file;
    std::vector<Appliance> appliances;
    std::vector<GroupSpec> groups;
    std::uint32_t resync = 300;            // seconds between full pushes
    std::uint32_t coalesce_ms = 10;        // a burst of kernel events is one change
    std::string listen = "127.0.0.1:9471"; // its own /metrics ("" or "off": none)
};

struct SyncLoad {
    std::optional<SyncConfig> config; // set only when errors is empty
    std::vector<config::ConfigError> errors;
};

SyncLoad load_sync_config_text(const std::string& text, const std::string& name);
SyncLoad load_sync_config_file(const std::string& path);

} // namespace ptbsteer::sync
