// Configuration -> Generation (lib/datapath/generation.h), on the control thread: the compiled
// tables, the next-hop counter slots that survive reloads, and the RX lcores' rate limiters.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "datapath/generation.h"
#include "datapath/tables.h"

namespace ptbsteer::control {

using namespace datapath; // control builds, publishes and observes the datapath's types

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
// (taken over from `previous` when `previous_limits` equal cfg's). Throws std::runtime_error /
// std::invalid_argument with a sentence when the tables cannot be built, and
// std::length_error when the counter slots are exhausted (a restart is needed).
// `previous` (with the limits it was built from) is the generation serving now, if any.
std::unique_ptr<Generation> build_generation(const config::Config& cfg, std::uint64_t number,
                                             const std::vector<std::uint16_t>& port_ids,
                                             const std::vector<Mac>& port_macs, NextHopSlots& slots,
                                             const std::vector<bool>& rx, std::uint64_t tsc_hz,
                                             const Generation* previous = nullptr,
                                             const config::Limits* previous_limits = nullptr);

} // namespace ptbsteer::control
