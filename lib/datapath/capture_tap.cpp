// rte_pcapng is still experimental in DPDK 22.11: this file and lib/control/capture.cpp alone
// are built with ALLOW_EXPERIMENTAL_API (their meson.build), so nothing else can start depending
// on experimental symbols by accident.
#include "datapath/capture_tap.h"

#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_pcapng.h>
#include <rte_ring.h>

namespace ptbsteer::datapath {
namespace {

constexpr std::uint32_t snap_len = RTE_MBUF_DEFAULT_DATAROOM;

void tap_frame(CaptureTap& tap, LcoreCounters& c, const rte_mbuf* m, std::uint16_t port,
               std::uint32_t queue, rte_pcapng_direction dir) noexcept {
    // Acquire: pairs with the release that turned the tap on after setting `pool`.
    if (tap.mode->load(std::memory_order_acquire) == TapMode::off) return;
    rte_mbuf* copy = rte_pcapng_copy(port, queue, m, tap.pool, snap_len, rte_get_tsc_cycles(), dir);
    if (copy && rte_ring_sp_enqueue(tap.ring, copy) == 0) {
        ++c.capture_copied;
        return;
    }
    rte_pktmbuf_free(copy); // accepts nullptr
    ++c.capture_lost;
}

} // namespace

std::uint32_t capture_snap_len() noexcept {
    return snap_len;
}

void tap_dropped(CaptureTap& tap, LcoreCounters& c, const rte_mbuf* m) noexcept {
    // The PMD stamped the RX port; the queue is not kept past the burst, so it reads 0.
    tap_frame(tap, c, m, m->port, 0, RTE_PCAPNG_DIRECTION_IN);
}

void tap_sent(CaptureTap& tap, LcoreCounters& c, const rte_mbuf* m, std::uint16_t port,
              std::uint16_t queue) noexcept {
    tap_frame(tap, c, m, port, queue, RTE_PCAPNG_DIRECTION_OUT);
}

} // namespace ptbsteer::datapath
