#include "control/report.h"

#include <numeric>

#include <rte_mempool.h>

#include <fmt/format.h>

namespace ptbsteer::control {
LcoreCounters sum(const std::vector<LcoreCounters>& per_lcore) {
    LcoreCounters t;
    for (const LcoreCounters& c : per_lcore)
        for_each_counter(
            t, c, [](std::uint64_t& into, const std::uint64_t& v) { into += load_counter(v); });
    return t;
}

// Rows and keys come from scalar_counters and drop_reasons (lib/datapath): a counter added there
// appears here without an edit.
std::string format_report(const LcoreCounters& c,
                          const std::vector<NextHopSlots::Total>& next_hops) {
    const std::uint64_t drops = std::accumulate(c.drops.begin(), c.drops.end(), std::uint64_t{0});
    std::string s;
    auto row = [&s](std::string_view k, std::uint64_t v) {
        s += fmt::format("  {:<34}{:>14}\n", k, v);
    };
    s += "ptbsteer counters\n";
    for (const ScalarCounter& k : scalar_counters)
        row(k.row, c.*k.field);
    row("dropped", drops);
    for (std::size_t i = 0; i < drop_count; ++i)
        if (c.drops[i]) row(fmt::format("  {}", name(static_cast<Drop>(i))), c.drops[i]);
    s += "  per next-hop (frames sent)\n";
    for (const NextHopSlots::Total& n : next_hops)
        row(fmt::format("    {}/{}", n.name.group, n.name.next_hop), n.sent.all());
    const bool balanced =
        c.rx == c.unicast + c.replicated + c.answered + c.neighbor_updates + drops;
    s += fmt::format("  received == unicast + replicated + answered + learned + dropped: {}\n",
                     balanced ? "yes" : "NO (a packet was lost uncounted: please report)");

    s += "ptbsteer-counters";
    for (const ScalarCounter& k : scalar_counters)
        s += fmt::format(" {}={}", k.key, c.*k.field);
    s += fmt::format(" dropped={}", drops);
    for (std::size_t i = 0; i < drop_count; ++i)
        if (c.drops[i]) s += fmt::format(" drop.{}={}", name(static_cast<Drop>(i)), c.drops[i]);
    for (const NextHopSlots::Total& n : next_hops)
        s += fmt::format(" nh.{}/{}={}", n.name.group, n.name.next_hop, n.sent.all());
    s += "\n";
    return s;
}

std::string format_reloads(const ReloadStats& st) {
    std::string s = fmt::format("ptbsteer-reloads generation={}", st.generation.load());
    for (std::size_t i = 0; i < reload_outcome_count; ++i)
        s += fmt::format(" {}={}", name(ReloadOutcome(i)), st.results[i].load());
    return s;
}

std::string format_routers(const LcoreCounters& total, const std::vector<std::string>& names) {
    std::string s = "ptbsteer-routers";
    for (std::size_t r = 0; r < names.size(); ++r) {
        const auto& c = r < total.per_router.size() ? total.per_router[r]
                                                    : decltype(total.per_router)::value_type{};
        s += fmt::format(" {}={}/{}/{}", names[r], c[std::size_t(RouterCount::ptbs)],
                         c[std::size_t(RouterCount::steered_own)],
                         c[std::size_t(RouterCount::steered_shared)]);
    }
    return s;
}

std::string format_pools(const std::vector<PoolInfo>& pools) {
    std::string s = "ptbsteer-mempools";
    for (const PoolInfo& p : pools)
        s += fmt::format(" {}={}/{}", p.name, rte_mempool_in_use_count(p.pool), p.pool->size);
    return s;
}

} // namespace ptbsteer::control
