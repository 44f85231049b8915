#include "control/report.h"

#include <algorithm>
#include <numeric>

#include <fmt/format.h>

namespace ptbsteer::control {
namespace {

template <typename T>
void add(T& into, const T& v) {
    into += v;
}
template <typename T, std::size_t N>
void add(std::array<T, N>& into, const std::array<T, N>& v) {
    for (std::size_t i = 0; i < N; ++i)
        into[i] += v[i];
}

template <typename T>
void add_into(std::vector<T>& into, const std::vector<T>& v) {
    into.resize(std::max(into.size(), v.size()));
    for (std::size_t i = 0; i < v.size(); ++i)
        add(into[i], v[i]);
}

std::uint64_t sent_to(const LcoreCounters& c, std::size_t nh) {
    const std::uint64_t u = nh < c.unicast_per_next_hop.size() ? c.unicast_per_next_hop[nh] : 0;
    const std::uint64_t r = nh < c.copies_per_next_hop.size() ? c.copies_per_next_hop[nh] : 0;
    return u + r;
}

} // namespace

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
        for (std::size_t i = 0; i < drop_count; ++i)
            t.drops[i] += c.drops[i];
        for (std::size_t f = 0; f < t.mtu.size(); ++f) {
            for (std::size_t b = 0; b < mtu_bucket_count; ++b)
                t.mtu[f].buckets[b] += c.mtu[f].buckets[b];
            t.mtu[f].sum += c.mtu[f].sum;
        }
        t.capture_copied += c.capture_copied;
        t.capture_lost += c.capture_lost;
        add_into(t.rx_by_port, c.rx_by_port);
        add_into(t.unicast_per_next_hop, c.unicast_per_next_hop);
        add_into(t.copies_per_next_hop, c.copies_per_next_hop);
    }
    return t;
}

std::string format_report(const LcoreCounters& c, const std::vector<std::string>& next_hop_names) {
    const std::uint64_t drops = std::accumulate(c.drops.begin(), c.drops.end(), std::uint64_t{0});
    std::string s;
    auto row = [&s](std::string_view k, std::uint64_t v) {
        s += fmt::format("  {:<34}{:>14}\n", k, v);
    };
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
    if (c.capture_copied + c.capture_lost != 0) {
        row("captured (copies queued)", c.capture_copied);
        row("  lost (capture ring or pool full)", c.capture_lost);
    }
    s += "  per next-hop (frames sent)\n";
    for (std::size_t i = 0; i < next_hop_names.size(); ++i)
        row(fmt::format("    {}", next_hop_names[i]), sent_to(c, i));
    const bool balanced = c.rx == c.unicast + c.replicated + c.answered + drops;
    s += fmt::format("  received == unicast + replicated + answered + dropped: {}\n",
                     balanced ? "yes" : "NO (a packet was lost uncounted: please report)");

    s += fmt::format(
        "ptbsteer-counters rx={} ptb_v4={} ptb_v6={} unicast={} replicated={} copies={} "
        "answered={} dropped={} tx_failed={}",
        c.rx, c.ptb_v4, c.ptb_v6, c.unicast, c.replicated, c.copies, c.answered, drops,
        c.tx_failed);
    for (std::size_t i = 0; i < drop_count; ++i)
        if (c.drops[i]) s += fmt::format(" drop.{}={}", name(static_cast<Drop>(i)), c.drops[i]);
    for (std::size_t i = 0; i < next_hop_names.size(); ++i)
        s += fmt::format(" nh.{}={}", next_hop_names[i], sent_to(c, i));
    s += "\n";
    return s;
}

std::string format_reloads(const ReloadStats& st) {
    std::string s = fmt::format("ptbsteer-reloads generation={}", st.generation.load());
    for (std::size_t i = 0; i < reload_outcome_count; ++i)
        s += fmt::format(" {}={}", name(ReloadOutcome(i)), st.results[i].load());
    return s;
}

} // namespace ptbsteer::control
