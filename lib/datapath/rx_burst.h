// The RX half of an lcore's loop for one burst: decide every frame, count it, and free what is
// dropped or learned (worker.cpp calls it; the TX half is its Deliverer).
#pragma once

#include <cstdint>

#include "datapath/counters.h"
#include "datapath/decide.h"
#include "datapath/worker.h"

struct rte_mbuf;
struct rte_ring;

namespace ptbsteer::datapath {

struct CaptureTap;

inline constexpr unsigned burst = 32;

// One lcore's room for a burst, set up once per lcore: as locals of poll_rx, the default
// initialisers of Decision and PtbInfo would run on every poll (~10 instructions per packet).
struct BurstScratch {
    rte_mbuf* pkts[burst];
    Decision decisions[burst];
    packet::PtbInfo info; // parse_frame()'s output, reused frame after frame
};

// Parses and decides a burst; drops are counted and freed here, the rest stay in `pkts` with
// their Decision. Returns how many are left.
unsigned decide_burst(const Tables& t, const RxQueue& q, rte_mbuf** pkts, unsigned n, Decision* out,
                      LcoreCounters& c, CaptureTap* capture, Guard& guard, packet::PtbInfo& info,
                      rte_ring* updates);

} // namespace ptbsteer::datapath
