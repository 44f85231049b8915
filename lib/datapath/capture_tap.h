// The fast path's half of capture on demand (lib/control/capture.h has the writer): an lcore
// copies a frame with rte_pcapng_copy into an mbuf from the capture pool and enqueues it on its
// own SP/SC ring. It never blocks and never writes a file; when the pool is empty or the ring
// full the copy is lost and counted (LcoreCounters::capture_lost).
#pragma once

#include <atomic>
#include <cstdint>

#include "datapath/counters.h"

struct rte_mbuf;
struct rte_mempool;
struct rte_ring;

namespace ptbsteer::datapath {

// One lcore's handle. Ownership: the CaptureWriter creates it; the lcore is the ring's only
// producer; the writer thread its only consumer and the only writer of `active`.
struct CaptureTap {
    rte_ring* ring = nullptr;
    rte_mempool* pool = nullptr;
    const std::atomic<bool>* active = nullptr;
};

// How much of a frame is copied: a standard mbuf's data room, so PTBs (at most 1500 bytes +
// headers) are copied whole. The writer sizes its pool's mbufs from it.
std::uint32_t capture_snap_len() noexcept;

// Fast path (the lcore owning `tap`): copy a frame about to be dropped / sent.
void capture_dropped(CaptureTap& tap, LcoreCounters& c, const rte_mbuf* m) noexcept;
void capture_sent(CaptureTap& tap, LcoreCounters& c, const rte_mbuf* m, std::uint16_t port,
                  std::uint16_t queue) noexcept;

} // namespace ptbsteer::datapath
