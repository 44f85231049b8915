#include "control/build.h"

#include "control/compile_tables.h"
#include "control/neighbors.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

namespace ptbsteer::control {
namespace {

// Each RX lcore enforces rate / n and burst / n of every limit (docs/security.md): the sum is the
// configured rate, and no lcore ever waits for another's state.
guard::Gcra share(const config::RateLimit& l, std::uint64_t n, std::uint64_t hz) {
    if (l.rate == 0) return guard::Gcra{};
    return guard::Gcra(std::max<std::uint64_t>(l.rate / n, 1),
                       std::max<std::uint64_t>(l.burst / n, 1), hz);
}

} // namespace

std::size_t NextHopSlots::find(const std::string& group, const std::string& next_hop) const {
    const auto it = slot_of_.find(Name{group, next_hop});
    return it == slot_of_.end() ? names_.size() : it->second;
}

std::size_t NextHopSlots::needed(const config::Config& cfg) const {
    const std::lock_guard lock(m_);
    std::size_t held = 0, fresh = 0;
    for (const Name& n : names_)
        held += !n.group.empty();
    for (const config::Group& g : cfg.groups)
        for (const config::NextHop& h : g.next_hops)
            fresh += find(g.name, h.name) == names_.size();
    return held + fresh;
}

std::size_t NextHopSlots::in_use() const {
    const std::lock_guard lock(m_);
    return std::size_t(std::count_if(names_.begin(), names_.end(),
                                     [](const Name& n) { return !n.group.empty(); }));
}

std::optional<std::vector<std::uint32_t>> NextHopSlots::assign(const config::Config& cfg) {
    if (needed(cfg) > capacity_) return std::nullopt;
    const std::lock_guard lock(m_);
    std::vector<std::uint32_t> slots;
    std::size_t next_free = 0;
    for (const config::Group& g : cfg.groups)
        for (const config::NextHop& h : g.next_hops) {
            std::size_t i = find(g.name, h.name);
            if (i == names_.size()) {
                while (next_free < names_.size() && !names_[next_free].group.empty())
                    ++next_free;
                i = next_free;
                if (i == names_.size()) {
                    names_.emplace_back();
                    base_.emplace_back();
                }
                names_[i] = Name{g.name, h.name};
                slot_of_[names_[i]] = i;
            }
            slots.push_back(std::uint32_t(i));
        }
    return slots;
}

void NextHopSlots::sweep(const std::vector<const Generation*>& alive,
                         const std::vector<LcoreCounters>& counters) {
    std::vector<bool> used;
    for (const Generation* g : alive)
        for (const NextHopOut& h : g->tables.next_hops) {
            if (used.size() <= h.counter_slot) used.resize(h.counter_slot + 1);
            used[h.counter_slot] = true;
        }
    const std::lock_guard lock(m_);
    for (std::size_t i = 0; i < names_.size(); ++i) {
        if (names_[i].group.empty() || (i < used.size() && used[i])) continue;
        // No generation an lcore may read names slot i: its counts stop here.
        std::uint64_t u = 0, c = 0;
        for (const LcoreCounters& l : counters) {
            if (i < l.unicast_per_next_hop.size()) u += load_counter(l.unicast_per_next_hop[i]);
            if (i < l.copies_per_next_hop.size()) c += load_counter(l.copies_per_next_hop[i]);
        }
        auto& kept = retired_[names_[i]];
        kept.first += u - base_[i].first;
        kept.second += c - base_[i].second;
        base_[i] = {u, c};
        slot_of_.erase(names_[i]);
        names_[i] = Name{};
    }
}

std::vector<NextHopSlots::Total> NextHopSlots::totals(const LcoreCounters& sum) const {
    const std::lock_guard lock(m_);
    std::map<Name, std::pair<std::uint64_t, std::uint64_t>> all = retired_;
    for (std::size_t i = 0; i < names_.size(); ++i) {
        if (names_[i].group.empty()) continue;
        const std::uint64_t u =
            i < sum.unicast_per_next_hop.size() ? sum.unicast_per_next_hop[i] : 0;
        const std::uint64_t c = i < sum.copies_per_next_hop.size() ? sum.copies_per_next_hop[i] : 0;
        // A scrape's snapshot may predate a sweep that raised the baseline: never below zero.
        auto& t = all[names_[i]];
        t.first += u > base_[i].first ? u - base_[i].first : 0;
        t.second += c > base_[i].second ? c - base_[i].second : 0;
    }
    std::vector<Total> out;
    for (const auto& [name, t] : all)
        out.push_back(Total{name, t.first, t.second});
    return out;
}

std::shared_ptr<GuardSet> build_guards(const config::Limits& limits, const std::vector<bool>& rx,
                                       std::uint64_t hz) {
    auto set = std::make_shared<GuardSet>(rx.size());
    const std::uint64_t n = std::uint64_t(std::count(rx.begin(), rx.end(), true));
    if (n == 0) return set;
    for (std::size_t i = 0; i < rx.size(); ++i) {
        if (!rx[i]) continue;
        datapath::Guard& g = (*set)[i].guard;
        if (limits.per_source.rate)
            g.per_source = guard::PerSourceLimiter(
                std::max<std::uint64_t>(limits.per_source.rate / n, 1),
                std::max<std::uint64_t>(limits.per_source.burst / n, 1), hz, limits.source_slots);
        g.global = share(limits.global, n, hz);
        g.replication = share(limits.replication, n, hz);
    }
    return set;
}

std::unique_ptr<Generation>
build_generation(const config::Config& cfg, std::uint64_t number,
                 const std::vector<std::uint16_t>& port_ids, const std::vector<Mac>& port_macs,
                 NextHopSlots& slots, const std::vector<bool>& rx, std::uint64_t tsc_hz,
                 const Generation* previous, const config::Limits* previous_limits,
                 steer::PrefixRecycler* recycler, NeighborTable* neighbors) {
    auto gen = std::make_unique<Generation>();
    gen->number = number;
    gen->tables =
        compile_tables(cfg, port_ids, port_macs, previous ? &previous->tables : nullptr, recycler);
    const bool same_limits = previous && previous_limits && *previous_limits == cfg.limits;
    gen->guards = same_limits ? previous->guards : build_guards(cfg.limits, rx, tsc_hz);
    // Last: the only step that changes shared state (new names take slots for good), so a
    // generation that failed to build never shows up in the metrics.
    const auto assigned = slots.assign(cfg);
    if (!assigned)
        throw std::length_error(fmt::format(
            "next-hop counters: this change would need {} group/next-hop names at once (those "
            "serving or still draining, and its new ones), over the {} counter slots sized at "
            "start",
            slots.needed(cfg), slots.capacity()));
    for (std::size_t i = 0; i < gen->tables.next_hops.size(); ++i)
        gen->tables.next_hops[i].counter_slot = (*assigned)[i];
    if (!neighbors) {
        own_neighbor_words(gen->tables); // by the slots just assigned
        return gen;
    }
    neighbors->bind(cfg, gen->tables);
    gen->tables.own_neighbors.reset();
    gen->tables.neighbors = neighbors->words();
    return gen;
}

} // namespace ptbsteer::control
