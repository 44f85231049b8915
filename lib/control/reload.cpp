#include "control/reload.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <set>
#include <stdexcept>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <rte_cycles.h>

#include "config/restart_diff.h"

namespace ptbsteer::control {
namespace {

// Room for the next-hop names serving at once, and for a change that replaces them all (old
// and new names hold slots until the old generation is retired): never fewer than 16384 (four
// groups of the largest size, Selector::max_next_hops), and at least twice what the first
// configuration uses. 2 x 8 bytes per slot and lcore: 256 KiB per lcore.
std::size_t slot_capacity(const config::Config& cfg) {
    std::size_t n = 0;
    for (const config::Group& g : cfg.groups)
        n += g.next_hops.size();
    return std::max<std::size_t>(16384, 2 * n);
}

const std::vector<LcoreCounters> no_counters;

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
    : setup_(std::move(setup)), running_(std::make_unique<config::Config>(cfg)), file_(cfg),
      slots_(slot_capacity(cfg)), neighbors_(slots_.capacity()),
      publisher_(build_generation(cfg, 1, setup_.port_ids, setup_.port_macs, slots_, setup_.rx,
                                  setup_.tsc_hz, nullptr, nullptr, &recycler_, &neighbors_),
                 std::uint32_t(setup_.rx.size()), setup_.grace_timeout) {
    stats_.generation = 1;
    note_changes(config::Config{}, cfg);
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

std::vector<ServingHop> Reloader::serving_hops(const std::string* group) {
    return with_live([&](const Generation& g) {
        std::vector<ServingHop> v;
        const Tables& t = g.tables;
        for (std::size_t gi = 0; gi < t.groups.size(); ++gi) {
            if (group && t.group_names[gi] != *group) continue;
            // group_names holds keys (ROUTER/NAME for a router's state), next_hop_names
            // NAME/NEXT_HOP: a group's states share their next-hops' counters.
            const std::string& key = t.group_names[gi];
            const std::size_t name_len = key.size() - (key.find('/') + 1);
            for (std::uint32_t i = 0; i < t.groups[gi].next_hop_count; ++i) {
                const std::uint32_t idx = t.groups[gi].first_next_hop + i;
                v.push_back({key, t.next_hop_names[idx].substr(name_len + 1),
                             t.next_hops[idx].counter_slot});
            }
        }
        return v;
    });
}

std::vector<std::pair<std::string, unsigned>> Reloader::transition_versions(std::uint64_t now) {
    return with_live([&](const Generation& g) {
        std::vector<std::pair<std::string, unsigned>> v;
        const Tables& t = g.tables;
        for (std::size_t gi = 0; gi < t.groups.size(); ++gi) {
            unsigned open = 0;
            for (std::uint32_t k = 0; k < t.groups[gi].past_count; ++k)
                open += now < t.past_groups[t.groups[gi].past_first + k].until_tsc;
            v.emplace_back(t.group_names[gi], open);
        }
        return v;
    });
}

std::size_t Reloader::retained() {
    const std::lock_guard lock(m_);
    return publisher_.retained();
}

config::LoadResult Reloader::merged(const config::Config& file,
                                    const std::map<std::string, config::Group>& api) const {
    std::vector<config::Group> extra;
    for (const auto& [name, g] : api)
        extra.push_back(g);
    return config::with_groups(file, std::move(extra));
}

std::unique_ptr<Generation> Reloader::build(const config::Config& next, History& history,
                                            std::uint64_t& dropped) {
    const std::uint64_t now = rte_rdtsc();
    history = next_history(history_, *running_, next, now, setup_.tsc_hz);
    keep_compiled(history, live().tables);
    // Departed next-hops hold counter slots until a later generation drops them. A generation
    // holding at most half the slots leaves room for the next change to replace every name (as
    // without transitions), so the versions whose window ends first go when they would need more.
    // Distinct names: a group's states share them (and their counter slots).
    std::set<std::pair<std::string_view, std::string_view>> names;
    for (const config::Group& g : next.groups)
        for (const config::NextHop& h : g.next_hops)
            names.emplace(g.name, h.name);
    const std::size_t serving = names.size();
    while (serving + departed_hops(next, history).size() > slots_.capacity() / 2 &&
           drop_first_ending(history, next, setup_.tsc_hz))
        ++dropped;
    const PastState past{&history, now, setup_.tsc_hz};
    return build_generation(next, live().number + 1, setup_.port_ids, setup_.port_macs, slots_,
                            setup_.rx, setup_.tsc_hz, &live(), &running_->limits, &recycler_,
                            &neighbors_, &past);
}

bool Reloader::expire_transitions() {
    if (rte_rdtsc() < next_expiry_.load(std::memory_order_relaxed)) return false;
    const std::lock_guard lock(m_);
    if (rte_rdtsc() < next_expiry_.load(std::memory_order_relaxed)) return false;
    std::vector<std::string> messages;
    bool restart = false;
    // The same configuration: next_history() leaves out the versions whose window closed.
    const config::Config same = *running_;
    if (serve(same, "transition", messages, restart)) return true;
    for (const std::string& m : messages)
        std::fprintf(stderr, "ptbsteer: ending a transition: %s\n", m.c_str());
    next_expiry_ = rte_rdtsc() + setup_.tsc_hz; // try again in a second
    return false;
}

bool Reloader::serve(const config::Config& next, const std::string& origin,
                     std::vector<std::string>& messages, bool& restart) {
    std::unique_ptr<Generation> gen;
    History history;
    std::uint64_t dropped = 0;
    try {
        gen = build(next, history, dropped);
    } catch (const std::length_error& e) {
        restart = true;
        messages.push_back(e.what());
        return false;
    } catch (const std::exception& e) {
        // compile_tables' refusals (e.g. an ipip next-hop without a tunnel source) and DPDK's
        // (rte_lpm out of memory) have no line: name the source.
        messages.push_back(fmt::format("{}: {}", origin, e.what()));
        return false;
    }
    publish(std::move(gen));
    note_changes(*running_, next);
    *running_ = next;
    history_ = std::move(history);
    stats_.transition_versions_dropped += dropped;
    // When the reload thread publishes again without the first version whose window closes.
    std::uint64_t first_end = UINT64_MAX;
    for (const config::Group& g : running_->groups)
        if (const auto it = history_.find(g.key()); it != history_.end())
            for (const PastVersion& v : it->second)
                first_end = std::min(first_end, window_end(v, g, setup_.tsc_hz));
    next_expiry_ = first_end;
    return true;
}

void Reloader::note_changes(const config::Config& before, const config::Config& after) {
    const double now =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    std::map<std::string, GroupChange> next;
    const std::lock_guard lock(changes_m_);
    for (const config::Group& g : after.groups) {
        const auto old = std::find_if(before.groups.begin(), before.groups.end(),
                                      [&](const config::Group& b) { return b.key() == g.key(); });
        const auto kept = changes_.find(g.key());
        if (old != before.groups.end() && config::same_group(*old, g) && kept != changes_.end())
            next[g.key()] = kept->second;
        else
            next[g.key()] = GroupChange{live().number, now, g.source};
    }
    changes_ = std::move(next);
}

std::map<std::string, GroupChange> Reloader::group_changes() const {
    const std::lock_guard lock(changes_m_);
    return changes_;
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
    // The API's groups stay as they are: the file's new groups must live beside them.
    config::LoadResult next = merged(*loaded.config, api_groups_);
    if (!next.config) {
        for (const config::ConfigError& e : next.errors)
            r.messages.push_back(config::to_string(e));
        return r;
    }
    bool restart = false;
    if (!serve(*next.config, setup_.config_path, r.messages, restart)) {
        if (restart) r.outcome = ReloadOutcome::restart_required;
        return r;
    }
    file_ = std::move(*loaded.config);
    r.outcome = ReloadOutcome::success;
    return r;
}

bool Reloader::file_owns(const std::string& name, UpdateResult& r) const {
    for (const config::Group& g : file_.groups)
        if (!g.derived && g.key() == name) {
            r.outcome = UpdateOutcome::file_owned;
            r.errors.push_back({{"api:" + name, 0, 0},
                                fmt::format("group '{}' is owned by the configuration file {}; "
                                            "change it there",
                                            name, setup_.config_path),
                                true});
            return true;
        }
    return false;
}

UpdateResult Reloader::put_group(const std::string& name, const config::GroupDoc& doc) {
    const std::lock_guard lock(m_);
    UpdateResult r;
    r.generation = live().number;
    if (file_owns(name, r)) return r;
    config::GroupRead read = config::read_group(file_, doc);
    if (!read.group) {
        r.errors = std::move(read.errors);
        return r;
    }
    // Nothing changes unless it serves: the candidate set is a copy.
    std::map<std::string, config::Group> api = api_groups_;
    api[name] = std::move(*read.group);
    return change(api, doc.origin, &api[name]);
}

UpdateResult Reloader::delete_group(const std::string& name) {
    const std::lock_guard lock(m_);
    UpdateResult r;
    r.generation = live().number;
    if (!api_groups_.contains(name)) {
        if (!file_owns(name, r)) {
            r.outcome = UpdateOutcome::not_found;
            r.errors.push_back({{"api:" + name, 0, 0},
                                fmt::format("no group '{}' was put through the API", name)});
        }
        return r;
    }
    std::map<std::string, config::Group> api = api_groups_;
    api.erase(name);
    return change(api, "api:" + name, nullptr);
}

UpdateResult Reloader::change(std::map<std::string, config::Group>& api, const std::string& origin,
                              const config::Group* changed) {
    UpdateResult r;
    config::LoadResult next = merged(file_, api);
    std::vector<std::string> messages;
    bool restart = false;
    if (next.config && serve(*next.config, origin, messages, restart)) {
        r.outcome = UpdateOutcome::served;
        if (changed) r.group = *changed;
        api_groups_ = std::move(api);
        r.generation = live().number;
        return r;
    }
    r.generation = live().number;
    r.errors = std::move(next.errors);
    for (std::string& m : messages)
        r.errors.push_back({{origin, 0, 0}, std::move(m)});
    bool clash = false;
    for (const config::ConfigError& e : r.errors)
        clash |= e.collision;
    r.outcome = clash ? UpdateOutcome::collision : UpdateOutcome::invalid;
    return r;
}

config::Config Reloader::serving() {
    const std::lock_guard lock(m_);
    return *running_;
}

void Reloader::publish(std::unique_ptr<Generation> next) {
    stats_.generation = next->number;
    const bool freed = publisher_.publish(std::move(next));
    // Next-hops no generation names any more give their slots back (build.h).
    slots_.sweep(publisher_.alive(), setup_.counters ? *setup_.counters : no_counters);
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
            // A transition window closed: its departed next-hops stop being resolved and give
            // their counter slots back, and its group's PTBs take the plain unicast path.
            expire_transitions();
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
