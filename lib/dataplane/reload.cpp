#include "dataplane/reload.h"

#include <cstdio>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "config/restart_diff.h"
#include "dataplane/worker.h"

namespace ptbsteer::dataplane {
namespace {

using Clock = std::chrono::steady_clock;

// Room for next-hop names that later reloads add (generation.h): never fewer than 4096, and at
// least twice what the first configuration uses. 2 x 8 bytes per slot and lcore.
std::size_t slot_capacity(const config::Config& cfg) {
    std::size_t n = 0;
    for (const config::Group& g : cfg.groups)
        n += g.next_hops.size();
    return std::max<std::size_t>(4096, 2 * n);
}

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

std::string ReloadResult::summary() const {
    switch (outcome) {
    case ReloadOutcome::success: return fmt::format("reloaded: generation {} serves", generation);
    case ReloadOutcome::failure:
        return fmt::format("reload refused: {} error(s); generation {} keeps serving",
                           messages.size(), generation);
    case ReloadOutcome::restart_required:
        return fmt::format("reload refused: restart required; generation {} keeps serving",
                           generation);
    }
    return "?";
}

Reloader::Reloader(const config::Config& cfg, ReloadSetup setup)
    : setup_(std::move(setup)), running_(std::make_unique<config::Config>(cfg)),
      slots_(slot_capacity(cfg)) {
    live_ = build_generation(cfg, 1, setup_.port_ids, setup_.port_macs, slots_, setup_.rx,
                             setup_.tsc_hz);
    qsbr_ = make_qsbr(std::uint32_t(setup_.rx.size()));
    stats_.generation = 1;
}

Reloader::~Reloader() {
    stop_thread();
    retired_.clear();
    live_.reset();
    rte_free(qsbr_);
}

void Reloader::attach(Shared& s, std::vector<rte_ring*> rings) {
    shared_ = &s;
    rings_ = std::move(rings);
    s.qsbr = qsbr_;
    s.current.store(live_.get(), std::memory_order_release);
}

ReloadResult Reloader::reload() {
    const std::lock_guard lock(m_);
    ReloadResult r = attempt();
    r.generation = live_->number;
    ++stats_.results[std::size_t(r.outcome)];
    return r;
}

std::size_t Reloader::retained() {
    const std::lock_guard lock(m_);
    return retired_.size();
}

ReloadResult Reloader::attempt() {
    ReloadResult r;
    config::LoadResult loaded = config::load_config_file(setup_.config_path);
    if (!loaded.config) {
        for (const config::ConfigError& e : loaded.errors)
            r.messages.push_back(config::to_string(e));
        return r;
    }
    r.messages = config::restart_only_changes(*running_, *loaded.config);
    if (!r.messages.empty()) {
        r.outcome = ReloadOutcome::restart_required;
        return r;
    }
    std::unique_ptr<Generation> next;
    try {
        next = build_generation(*loaded.config, live_->number + 1, setup_.port_ids,
                                setup_.port_macs, slots_, setup_.rx, setup_.tsc_hz, live_.get());
    } catch (const std::length_error& e) {
        r.outcome = ReloadOutcome::restart_required;
        r.messages.push_back(e.what());
        return r;
    } catch (const std::exception& e) {
        // compile_tables' refusals (e.g. an ipip next-hop without a tunnel source) and DPDK's
        // (rte_lpm out of memory) have no line: name the file.
        r.messages.push_back(fmt::format("{}: {}", setup_.config_path, e.what()));
        return r;
    }
    publish(std::move(next));
    *running_ = std::move(*loaded.config);
    r.outcome = ReloadOutcome::success;
    return r;
}

void Reloader::publish(std::unique_ptr<Generation> next) {
    // Release: an lcore that loads the pointer (acquire) sees the generation fully built.
    shared_->current.store(next.get(), std::memory_order_release);
    stats_.generation = next->number;
    retired_.push_back(std::exchange(live_, std::move(next)));
    if (!free_retired())
        std::fprintf(stderr,
                     "ptbsteer: reload: an lcore did not pass a quiescent state or drain its ring "
                     "within %lld ms; %zu old generation(s) stay allocated until the next reload "
                     "or exit\n",
                     static_cast<long long>(setup_.grace_timeout.count()), retired_.size());
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
bool Reloader::free_retired() {
    if (retired_.empty()) return true;
    if (!grace_period() || !rings_drained() || !grace_period()) return false;
    retired_.clear(); // rte_lpm / rte_lpm6 tables freed with their PrefixTable
    return true;
}

bool Reloader::grace_period() const {
    const std::uint64_t token = rte_rcu_qsbr_start(qsbr_);
    const auto deadline = Clock::now() + setup_.grace_timeout;
    // Offline readers (lcores that stopped) do not hold this up.
    while (rte_rcu_qsbr_check(qsbr_, token, false) != 1) {
        if (Clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    return true;
}

bool Reloader::rings_drained() const {
    const auto deadline = Clock::now() + setup_.grace_timeout;
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

void Reloader::start_thread(std::atomic<bool>& requested, const std::atomic<bool>& stop) {
    thread_ = std::thread([this, &requested, &stop] {
        while (!stop.load(std::memory_order_relaxed) &&
               !thread_stop_.load(std::memory_order_relaxed)) {
            if (requested.exchange(false)) {
                const ReloadResult r = reload();
                std::printf("ptbsteer: SIGHUP: %s\n", r.summary().c_str());
                for (const std::string& m : r.messages)
                    std::fprintf(stderr, "  %s\n", m.c_str());
                std::fflush(stdout);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    });
}

void Reloader::stop_thread() {
    thread_stop_ = true;
    if (thread_.joinable()) thread_.join();
}

} // namespace ptbsteer::dataplane
