#include "metrics/collector.h"

#include <rte_ethdev.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <rte_version.h>

#include "config/routers.h"
#include "control/capture.h"
#include "control/reload.h"
#include "control/report.h"
#include "guard/ones_sum.h"
#include "hash/siphash_batch.h"
#include "metrics/families.h"
#include "steer/verdict.h"

namespace ptbsteer::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using Labels = std::vector<ClientMetric::Label>;
using datapath::LcoreCounters;
using datapath::load_counter;

// Each limiter and the drop reason that counts its refusals (docs/security.md). The same frames
// are also in ptbsteer_dropped_packets_total under that reason.
constexpr std::array<std::pair<std::string_view, datapath::Drop>, 3> limiters = {{
    {"per_source", datapath::Drop::rate_limited_source},
    {"global", datapath::Drop::rate_limited_global},
    {"replication_budget", datapath::Drop::replication_budget},
}};

MetricFamily family(const Family& f) {
    return MetricFamily{std::string(f.name), std::string(f.help), f.type, {}};
}

void counter(MetricFamily& f, Labels labels, double v) {
    ClientMetric m;
    m.label = std::move(labels);
    m.counter.value = v;
    f.metric.push_back(std::move(m));
}

void gauge(MetricFamily& f, Labels labels, double v) {
    ClientMetric m;
    m.label = std::move(labels);
    m.gauge.value = v;
    f.metric.push_back(std::move(m));
}

MetricFamily one_counter(const Family& spec, double v) {
    MetricFamily f = family(spec);
    counter(f, {}, v);
    return f;
}

// A family that is one summed per-lcore counter: the entry names the counter.
MetricFamily total(const Family& spec, const LcoreCounters& t) {
    return one_counter(spec, double(t.*spec.total));
}

MetricFamily one_gauge(const Family& spec, double v) {
    MetricFamily f = family(spec);
    gauge(f, {}, v);
    return f;
}

// One lcore's counters, read with load_counter (see counters.h for why that is enough).
LcoreCounters snapshot(const LcoreCounters& c) {
    LcoreCounters s;
    for_each_counter(s, c,
                     [](std::uint64_t& into, const std::uint64_t& v) { into = load_counter(v); });
    s.heartbeat_tsc = load_counter(c.heartbeat_tsc);
    return s;
}

// By router number (datapath/router.h): 0 is frames no router matched.
void routers(const control::Runtime& rt, const LcoreCounters& t, std::vector<MetricFamily>& out) {
    MetricFamily ptbs = family(families::router_ptbs);
    MetricFamily steered = family(families::router_steered);
    const std::vector<std::string> labels =
        rt.config ? config::router_labels(*rt.config)
                  : std::vector<std::string>{std::string(config::unmatched_router)};
    for (std::size_t r = 0; r < labels.size(); ++r) {
        const std::string& router = labels[r];
        const auto at = [&](datapath::RouterCount k) {
            return double(r < t.per_router.size() ? t.per_router[r][std::size_t(k)] : 0);
        };
        counter(ptbs, {{"router", router}}, at(datapath::RouterCount::ptbs));
        counter(steered, {{"router", router}, {"state", "own"}},
                at(datapath::RouterCount::steered_own));
        counter(steered, {{"router", router}, {"state", "shared"}},
                at(datapath::RouterCount::steered_shared));
    }
    out.push_back(std::move(ptbs));
    out.push_back(std::move(steered));
}

