#include "control/publish.h"

#include <stdexcept>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "datapath/worker.h"

namespace ptbsteer::control {
namespace {

using Clock = std::chrono::steady_clock;

rte_rcu_qsbr* make_qsbr(std::uint32_t readers) {
    const std::size_t size = rte_rcu_qsbr_get_memsize(readers);
    auto* v = static_cast<rte_rcu_qsbr*>(rte_zmalloc("ptbsteer_qsbr", size, RTE_CACHE_LINE_SIZE));
    if (!v) throw std::runtime_error("out of memory for the RCU variable");
    if (rte_rcu_qsbr_init(v, readers) != 0) {
        rte_free(v);
        throw std::runtime_error(fmt::format("rte_rcu_qsbr_init: {}", rte_strerror(rte_errno)));
    }
    // Registered and online before any lcore runs: from its first burst on, every reader is one
    // the writer waits for (no window in which an lcore holds a table unseen).
    for (std::uint32_t i = 0; i < readers; ++i) {
        rte_rcu_qsbr_thread_register(v, i);
        rte_rcu_qsbr_thread_online(v, i);
    }
    return v;
}

} // namespace

Publisher::Publisher(std::unique_ptr<Generation> first, std::uint32_t readers,
                     std::chrono::milliseconds grace_timeout)
    : live_(std::move(first)), qsbr_(make_qsbr(readers)), grace_timeout_(grace_timeout) {}

Publisher::~Publisher() {
    retired_.clear();
    live_.reset();
    rte_free(qsbr_);
}

void Publisher::attach(Shared& s, std::vector<rte_ring*> rings) {
    shared_ = &s;
    rings_ = std::move(rings);
    s.qsbr = qsbr_;
    s.current.store(live_.get(), std::memory_order_release);
}

bool Publisher::publish(std::unique_ptr<Generation> next) {
    // Release: an lcore that loads the pointer (acquire) sees the generation fully built.
    if (shared_) shared_->current.store(next.get(), std::memory_order_release);
    retired_.push_back(std::exchange(live_, std::move(next)));
    return free_retired();
}

// Why three waits (docs/architecture.md, "Reload"):
// 1. A grace period: every lcore has finished the burst it began with an old pointer, and loads
//    the new one from then on. Every decision made under an old generation is now either
//    delivered (an lcore with both roles decides and delivers within one burst) or waiting in
//    an RX -> TX ring, carrying its generation's Tables pointer with the mbuf.
// 2. Each ring's consumer has passed the producer position seen after (1): the TX lcores have
//    dequeued every such decision. No new one can be enqueued: (1) is over.
// 3. A second grace period: the TX lcore that dequeued the last of them has finished
//    delivering its burst (it reports quiescence only between bursts).
// Then no lcore and no mbuf refers to a retired generation.
bool Publisher::free_retired() {
    if (retired_.empty()) return true;
    if (!grace_period() || !rings_drained() || !grace_period()) return false;
    retired_.clear(); // rte_lpm / rte_lpm6 tables freed with their PrefixTable
    return true;
}

bool Publisher::grace_period() const {
    const std::uint64_t token = rte_rcu_qsbr_start(qsbr_);
    const auto deadline = Clock::now() + grace_timeout_;
    // Offline readers (lcores that stopped) do not hold this up.
    while (rte_rcu_qsbr_check(qsbr_, token, false) != 1) {
        if (Clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    return true;
}

bool Publisher::rings_drained() const {
    const auto deadline = Clock::now() + grace_timeout_;
    for (const rte_ring* r : rings_) {
        // rte_ring's head/tail positions are free-running 32-bit counters (rte_ring_core.h);
        // the SP/SC rings here update `tail` with release semantics after copying entries.
        const std::uint32_t produced = __atomic_load_n(&r->prod.tail, __ATOMIC_ACQUIRE);
        while (std::int32_t(__atomic_load_n(&r->cons.tail, __ATOMIC_ACQUIRE) - produced) < 0) {
            if (Clock::now() > deadline) return false;
            std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
    }
    return true;
}

std::vector<const Generation*> Publisher::alive() const {
    std::vector<const Generation*> out{live_.get()};
    for (const auto& g : retired_)
        out.push_back(g.get());
    return out;
}

} // namespace ptbsteer::control
