#include "control/appliance.h"

#include <algorithm>
#include <memory>
#include <csignal>
#include <thread>
#include <chrono>
#include <cstdio>
#include <stdexcept>

#include <fmt/format.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_ring.h>

#include "control/capture.h"
#include "datapath/decide.h"
#include "control/ports.h"
#include "control/reload.h"
#include "control/report.h"
#include "datapath/worker.h"

namespace ptbsteer::control {
namespace {

constexpr unsigned tx_burst = 32;
constexpr unsigned ring_size = 1024;
constexpr unsigned header_room = 64; // Ethernet + VLAN + IPv6 tunnel header = 58 bytes

Shared* g_shared = nullptr; // for the signal handler only
std::atomic<bool> g_reload_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free); // async-signal-safe

extern "C" void on_stop_signal(int) {
    // Async-signal-safe: one lock-free atomic store; the lcores notice it in their loop.
    if (g_shared) g_shared->stop.store(true, std::memory_order_relaxed);
}

extern "C" void on_reload_signal(int) {
    // Only a flag: the reload itself (file I/O, allocation, RCU waits) runs on the reload thread.
    g_reload_requested.store(true, std::memory_order_relaxed);
}

void install_signal_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    struct sigaction hup {};
    hup.sa_handler = on_reload_signal;
    sigemptyset(&hup.sa_mask);
    hup.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &hup, nullptr);
}

int register_decision_field() {
    rte_mbuf_dynfield desc{};
    std::snprintf(desc.name, sizeof desc.name, "%s", "ptbsteer_decision");
    desc.size = sizeof(Handover);
    desc.align = alignof(Handover);
    const int off = rte_mbuf_dynfield_register(&desc);
    if (off < 0) throw std::runtime_error(fmt::format("mbuf dynfield: {}", rte_strerror(rte_errno)));
    return off;
}

rte_mempool* make_pool(const char* name, unsigned n, std::uint16_t data_room) {
    rte_mempool* p = rte_pktmbuf_pool_create(name, n, 256, 0, data_room, int(rte_socket_id()));
    if (!p) throw std::runtime_error(fmt::format("mempool {} ({} mbufs): {}", name, n, rte_strerror(rte_errno)));
    return p;
}

// Everything created after the EAL, released in reverse by the destructor.
struct Resources {
    rte_mempool* packets = nullptr;
    rte_mempool* headers = nullptr;
    std::vector<PortRuntime> ports;
    std::vector<rte_ring*> rings;
    std::vector<void*> tx_buffers;
    std::unique_ptr<CaptureWriter> capture; // before the ports stop: its file names them
    ~Resources() {
        capture.reset();
        stop_ports(ports);
        for (rte_ring* r : rings) rte_ring_free(r);
        for (void* b : tx_buffers) rte_free(b);
        rte_mempool_free(headers);
        rte_mempool_free(packets);
    }
};

