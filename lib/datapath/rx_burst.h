// The RX half of an lcore's loop for one burst: decide every frame, count it, and free what is
// dropped or learned (worker.cpp calls it; the TX half is its Deliverer).
#pragma once

#include <cstdint>

#include "datapath/burst.h"
#include "datapath/counters.h"
#include "datapath/decide.h"
#include "datapath/worker.h"

struct rte_mbuf;
struct rte_ring;

namespace ptbsteer::datapath {

struct CaptureTap;

// One lcore's room for a burst, set up once per lcore: as locals of poll_rx, the default
// initialisers of Decision and PtbInfo would run on every poll (~10 instructions per packet).
struct BurstScratch {
    rte_mbuf* pkts[burst];
    Decision decisions[burst];
    BurstStage stage; // decide_frames()'s (burst.h)
};

// Decides a burst in stages (decide_frames); drops are counted and freed here, the rest stay in
// `pkts` with their Decision in `out`. Returns how many are left.
unsigned decide_burst(const Tables& t, const RxQueue& q, rte_mbuf** pkts, unsigned n, Decision* out,
                      LcoreCounters& c, CaptureTap* capture, Guard& guard, BurstStage& stage,
                      rte_ring* updates);

} // namespace ptbsteer::datapath
