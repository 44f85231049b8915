// One configuration generation as the lcores see it: the compiled Tables plus each RX lcore's
// rate limiters, published whole through an atomic pointer and retired with RCU (reload.h).
//
// Ownership: the control thread builds a Generation and never changes its Tables afterwards;
// lcores read it through Shared::current. The only mutable part is the GuardSet, where each RX
// lcore writes its own slot (by worker index) and nobody else touches it.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "dataplane/decide.h"
#include "dataplane/tables.h"

namespace ptbsteer::dataplane {

// Cache-line aligned: each RX lcore writes its own limiter state on every PTB.
struct alignas(64) LcoreGuard {
    Guard guard;
};
using GuardSet = std::vector<LcoreGuard>; // by worker index

struct Generation {
    std::uint64_t number = 0; // 1: the configuration read at start; +1 per successful reload
    Tables tables;
    // Shared with the previous generation when `limits:` did not change, so limiter state
    // carries over a reload; rebuilt (state reset) when it did.
    std::shared_ptr<GuardSet> guards;
    config::Limits limits; // what `guards` were built from
};

// Per-next-hop counters need an index that survives reloads: Tables' next-hop index is only
// valid within one generation. Each "group/next_hop" name gets a slot the first time a
// generation using it is published and keeps it for the life of the process; LcoreCounters'
// per-next-hop arrays are sized to `capacity` at start and never resized while lcores run.
// Slots are never reused, so a counter never jumps from one next-hop to another.
// Thread-safe: the control thread assigns, the metrics thread reads the names.
class NextHopSlots {
  public:
    struct Name {
        std::string group;
        std::string next_hop;
    };

    explicit NextHopSlots(std::size_t capacity) : capacity_(capacity) {}

    // The slot of each next-hop of `cfg`, in Tables order (group after group). Names already
    // known keep their slot; new names take the next free ones. nullopt, and nothing assigned,
    // when the new names would not fit in `capacity`.
    std::optional<std::vector<std::uint32_t>> assign(const config::Config& cfg);

    std::vector<Name> names() const; // by slot
    std::size_t capacity() const { return capacity_; }
    // How many slots `cfg` would use in all (known names + its new ones).
    std::size_t needed(const config::Config& cfg) const;

  private:
    std::size_t find(const std::string& group, const std::string& next_hop) const; // or size
    mutable std::mutex m_;
    std::vector<Name> names_;
    std::size_t capacity_;
};

// Rate limiters for each worker (RX lcores get `limits` divided among them, docs/security.md;
// others default limiters that are never used). `rx[i]`: worker i polls RX queues.
std::shared_ptr<GuardSet> build_guards(const config::Limits& limits, const std::vector<bool>& rx,
                                       std::uint64_t tsc_hz);

// Compiles `cfg` into a generation: Tables (compile_tables), next-hop counter slots, guards
// (taken over from `previous` when its limits equal cfg's). Throws std::runtime_error /
// std::invalid_argument with a sentence when the tables cannot be built, and
// std::length_error when the counter slots are exhausted (a restart is needed).
std::unique_ptr<Generation> build_generation(const config::Config& cfg, std::uint64_t number,
                                             const std::vector<std::uint16_t>& port_ids,
                                             const std::vector<Mac>& port_macs, NextHopSlots& slots,
                                             const std::vector<bool>& rx, std::uint64_t tsc_hz,
                                             const Generation* previous = nullptr);

} // namespace ptbsteer::dataplane
