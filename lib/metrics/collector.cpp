#include "metrics/collector.h"

#include <rte_ethdev.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <rte_version.h>

#include "control/capture.h"
#include "control/reload.h"
#include "control/report.h"
#include "steer/verdict.h"

namespace ptbsteer::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
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

MetricFamily family(std::string name, std::string help, MetricType type) {
    return MetricFamily{std::move(name), std::move(help), type, {}};
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

MetricFamily one_counter(std::string name, std::string help, double v) {
    MetricFamily f = family(std::move(name), std::move(help), MetricType::Counter);
    counter(f, {}, v);
    return f;
}

MetricFamily one_gauge(std::string name, std::string help, double v) {
    MetricFamily f = family(std::move(name), std::move(help), MetricType::Gauge);
    gauge(f, {}, v);
    return f;
}

// One lcore's counters, read with load_counter (see counters.h for why that is enough).
LcoreCounters snapshot(const LcoreCounters& c) {
    LcoreCounters s;
    s.rx = load_counter(c.rx);
    s.ptb_v4 = load_counter(c.ptb_v4);
    s.ptb_v6 = load_counter(c.ptb_v6);
    s.unicast = load_counter(c.unicast);
    s.replicated = load_counter(c.replicated);
    s.copies = load_counter(c.copies);
    s.answered = load_counter(c.answered);
    s.tx_failed = load_counter(c.tx_failed);
    for (std::size_t i = 0; i < c.drops.size(); ++i)
        s.drops[i] = load_counter(c.drops[i]);
    for (std::size_t f = 0; f < c.mtu.size(); ++f) {
        for (std::size_t b = 0; b < c.mtu[f].buckets.size(); ++b)
            s.mtu[f].buckets[b] = load_counter(c.mtu[f].buckets[b]);
        s.mtu[f].sum = load_counter(c.mtu[f].sum);
    }
    s.heartbeat_tsc = load_counter(c.heartbeat_tsc);
    s.capture_copied = load_counter(c.capture_copied);
    s.capture_lost = load_counter(c.capture_lost);
    s.size_for(c.rx_by_port.size(), c.unicast_per_next_hop.size());
    for (std::size_t p = 0; p < c.rx_by_port.size(); ++p)
        for (std::size_t f = 0; f < datapath::rx_family_count; ++f)
            s.rx_by_port[p][f] = load_counter(c.rx_by_port[p][f]);
    for (std::size_t i = 0; i < c.unicast_per_next_hop.size(); ++i) {
        s.unicast_per_next_hop[i] = load_counter(c.unicast_per_next_hop[i]);
        s.copies_per_next_hop[i] = load_counter(c.copies_per_next_hop[i]);
    }
    return s;
}

void traffic(const control::Runtime& rt, const LcoreCounters& t, std::vector<MetricFamily>& out) {
    MetricFamily rx =
        family("ptbsteer_received_packets_total",
               "Frames taken from the RX queues, by port and by the EtherType after VLAN tags.",
               MetricType::Counter);
    for (std::size_t p = 0; p < rt.ports.size(); ++p)
        for (std::size_t f = 0; f < datapath::rx_family_count; ++f)
            counter(
                rx,
                {{"port", rt.ports[p].name}, {"family", std::string(name(datapath::RxFamily(f)))}},
                double(p < t.rx_by_port.size() ? t.rx_by_port[p][f] : 0));
    out.push_back(std::move(rx));

    MetricFamily ptbs =
        family("ptbsteer_ptbs_total",
               "Frames that parsed as ICMP Packet Too Big (ICMPv4 3/4, ICMPv6 2), by family.",
               MetricType::Counter);
    counter(ptbs, {{"family", "ipv4"}}, double(t.ptb_v4));
    counter(ptbs, {{"family", "ipv6"}}, double(t.ptb_v6));
    out.push_back(std::move(ptbs));

    MetricFamily del =
        family("ptbsteer_delivered_packets_total",
               "PTB frames sent towards a next-hop; mode unicast: to the flow's owner, "
               "replicate: one copy of a replicated PTB.",
               MetricType::Counter);
    // By counter slot: every next-hop of every generation published so far, so a series stays
    // (and stops growing) when a reload removes its next-hop (control/build.h).
    const auto names = rt.reloader->slots().names();
    const std::string unicast(name(steer::Mode::unicast)), replicate(name(steer::Mode::replicate));
    for (std::size_t nh = 0; nh < names.size(); ++nh) {
        const double u =
            nh < t.unicast_per_next_hop.size() ? double(t.unicast_per_next_hop[nh]) : 0;
        const double r = nh < t.copies_per_next_hop.size() ? double(t.copies_per_next_hop[nh]) : 0;
        const auto& [group, hop] = names[nh];
        counter(del, {{"group", group}, {"next_hop", hop}, {"mode", unicast}}, u);
        counter(del, {{"group", group}, {"next_hop", hop}, {"mode", replicate}}, r);
    }
    out.push_back(std::move(del));

    out.push_back(one_counter("ptbsteer_replicated_ptbs_total",
                              "PTBs sent to every next-hop of their group (each counted once).",
                              double(t.replicated)));
    out.push_back(one_counter("ptbsteer_replicated_copies_total",
                              "Frames emitted for replicated PTBs (one per next-hop).",
                              double(t.copies)));
    out.push_back(
        one_counter("ptbsteer_neighbor_replies_total",
                    "ARP requests and IPv6 Neighbor Solicitations for our addresses, answered.",
                    double(t.answered)));
    out.push_back(
        one_counter("ptbsteer_tx_failed_packets_total",
                    "Frames the NIC did not take, or copies that found no header mbuf; freed.",
                    double(t.tx_failed)));

    MetricFamily drops =
        family("ptbsteer_dropped_packets_total",
               "Frames dropped, by reason (lib/datapath/drop_reason.h; docs/metrics.md).",
               MetricType::Counter);
    for (std::size_t i = 0; i < datapath::drop_count; ++i) {
        const auto d = static_cast<datapath::Drop>(i);
        if (datapath::is_drop(d))
            counter(drops, {{"reason", std::string(name(d))}}, double(t.drops[i]));
    }
    out.push_back(std::move(drops));

    MetricFamily limited = family("ptbsteer_rate_limited_packets_total",
                                  "PTBs dropped by a rate limiter (limits: in the configuration).",
                                  MetricType::Counter);
    for (const auto& [l, reason] : limiters)
        counter(limited, {{"limiter", std::string(l)}}, double(t.drops[std::size_t(reason)]));
    out.push_back(std::move(limited));

    MetricFamily mtu =
        family("ptbsteer_advertised_mtu_bytes",
               "Next-hop MTU advertised by parsed PTBs (IPv4: 0 when the router did not say).",
               MetricType::Histogram);
    for (std::size_t f = 0; f < t.mtu.size(); ++f) {
        ClientMetric m;
        m.label = {{"family", f == 0 ? "ipv4" : "ipv6"}};
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
    MetricFamily rx =
        family("ptbsteer_lcore_received_packets_total",
               "Frames taken from the RX queues, by lcore (RSS balance).", MetricType::Counter);
    MetricFamily age =
        family("ptbsteer_lcore_heartbeat_age_seconds",
               "Time since the lcore last went round its loop (/healthz fails above 1 s).",
               MetricType::Gauge);
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
        const char* name;
        const char* help;
        std::uint64_t rte_eth_stats::*field;
    };
    static constexpr Stat stats[] = {
        {"ptbsteer_port_rx_packets_total", "Packets the port received (rte_eth_stats.ipackets).",
         &rte_eth_stats::ipackets},
        {"ptbsteer_port_tx_packets_total", "Packets the port sent (rte_eth_stats.opackets).",
         &rte_eth_stats::opackets},
        {"ptbsteer_port_rx_bytes_total", "Bytes the port received (rte_eth_stats.ibytes).",
         &rte_eth_stats::ibytes},
        {"ptbsteer_port_tx_bytes_total", "Bytes the port sent (rte_eth_stats.obytes).",
         &rte_eth_stats::obytes},
        {"ptbsteer_port_rx_missed_packets_total",
         "Packets the NIC dropped because no RX descriptor was free: the lcores fell behind "
         "(imissed).",
         &rte_eth_stats::imissed},
        {"ptbsteer_port_rx_errors_total", "Erroneous received packets (rte_eth_stats.ierrors).",
         &rte_eth_stats::ierrors},
        {"ptbsteer_port_tx_errors_total", "Failed transmissions (rte_eth_stats.oerrors).",
         &rte_eth_stats::oerrors},
        {"ptbsteer_port_rx_nombuf_total",
         "RX mbuf allocation failures: the packet pool was empty (rx_nombuf).",
         &rte_eth_stats::rx_nombuf},
    };
    std::vector<rte_eth_stats> got(rt.ports.size());
    std::vector<bool> ok(rt.ports.size());
    MetricFamily up =
        family("ptbsteer_port_link_up", "1 when the port's link is up.", MetricType::Gauge);
    for (std::size_t p = 0; p < rt.ports.size(); ++p) {
        ok[p] = rte_eth_stats_get(rt.ports[p].id, &got[p]) == 0;
        rte_eth_link link{};
        const bool known = rte_eth_link_get_nowait(rt.ports[p].id, &link) == 0;
        gauge(up, {{"port", rt.ports[p].name}},
              known && link.link_status == RTE_ETH_LINK_UP ? 1 : 0);
    }
    for (const Stat& s : stats) {
        MetricFamily f = family(s.name, s.help, MetricType::Counter);
        for (std::size_t p = 0; p < rt.ports.size(); ++p)
            if (ok[p]) counter(f, {{"port", rt.ports[p].name}}, double(got[p].*s.field));
        out.push_back(std::move(f));
    }
    out.push_back(std::move(up));
}

void rings_and_pools(const control::Runtime& rt, const std::vector<LcoreCounters>& per,
                     std::vector<MetricFamily>& out) {
    MetricFamily entries =
        family("ptbsteer_ring_entries", "Packets waiting in an RX-to-TX ring.", MetricType::Gauge);
    MetricFamily overflow =
        family("ptbsteer_ring_overflow_packets_total",
               "Packets dropped because an RX-to-TX ring was full "
               "(also in ptbsteer_dropped_packets_total{reason=\"ring_full\"}).",
               MetricType::Counter);
    for (const control::RingInfo& r : rt.rings) {
        gauge(entries, {{"ring", r.name}}, double(rte_ring_count(r.ring)));
        counter(overflow, {{"ring", r.name}},
                double(per[r.producer].drops[std::size_t(datapath::Drop::ring_full)]));
    }
    out.push_back(std::move(entries));
    out.push_back(std::move(overflow));

    MetricFamily in_use =
        family("ptbsteer_mempool_in_use", "Mbufs taken from a mempool (in flight or cached).",
               MetricType::Gauge);
    MetricFamily size = family("ptbsteer_mempool_size", "Mbufs in a mempool.", MetricType::Gauge);
    for (const control::PoolInfo& p : rt.pools) {
        gauge(in_use, {{"pool", p.name}}, double(rte_mempool_in_use_count(p.pool)));
        gauge(size, {{"pool", p.name}}, double(p.pool->size));
    }
    out.push_back(std::move(in_use));
    out.push_back(std::move(size));
}

void capture(const control::Runtime& rt, const LcoreCounters& t, std::vector<MetricFamily>& out) {
    const control::CaptureWriter* c = rt.capture;
    out.push_back(one_gauge("ptbsteer_capture_active",
                            "1 while capture on demand is writing (0: off, or max_bytes reached).",
                            c && c->active() ? 1 : 0));
    out.push_back(one_counter("ptbsteer_capture_copied_packets_total",
                              "Frames the lcores copied for the capture file.",
                              double(t.capture_copied)));
    out.push_back(one_counter("ptbsteer_capture_lost_packets_total",
                              "Capture copies lost because the capture ring or pool was full.",
                              double(t.capture_lost)));
    out.push_back(one_counter("ptbsteer_capture_written_packets_total",
                              "Frames written to the capture file.",
                              c ? double(c->stats().frames.load()) : 0));
    out.push_back(one_counter("ptbsteer_capture_over_limit_packets_total",
                              "Copies discarded because the file reached max_bytes.",
                              c ? double(c->stats().over_limit.load()) : 0));
    out.push_back(one_gauge("ptbsteer_capture_file_bytes", "Size of the capture file.",
                            c ? double(c->stats().bytes.load()) : 0));
}

void process(const BuildInfo& b, const control::Runtime& rt, std::vector<MetricFamily>& out) {
    MetricFamily info = family("ptbsteer_build_info", "Always 1; the labels say what is running.",
                               MetricType::Gauge);
    gauge(info, {{"version", b.version}, {"dpdk", rte_version()}}, 1);
    out.push_back(std::move(info));
    const control::ReloadStats& st = rt.reloader->stats();
    out.push_back(one_gauge("ptbsteer_config_generation",
                            "Generation of the configuration serving (1: the one read at start; "
                            "+1 per successful reload).",
                            double(st.generation.load())));
    MetricFamily reloads =
        family("ptbsteer_config_reloads_total",
               "Reload attempts (SIGHUP or POST /reload) by result: success, failure (invalid "
               "configuration), restart_required (it changes what only a restart can).",
               MetricType::Counter);
    for (std::size_t i = 0; i < control::reload_outcome_count; ++i)
        counter(reloads, {{"result", std::string(name(control::ReloadOutcome(i)))}},
                double(st.results[i].load()));
    out.push_back(std::move(reloads));
    // The standard name (Prometheus client guidelines, "process metrics"), unprefixed on purpose:
    // `time() - process_start_time_seconds` works as for every other exporter.
    out.push_back(one_gauge("process_start_time_seconds",
                            "Start time of the process since the Unix epoch in seconds.",
                            b.start_time_s));
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
    {
        const std::lock_guard lock(dpdk_);
        ports(rt_, out);
        rings_and_pools(rt_, per, out);
    }
    capture(rt_, total, out);
    process(build_, rt_, out);
    return out;
}

std::vector<std::string> family_names(const std::vector<MetricFamily>& families) {
    std::vector<std::string> names;
    for (const MetricFamily& f : families)
        names.push_back(f.name);
    return names;
}

} // namespace ptbsteer::metrics
