// The control API's requests and answers, apart from HTTP (server.cpp carries them): JSON in and
// out, every refusal as {"error": sentence, "path": JSON pointer} (docs/api.md).
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "api/hop_cache.h"
#include "control/runtime.h"

namespace ptbsteer::api {

struct Response {
    int status = 200;
    nlohmann::json body;
};

// The largest request body read (a 4096-next-hop group is about 0.5 MB of JSON); larger: 413.
inline constexpr std::size_t max_body = 4u << 20;

// One authenticated request: `path` without the query string, `query` what follows the '?'.
// `hops`: the listener's next-hops of earlier PUTs.
Response handle(const control::Runtime& rt, HopCache& hops, std::string_view method,
                std::string_view path, const std::string& query, const std::string& body);

// Which endpoint a path is, for ptbsteer_api_requests_total.
control::Endpoint endpoint_of(std::string_view path);

// {"error": message, "path": path}
nlohmann::json refusal(const std::string& message, const std::string& path = "");

} // namespace ptbsteer::api
