// Configuration -> Generation (lib/datapath/generation.h), on the control thread: the compiled
// tables, the next-hop counter slots that survive reloads, and the RX lcores' rate limiters.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "control/compile_tables.h"
#include "control/transition.h"
#include "datapath/generation.h"
#include "datapath/tables.h"

namespace ptbsteer::control {

using namespace datapath; // control builds, publishes and observes the datapath's types

// Per-next-hop counters need an index that survives reloads: Tables' next-hop index is only
// valid within one generation. Each "group/next_hop" name gets a slot the first time a
// generation using it is published and keeps it while any generation an lcore may still read
// uses it; LcoreCounters' per-next-hop arrays are sized to `capacity` at start and never
// resized while lcores run. Once no such generation names it (sweep(), after a publish), the
// slot is free for a new name: the old name's counts so far are kept as its retired totals (its
// series stays, no longer growing) and the slot's counts start from a baseline, so a reused
// slot counts from zero for its new name. Only lcores write the counters; this class only reads
// them. Thread-safe: the control thread assigns and sweeps, the metrics thread reads totals.
class NextHopSlots {
  public:
    struct Name {
        std::string group;
        std::string next_hop;
        friend auto operator<=>(const Name&, const Name&) = default;
    };
    // Frames sent to one next-hop, by how (ptbsteer_delivered_packets_total's modes).
    struct Counts {
        std::uint64_t unicast = 0;
        std::uint64_t copies = 0;     // of replicated PTBs
        std::uint64_t transition = 0; // to an earlier owner during a transition
        std::uint64_t all() const { return unicast + copies + transition; }
    };
    struct Total {
        Name name;
        Counts sent;
    };

    explicit NextHopSlots(std::size_t capacity) : capacity_(capacity) {}

    // The slot of each name, in the order given (Tables order: hop_names()). Names holding a
    // slot keep it; new names take free slots. nullopt, and nothing assigned, when the new
    // names would not fit in `capacity`.
    std::optional<std::vector<std::uint32_t>> assign(const std::vector<Name>& names);
    // Frees the slots no generation in `alive` refers to (counter_slot of their next-hops),
    // keeping their names' counts so far from `counters` (every lcore's).
    void sweep(const std::vector<const Generation*>& alive,
               const std::vector<LcoreCounters>& counters);

    // Every next-hop name seen since start with its frames so far: the slot's counts in `sum`
    // (the lcores' counters summed) since the name took it, plus its retired totals. By name.
    std::vector<Total> totals(const LcoreCounters& sum) const;
    std::size_t capacity() const { return capacity_; }
    // How many slots `names` would use in all (held names + its new ones).
    std::size_t needed(const std::vector<Name>& names) const;
    std::size_t in_use() const;

  private:
    std::size_t find(const std::string& group, const std::string& next_hop) const; // or size
    mutable std::mutex m_;
    std::vector<Name> names_;             // by slot; an empty group: free
    std::map<Name, std::size_t> slot_of_; // the held names' slots: find() is O(log n)
    std::vector<Counts> base_;            // by slot: its counts when its name took it
    std::map<Name, Counts> retired_;
    std::size_t capacity_;
};

// Rate limiters for each worker (RX lcores get `limits` divided among them, docs/security.md;
// others default limiters that are never used). `rx[i]`: worker i polls RX queues.
std::shared_ptr<GuardSet> build_guards(const config::Limits& limits, const std::vector<bool>& rx,
                                       std::uint64_t tsc_hz);

class NeighborTable; // neighbors.h

// The "group/next_hop" names of the next-hops `cfg` and `departed` give, in Tables order: every
// group's next-hops, then the departed ones (transition.h).
std::vector<NextHopSlots::Name> hop_names(const config::Config& cfg,
                                          const std::vector<DepartedHop>& departed);

// Compiles `cfg` into a generation: Tables (compile_tables), next-hop counter slots, guards
// (taken over from `previous` when `previous_limits` equal cfg's). Throws std::runtime_error /
// std::invalid_argument with a sentence when the tables cannot be built, and
// std::length_error when the counter slots are exhausted (a restart is needed).
// `previous` (with the limits it was built from) is the generation serving now, if any.
// `neighbors`: where its next-hops are bound to their MACs or `via` entries (its words become the
// tables'); without one the tables get their own words (static MACs only resolve).
// `past` (nullable): the versions of cfg's groups that served before, for their transitions.
std::unique_ptr<Generation> build_generation(
    const config::Config& cfg, std::uint64_t number, const std::vector<std::uint16_t>& port_ids,
    const std::vector<Mac>& port_macs, NextHopSlots& slots, const std::vector<bool>& rx,
    std::uint64_t tsc_hz, const Generation* previous = nullptr,
    const config::Limits* previous_limits = nullptr, steer::PrefixRecycler* recycler = nullptr,
    NeighborTable* neighbors = nullptr, const PastState* past = nullptr);

} // namespace ptbsteer::control
