// The Prometheus view of a running appliance. A prometheus::Collectable that builds every metric
// family at scrape time from the per-lcore counters (summed here), DPDK port statistics, ring and
// mempool occupancy: the fast path never touches a prometheus-cpp object, an atomic or a lock.
// Ownership: the lcores write their LcoreCounters; this class, on civetweb's threads, only reads.
// docs/metrics.md lists every family.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "control/runtime.h"

namespace ptbsteer::metrics {

struct BuildInfo {
    std::string version;     // ptbsteer's
    double start_time_s = 0; // process start, seconds since the Unix epoch
};

class Collector : public prometheus::Collectable {
  public:
    Collector(const control::Runtime& rt, BuildInfo build) : rt_(rt), build_(std::move(build)) {}
    std::vector<prometheus::MetricFamily> Collect() const override;

  private:
    const control::Runtime& rt_;
    BuildInfo build_;
    mutable std::mutex dpdk_; // two concurrent scrapes must not call a PMD's stats_get at once
};

// The names of every family Collect() returns, in order (tests, docs).
std::vector<std::string> family_names(const std::vector<prometheus::MetricFamily>& families);

} // namespace ptbsteer::metrics
