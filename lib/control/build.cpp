#include "control/build.h"

#include "control/compile_tables.h"
#include "control/neighbors.h"

#include <algorithm>
#include <set>
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

// Slot i's counts in `c` (0 where its arrays are shorter), each read with `load`.
template <typename Load>
NextHopSlots::Counts counts_of(const LcoreCounters& c, std::size_t i, Load load) {
    auto at = [&](const std::vector<std::uint64_t>& v) { return i < v.size() ? load(v[i]) : 0; };
    return {at(c.unicast_per_next_hop), at(c.copies_per_next_hop), at(c.transition_per_next_hop)};
}

} // namespace

std::vector<NextHopSlots::Name> hop_names(const config::Config& cfg,
                                          const std::vector<DepartedHop>& departed) {
    std::vector<NextHopSlots::Name> names;
    for (const config::Group& g : cfg.groups)
        for (const config::NextHop& h : g.next_hops)
            names.push_back({g.name, h.name});
    for (const DepartedHop& d : departed)
        names.push_back({cfg.groups[d.group].name, d.hop->name});
    return names;
}

std::size_t NextHopSlots::find(const std::string& group, const std::string& next_hop) const {
    const auto it = slot_of_.find(Name{group, next_hop});
    return it == slot_of_.end() ? names_.size() : it->second;
}

std::size_t NextHopSlots::needed(const std::vector<Name>& names) const {
    const std::lock_guard lock(m_);
    std::size_t held = 0;
    for (const Name& n : names_)
        held += !n.group.empty();
    // A group's states share their next-hops' names (and slots): each new name counts once.
    std::set<Name> fresh;
    for (const Name& n : names)
        if (find(n.group, n.next_hop) == names_.size()) fresh.insert(n);
    return held + fresh.size();
}

std::size_t NextHopSlots::in_use() const {
    const std::lock_guard lock(m_);
    return std::size_t(std::count_if(names_.begin(), names_.end(),
                                     [](const Name& n) { return !n.group.empty(); }));
}

std::optional<std::vector<std::uint32_t>> NextHopSlots::assign(const std::vector<Name>& names) {
    if (needed(names) > capacity_) return std::nullopt;
    const std::lock_guard lock(m_);
    std::vector<std::uint32_t> slots;
    std::size_t next_free = 0;
    for (const Name& n : names) {
        std::size_t i = find(n.group, n.next_hop);
        if (i == names_.size()) {
            while (next_free < names_.size() && !names_[next_free].group.empty())
                ++next_free;
            i = next_free;
            if (i == names_.size()) {
                names_.emplace_back();
                base_.emplace_back();
            }
            names_[i] = n;
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
        Counts now;
        for (const LcoreCounters& l : counters) {
            const Counts c = counts_of(l, i, load_counter);
            now.unicast += c.unicast;
            now.copies += c.copies;
            now.transition += c.transition;
        }
        Counts& kept = retired_[names_[i]];
        kept.unicast += now.unicast - base_[i].unicast;
        kept.copies += now.copies - base_[i].copies;
        kept.transition += now.transition - base_[i].transition;
        base_[i] = now;
        slot_of_.erase(names_[i]);
        names_[i] = Name{};
    }
}

std::vector<NextHopSlots::Total> NextHopSlots::totals(const LcoreCounters& sum) const {
    const std::lock_guard lock(m_);
    std::map<Name, Counts> all = retired_;
    // A scrape's snapshot may predate a sweep that raised the baseline: never below zero.
    auto since = [](std::uint64_t v, std::uint64_t base) { return v > base ? v - base : 0; };
    for (std::size_t i = 0; i < names_.size(); ++i) {
        if (names_[i].group.empty()) continue;
        const Counts c = counts_of(sum, i, [](const std::uint64_t& v) { return v; });
        Counts& t = all[names_[i]];
        t.unicast += since(c.unicast, base_[i].unicast);
        t.copies += since(c.copies, base_[i].copies);
        t.transition += since(c.transition, base_[i].transition);
    }
    std::vector<Total> out;
    for (const auto& [name, t] : all)
        out.push_back(Total{name, t});
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
                 steer::PrefixRecycler* recycler, NeighborTable* neighbors, const PastState* past) {
    auto gen = std::make_unique<Generation>();
    gen->number = number;
    const std::vector<DepartedHop> departed =
        past ? departed_hops(cfg, *past->history) : std::vector<DepartedHop>{};
    gen->tables = compile_tables(cfg, port_ids, port_macs, previous ? &previous->tables : nullptr,
                                 recycler, past, &departed);
    const bool same_limits = previous && previous_limits && *previous_limits == cfg.limits;
    gen->guards = same_limits ? previous->guards : build_guards(cfg.limits, rx, tsc_hz);
    // Last: the only step that changes shared state (new names take slots for good), so a
    // generation that failed to build never shows up in the metrics.
    const std::vector<NextHopSlots::Name> names = hop_names(cfg, departed);
    const auto assigned = slots.assign(names);
    if (!assigned)
        throw std::length_error(fmt::format(
            "next-hop counters: this change would need {} group/next-hop names at once (those "
            "serving, still draining or in a transition, and its new ones), over the {} counter "
            "slots sized at start",
            slots.needed(names), slots.capacity()));
    for (std::size_t i = 0; i < gen->tables.next_hops.size(); ++i)
        gen->tables.next_hops[i].counter_slot = (*assigned)[i];
    if (!neighbors) {
        own_neighbor_words(gen->tables); // by the slots just assigned
        return gen;
    }
    neighbors->bind(cfg, gen->tables, departed);
    gen->tables.own_neighbors.reset();
    gen->tables.neighbors = neighbors->words();
    return gen;
}

} // namespace ptbsteer::control
