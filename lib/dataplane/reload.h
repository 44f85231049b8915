// Hot reload: re-read the configuration file, validate it, compile a new Generation, publish it
// to the lcores with RCU (rte_rcu_qsbr), free the old one after its grace period.
// docs/architecture.md ("Reload") gives the argument why no lcore ever reads a freed table;
// docs/configuration.md ("Reload") what can and cannot change without a restart.
//
// Threads: reload() runs on whichever control thread asks (the reload thread on SIGHUP, a
// civetweb thread for POST /reload), serialised by a mutex. Lcores never call into this class:
// they read Shared::current once per burst and report quiescence once per loop iteration.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "config/config.h"
#include "dataplane/generation.h"

struct rte_rcu_qsbr;
struct rte_ring;

namespace ptbsteer::dataplane {

struct Shared;

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

// Readable from any thread (metrics, exit report).
struct ReloadStats {
    std::atomic<std::uint64_t> generation{0};
    std::array<std::atomic<std::uint64_t>, reload_outcome_count> results{}; // by ReloadOutcome
};

struct ReloadSetup {
    std::string config_path;             // re-read on every reload
    std::vector<std::uint16_t> port_ids; // by config port index
    std::vector<Mac> port_macs;
    std::vector<bool> rx; // by worker (config lcore) index: polls RX queues
    std::uint64_t tsc_hz = 0;
    std::chrono::milliseconds grace_timeout{2000}; // per wait; then the free is deferred
};

class Reloader {
  public:
    // Builds generation 1 from `cfg` (throws like build_generation) and an RCU variable with one
    // reader per worker, all registered and online: no lcore can hold a table before the writer
    // knows to wait for it. Needs the EAL.
    Reloader(const config::Config& cfg, ReloadSetup setup);
    // Frees every generation and the RCU variable. Only after the lcores have stopped.
    ~Reloader();
    Reloader(const Reloader&) = delete;
    Reloader& operator=(const Reloader&) = delete;

    // Before the lcores start: where to publish (`s.current`, `s.qsbr` are set here) and the
    // RX -> TX rings whose in-flight decisions still point into an older generation.
    void attach(Shared& s, std::vector<rte_ring*> rings);

    ReloadResult reload(); // any thread; one at a time
    const ReloadStats& stats() const { return stats_; }
    const NextHopSlots& slots() const { return slots_; }
    const Generation& live() const { return *live_; } // control threads only
    // Generations published over but not yet freed (a grace period or ring drain timed out).
    std::size_t retained();

    // The reload thread: every 10 ms, reloads if `requested` was set (the SIGHUP handler sets
    // it) and logs the outcome; returns when `stop` is set. stop_thread() joins it.
    void start_thread(std::atomic<bool>& requested, const std::atomic<bool>& stop);
    void stop_thread();

  private:
    ReloadResult attempt();
    void publish(std::unique_ptr<Generation> next);
    bool free_retired(); // false: a wait timed out, `retired_` kept for the next try
    bool grace_period() const;
    bool rings_drained() const;

    ReloadSetup setup_;
    std::mutex m_;
    std::unique_ptr<config::Config> running_; // what live_ was built from
    NextHopSlots slots_;
    std::unique_ptr<Generation> live_;
    std::vector<std::unique_ptr<Generation>> retired_; // published over, waiting for grace
    rte_rcu_qsbr* qsbr_ = nullptr;
    Shared* shared_ = nullptr;
    std::vector<rte_ring*> rings_;
    ReloadStats stats_;
    std::thread thread_;
    std::atomic<bool> thread_stop_{false};
};

} // namespace ptbsteer::dataplane
