#include "control/lcores.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_ring.h>

namespace ptbsteer::control {
namespace {

constexpr unsigned tx_burst = 32;

} // namespace

LcoreResources::~LcoreResources() {
    for (rte_ring* r : rings)
        rte_ring_free(r);
    for (void* b : tx_buffers)
        rte_free(b);
}

void build_workers(const config::Config& cfg, Shared& s, const std::vector<PortRuntime>& ports,
                   std::vector<LcoreCounters>& counters, Capture& capture, LcoreResources& res) {
    std::vector<std::size_t> tx_lcores;
    for (std::size_t i = 0; i < cfg.lcores.size(); ++i)
        if (cfg.lcores[i].tx) tx_lcores.push_back(i);
    std::uint16_t max_port = 0;
    for (const PortRuntime& p : ports)
        max_port = std::max(max_port, p.id);

    s.workers.resize(cfg.lcores.size());
    std::size_t rx_only = 0;
    for (std::size_t i = 0; i < cfg.lcores.size(); ++i) {
        const config::Lcore& l = cfg.lcores[i];
        if (!rte_lcore_is_enabled(l.id))
            throw std::runtime_error(fmt::format(
                "lcore {} is in the configuration but not among the EAL's lcores (eal: -l ...)",
                l.id));
        WorkerConfig& w = s.workers[i];
        w.index = unsigned(i);
        w.lcore = l.id;
        w.counters = &counters[i];
        for (const config::RxQueueRef& q : l.rx)
            w.rx.push_back(RxQueue{ports[q.port].id, q.queue, std::uint16_t(q.port)});
        w.tx = l.tx;
        if (w.tx) {
            w.tx_queue =
                std::uint16_t(std::find(tx_lcores.begin(), tx_lcores.end(), i) - tx_lcores.begin());
            w.tx_buffers.assign(max_port + 1u, nullptr);
            for (const PortRuntime& p : ports) {
                auto* b = static_cast<rte_eth_dev_tx_buffer*>(rte_zmalloc_socket(
                    "ptbsteer_txbuf", RTE_ETH_TX_BUFFER_SIZE(tx_burst), 0, int(rte_socket_id())));
                if (!b) throw std::runtime_error("out of memory for TX buffers");
                res.tx_buffers.push_back(b);
                rte_eth_tx_buffer_init(b, tx_burst);
                // Frames the NIC does not take are freed and counted, never retried forever.
                rte_eth_tx_buffer_set_err_callback(b, rte_eth_tx_buffer_count_callback,
                                                   &w.counters->tx_failed);
                w.tx_buffers[p.id] = b;
            }
        }
    }
    // Each RX-only lcore feeds one TX lcore through its own single-producer/single-consumer ring.
    for (std::size_t i = 0; i < cfg.lcores.size(); ++i) {
        WorkerConfig& w = s.workers[i];
        if (w.tx || w.rx.empty()) continue;
        const std::string name = fmt::format("ptbsteer_rx{}", w.lcore);
        rte_ring* r = rte_ring_create(name.c_str(), lcore_ring_size, int(rte_socket_id()),
                                      RING_F_SP_ENQ | RING_F_SC_DEQ);
        if (!r) throw std::runtime_error(fmt::format("ring {}: {}", name, rte_strerror(rte_errno)));
        res.rings.push_back(r);
        w.to_tx = r;
        s.workers[tx_lcores[rx_only++ % tx_lcores.size()]].from_rx.push_back(r);
    }
    for (const WorkerConfig& w : s.workers)
        s.rx_running += w.rx.empty() ? 0 : 1;
    for (std::size_t i = 0; i < s.workers.size(); ++i)
        s.workers[i].capture = capture.tap(i);
}

// Runs the lcores until they stop. When the main lcore polls too, it runs worker_main itself.
// Otherwise it must not spin in rte_eal_mp_wait_lcore (a busy loop that would take a whole CPU
// from the control threads on a 2-core box): it sleeps until every worker has returned.
void launch_and_wait(const config::Config& cfg, Shared& shared) {
    const unsigned main_lcore = rte_get_main_lcore();
    bool main_polls = false;
    for (const config::Lcore& l : cfg.lcores)
        main_polls |= l.id == main_lcore;
    if (main_polls) {
        rte_eal_mp_remote_launch(worker_main, &shared, CALL_MAIN);
        rte_eal_mp_wait_lcore();
        return;
    }
    rte_eal_mp_remote_launch(worker_main, &shared, SKIP_MAIN);
    // A worker's EAL state turns RUNNING only once its thread wakes, so it cannot tell "not yet
    // started" from "finished": count returns instead.
    const unsigned workers = rte_lcore_count() - 1;
    while (shared.lcores_returned.load(std::memory_order_acquire) < workers)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    rte_eal_mp_wait_lcore(); // every worker has returned: this only collects their state
}

} // namespace ptbsteer::control
