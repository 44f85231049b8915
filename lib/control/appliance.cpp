#include "control/appliance.h"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "config/routers.h"
#include "control/affinity.h"
#include "control/capture.h"
#include "control/lcores.h"
#include "control/neighbors.h"
#include "control/ports.h"
#include "control/reload.h"
#include "control/report.h"
#include "guard/ones_sum.h"
#include "hash/siphash_batch.h"

namespace ptbsteer::control {
namespace {

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
    if (off < 0)
        throw std::runtime_error(fmt::format("mbuf dynfield: {}", rte_strerror(rte_errno)));
    return off;
}

rte_mempool* make_pool(const char* name, unsigned n, std::uint16_t data_room) {
    rte_mempool* p = rte_pktmbuf_pool_create(name, n, 256, 0, data_room, int(rte_socket_id()));
    if (!p)
        throw std::runtime_error(
            fmt::format("mempool {} ({} mbufs): {}", name, n, rte_strerror(rte_errno)));
    return p;
}

unsigned packet_pool_size(const config::Config& cfg) {
    unsigned n = 8192; // in flight in rings and TX buffers, with slack
    for (const config::Port& p : cfg.ports)
        n += (p.rx_queues + p.tx_queues) * 1024u + 512;
    n += unsigned(cfg.lcores.size()) * (lcore_ring_size + 512);
    return n;
}

struct Pools {
    rte_mempool* packets = nullptr; // received frames (and unicast PTBs, sent in place)
    rte_mempool* headers = nullptr; // replication header mbufs and clones
    ~Pools() {
        rte_mempool_free(headers);
        rte_mempool_free(packets);
    }
};

struct Ports {
    std::vector<PortRuntime> list; // by config port index
    ~Ports() { stop_ports(list); }
};

// The neighbour manager's rings (worker.h: Shared::neighbor_updates, neighbor_tx).
struct NeighborRings {
    rte_ring* updates = nullptr;
    rte_ring* tx = nullptr;
    void make() {
        updates = rte_ring_create_elem("ptbsteer_nbr_upd", sizeof(NeighborUpdate), 1024,
                                       int(rte_socket_id()), RING_F_SC_DEQ);
        tx = rte_ring_create("ptbsteer_nbr_tx", 1024, int(rte_socket_id()), RING_F_SP_ENQ);
        if (!updates || !tx)
            throw std::runtime_error(
                fmt::format("neighbour manager rings: {}", rte_strerror(rte_errno)));
    }
    ~NeighborRings() {
        void* m;
        while (tx && rte_ring_dequeue(tx, &m) == 0) // solicitations no TX lcore sent
            rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
        rte_ring_free(tx);
        rte_ring_free(updates);
    }
};

} // namespace

// Declared in the order things are built; destroyed in reverse: the observer (the metrics
// endpoint) before what its Runtime points to, the capture writer before the ports (its file
// names them), the pools last.
struct Appliance::State {
    Shared shared;
    std::vector<LcoreCounters> counters;
    Pools pools;
    LcoreResources lcores;
    Ports ports;
    NeighborRings neighbor_rings;       // after the reloader's neighbour thread stops
    std::unique_ptr<Capture> capture;   // the taps; a capture runs when started
    std::unique_ptr<Reloader> reloader; // before the observer, whose POST /reload calls it
    std::unique_ptr<ApiStats> api_stats = std::make_unique<ApiStats>(); // the API counts here
    Runtime runtime;
    Observation observed;
};

Appliance::Appliance(const config::Config& cfg, RunOptions opt) : cfg_(cfg), opt_(std::move(opt)) {
    std::vector<std::string> args = eal_arguments(cfg_, opt_.extra_eal);
    std::vector<char*> argv;
    for (std::string& a : args)
        argv.push_back(a.data());
    allowed_cpus_ = thread_cpus();
    if (rte_eal_init(int(argv.size()), argv.data()) < 0)
        throw std::runtime_error(
            fmt::format("DPDK EAL initialisation failed: {}", rte_strerror(rte_errno)));
    main_lcore_cpus_ = thread_cpus();
}

Appliance::~Appliance() {
    state_.reset();
    rte_eal_cleanup();
}

void Appliance::start() {
    // From here until launch the main thread creates the control threads (affinity.h); run()
    // gives it back its lcore's CPU before it polls.
    std::vector<unsigned> polling;
    for (const config::Lcore& l : cfg_.lcores)
        polling.push_back(rte_lcore_to_cpu_id(int(l.id)));
    set_thread_cpus(control_cpus(allowed_cpus_, polling));
    state_ = std::make_unique<State>();
    State& st = *state_;
    st.counters.resize(cfg_.lcores.size());
    st.shared.decision_offset = register_decision_field();
    st.pools.packets =
        make_pool("ptbsteer_pkts", packet_pool_size(cfg_), RTE_MBUF_DEFAULT_BUF_SIZE);
    st.pools.headers = make_pool("ptbsteer_hdrs", 16383, RTE_PKTMBUF_HEADROOM + header_room);
    st.ports.list = start_ports(cfg_, st.pools.packets);

    ReloadSetup setup{opt_.config_path, {}, {}, {}, rte_get_tsc_hz()};
    setup.counters = &st.counters; // read (never written) when a next-hop's slot is freed
    for (const PortRuntime& p : st.ports.list) {
        setup.port_ids.push_back(p.id);
        setup.port_macs.push_back(p.mac);
    }
    for (const config::Lcore& l : cfg_.lcores)
        setup.rx.push_back(!l.rx.empty());
    st.reloader = std::make_unique<Reloader>(cfg_, std::move(setup));
    for (LcoreCounters& c : st.counters)
        c.size_for(cfg_.ports.size(), st.reloader->slots().capacity(), cfg_.routers.size());

    st.shared.header_pool = st.pools.headers;
    st.shared.drain_cycles = rte_get_tsc_hz() / 10000; // 100 us
    st.neighbor_rings.make();
    st.shared.neighbor_updates = st.neighbor_rings.updates;
    st.shared.neighbor_tx = st.neighbor_rings.tx;
    st.shared.neighbors = st.reloader->neighbors().words();
    // A PTB waits for its next-hop at most through a whole resolution (3 solicitations, 1 s
    // apart) and then some: the manager marks the entry failed first (neighbors.h).
    st.shared.park_cycles = 5 * rte_get_tsc_hz();
    st.capture = std::make_unique<Capture>(cfg_.lcores.size(), st.shared.qsbr);
    build_workers(cfg_, st.shared, st.ports.list, st.counters, *st.capture, st.lcores);
    if (!cfg_.capture.file.empty()) st.capture->start(cfg_.capture, CaptureOpen::truncate);
    st.reloader->attach(st.shared, st.lcores.rings);
    st.runtime = make_runtime();
    // Destroyed (the endpoint stopped) before anything the runtime points to.
    if (opt_.observe) st.observed = opt_.observe(st.runtime);
}

