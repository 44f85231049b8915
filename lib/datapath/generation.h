// One configuration generation as the lcores see it: the compiled Tables plus each RX lcore's
// rate limiters, published whole through an atomic pointer and retired with RCU
// (lib/control/publish.h).
//
// Ownership: the control thread builds a Generation and never changes its Tables afterwards;
// lcores read it through Shared::current. The only mutable part is the GuardSet, where each RX
// lcore writes its own slot (by worker index) and nobody else touches it.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "datapath/decide.h"
#include "datapath/tables.h"

namespace ptbsteer::datapath {

// Cache-line aligned: each RX lcore writes its own limiter state on every PTB.
struct alignas(64) LcoreGuard {
    Guard guard;
};
using GuardSet = std::vector<LcoreGuard>; // by worker index

struct Generation {
    std::uint64_t number = 0; // 1: the configuration read at start; +1 per successful reload
    Tables tables;
    // Shared with the previous generation when `limits:` did not change, so limiter state
    // carries over a reload; rebuilt (state reset) when it did (lib/control/build.h).
    std::shared_ptr<GuardSet> guards;
};

} // namespace ptbsteer::datapath
