#include "control/reload.h"

#include <cstdio>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include "config/restart_diff.h"

namespace ptbsteer::control {
namespace {

// Room for next-hop names that later reloads add (generation.h): never fewer than 4096, and at
// least twice what the first configuration uses. 2 x 8 bytes per slot and lcore.
std::size_t slot_capacity(const config::Config& cfg) {
    std::size_t n = 0;
    for (const config::Group& g : cfg.groups)
        n += g.next_hops.size();
    return std::max<std::size_t>(4096, 2 * n);
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
      slots_(slot_capacity(cfg)),
      publisher_(build_generation(cfg, 1, setup_.port_ids, setup_.port_macs, slots_, setup_.rx,
                                  setup_.tsc_hz),
                 std::uint32_t(setup_.rx.size()), setup_.grace_timeout) {
    stats_.generation = 1;
}

Reloader::~Reloader() {
    stop_thread();
}

ReloadResult Reloader::reload() {
    const std::lock_guard lock(m_);
    ReloadResult r = attempt();
    r.generation = live().number;
    ++stats_.results[std::size_t(r.outcome)];
    return r;
}

std::size_t Reloader::retained() {
    const std::lock_guard lock(m_);
    return publisher_.retained();
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
        next =
            build_generation(*loaded.config, live().number + 1, setup_.port_ids, setup_.port_macs,
                             slots_, setup_.rx, setup_.tsc_hz, &live(), &running_->limits);
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
    stats_.generation = next->number;
    const bool freed = publisher_.publish(std::move(next));
    if (!freed)
        std::fprintf(stderr,
                     "ptbsteer: reload: an lcore did not pass a quiescent state or drain its ring "
                     "within %lld ms; %zu old generation(s) stay allocated until the next reload "
                     "or exit\n",
                     static_cast<long long>(setup_.grace_timeout.count()), publisher_.retained());
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

} // namespace ptbsteer::control
