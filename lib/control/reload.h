// Hot reload: re-read the configuration file, validate it, compile a new Generation (build.h),
// publish it to the lcores and retire the old one (publish.h).
// docs/configuration.md ("Reload") says what can and cannot change without a restart.
//
// Threads: reload() runs on whichever control thread asks (the reload thread on SIGHUP, a
// civetweb thread for POST /reload), serialised by a mutex. Lcores never call into this class:
// they read Shared::current once per burst and report quiescence once per loop iteration.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "config/config.h"
#include "control/build.h"
#include "control/neighbors.h"
#include "control/publish.h"
#include "control/transition.h"

struct rte_ring;

namespace ptbsteer::control {

using namespace datapath; // control builds, publishes and observes the datapath's types

enum class ReloadOutcome : std::uint8_t {
    success,          // a new generation serves
    failure,          // the file is unreadable or invalid, or its tables could not be built
    restart_required, // it changes what only a restart can (ports, lcores, ...)
};
inline constexpr std::size_t reload_outcome_count = 3;
constexpr std::string_view name(ReloadOutcome o) {
    switch (o) {
    case ReloadOutcome::success: return "success";
    case ReloadOutcome::failure: return "failure";
    case ReloadOutcome::restart_required: return "restart_required";
    }
    return "?";
}

struct ReloadResult {
    ReloadOutcome outcome = ReloadOutcome::failure;
    std::uint64_t generation = 0;      // the generation serving after the attempt
    std::vector<std::string> messages; // one sentence each: file:line:col errors, or what changed
    std::string summary() const;       // one line, e.g. "reloaded: generation 3 serves"
};

// What a change of an API-owned group did (lib/api answers it with an HTTP status).
enum class UpdateOutcome : std::uint8_t {
    served,     // a new generation serves it
    invalid,    // the group is wrong on its own; nothing changed
    collision,  // its name or a prefix clashes with another group; nothing changed
    file_owned, // the configuration file owns a group of that name; nothing changed
    not_found,  // no API-owned group of that name (DELETE)
};
struct UpdateResult {
    UpdateOutcome outcome = UpdateOutcome::invalid;
    std::uint64_t generation = 0; // the generation serving after the attempt
    std::vector<config::ConfigError> errors;
    std::optional<config::Group> group; // put_group: the group as it now serves
};

// A next-hop of the serving generation, with the slot its counters and neighbour word use.
struct ServingHop {
    std::string group;
    std::string name;
    std::uint32_t slot = 0;
};

// When a serving group last changed (ptbsteer_group_generation and _updated_timestamp_seconds).
struct GroupChange {
    std::uint64_t generation = 0; // the first generation that serves it as it is now
    double unix_time = 0;         // when that generation was published
    config::Source source = config::Source::file;
};

// Readable from any thread (metrics, exit report).
struct ReloadStats {
    std::atomic<std::uint64_t> generation{0};
    std::array<std::atomic<std::uint64_t>, reload_outcome_count> results{}; // by ReloadOutcome
    // Earlier versions forgotten before their window closed: their departed next-hops would
    // have held more than half the counter slots.
    std::atomic<std::uint64_t> transition_versions_dropped{0};
};

struct ReloadSetup {
    std::string config_path;             // re-read on every reload
    std::vector<std::uint16_t> port_ids; // by config port index
    std::vector<Mac> port_macs;
    std::vector<bool> rx; // by worker (config lcore) index: polls RX queues
    std::uint64_t tsc_hz = 0;
    std::chrono::milliseconds grace_timeout{2000}; // per wait; then the free is deferred
    // Every lcore's counters (read when a next-hop's slot is freed); null in tests without.
    const std::vector<LcoreCounters>* counters = nullptr;
};

class Reloader {
  public:
    // Builds generation 1 from `cfg` (throws like build_generation) and its Publisher (one RCU
    // reader per worker). Needs the EAL.
    Reloader(const config::Config& cfg, ReloadSetup setup);
    // Frees every generation (the Publisher's). Only after the lcores have stopped.
    ~Reloader();
    Reloader(const Reloader&) = delete;
    Reloader& operator=(const Reloader&) = delete;

    // Before the lcores start: where to publish (`s.current`, `s.qsbr` are set here) and the
    // RX -> TX rings whose in-flight decisions still point into an older generation.
    void attach(Shared& s, std::vector<rte_ring*> rings) { publisher_.attach(s, std::move(rings)); }

