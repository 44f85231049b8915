// Publishing generations to the lcores with RCU (rte_rcu_qsbr), and retiring the ones they no
// longer see. docs/architecture.md ("Reload") gives the argument why no lcore ever reads a freed
// table. Every way the serving tables change (a reload today; the group API and router sync
// next) goes through publish(), so there is one place that knows how to retire.
//
// Threads: any control thread, serialised by the caller (the Reloader's mutex). Lcores never
// call into this class: they read Shared::current once per burst and report quiescence once
// per loop iteration (lib/datapath/worker.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "datapath/generation.h"

struct rte_rcu_qsbr;
struct rte_ring;

namespace ptbsteer::datapath {
struct Shared;
}

namespace ptbsteer::control {

using namespace datapath; // control builds, publishes and observes the datapath's types

class Publisher {
  public:
    // An RCU variable with one reader per worker, all registered and online: no lcore can hold
    // a table before the writer knows to wait for it. `first` serves until the first publish().
    // Needs the EAL.
    Publisher(std::unique_ptr<Generation> first, std::uint32_t readers,
              std::chrono::milliseconds grace_timeout);
    // Frees every generation and the RCU variable. Only after the lcores have stopped.
    ~Publisher();
    Publisher(const Publisher&) = delete;
    Publisher& operator=(const Publisher&) = delete;

    // Before the lcores start: where to publish (`s.current`, `s.qsbr` are set here) and the
    // RX -> TX rings whose in-flight decisions may still point into an older generation.
    void attach(Shared& s, std::vector<rte_ring*> rings);

    // `next` serves from now on; the one it replaces is freed once no lcore and no mbuf can
    // refer to it. Returns false when a wait timed out: the old generations then stay allocated
    // until a later publish() or destruction (counted by retained()).
    bool publish(std::unique_ptr<Generation> next);

    const Generation& live() const { return *live_; }
    std::size_t retained() const { return retired_.size(); }
    // Every generation an lcore or an mbuf may still refer to: the live one and the retained.
    std::vector<const Generation*> alive() const;

  private:
    bool free_retired(); // false: a wait timed out, `retired_` kept for the next try
    bool grace_period() const;
    bool rings_drained() const;

    std::unique_ptr<Generation> live_;
    std::vector<std::unique_ptr<Generation>> retired_; // published over, waiting for grace
    rte_rcu_qsbr* qsbr_ = nullptr;
    Shared* shared_ = nullptr;
    std::vector<rte_ring*> rings_;
    std::chrono::milliseconds grace_timeout_;
};

} // namespace ptbsteer::control
