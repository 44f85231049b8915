// The control API's requests, by endpoint and answer: lib/api counts them, lib/metrics serves
// them (ptbsteer_api_requests_total). Relaxed atomics: control threads only, never an lcore.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "util/name_table.h"

namespace ptbsteer::control {

enum class Endpoint : std::uint8_t { groups, group, decide, reload, capture, counters, other };
inline constexpr auto endpoint_names = util::name_table<Endpoint>(
    "groups", "group", "decide", "reload", "capture", "counters", "other");
static_assert(endpoint_names.size() == std::size_t(Endpoint::other) + 1);
constexpr std::string_view name(Endpoint e) {
    return endpoint_names.name(e);
}

// Every status the API answers with (docs/api.md).
inline constexpr std::array<int, 8> api_statuses = {200, 400, 401, 404, 405, 409, 413, 500};

struct ApiStats {
    std::array<std::array<std::atomic<std::uint64_t>, api_statuses.size()>, endpoint_names.size()>
        requests{};

    void count(Endpoint e, int status) {
        for (std::size_t i = 0; i < api_statuses.size(); ++i)
            if (api_statuses[i] == status) {
                requests[std::size_t(e)][i].fetch_add(1, std::memory_order_relaxed);
                return;
            }
        requests[std::size_t(e)][api_statuses.size() - 1].fetch_add(1, std::memory_order_relaxed);
    }
};

} // namespace ptbsteer::control
