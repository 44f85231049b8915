// /healthz: is the appliance doing its job right now? 200 when every lcore went round its loop
// in the last second and every port's link is up; 503 with the reasons otherwise.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "control/runtime.h"

namespace ptbsteer::metrics {

struct LcoreBeat {
    unsigned lcore = 0;
    std::uint64_t heartbeat_tsc = 0; // 0: has not looped yet
};

struct PortLink {
    std::string name;
    bool up = false;
};

struct Health {
    bool ok = false;
    std::string text; // "ok", or one reason per line
};

// Busy-polling lcores loop millions of times a second even when idle, so a second without a
// loop means one is stuck (or stopped). Pure, for unit tests.
inline constexpr double max_heartbeat_age_s = 1.0;
Health evaluate(std::span<const LcoreBeat> lcores, std::span<const PortLink> ports,
                std::uint64_t now_tsc, std::uint64_t tsc_hz);

// Reads the heartbeats and link states of a running appliance (any thread).
Health check(const control::Runtime& rt);

} // namespace ptbsteer::metrics