    ReloadResult reload(); // any thread; one at a time
    // Adds or replaces the API-owned group `name`; it serves completely or nothing changes.
    // Any thread; one change or reload at a time.
    UpdateResult put_group(const std::string& name, const config::GroupDoc& doc);
    UpdateResult delete_group(const std::string& name);
    // A copy of what serves: the file's groups, then the API's (source: api).
    config::Config serving();
    // By group name: every serving group's last change. Any thread.
    std::map<std::string, GroupChange> group_changes() const;
    // Calls f(live generation) with no publish in between (the generation outlives the call).
    template <typename F>
    auto with_live(F&& f) {
        const std::lock_guard lock(m_);
        return f(live());
    }
    // Every next-hop of the serving generation, group after group; `group` (when given) only
    // that group's. Any thread.
    std::vector<ServingHop> serving_hops(const std::string* group = nullptr);
    // When a transition window has closed: publishes the same configuration again without its
    // version (its departed next-hops stop being resolved, its slots are freed, the group's
    // PTBs take the plain path). True when it published. The reload thread calls it every
    // 10 ms; any thread.
    bool expire_transitions();
    // By serving group: how many of its past versions still own flows at `now` (TSC). Any thread.
    std::vector<std::pair<std::string, unsigned>> transition_versions(std::uint64_t now);
    const ReloadStats& stats() const { return stats_; }
    const NextHopSlots& slots() const { return slots_; }
    // The next-hops' neighbour entries (neighbors.h): the appliance starts its thread.
    NeighborTable& neighbors() { return neighbors_; }
    const NeighborTable& neighbors() const { return neighbors_; }
    const Generation& live() const { return publisher_.live(); } // control threads only
    // Generations published over but not yet freed (a grace period or ring drain timed out).
    std::size_t retained();

    // The reload thread: every 10 ms, reloads if `requested` was set (the SIGHUP handler sets
    // it) and logs the outcome; returns when `stop` is set. stop_thread() joins it.
    void start_thread(std::atomic<bool>& requested, const std::atomic<bool>& stop);
    void stop_thread();

  private:
    ReloadResult attempt();
    // The generation serving `next`, with the transitions `next` starts or continues (the
    // history it would leave in `history`; `dropped`: versions forgotten for want of counter
    // slots). Throws like build_generation.
    std::unique_ptr<Generation> build(const config::Config& next, History& history,
                                      std::uint64_t& dropped);
    // Builds a generation from `next` and publishes it; false (with messages) if it cannot be
    // built. `origin` names the source in messages without a line.
    bool serve(const config::Config& next, const std::string& origin,
               std::vector<std::string>& messages, bool& restart);
    config::LoadResult merged(const config::Config& file,
                              const std::map<std::string, config::Group>& api) const;
    // True, with the refusal in `r`, when the file owns a group of that name.
    bool file_owns(const std::string& name, UpdateResult& r) const;
    // Serves the file's groups with `api` as the API's; on success `api` becomes api_groups_.
    // `changed` (in `api`): the group a PUT put, returned in the result.
    UpdateResult change(std::map<std::string, config::Group>& api, const std::string& origin,
                        const config::Group* changed);
    void publish(std::unique_ptr<Generation> next);

    ReloadSetup setup_;
    std::mutex m_;
    std::unique_ptr<config::Config> running_;         // what the live generation was built from
    config::Config file_;                             // the file's part of it (no API groups)
    std::map<std::string, config::Group> api_groups_; // read once (put_group), by name
    History history_; // the live generation's groups' past versions (transition.h)
    // The TSC at which the first of them stops owning flows (UINT64_MAX: none).
    std::atomic<std::uint64_t> next_expiry_{UINT64_MAX};
    mutable std::mutex changes_m_; // apart from m_: a scrape never waits for a reload
    std::map<std::string, GroupChange> changes_;
    void note_changes(const config::Config& before, const config::Config& after);
    NextHopSlots slots_;
    // Before the publisher: every generation's next-hops are bound here as it is built.
    NeighborTable neighbors_;
    // Before the publisher: its generations give their prefix tables back to it as they go.
    steer::PrefixRecycler recycler_;
    Publisher publisher_;
    ReloadStats stats_;
    std::thread thread_;
    std::atomic<bool> thread_stop_{false};
};

} // namespace ptbsteer::control