void traffic(const control::Runtime& rt, const LcoreCounters& t, std::vector<MetricFamily>& out) {
    MetricFamily rx = family(families::received);
    for (std::size_t p = 0; p < rt.ports.size(); ++p)
        for (std::size_t f = 0; f < datapath::rx_family_count; ++f)
            counter(
                rx,
                {{"port", rt.ports[p].name}, {"family", std::string(name(datapath::RxFamily(f)))}},
                double(p < t.rx_by_port.size() ? t.rx_by_port[p][f] : 0));
    out.push_back(std::move(rx));

    MetricFamily ptbs = family(families::ptbs);
    counter(ptbs, {{"family", std::string(name(datapath::RxFamily::ipv4))}}, double(t.ptb_v4));
    counter(ptbs, {{"family", std::string(name(datapath::RxFamily::ipv6))}}, double(t.ptb_v6));
    out.push_back(std::move(ptbs));

    routers(rt, t, out);

    MetricFamily del = family(families::delivered);
    // By name: every next-hop of every generation published so far, so a series stays (and
    // stops growing) when a change removes its next-hop, even after its slot is reused
    // (control/build.h).
    const std::string unicast(name(steer::Mode::unicast)), replicate(name(steer::Mode::replicate));
    for (const control::NextHopSlots::Total& n : rt.reloader->slots().totals(t)) {
        const Labels at = {{"group", n.name.group}, {"next_hop", n.name.next_hop}};
        for (const auto& [mode, v] : {std::pair{unicast, n.sent.unicast},
                                      {replicate, n.sent.copies},
                                      {std::string("transition"), n.sent.transition}}) {
            Labels l = at;
            l.push_back({"mode", mode});
            counter(del, std::move(l), double(v));
        }
    }
    out.push_back(std::move(del));

    out.push_back(total(families::replicated, t));
    out.push_back(total(families::copies, t));
    out.push_back(total(families::answered, t));
    out.push_back(total(families::tx_failed, t));

    MetricFamily drops = family(families::dropped);
    for (std::size_t i = 0; i < datapath::drop_count; ++i) {
        const auto d = static_cast<datapath::Drop>(i);
        if (datapath::is_drop(d))
            counter(drops, {{"reason", std::string(name(d))}}, double(t.drops[i]));
    }
    out.push_back(std::move(drops));

    MetricFamily limited = family(families::rate_limited);
    for (const auto& [l, reason] : limiters)
        counter(limited, {{"limiter", std::string(l)}}, double(t.drops[std::size_t(reason)]));
    out.push_back(std::move(limited));

    MetricFamily mtu = family(families::advertised_mtu);
    for (std::size_t f = 0; f < t.mtu.size(); ++f) {
        ClientMetric m;
        // mtu[0] is IPv4, mtu[1] IPv6 (counters.h), as RxFamily's first two.
        m.label = {{"family", std::string(name(datapath::RxFamily(f)))}};
        std::uint64_t cumulative = 0;
        for (std::size_t b = 0; b < datapath::mtu_bucket_count; ++b) {
            cumulative += t.mtu[f].buckets[b];
            const double bound = b < datapath::mtu_bounds.size()
                                     ? double(datapath::mtu_bounds[b])
                                     : std::numeric_limits<double>::infinity();
            m.histogram.bucket.push_back({cumulative, bound});
        }
        m.histogram.sample_count = cumulative;
        m.histogram.sample_sum = double(t.mtu[f].sum);
        mtu.metric.push_back(std::move(m));
    }
    out.push_back(std::move(mtu));
}

void lcores(const control::Runtime& rt, const std::vector<LcoreCounters>& per,
            std::vector<MetricFamily>& out) {
    MetricFamily rx = family(families::lcore_received);
    MetricFamily age = family(families::lcore_heartbeat_age);
    const std::uint64_t now = rte_rdtsc();
    for (std::size_t i = 0; i < per.size(); ++i) {
        const std::string id = std::to_string(rt.lcore_ids[i]);
        counter(rx, {{"lcore", id}}, double(per[i].rx));
        const std::uint64_t beat = per[i].heartbeat_tsc;
        const double a = beat == 0 || beat >= now ? 0.0 : double(now - beat) / double(rt.tsc_hz);
        gauge(age, {{"lcore", id}}, a);
    }
    out.push_back(std::move(rx));
    out.push_back(std::move(age));
}

