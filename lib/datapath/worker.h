// The lcore loops. An lcore polls RX queues, or transmits, or both (a 2-core box runs one lcore
// with both roles and no ring). RX decides; TX delivers. Between them, each RX-only lcore hands
// its bursts to one TX lcore over an SP/SC rte_ring, the Decision riding in an mbuf dynfield
// together with the Tables it indexes (see Handover).
//
// Reload (reload.h): an lcore loads Shared::current once per burst, never inside the per-packet
// loop, and reports an RCU quiescent state (rte_rcu_qsbr_quiescent) once per loop iteration,
// after the burst, when it holds no pointer into any generation.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "datapath/counters.h"
#include "datapath/decide.h"
#include "datapath/generation.h"
#include "datapath/tables.h"

struct rte_mempool;
struct rte_rcu_qsbr;
struct rte_ring;
struct rte_eth_dev_tx_buffer;

namespace ptbsteer::datapath {
struct CaptureTap;
}

namespace ptbsteer::datapath {

struct RxQueue {
    std::uint16_t port_id; // DPDK port
    std::uint16_t queue;
    std::uint16_t port_index; // config port index (for our own addresses)
};

// What rides in the mbuf dynfield from an RX-only lcore to its TX lcore: the Decision and the
// Tables it was made with. Decision::target indexes those Tables; after a reload the TX lcore
// may already be on a newer generation, so it must resolve the target in this one. The Reloader
// keeps `tables` alive until every ring has been drained past it (reload.cpp).
struct Handover {
    Decision decision;
    const Tables* tables = nullptr;
};
// rte_mbuf's free area is 36 bytes (dynfield1), but a PMD may take part of it first: net_pcap
// registers the 8-byte RX timestamp at offset 96, which leaves 24 contiguous bytes (0x68-0x7f).
static_assert(sizeof(Handover) <= 24);

struct WorkerConfig {
    unsigned index = 0; // position in Shared::workers = config lcore index = RCU reader id
    unsigned lcore = 0;
    std::vector<RxQueue> rx;
    bool tx = false;
    std::uint16_t tx_queue = 0;                     // this TX lcore's queue on every port
    rte_ring* to_tx = nullptr;                      // RX-only lcore: its ring to a TX lcore
    std::vector<rte_ring*> from_rx;                 // TX lcore: rings it drains
    std::vector<rte_eth_dev_tx_buffer*> tx_buffers; // by DPDK port id (TX lcores)
    LcoreCounters* counters = nullptr;
    // Capture on demand (capture_tap.h): this lcore's tap, the tap's only producer; its mode
    // says whether dropped (and delivered) frames are copied now. Null only in unit tests.
    CaptureTap* capture = nullptr;
    // Rate limiters are per generation (Generation::guards[index]): see generation.h.
};

// Shared by all lcores. Ownership: the control thread writes everything before launch;
// lcores only read, except `stop` (control writes), `rx_running` (RX lcores decrement once) and
// `current` (the Reloader stores with release; lcores load with acquire, once per burst).
struct Shared {
    std::atomic<const Generation*> current{nullptr};
    rte_rcu_qsbr* qsbr = nullptr;       // readers: the workers, by index; all online at launch
    rte_mempool* header_pool = nullptr; // replication header mbufs and clones
    int decision_offset = -1;           // mbuf dynfield holding a Handover
    std::uint64_t drain_cycles = 0;     // TSC cycles between partial-burst flushes
    std::atomic<bool> stop{false};
    std::atomic<int> rx_running{0};
    std::atomic<unsigned> lcores_returned{0}; // every launched lcore adds 1 as it returns
    // Next-hops by address (neighbor.h, lib/control/neighbors.h). RX lcores enqueue what ARP/NA
    // frames of next-hops say (MP/SC ring of NeighborUpdate); the manager's ARP requests and
    // Neighbor Solicitations come back as ready frames (SP/MC ring of mbufs, m->port the DPDK
    // port) that TX lcores send. Null rings: no neighbour manager (unit tests).
    rte_ring* neighbor_updates = nullptr;
    rte_ring* neighbor_tx = nullptr;
    const NeighborWord* neighbors = nullptr; // = every generation's Tables::neighbors
    // PTBs for an unresolved next-hop wait on their TX lcore, at most unres_qlen per next-hop
    // (the manager stores it at reload), for at most park_cycles.
    std::atomic<std::uint32_t> unres_qlen{3};
    std::uint64_t park_cycles = 0;
    std::vector<WorkerConfig> workers; // indexed by position; find by lcore id
};

// The function every lcore runs (rte_eal_mp_remote_launch). Returns when stopped and drained.
int worker_main(void* shared);

} // namespace ptbsteer::datapath
