#include "datapath/rx_burst.h"

#include <span>

#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "datapath/capture_tap.h"
#include "datapath/neighbor.h"

namespace ptbsteer::datapath {
namespace {

// An ARP or Neighbor Advertisement of a next-hop's `via`: what it says goes to the neighbour
// manager; the frame itself is done with.
void learn(const Tables& t, const RxQueue& q, rte_mbuf* m, const Decision& d, LcoreCounters& c,
           rte_ring* updates, CaptureTap* capture) {
    const std::span<const std::uint8_t> frame(rte_pktmbuf_mtod(m, const std::uint8_t*),
                                              rte_pktmbuf_data_len(m));
    std::optional<NeighborUpdate> u = neighbor_update(t, frame, d.l3_offset, q.port_index);
    if (u && updates && rte_ring_mp_enqueue_elem(updates, &*u, sizeof(NeighborUpdate)) == 0) {
        ++c.neighbor_updates;
        rte_pktmbuf_free(m);
        return;
    }
    ++c.drops[std::size_t(Drop::neighbor_ring_full)];
    capture_dropped(capture, c, m);
    rte_pktmbuf_free(m);
}

// A parsed PTB, by family, and its advertised MTU into that family's histogram; by router, and
// if it is steered, by the state that steered it (the router's own, or the site's shared one).
void count_ptb(LcoreCounters& c, const Tables& t, const packet::PtbInfo& info, const Decision& d) {
    const bool v4 = info.family == packet::Family::v4;
    ++(v4 ? c.ptb_v4 : c.ptb_v6);
    MtuHistogram& h = c.mtu[v4 ? 0 : 1];
    ++h.buckets[mtu_bucket(info.mtu)];
    h.sum += info.mtu;
    auto& r = c.per_router[d.router];
    ++r[std::size_t(RouterCount::ptbs)];
    if (d.action == Action::unicast || d.action == Action::transition ||
        d.action == Action::replicate) {
        const std::uint32_t gi =
            d.action == Action::replicate ? d.target : t.next_hop_group[d.target];
        ++r[std::size_t(t.group_is_shared[gi] ? RouterCount::steered_shared
                                              : RouterCount::steered_own)];
    }
}

} // namespace

unsigned decide_burst(const Tables& t, const RxQueue& q, rte_mbuf** pkts, unsigned n, Decision* out,
                      LcoreCounters& c, CaptureTap* capture, Guard& guard, BurstStage& stage,
                      rte_ring* updates) {
    const std::uint64_t now = rte_rdtsc(); // one clock read per burst is precise enough for limits
    // A PTB fits one segment; the parser bounds itself by this span, so a chained frame is
    // refused by its length checks, never read past.
    std::span<const std::uint8_t> frames[burst];
    for (unsigned i = 0; i < n; ++i)
        frames[i] = {rte_pktmbuf_mtod(pkts[i], const std::uint8_t*), rte_pktmbuf_data_len(pkts[i])};
    decide_frames(t, frames, n, q.port_index, stage, &guard, now, out);
    unsigned kept = 0;
    for (unsigned i = 0; i < n; ++i) {
        rte_mbuf* m = pkts[i];
        const Decision d = out[i];
        ++c.rx_by_port[q.port_index][std::size_t(rx_family(frames[i], d))];
        if (d.ptb) count_ptb(c, t, stage.info[i], d);
        if (d.action == Action::drop) {
            ++c.drops[std::size_t(d.drop)];
            capture_dropped(capture, c, m);
            rte_pktmbuf_free(m);
            continue;
        }
        if (d.action == Action::learn) [[unlikely]] {
            learn(t, q, m, d, c, updates, capture);
            continue;
        }
        pkts[kept] = m;
        out[kept++] = d;
    }
    return kept;
}

} // namespace ptbsteer::datapath