void ports(const control::Runtime& rt, std::vector<MetricFamily>& out) {
    struct Stat {
        const Family& family;
        std::uint64_t rte_eth_stats::*field;
    };
    static constexpr Stat stats[] = {
        {families::port_rx_packets, &rte_eth_stats::ipackets},
        {families::port_tx_packets, &rte_eth_stats::opackets},
        {families::port_rx_bytes, &rte_eth_stats::ibytes},
        {families::port_tx_bytes, &rte_eth_stats::obytes},
        {families::port_rx_missed, &rte_eth_stats::imissed},
        {families::port_rx_errors, &rte_eth_stats::ierrors},
        {families::port_tx_errors, &rte_eth_stats::oerrors},
        {families::port_rx_nombuf, &rte_eth_stats::rx_nombuf},
    };
    std::vector<rte_eth_stats> got(rt.ports.size());
    std::vector<bool> ok(rt.ports.size());
    MetricFamily up = family(families::port_link_up);
    for (std::size_t p = 0; p < rt.ports.size(); ++p) {
        ok[p] = rte_eth_stats_get(rt.ports[p].id, &got[p]) == 0;
        rte_eth_link link{};
        const bool known = rte_eth_link_get_nowait(rt.ports[p].id, &link) == 0;
        gauge(up, {{"port", rt.ports[p].name}},
              known && link.link_status == RTE_ETH_LINK_UP ? 1 : 0);
    }
    for (const Stat& s : stats) {
        MetricFamily f = family(s.family);
        for (std::size_t p = 0; p < rt.ports.size(); ++p)
            if (ok[p]) counter(f, {{"port", rt.ports[p].name}}, double(got[p].*s.field));
        out.push_back(std::move(f));
    }
    out.push_back(std::move(up));
}

void rings_and_pools(const control::Runtime& rt, const std::vector<LcoreCounters>& per,
                     std::vector<MetricFamily>& out) {
    MetricFamily entries = family(families::ring_entries);
    MetricFamily overflow = family(families::ring_overflow);
    for (const control::RingInfo& r : rt.rings) {
        gauge(entries, {{"ring", r.name}}, double(rte_ring_count(r.ring)));
        counter(overflow, {{"ring", r.name}},
                double(per[r.producer].drops[std::size_t(datapath::Drop::ring_full)]));
    }
    out.push_back(std::move(entries));
    out.push_back(std::move(overflow));

    MetricFamily in_use = family(families::mempool_in_use);
    MetricFamily size = family(families::mempool_size);
    std::vector<control::PoolInfo> pools = rt.pools;
    if (rt.capture && rt.capture->pool()) pools.push_back({"capture", rt.capture->pool()});
    for (const control::PoolInfo& p : pools) {
        gauge(in_use, {{"pool", p.name}}, double(rte_mempool_in_use_count(p.pool)));
        gauge(size, {{"pool", p.name}}, double(p.pool->size));
    }
    out.push_back(std::move(in_use));
    out.push_back(std::move(size));
}

void capture(const control::Runtime& rt, const LcoreCounters& t, std::vector<MetricFamily>& out) {
    const control::Capture* c = rt.capture;
    out.push_back(one_gauge(families::capture_active, c && c->copying() ? 1 : 0));
    out.push_back(total(families::capture_copied, t));
    out.push_back(total(families::capture_lost, t));
    out.push_back(one_counter(families::capture_written, c ? double(c->frames_total()) : 0));
    out.push_back(one_counter(families::capture_over_limit, c ? double(c->over_limit_total()) : 0));
    out.push_back(one_gauge(families::capture_file_bytes, c ? double(c->file_bytes()) : 0));
}

void process(const BuildInfo& b, const control::Runtime& rt, std::vector<MetricFamily>& out) {
    MetricFamily info = family(families::build_info);
    gauge(info, {{"version", b.version}, {"dpdk", rte_version()}}, 1);
    out.push_back(std::move(info));
    MetricFamily simd = family(families::simd_info);
    const hash::SimdPath path =
        rt.reloader->with_live([](const datapath::Generation& g) { return g.tables.simd; });
    gauge(simd,
          {{"hash", hash::simd_path_name(path)}, {"checksum", guard::detail::ones_sum_impl()}}, 1);
    out.push_back(std::move(simd));
    const control::ReloadStats& st = rt.reloader->stats();
    out.push_back(one_gauge(families::config_generation, double(st.generation.load())));
    MetricFamily reloads = family(families::config_reloads);
    for (std::size_t i = 0; i < control::reload_outcome_count; ++i)
        counter(reloads, {{"result", std::string(name(control::ReloadOutcome(i)))}},
                double(st.results[i].load()));
    out.push_back(std::move(reloads));
    // The standard name (Prometheus client guidelines, "process metrics"), unprefixed on purpose:
    // `time() - process_start_time_seconds` works as for every other exporter.
    out.push_back(one_gauge(families::process_start_time, b.start_time_s));
}

