#include "dataplane/ports.h"

#include <cstring>
#include <stdexcept>

#include <fmt/format.h>
#include <rte_ethdev.h>

namespace ptbsteer::dataplane {
namespace {

constexpr std::uint16_t default_rx_desc = 1024;
constexpr std::uint16_t default_tx_desc = 1024;

void check(int rc, const config::Port& p, const char* what) {
    if (rc < 0)
        throw std::runtime_error(fmt::format("port {} ({}): {} failed: {}", p.name, p.device, what,
                                             rte_strerror(-rc)));
}

} // namespace

std::string ethdev_name(const config::Port& p) {
    return p.is_vdev ? p.device.substr(0, p.device.find(',')) : p.device;
}

std::vector<PortRuntime> start_ports(const config::Config& cfg, rte_mempool* pool) {
    std::vector<PortRuntime> out;
    for (const config::Port& p : cfg.ports) {
        PortRuntime rt;
        if (rte_eth_dev_get_port_by_name(ethdev_name(p).c_str(), &rt.id) != 0)
            throw std::runtime_error(fmt::format(
                "port {}: no DPDK device '{}' (is the vdev in the EAL arguments, the NIC bound "
                "to a DPDK driver?)", p.name, ethdev_name(p)));
        rte_eth_dev_info info;
        check(rte_eth_dev_info_get(rt.id, &info), p, "rte_eth_dev_info_get");

        rte_eth_conf conf;
        std::memset(&conf, 0, sizeof conf);
        if (p.rx_queues > 1) {
            // ICMP has no ports: spread PTBs over queues by their IP addresses.
            conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_hf = RTE_ETH_RSS_IP & info.flow_type_rss_offloads;
        }
        check(rte_eth_dev_configure(rt.id, p.rx_queues, p.tx_queues, &conf), p, "rte_eth_dev_configure");
        std::uint16_t rxd = default_rx_desc, txd = default_tx_desc;
        check(rte_eth_dev_adjust_nb_rx_tx_desc(rt.id, &rxd, &txd), p, "adjusting descriptor counts");
        const int socket = rte_eth_dev_socket_id(rt.id);
        for (std::uint16_t q = 0; q < p.rx_queues; ++q)
            check(rte_eth_rx_queue_setup(rt.id, q, rxd, unsigned(socket), nullptr, pool), p, "rx queue setup");
        for (std::uint16_t q = 0; q < p.tx_queues; ++q)
            check(rte_eth_tx_queue_setup(rt.id, q, txd, unsigned(socket), nullptr), p, "tx queue setup");
        check(rte_eth_dev_start(rt.id), p, "rte_eth_dev_start");
        // Routers address PTBs to ptbsteer's MAC, but af_packet and tap ports see the segment's
        // traffic only when promiscuous; drivers without the notion return an error we ignore.
        (void)rte_eth_promiscuous_enable(rt.id);
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

} // namespace ptbsteer::dataplane