void build_workers(const config::Config& cfg, Shared& s, Resources& res,
                   std::vector<LcoreCounters>& counters) {
    std::vector<std::size_t> tx_lcores;
    for (std::size_t i = 0; i < cfg.lcores.size(); ++i)
        if (cfg.lcores[i].tx) tx_lcores.push_back(i);
    std::uint16_t max_port = 0;
    for (const PortRuntime& p : res.ports) max_port = std::max(max_port, p.id);

    s.workers.resize(cfg.lcores.size());
    std::size_t rx_only = 0;
    for (std::size_t i = 0; i < cfg.lcores.size(); ++i) {
        const config::Lcore& l = cfg.lcores[i];
        if (!rte_lcore_is_enabled(l.id))
            throw std::runtime_error(fmt::format(
                "lcore {} is in the configuration but not among the EAL's lcores (eal: -l ...)", l.id));
        WorkerConfig& w = s.workers[i];
        w.index = unsigned(i);
        w.lcore = l.id;
        w.counters = &counters[i];
        for (const config::RxQueueRef& q : l.rx)
            w.rx.push_back(RxQueue{res.ports[q.port].id, q.queue, std::uint16_t(q.port)});
        w.tx = l.tx;
        if (w.tx) {
            w.tx_queue = std::uint16_t(std::find(tx_lcores.begin(), tx_lcores.end(), i) - tx_lcores.begin());
            w.tx_buffers.assign(max_port + 1u, nullptr);
            for (const PortRuntime& p : res.ports) {
                auto* b = static_cast<rte_eth_dev_tx_buffer*>(
                    rte_zmalloc_socket("ptbsteer_txbuf", RTE_ETH_TX_BUFFER_SIZE(tx_burst), 0, int(rte_socket_id())));
                if (!b) throw std::runtime_error("out of memory for TX buffers");
                res.tx_buffers.push_back(b);
                rte_eth_tx_buffer_init(b, tx_burst);
                // Frames the NIC does not take are freed and counted, never retried forever.
                rte_eth_tx_buffer_set_err_callback(b, rte_eth_tx_buffer_count_callback, &w.counters->tx_failed);
                w.tx_buffers[p.id] = b;
            }
        }
    }
    // Each RX-only lcore feeds one TX lcore through its own single-producer/single-consumer ring.
    for (std::size_t i = 0; i < cfg.lcores.size(); ++i) {
        WorkerConfig& w = s.workers[i];
        if (w.tx || w.rx.empty()) continue;
        const std::string name = fmt::format("ptbsteer_rx{}", w.lcore);
        rte_ring* r = rte_ring_create(name.c_str(), ring_size, int(rte_socket_id()), RING_F_SP_ENQ | RING_F_SC_DEQ);
        if (!r) throw std::runtime_error(fmt::format("ring {}: {}", name, rte_strerror(rte_errno)));
        res.rings.push_back(r);
        w.to_tx = r;
        s.workers[tx_lcores[rx_only++ % tx_lcores.size()]].from_rx.push_back(r);
    }
    for (const WorkerConfig& w : s.workers) s.rx_running += w.rx.empty() ? 0 : 1;
    if (res.capture)
        for (std::size_t i = 0; i < s.workers.size(); ++i) {
            s.workers[i].capture = res.capture->tap(i);
            if (res.capture->all()) s.workers[i].capture_all = res.capture->tap(i);
        }
}

Runtime make_runtime(const config::Config& cfg, Reloader& reloader, const Resources& res,
                     const Shared& s, const std::vector<LcoreCounters>& counters) {
    Runtime rt;
    rt.config = &cfg;
    rt.reloader = &reloader;
    for (std::size_t i = 0; i < res.ports.size(); ++i) rt.ports.push_back(PortInfo{cfg.ports[i].name, res.ports[i].id});
    for (const config::Lcore& l : cfg.lcores) rt.lcore_ids.push_back(l.id);
    rt.counters = &counters;
    rt.pools = {PoolInfo{"packets", res.packets}, PoolInfo{"headers", res.headers}};
    for (std::size_t i = 0; i < s.workers.size(); ++i)
        if (rte_ring* r = s.workers[i].to_tx) rt.rings.push_back(RingInfo{r->name, r, i});
    if (res.capture) {
        rt.pools.push_back(PoolInfo{"capture", res.capture->pool()});
        rt.capture = res.capture.get();
    }
    rt.tsc_hz = rte_get_tsc_hz();
    return rt;
}

// Runs the lcores until they stop. When the main lcore polls too, it runs worker_main itself.
// Otherwise it must not spin in rte_eal_mp_wait_lcore (a busy loop that would take a whole CPU
// from the control threads on a 2-core box): it sleeps until every worker has returned.
void launch_and_wait(const config::Config& cfg, Shared& shared) {
    const unsigned main_lcore = rte_get_main_lcore();
    bool main_polls = false;
    for (const config::Lcore& l : cfg.lcores) main_polls |= l.id == main_lcore;
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

unsigned packet_pool_size(const config::Config& cfg) {
    unsigned n = 8192; // in flight in rings and TX buffers, with slack
    for (const config::Port& p : cfg.ports) n += (p.rx_queues + p.tx_queues) * 1024u + 512;
    n += unsigned(cfg.lcores.size()) * (ring_size + 512);
    return n;
}

} // namespace

