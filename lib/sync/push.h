// ptbsteer-sync's side of the control API (docs/api.md): PUT a group, list the groups. One
// short HTTP/1.1 connection per request (civetweb's client), the bearer token in every one.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "sync/sync_config.h"

namespace ptbsteer::sync {

struct Answer {
    int status = 0;      // HTTP status; 0: no answer (refused, timed out: `error` says)
    nlohmann::json body; // parsed JSON, or null
    std::string error;
};

// `method` GET, PUT or DELETE; `path` e.g. "/v1/groups/web"; `body` sent when not null.
Answer call(const Appliance& a, const std::string& token, const std::string& method,
            const std::string& path, const nlohmann::json& body, int timeout_ms);

} // namespace ptbsteer::sync
