#include "control/ports.h"

#include <cstring>
#include <stdexcept>

#include <fmt/format.h>
#include <rte_ethdev.h>
#include <rte_mempool.h>

namespace ptbsteer::control {
namespace {

using config::RssType;

void check(int rc, const config::Port& p, const char* what) {
    if (rc < 0)
        throw std::runtime_error(
            fmt::format("port {} ({}): {} failed: {}", p.name, p.device, what, rte_strerror(-rc)));
}

std::uint64_t rte_rss_flag(RssType t) {
    switch (t) {
    case RssType::ipv4: return RTE_ETH_RSS_IPV4;
    case RssType::frag_ipv4: return RTE_ETH_RSS_FRAG_IPV4;
    case RssType::nonfrag_ipv4_tcp: return RTE_ETH_RSS_NONFRAG_IPV4_TCP;
    case RssType::nonfrag_ipv4_udp: return RTE_ETH_RSS_NONFRAG_IPV4_UDP;
    case RssType::nonfrag_ipv4_sctp: return RTE_ETH_RSS_NONFRAG_IPV4_SCTP;
    case RssType::nonfrag_ipv4_other: return RTE_ETH_RSS_NONFRAG_IPV4_OTHER;
    case RssType::ipv6: return RTE_ETH_RSS_IPV6;
    case RssType::frag_ipv6: return RTE_ETH_RSS_FRAG_IPV6;
    case RssType::nonfrag_ipv6_tcp: return RTE_ETH_RSS_NONFRAG_IPV6_TCP;
    case RssType::nonfrag_ipv6_udp: return RTE_ETH_RSS_NONFRAG_IPV6_UDP;
    case RssType::nonfrag_ipv6_sctp: return RTE_ETH_RSS_NONFRAG_IPV6_SCTP;
    case RssType::nonfrag_ipv6_other: return RTE_ETH_RSS_NONFRAG_IPV6_OTHER;
    case RssType::l2_payload: return RTE_ETH_RSS_L2_PAYLOAD;
    case RssType::ipv6_ex: return RTE_ETH_RSS_IPV6_EX;
    case RssType::ipv6_tcp_ex: return RTE_ETH_RSS_IPV6_TCP_EX;
    case RssType::ipv6_udp_ex: return RTE_ETH_RSS_IPV6_UDP_EX;
    }
    return 0;
}

std::uint64_t rte_tx_offload(config::TxOffload o) {
    switch (o) {
    case config::TxOffload::multi_segs: return RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
    }
    return 0;
}

// The RSS types of `set` whose DPDK flag is in `supported` (all of them when `supported` is ~0).
struct RssSplit {
    std::uint64_t rss_hf = 0; // what the device will hash
    std::string unsupported;  // names of the requested types it cannot hash
};

RssSplit split_rss(config::RssTypes set, std::uint64_t supported) {
    RssSplit out;
    for (std::size_t i = 0; i < config::rss_type_count; ++i) {
        if (!(set & config::rss_bit(RssType(i)))) continue;
        const std::uint64_t flag = rte_rss_flag(RssType(i));
        if (flag & supported)
            out.rss_hf |= flag;
        else
            out.unsupported +=
                (out.unsupported.empty() ? "" : ", ") + std::string(config::rss_type_names[i]);
    }
    return out;
}

// RSS over the port's RX queues. ICMP has no ports, so a PTB can only be spread by its IP
// addresses; the requested types are masked by what the device hashes (rte_eth_dev_configure
// refuses rss_hf bits outside flow_type_rss_offloads) and the rest is reported, not hidden.
void configure_rss(const config::Port& p, const rte_eth_dev_info& info, rte_eth_conf& conf) {
    if (p.rx_queues <= 1) return;
    const RssSplit rss = split_rss(p.rss, info.flow_type_rss_offloads);
    if (!rss.unsupported.empty())
        fmt::print(stderr,
                   "ptbsteer: port {} ({}): the device cannot hash rss type(s) {}; left out\n",
                   p.name, info.driver_name, rss.unsupported);
    if (rss.rss_hf == 0) {
        // Some drivers refuse the RSS mode when they cannot hash at all (virtio without
        // VIRTIO_NET_F_RSS). Without it a NIC delivers everything to queue 0; vdevs fill their
        // queues their own way (one rx_pcap file each, the kernel's af_packet fanout).
        fmt::print(stderr,
                   "ptbsteer: port {} ({}): no RSS hash type applies; RSS stays off and the "
                   "driver alone decides which of the {} rx queues a packet reaches (queue 0 "
                   "on a NIC)\n",
                   p.name, info.driver_name, p.rx_queues);
        return;
    }
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_hf = rss.rss_hf;
}

// TX offloads: requested ones the device lacks are reported and left out. Multi-segment TX
// matters: Intel drivers pick a vector/simple TX path that sends single-segment mbufs only
// unless it is requested (doc/guides/nics/ixgbe.rst, "TX Constraint"), and mlx5 builds its
// multi-segment burst routine only then (mlx5_select_tx_function).
void configure_tx_offloads(const config::Port& p, const rte_eth_dev_info& info,
                           rte_eth_conf& conf) {
    std::string missing;
    for (std::size_t i = 0; i < config::tx_offload_names.size(); ++i) {
        if (!(p.tx_offloads & config::tx_offload_bit(config::TxOffload(i)))) continue;
        const std::uint64_t flag = rte_tx_offload(config::TxOffload(i));
        if (flag & info.tx_offload_capa)
            conf.txmode.offloads |= flag;
        else
            missing += (missing.empty() ? "" : ", ") + std::string(config::tx_offload_names[i]);
    }
    if (!missing.empty() && p.tx_offloads_explicit)
        fmt::print(stderr,
                   "ptbsteer: port {} ({}): the device does not offer tx offload(s) {}; "
                   "left out\n",
                   p.name, info.driver_name, missing);
}

// Routers address PTBs to ptbsteer's MAC; promiscuous mode is for vdevs (af_packet, tap) that see
// the segment through a kernel interface. Without it, all-multicast stays on: Neighbor
// Solicitations go to solicited-node multicast addresses (RFC 4861 §7.2.2) and the NIC's
// multicast filter would drop them. Drivers without the notion return errors we ignore.
void set_rx_modes(const config::Port& p, std::uint16_t id) {
    if (p.promiscuous) {
        (void)rte_eth_promiscuous_enable(id);
        return;
    }
    (void)rte_eth_promiscuous_disable(id);
    (void)rte_eth_allmulticast_enable(id);
}

} // namespace

std::string ethdev_name(const config::Port& p) {
    return p.device.substr(0, p.device.find(','));
}

std::vector<PortRuntime> start_ports(const config::Config& cfg, rte_mempool* pool) {
    std::vector<PortRuntime> out;
    std::uint64_t rx_mbufs = 0; // mbufs the RX rings of all ports hold once started
    for (const config::Port& p : cfg.ports) {
        PortRuntime rt;
        if (rte_eth_dev_get_port_by_name(ethdev_name(p).c_str(), &rt.id) != 0)
            throw std::runtime_error(fmt::format(
                "port {}: no DPDK device '{}' (is the vdev in the EAL arguments, the NIC bound "
                "to a DPDK driver?)",
                p.name, ethdev_name(p)));
        rte_eth_dev_info info;
        check(rte_eth_dev_info_get(rt.id, &info), p, "rte_eth_dev_info_get");

        rte_eth_conf conf;
        std::memset(&conf, 0, sizeof conf);
        configure_rss(p, info, conf);
        configure_tx_offloads(p, info, conf);
        check(rte_eth_dev_configure(rt.id, p.rx_queues, p.tx_queues, &conf), p,
              "rte_eth_dev_configure");
        // The device's limits and alignment decide (e.g. virtio: the host's virtqueue size).
        std::uint16_t rxd = p.rx_desc, txd = p.tx_desc;
        check(rte_eth_dev_adjust_nb_rx_tx_desc(rt.id, &rxd, &txd), p,
              "adjusting descriptor counts");
        if (rxd != p.rx_desc || txd != p.tx_desc)
            fmt::print(stderr,
                       "ptbsteer: port {} ({}): descriptors rx {} tx {} (asked for {} and {})\n",
                       p.name, info.driver_name, rxd, txd, p.rx_desc, p.tx_desc);
        rx_mbufs += std::uint64_t(rxd) * p.rx_queues;
        if (rx_mbufs > pool->size)
            throw std::runtime_error(fmt::format(
                "port {}: the RX rings would hold {} mbufs but the packet pool has {}; lower "
                "rx_descriptors or rx_queues",
                p.name, rx_mbufs, pool->size));
        const int socket = rte_eth_dev_socket_id(rt.id);
        for (std::uint16_t q = 0; q < p.rx_queues; ++q)
            check(rte_eth_rx_queue_setup(rt.id, q, rxd, unsigned(socket), nullptr, pool), p,
                  "rx queue setup");
        for (std::uint16_t q = 0; q < p.tx_queues; ++q)
            check(rte_eth_tx_queue_setup(rt.id, q, txd, unsigned(socket), nullptr), p,
                  "tx queue setup");
        check(rte_eth_dev_start(rt.id), p, "rte_eth_dev_start");
        set_rx_modes(p, rt.id);
        rte_ether_addr mac;
        check(rte_eth_macaddr_get(rt.id, &mac), p, "reading the MAC address");
        std::memcpy(rt.mac.data(), mac.addr_bytes, 6);
        out.push_back(rt);
    }
    return out;
}

void stop_ports(const std::vector<PortRuntime>& ports) {
    for (const PortRuntime& p : ports) {
        (void)rte_eth_dev_stop(p.id);
        (void)rte_eth_dev_close(p.id);
    }
}

} // namespace ptbsteer::control