std::vector<std::string> eal_arguments(const config::Config& cfg, const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"ptbsteer"};
    args.insert(args.end(), cfg.eal.begin(), cfg.eal.end());
    auto given = [&](const std::string& v) { return std::find(cfg.eal.begin(), cfg.eal.end(), v) != cfg.eal.end(); };
    const bool no_pci = given("--no-pci");
    for (const config::Port& p : cfg.ports) {
        if (p.is_vdev && !given(p.device)) args.insert(args.end(), {"--vdev", p.device});
        if (!p.is_vdev && !no_pci && !given(p.device)) args.insert(args.end(), {"-a", p.device});
    }
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

int run_appliance(const config::Config& cfg, const RunOptions& opt) {
    std::vector<std::string> args = eal_arguments(cfg, opt.extra_eal);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    if (rte_eal_init(int(argv.size()), argv.data()) < 0) {
        fmt::print(stderr, "ptbsteer: DPDK EAL initialisation failed: {}\n", rte_strerror(rte_errno));
        return 1;
    }
    int rc = 0;
    {
        Shared shared;
        std::vector<LcoreCounters> counters(cfg.lcores.size());
        Resources res;
        try {
            shared.decision_offset = register_decision_field();
            res.packets = make_pool("ptbsteer_pkts", packet_pool_size(cfg), RTE_MBUF_DEFAULT_BUF_SIZE);
            res.headers = make_pool("ptbsteer_hdrs", 16383, RTE_PKTMBUF_HEADROOM + header_room);
            res.ports = start_ports(cfg, res.packets);
            ReloadSetup setup{opt.config_path, {}, {}, {}, rte_get_tsc_hz()};
            for (const PortRuntime& p : res.ports) setup.port_ids.push_back(p.id), setup.port_macs.push_back(p.mac);
            for (const config::Lcore& l : cfg.lcores) setup.rx.push_back(!l.rx.empty());
            // Declared before the metrics endpoint, whose POST /reload calls it: outlives it.
            Reloader reloader(cfg, std::move(setup));
            for (LcoreCounters& c : counters) c.size_for(cfg.ports.size(), reloader.slots().capacity());
            shared.header_pool = res.headers;
            shared.drain_cycles = rte_get_tsc_hz() / 10000; // 100 us
            if (!cfg.capture.file.empty())
                res.capture = std::make_unique<CaptureWriter>(cfg.capture, cfg.lcores.size());
            build_workers(cfg, shared, res, counters);
            reloader.attach(shared, res.rings);
            const Runtime runtime = make_runtime(cfg, reloader, res, shared, counters);
            // Destroyed (the endpoint stopped) before anything the runtime points to.
            Observation observed = opt.observe ? opt.observe(runtime) : Observation{};

            g_shared = &shared;
            install_signal_handlers();
            const Tables& first = reloader.live().tables;
            fmt::print("ptbsteer: running: {} port(s), {} lcore(s), {} group(s), {} next-hop(s); "
                       "SIGTERM or Ctrl-C stops, SIGHUP reloads {}\n",
                       res.ports.size(), cfg.lcores.size(), first.groups.size(), first.next_hops.size(),
                       opt.config_path);
            if (!observed.announce.empty()) fmt::print("ptbsteer: {}\n", observed.announce);
            if (res.capture)
                fmt::print("ptbsteer: capturing {} frames to {} (at most {} bytes)\n",
                           res.capture->all() ? "dropped and delivered" : "dropped", cfg.capture.file,
                           cfg.capture.max_bytes);
            std::fflush(stdout);
            if (res.capture) res.capture->start();
            reloader.start_thread(g_reload_requested, shared.stop);
            launch_and_wait(cfg, shared);
            reloader.stop_thread();
            g_shared = nullptr;
            if (res.capture) res.capture->finish();
            observed.holder.reset();
            std::vector<std::string> names;
            for (const NextHopSlots::Name& n : reloader.slots().names()) names.push_back(n.group + "/" + n.next_hop);
            fmt::print("{}", format_report(sum(counters), names));
            fmt::print("{}\n", format_reloads(reloader.stats()));
            std::fflush(stdout);
        } catch (const std::exception& e) {
            fmt::print(stderr, "ptbsteer: {}\n", e.what());
            rc = 1;
        }
    }
    rte_eal_cleanup();
    return rc;
}

} // namespace ptbsteer::control
