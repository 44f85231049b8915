// ptbsteer-sync's loop (docs/router-sync.md): read the router's kernel, compute each group's
// plan (plan.h), and keep every appliance's API groups equal to the plans. A burst of kernel
// notifications is one change: after `coalesce_ms` of quiet (at most 4x that after the first),
// the kernel is dumped again and what changed is pushed. Everything is pushed again at start,
// every `resync` seconds, and to an appliance that lost a group (a restart: the API's groups
// live in memory only) or answers again after failing. The hash sysctls change without any
// notification: they are read every 20 ms (a few small reads), and a change is one like any
// other.
//
// Threads: run() on one thread; metrics are read by the Exposer's thread through prometheus-cpp.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "sync/kernel.h"
#include "sync/plan.h"
#include "sync/sync_config.h"

namespace ptbsteer::sync {

class Syncer {
  public:
    using Clock = std::chrono::steady_clock;

    Syncer(SyncConfig config, std::string token, prometheus::Registry& registry);

    // The plans of every group for `state`, in the configuration's order.
    std::vector<Plan> plan_all(const KernelState& state) const;
    // Until `stop`: follows the kernel of config.netns. Throws std::runtime_error when the
    // namespace or netlink cannot be opened.
    void run(const std::atomic<bool>& stop);

  private:
    struct Remote {
        Appliance at;
        std::map<std::string, nlohmann::json> accepted; // group -> the body it serves
        std::map<std::string, nlohmann::json> refused;  // group -> a body it refused (4xx)
        bool reachable = true;
        Clock::time_point retry_at{};
        std::chrono::milliseconds backoff{100};
        prometheus::Gauge* generation = nullptr;
        prometheus::Gauge* in_sync = nullptr;
        prometheus::Gauge* lag = nullptr;
        prometheus::Counter* ok = nullptr;
        prometheus::Counter* refused_n = nullptr;
        prometheus::Counter* failed = nullptr;
    };

    void replan(Kernel& k);
    // Whether a neighbour entry some plan depends on changed validity since it was planned.
    bool neighbors_changed(Kernel& k) const;
    // Pushes what each appliance lacks (`force`: every plan). `changed_at`: when the kernel
    // change being pushed began, for the lag gauge.
    void push(bool force, Clock::time_point changed_at);
    bool push_group(Remote& r, const std::string& group, const nlohmann::json& body);
    // Lists each appliance's groups; one that lacks a group it had accepted forgets them all.
    void check_appliances();
    void count(const Events& e);

    SyncConfig c_;
    std::string token_;
    std::vector<Plan> plans_;
    Sysctls sysctls_;               // as the plans saw them
    std::vector<std::string> said_; // per group: the last sentence logged about its plan
    std::vector<Remote> remotes_;
    prometheus::Family<prometheus::Counter>& events_;
    prometheus::Family<prometheus::Gauge>& groups_;
    prometheus::Counter* dumps_ = nullptr;
};

} // namespace ptbsteer::sync