Runtime Appliance::make_runtime() const {
    const State& st = *state_;
    Runtime rt;
    rt.config = &cfg_;
    rt.reloader = st.reloader.get();
    rt.api = st.api_stats.get();
    for (std::size_t i = 0; i < st.ports.list.size(); ++i)
        rt.ports.push_back(PortInfo{cfg_.ports[i].name, st.ports.list[i].id});
    for (const config::Lcore& l : cfg_.lcores)
        rt.lcore_ids.push_back(l.id);
    rt.counters = &st.counters;
    rt.pools = {PoolInfo{"packets", st.pools.packets}, PoolInfo{"headers", st.pools.headers}};
    for (std::size_t i = 0; i < st.shared.workers.size(); ++i)
        if (rte_ring* r = st.shared.workers[i].to_tx) rt.rings.push_back(RingInfo{r->name, r, i});
    rt.capture = st.capture.get();
    rt.tsc_hz = rte_get_tsc_hz();
    return rt;
}

void Appliance::run() {
    State& st = *state_;
    g_shared = &st.shared;
    install_signal_handlers();
    const Tables& first = st.reloader->live().tables;
    fmt::print("ptbsteer: running: {} port(s), {} lcore(s), {} group(s), {} next-hop(s); "
               "SIGTERM or Ctrl-C stops, SIGHUP reloads {}\n",
               st.ports.list.size(), cfg_.lcores.size(), first.groups.size(),
               first.next_hops.size(), opt_.config_path);
    fmt::print("ptbsteer: SIMD: flow hashes {} (simd: {}), checksums {}\n",
               hash::simd_path_name(first.simd), hash::simd_path_name(cfg_.simd),
               guard::detail::ones_sum_impl());
    if (!st.observed.announce.empty()) fmt::print("ptbsteer: {}\n", st.observed.announce);
    if (!cfg_.capture.file.empty())
        fmt::print("ptbsteer: capturing {} frames to {} (at most {} bytes)\n",
                   cfg_.capture.what == config::CaptureWhat::all ? "dropped and delivered"
                                                                 : "dropped",
                   cfg_.capture.file, cfg_.capture.max_bytes);
    std::fflush(stdout);
    st.reloader->start_thread(g_reload_requested, st.shared.stop);
    st.reloader->neighbors().start(st.shared, st.pools.packets);
    set_thread_cpus(main_lcore_cpus_); // the main lcore may poll (launch_and_wait)
    launch_and_wait(cfg_, st.shared);
    st.reloader->neighbors().stop();
    st.reloader->stop_thread();
    g_shared = nullptr;
    st.observed.holder.reset(); // no API request starts a capture from here on
    st.capture->stop(false);    // the lcores have stopped: no grace period to wait for
}

std::string Appliance::report() const {
    const State& st = *state_;
    const LcoreCounters total = sum(st.counters);
    return format_report(total, st.reloader->slots().totals(total)) +
           format_reloads(st.reloader->stats()) + "\n" + format_pools(make_runtime().pools) + "\n" +
           format_routers(total, config::router_labels(cfg_)) + "\n";
}

std::vector<std::string> eal_arguments(const config::Config& cfg,
                                       const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"ptbsteer"};
    args.insert(args.end(), cfg.eal.begin(), cfg.eal.end());
    auto given = [&](const std::string& v) {
        return std::find(cfg.eal.begin(), cfg.eal.end(), v) != cfg.eal.end();
    };
    const bool no_pci = given("--no-pci");
    for (const config::Port& p : cfg.ports) {
        if (p.is_vdev && !given(p.device)) args.insert(args.end(), {"--vdev", p.device});
        if (!p.is_vdev && !no_pci && !given(p.device)) args.insert(args.end(), {"-a", p.device});
    }
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

int run_appliance(const config::Config& cfg, const RunOptions& opt) {
    std::unique_ptr<Appliance> appliance;
    try {
        appliance = std::make_unique<Appliance>(cfg, opt);
    } catch (const std::exception& e) {
        fmt::print(stderr, "ptbsteer: {}\n", e.what()); // no EAL to clean up
        return 1;
    }
    try {
        appliance->start();
        appliance->run();
        fmt::print("{}", appliance->report());
        std::fflush(stdout);
    } catch (const std::exception& e) {
        fmt::print(stderr, "ptbsteer: {}\n", e.what());
        return 1; // ~Appliance frees what start() built and cleans the EAL up
    }
    return 0;
}

} // namespace ptbsteer::control
