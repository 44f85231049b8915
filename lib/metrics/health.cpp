#include "metrics/health.h"

#include <vector>

#include <fmt/format.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>

namespace ptbsteer::metrics {

Health evaluate(std::span<const LcoreBeat> lcores, std::span<const PortLink> ports,
                std::uint64_t now_tsc, std::uint64_t tsc_hz) {
    std::string why;
    for (const LcoreBeat& l : lcores) {
        if (l.heartbeat_tsc == 0) {
            why += fmt::format("lcore {} has not started its loop\n", l.lcore);
            continue;
        }
        // The heartbeat may be a few cycles newer than `now` (another core wrote it after we
        // read the clock): that is age 0, not a wrap-around.
        const std::uint64_t age = now_tsc > l.heartbeat_tsc ? now_tsc - l.heartbeat_tsc : 0;
        const double age_s = tsc_hz ? double(age) / double(tsc_hz) : 0.0;
        if (age_s > max_heartbeat_age_s)
            why += fmt::format("lcore {} has made no progress for {:.2f} s\n", l.lcore, age_s);
    }
    for (const PortLink& p : ports)
        if (!p.up) why += fmt::format("port {} link is down\n", p.name);
    if (why.empty()) return Health{true, "ok\n"};
    return Health{false, why};
}

Health check(const control::Runtime& rt) {
    std::vector<LcoreBeat> beats;
    for (std::size_t i = 0; i < rt.lcore_ids.size(); ++i)
        beats.push_back(
            LcoreBeat{rt.lcore_ids[i], datapath::load_counter((*rt.counters)[i].heartbeat_tsc)});
    std::vector<PortLink> links;
    for (const control::PortInfo& p : rt.ports) {
        rte_eth_link link{};
        const bool known = rte_eth_link_get_nowait(p.id, &link) == 0;
        links.push_back(PortLink{p.name, known && link.link_status == RTE_ETH_LINK_UP});
    }
    return evaluate(beats, links, rte_rdtsc(), rt.tsc_hz);
}

} // namespace ptbsteer::metrics