// Each serving group's last change and transition, and the control API's requests (empty
// without `control:`).
void live_groups(const control::Runtime& rt, const LcoreCounters& t,
                 std::vector<MetricFamily>& out) {
    MetricFamily generation = family(families::group_generation);
    MetricFamily updated = family(families::group_updated);
    for (const auto& [group, change] : rt.reloader->group_changes()) {
        const Labels labels = {{"group", group}, {"source", std::string(name(change.source))}};
        gauge(generation, labels, double(change.generation));
        gauge(updated, labels, change.unix_time);
    }
    out.push_back(std::move(generation));
    out.push_back(std::move(updated));
    MetricFamily versions = family(families::group_transition_versions);
    for (const auto& [group, n] : rt.reloader->transition_versions(rte_rdtsc()))
        gauge(versions, {{"group", group}}, double(n));
    out.push_back(std::move(versions));
    out.push_back(total(families::transition_copies, t));
    out.push_back(total(families::transition_budget_exhausted, t));
    out.push_back(one_counter(families::transition_versions_dropped,
                              double(rt.reloader->stats().transition_versions_dropped.load())));
    MetricFamily requests = family(families::api_requests);
    if (rt.api)
        for (std::size_t e = 0; e < control::endpoint_names.size(); ++e)
            for (std::size_t s = 0; s < control::api_statuses.size(); ++s)
                if (const auto n = rt.api->requests[e][s].load(std::memory_order_relaxed))
                    counter(requests,
                            {{"endpoint", std::string(name(control::Endpoint(e)))},
                             {"status", std::to_string(control::api_statuses[s])}},
                            double(n));
    out.push_back(std::move(requests));
}

// Every serving next-hop's neighbour state and last MAC change, and the manager's counts.
void neighbors(const control::Runtime& rt, const LcoreCounters& t, std::vector<MetricFamily>& out) {
    const control::NeighborTable& table = rt.reloader->neighbors();
    MetricFamily state = family(families::neighbor_state);
    MetricFamily changed = family(families::neighbor_mac_changed);
    for (const control::ServingHop& h : rt.reloader->serving_hops()) {
        const control::NeighborTable::View v = table.view(h.slot);
        for (const datapath::NeighborState s : datapath::neighbor_states)
            gauge(state,
                  {{"group", h.group}, {"next_hop", h.name}, {"state", std::string(name(s))}},
                  v.state == s ? 1 : 0);
        gauge(changed, {{"group", h.group}, {"next_hop", h.name}}, v.mac_changed);
    }
    out.push_back(std::move(state));
    out.push_back(std::move(changed));
    const control::NeighborTable::Stats s = table.stats();
    MetricFamily sent = family(families::neighbor_solicitations);
    counter(sent, {{"family", "ipv4"}}, double(s.solicitations_v4));
    counter(sent, {{"family", "ipv6"}}, double(s.solicitations_v6));
    out.push_back(std::move(sent));
    out.push_back(one_counter(families::neighbor_solicitations_lost, double(s.solicitations_lost)));
    out.push_back(total(families::neighbor_updates, t));
    out.push_back(total(families::neighbor_queued, t));
    out.push_back(total(families::copies_unresolved, t));
}

} // namespace

std::vector<MetricFamily> Collector::Collect() const {
    std::vector<LcoreCounters> per;
    per.reserve(rt_.counters->size());
    for (const LcoreCounters& c : *rt_.counters)
        per.push_back(snapshot(c));
    const LcoreCounters total = control::sum(per);
    std::vector<MetricFamily> out;
    traffic(rt_, total, out);
    lcores(rt_, per, out);
    neighbors(rt_, total, out);
    {
        const std::lock_guard lock(dpdk_);
        ports(rt_, out);
        rings_and_pools(rt_, per, out);
    }
    capture(rt_, total, out);
    process(build_, rt_, out);
    live_groups(rt_, total, out);
    return out;
}

std::vector<std::string> family_names(const std::vector<MetricFamily>& families) {
    std::vector<std::string> names;
    for (const MetricFamily& f : families)
        names.push_back(f.name);
    return names;
}

} // namespace ptbsteer::metrics
