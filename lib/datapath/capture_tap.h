// The fast path's half of capture on demand (lib/control/capture.h has the writer): an lcore
// copies a frame with rte_pcapng_copy into an mbuf from the capture pool and enqueues it on its
// own SP/SC ring. It never blocks and never writes a file; when the pool is empty or the ring
// full the copy is lost and counted (LcoreCounters::capture_lost).
//
// Every lcore has a tap for the whole run; whether it copies is one byte the control plane
// flips at run time (the `capture:` key at start, POST|DELETE /v1/capture later).
#pragma once

#include <atomic>
#include <cstdint>

#include "datapath/counters.h"

struct rte_mbuf;
struct rte_mempool;
struct rte_ring;

namespace ptbsteer::datapath {

// What the lcores copy now. Written by the control plane (and by the writer when the file is
// full); read by the lcores with acquire, so that the pool set before `drops`/`all` is seen.
enum class TapMode : std::uint8_t { off, drops, all };

// One lcore's handle. Ownership: control::Capture creates it; the lcore is the ring's only
// producer; the writer thread its only consumer. `pool` is set once, before the first time
// `mode` leaves `off`, and never changes after.
struct CaptureTap {
    rte_ring* ring = nullptr;
    rte_mempool* pool = nullptr;
    const std::atomic<TapMode>* mode = nullptr;
};

// How much of a frame is copied: a standard mbuf's data room, so PTBs (at most 1500 bytes +
// headers) are copied whole. The writer sizes its pool's mbufs from it.
std::uint32_t capture_snap_len() noexcept;

// Fast path (the lcore owning `tap`): copy a frame about to be dropped (mode drops or all) /
// sent (mode all). `tap` may be null (no capture built, as in unit tests).
void tap_dropped(CaptureTap& tap, LcoreCounters& c, const rte_mbuf* m) noexcept;
void tap_sent(CaptureTap& tap, LcoreCounters& c, const rte_mbuf* m, std::uint16_t port,
              std::uint16_t queue) noexcept;

inline void capture_dropped(CaptureTap* tap, LcoreCounters& c, const rte_mbuf* m) noexcept {
    if (tap && tap->mode->load(std::memory_order_relaxed) != TapMode::off) tap_dropped(*tap, c, m);
}
inline void capture_sent(CaptureTap* tap, LcoreCounters& c, const rte_mbuf* m, std::uint16_t port,
                         std::uint16_t queue) noexcept {
    if (tap && tap->mode->load(std::memory_order_relaxed) == TapMode::all)
        tap_sent(*tap, c, m, port, queue);
}

} // namespace ptbsteer::datapath
