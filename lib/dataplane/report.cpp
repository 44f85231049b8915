#include "dataplane/report.h"

#include <numeric>

#include <fmt/format.h>

namespace ptbsteer::dataplane {

LcoreCounters sum(const std::vector<LcoreCounters>& per_lcore) {
    LcoreCounters t;
    for (const LcoreCounters& c : per_lcore) {
        t.rx += c.rx;
        t.ptb_v4 += c.ptb_v4;
        t.ptb_v6 += c.ptb_v6;
        t.unicast += c.unicast;
        t.replicated += c.replicated;
        t.copies += c.copies;
        t.answered += c.answered;
        t.tx_failed += c.tx_failed;
        for (std::size_t i = 0; i < drop_count; ++i) t.drops[i] += c.drops[i];
        t.per_next_hop.resize(std::max(t.per_next_hop.size(), c.per_next_hop.size()));
        for (std::size_t i = 0; i < c.per_next_hop.size(); ++i) t.per_next_hop[i] += c.per_next_hop[i];
    }
    return t;
}

std::string format_report(const LcoreCounters& c, const Tables& t) {
    const std::uint64_t drops = std::accumulate(c.drops.begin(), c.drops.end(), std::uint64_t{0});
    std::string s;
    auto row = [&s](std::string_view k, std::uint64_t v) { s += fmt::format("  {:<34}{:>14}\n", k, v); };
    s += "ptbsteer counters\n";
    row("received", c.rx);
    row("PTBs IPv4", c.ptb_v4);
    row("PTBs IPv6", c.ptb_v6);
    row("delivered unicast", c.unicast);
    row("replicated (originals)", c.replicated);
    row("  copies emitted", c.copies);
    row("ARP/ND answered", c.answered);
    row("dropped", drops);
    for (std::size_t i = 0; i < drop_count; ++i)
        if (c.drops[i]) row(fmt::format("  {}", name(static_cast<Drop>(i))), c.drops[i]);
    row("not taken by the NIC (tx_failed)", c.tx_failed);
    s += "  per next-hop (frames sent)\n";
    for (std::size_t i = 0; i < t.next_hop_names.size(); ++i)
        row(fmt::format("    {}", t.next_hop_names[i]), i < c.per_next_hop.size() ? c.per_next_hop[i] : 0);
    const bool balanced = c.rx == c.unicast + c.replicated + c.answered + drops;
    s += fmt::format("  received == unicast + replicated + answered + dropped: {}\n",
                     balanced ? "yes" : "NO (a packet was lost uncounted: please report)");

    s += fmt::format("ptbsteer-counters rx={} ptb_v4={} ptb_v6={} unicast={} replicated={} copies={} "
                     "answered={} dropped={} tx_failed={}",
                     c.rx, c.ptb_v4, c.ptb_v6, c.unicast, c.replicated, c.copies, c.answered, drops,
                     c.tx_failed);
    for (std::size_t i = 0; i < drop_count; ++i)
        if (c.drops[i]) s += fmt::format(" drop.{}={}", name(static_cast<Drop>(i)), c.drops[i]);
    for (std::size_t i = 0; i < t.next_hop_names.size(); ++i)
        s += fmt::format(" nh.{}={}", t.next_hop_names[i], i < c.per_next_hop.size() ? c.per_next_hop[i] : 0);
    s += "\n";
    return s;
}

} // namespace ptbsteer::dataplane
