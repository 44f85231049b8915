// Every metric family ptbsteer serves, described once: name, type, label names, help. The
// collector builds each family from its entry here; docs/metrics.md's tables must say the same
// word for word (tests/ops/metrics_facts.cpp prints this list, tests/ops/docs_test.py compares).
// A family whose value is one summed per-lcore counter names that counter (`total`), and the
// collector emits it by walking the list: adding such a counter is one line here.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include <prometheus/metric_type.h>

#include "datapath/counters.h"

namespace ptbsteer::metrics {

struct Family {
    std::string_view name;
    prometheus::MetricType type;
    std::string_view labels; // label names, comma-separated, in order; "" for none
    std::string_view help;   // docs/metrics.md's "meaning" column, without its backticks
    std::uint64_t datapath::LcoreCounters::*total = nullptr; // set: one unlabelled counter
};

namespace families {
using T = prometheus::MetricType;
using C = datapath::LcoreCounters;

// Traffic.
inline constexpr Family received{
    "ptbsteer_received_packets_total", T::Counter, "port, family",
    "frames taken from the RX queues, by the EtherType after VLAN tags (other: ARP, anything "
    "else, frames too short for an Ethernet header)"};
inline constexpr Family ptbs{"ptbsteer_ptbs_total", T::Counter, "family",
                             "frames that parsed as Packet Too Big (ICMPv4 type 3 code 4, ICMPv6 "
                             "type 2), delivered or not"};
inline constexpr Family router_ptbs{
    "ptbsteer_router_ptbs_total", T::Counter, "router",
    "PTBs by the border router that handed them over (routers:, told apart by source MAC, VLAN "
    "or port; unmatched: none of them)"};
inline constexpr Family router_steered{
    "ptbsteer_router_steered_total", T::Counter, "router, state",
    "PTBs given a delivery (unicast, transition or replication), by router and by the state of "
    "their group that decided: own (the router's state) or shared (the group's state for "
    "routers without their own: its unknown_router policy)"};
inline constexpr Family delivered{
    "ptbsteer_delivered_packets_total", T::Counter, "group, next_hop, mode",
    "PTB frames sent towards a next-hop. mode=\"unicast\": to the owner of the flow (its newest "
    "owner during a transition); mode=\"replicate\": one copy of a replicated PTB (mode "
    "replicate, or the fallback: replicate of a quote without ports); mode=\"transition\": a copy "
    "to an earlier owner of the flow during a transition"};
inline constexpr Family replicated{"ptbsteer_replicated_ptbs_total", T::Counter, "",
                                   "PTBs sent to every next-hop of their group, each counted once",
                                   &C::replicated};
inline constexpr Family copies{"ptbsteer_replicated_copies_total", T::Counter, "",
                               "frames emitted for replicated PTBs, one per next-hop", &C::copies};
inline constexpr Family answered{
    "ptbsteer_neighbor_replies_total", T::Counter, "",
    "ARP requests and Neighbor Solicitations for our own addresses, answered", &C::answered};
inline constexpr Family tx_failed{"ptbsteer_tx_failed_packets_total", T::Counter, "",
                                  "frames the NIC did not take, or replication copies that found "
                                  "no header mbuf; freed",
                                  &C::tx_failed};
inline constexpr Family dropped{
    "ptbsteer_dropped_packets_total", T::Counter, "reason",
    "frames dropped, by reason; every reason below is present from the start at 0"};
inline constexpr Family rate_limited{
    "ptbsteer_rate_limited_packets_total", T::Counter, "limiter",
    "PTBs dropped by a rate limiter: per_source, global, replication_budget (configuration "
    "limits:, docs/security.md). The same frames count in ptbsteer_dropped_packets_total under "
    "rate_limited_source, rate_limited_global and replication_budget"};
inline constexpr Family advertised_mtu{
    "ptbsteer_advertised_mtu_bytes", T::Histogram, "family",
    "the next-hop MTU advertised by each parsed PTB (see buckets below)"};
inline constexpr Family lcore_received{
    "ptbsteer_lcore_received_packets_total", T::Counter, "lcore",
    "frames taken from the RX queues per lcore: how well RSS spreads the load"};
inline constexpr Family lcore_heartbeat_age{
    "ptbsteer_lcore_heartbeat_age_seconds", T::Gauge, "lcore",
    "time since the lcore last went round its loop; /healthz fails above 1 s"};

// Next-hops by address (docs/configuration.md, "Next-hops by address").
inline constexpr Family neighbor_state{
    "ptbsteer_next_hop_neighbor_state", T::Gauge, "group, next_hop, state",
    "1 for the serving next-hop's neighbour state, 0 for the others: incomplete (never "
    "resolved), reachable, probe (reachable_time passed, being solicited, still used), failed "
    "(its PTBs are dropped as neighbor_failed), permanent (a static mac)"};
inline constexpr Family neighbor_mac_changed{
    "ptbsteer_next_hop_neighbor_mac_change_timestamp_seconds", T::Gauge, "group, next_hop",
    "when the serving next-hop's resolved MAC last changed, seconds since the Unix epoch; 0 "
    "when it never changed"};
inline constexpr Family neighbor_solicitations{
    "ptbsteer_neighbor_solicitations_total", T::Counter, "family",
    "ARP requests (ipv4) and Neighbor Solicitations (ipv6) sent to resolve or refresh next-hops"};
inline constexpr Family neighbor_solicitations_lost{
    "ptbsteer_neighbor_solicitations_lost_total", T::Counter, "",
    "solicitations not sent: no mbuf, or the ring to the TX lcores was full"};
inline constexpr Family neighbor_updates{
    "ptbsteer_neighbor_updates_total", T::Counter, "",
    "ARP and Neighbor Advertisements from next-hops' via addresses, taken by the neighbour "
    "manager (not counted as dropped)",
    &C::neighbor_updates};
inline constexpr Family neighbor_queued{
    "ptbsteer_neighbor_queued_packets_total", T::Counter, "",
    "PTBs that waited for their next-hop's resolution (each then sent or dropped as "
    "neighbor_unresolved)",
    &C::neighbor_queued};
inline constexpr Family copies_unresolved{
    "ptbsteer_replicated_copies_unresolved_total", T::Counter, "",
    "copies of replicated PTBs, and transition copies, not made because that next-hop was not "
    "resolved or failed",
    &C::copies_unresolved};

// Ports, rings, pools (from DPDK).
inline constexpr Family port_rx_packets{"ptbsteer_port_rx_packets_total", T::Counter, "port",
                                        "rte_eth_stats.ipackets"};
inline constexpr Family port_tx_packets{"ptbsteer_port_tx_packets_total", T::Counter, "port",
                                        "rte_eth_stats.opackets"};
inline constexpr Family port_rx_bytes{"ptbsteer_port_rx_bytes_total", T::Counter, "port",
                                      "rte_eth_stats.ibytes"};
inline constexpr Family port_tx_bytes{"ptbsteer_port_tx_bytes_total", T::Counter, "port",
                                      "rte_eth_stats.obytes"};
inline constexpr Family port_rx_missed{
    "ptbsteer_port_rx_missed_packets_total", T::Counter, "port",
    "imissed: dropped by the NIC for want of a free RX descriptor (the lcores fell behind)"};
inline constexpr Family port_rx_errors{"ptbsteer_port_rx_errors_total", T::Counter, "port",
                                       "ierrors: erroneous packets received"};
inline constexpr Family port_tx_errors{"ptbsteer_port_tx_errors_total", T::Counter, "port",
                                       "oerrors: failed transmissions"};
inline constexpr Family port_rx_nombuf{
    "ptbsteer_port_rx_nombuf_total", T::Counter, "port",
    "rx_nombuf: RX mbuf allocation failures (the packet pool was empty)"};
inline constexpr Family port_link_up{"ptbsteer_port_link_up", T::Gauge, "port",
                                     "1 when the link is up"};
inline constexpr Family ring_entries{
    "ptbsteer_ring_entries", T::Gauge, "ring",
    "packets waiting in an RX-to-TX ring (only with RX-only lcores)"};
inline constexpr Family ring_overflow{
    "ptbsteer_ring_overflow_packets_total", T::Counter, "ring",
    "packets dropped because that ring was full (also dropped{reason=\"ring_full\"})"};
inline constexpr Family mempool_in_use{
    "ptbsteer_mempool_in_use", T::Gauge, "pool",
    "mbufs taken from the pool (packets, headers, capture), per-lcore caches included"};
inline constexpr Family mempool_size{"ptbsteer_mempool_size", T::Gauge, "pool",
                                     "mbufs in the pool"};

// Capture on demand.
inline constexpr Family capture_active{
    "ptbsteer_capture_active", T::Gauge, "",
    "1 while capture writes; 0 when off or after max_bytes was reached"};
inline constexpr Family capture_copied{"ptbsteer_capture_copied_packets_total", T::Counter, "",
                                       "frames the lcores copied for the capture",
                                       &C::capture_copied};
inline constexpr Family capture_lost{
    "ptbsteer_capture_lost_packets_total", T::Counter, "",
    "copies lost because the capture ring or pool was full (the packet path never waits)",
    &C::capture_lost};
inline constexpr Family capture_written{"ptbsteer_capture_written_packets_total", T::Counter, "",
                                        "frames written to the file"};
inline constexpr Family capture_over_limit{"ptbsteer_capture_over_limit_packets_total", T::Counter,
                                           "",
                                           "copies discarded because the file reached max_bytes"};
inline constexpr Family capture_file_bytes{"ptbsteer_capture_file_bytes", T::Gauge, "",
                                           "size of the capture file, headers included"};

// The process.
inline constexpr Family build_info{"ptbsteer_build_info", T::Gauge, "version, dpdk",
                                   "always 1; the labels say what runs"};
inline constexpr Family simd_info{
    "ptbsteer_simd_info", T::Gauge, "hash, checksum",
    "always 1; the SIMD paths the fast path runs: hash hashes a burst's Linux flows (simd:), "
    "checksum sums the ICMP checksums (the best this CPU runs)"};
inline constexpr Family config_generation{
    "ptbsteer_config_generation", T::Gauge, "",
    "generation of the configuration serving: 1, the one read at start; +1 per successful "
    "reload"};
inline constexpr Family config_reloads{
    "ptbsteer_config_reloads_total", T::Counter, "result",
    "reload attempts (SIGHUP or POST /reload) by result: success (a new generation serves), "
    "failure (the file is unreadable or invalid, or its tables could not be built; the running "
    "generation keeps serving), restart_required (it changes ports, lcores, eal, metrics or "
    "capture, which only a restart applies). All three are present from the start at 0"};
inline constexpr Family process_start_time{
    "process_start_time_seconds", T::Gauge, "",
    "start of the process, seconds since the Unix epoch. The standard name of the Prometheus "
    "client guidelines, deliberately without the ptbsteer_ prefix, so time() - "
    "process_start_time_seconds works as for any exporter"};
// Live groups and the control API.
inline constexpr Family group_generation{
    "ptbsteer_group_generation", T::Gauge, "group, source",
    "the configuration generation since which the group serves as it is now (source: file or "
    "api)"};
inline constexpr Family group_updated{
    "ptbsteer_group_updated_timestamp_seconds", T::Gauge, "group, source",
    "when that generation was published, seconds since the Unix epoch: time() - this is the "
    "age of the group's definition"};
inline constexpr Family group_transition_versions{
    "ptbsteer_group_transition_versions", T::Gauge, "group",
    "earlier versions of the group whose transition window is still open: 0, no transition; at "
    "most 7"};
inline constexpr Family transition_copies{
    "ptbsteer_transition_copies_total", T::Counter, "",
    "frames sent to an earlier owner of a flow during a transition, beside the PTB's unicast to "
    "its newest owner (per next-hop: delivered with mode=\"transition\")",
    &C::transition_copies};
inline constexpr Family transition_budget_exhausted{
    "ptbsteer_transition_budget_exhausted_total", T::Counter, "",
    "PTBs of a transition sent to their newest owner only: the replication budget had no room "
    "for the copies to earlier owners",
    &C::transition_budget_exhausted};
inline constexpr Family transition_versions_dropped{
    "ptbsteer_transition_versions_dropped_total", T::Counter, "",
    "earlier versions of groups forgotten before their window closed: their departed next-hops "
    "would have held more than half the next-hop counter slots (a restart sizes them anew)"};
inline constexpr Family api_requests{
    "ptbsteer_api_requests_total", T::Counter, "endpoint, status",
    "control API requests (docs/api.md) by endpoint (groups, group, decide, reload, capture, "
    "counters, "
    "other) and HTTP status; a series appears with its first request"};
} // namespace families

// Every family, in the order /metrics serves them.
inline constexpr std::array<const Family*, 52> all_families = {
    &families::received,
    &families::ptbs,
    &families::router_ptbs,
    &families::router_steered,
    &families::delivered,
    &families::replicated,
    &families::copies,
    &families::answered,
    &families::tx_failed,
    &families::dropped,
    &families::rate_limited,
    &families::advertised_mtu,
    &families::lcore_received,
    &families::lcore_heartbeat_age,
    &families::neighbor_state,
    &families::neighbor_mac_changed,
    &families::neighbor_solicitations,
    &families::neighbor_solicitations_lost,
    &families::neighbor_updates,
    &families::neighbor_queued,
    &families::copies_unresolved,
    &families::port_rx_packets,
    &families::port_tx_packets,
    &families::port_rx_bytes,
    &families::port_tx_bytes,
    &families::port_rx_missed,
    &families::port_rx_errors,
    &families::port_tx_errors,
    &families::port_rx_nombuf,
    &families::port_link_up,
    &families::ring_entries,
    &families::ring_overflow,
    &families::mempool_in_use,
    &families::mempool_size,
    &families::capture_active,
    &families::capture_copied,
    &families::capture_lost,
    &families::capture_written,
    &families::capture_over_limit,
    &families::capture_file_bytes,
    &families::build_info,
    &families::simd_info,
    &families::config_generation,
    &families::config_reloads,
    &families::process_start_time,
    &families::group_generation,
    &families::group_updated,
    &families::group_transition_versions,
    &families::transition_copies,
    &families::transition_budget_exhausted,
    &families::transition_versions_dropped,
    &families::api_requests,
};

} // namespace ptbsteer::metrics
