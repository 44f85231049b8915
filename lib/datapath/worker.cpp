#include "datapath/worker.h"

#include <span>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "datapath/capture_tap.h"
#include "datapath/decide.h"
#include "datapath/neighbor.h"
#include "datapath/parked.h"
#include "datapath/responder.h"
#include "datapath/rx_burst.h"
#include "datapath/tx.h"

namespace ptbsteer::datapath {
namespace {

Handover& handover_of(rte_mbuf* m, int offset) {
    return *RTE_MBUF_DYNFIELD(m, offset, Handover*);
}

// Everything the TX role does for one packet. Takes ownership of `m`: it is either handed to a
// TX buffer (which frees it once sent, or via the error callback) or freed here. `t` is the
// generation's Tables the Decision was made with (its target indexes them).
class Deliverer {
  public:
    Deliverer(const Shared& s, WorkerConfig& w) : s_(s), w_(w), c_(*w.counters) {}

    // Inline into the burst loops, with unicast (nearly every packet); the rest are calls.
    [[gnu::always_inline]] void deliver(rte_mbuf* m, const Decision& d, const Tables& t) {
        switch (d.action) {
        case Action::unicast: unicast(m, d, t); return;
        case Action::transition: transition(m, d, t); return;
        case Action::replicate: replicate(m, d, t); return;
        case Action::reply: reply(m, d, t); return;
        case Action::learn: // handled on the RX lcore (learn()); never handed over
        case Action::drop: break;
        }
        rte_pktmbuf_free(m); // drops were counted where they were decided
    }

    void flush_all() {
        for (std::size_t port = 0; port < w_.tx_buffers.size(); ++port)
            if (w_.tx_buffers[port])
                rte_eth_tx_buffer_flush(std::uint16_t(port), w_.tx_queue, w_.tx_buffers[port]);
    }

    // The neighbour manager's solicitations (ready frames) and the PTBs waiting for it. Called
    // with the TX buffers' drain (every ~100 us), not per packet.
    void neighbor_work(std::uint64_t now) {
        if (s_.neighbor_tx) {
            rte_mbuf* in[burst];
            const unsigned n = rte_ring_mc_dequeue_burst(
                s_.neighbor_tx, reinterpret_cast<void**>(in), burst, nullptr);
            for (unsigned i = 0; i < n; ++i)
                send(in[i]->port, in[i]);
        }
        parked_.recheck(
            s_.neighbors, now, s_.park_cycles,
            [&](const ParkedFrames::Frame& f, std::uint64_t w) {
                write_dst_mac(rte_pktmbuf_mtod(f.m, std::uint8_t*), w);
                sent_unicast(f.m, f.port, f.slot);
            },
            [&](const ParkedFrames::Frame& f) { drop(f.m, Drop::neighbor_unresolved); });
    }

    // Stopping: what still waits will not be resolved by anyone.
    void drop_parked() {
        parked_.drop_all(
            [&](const ParkedFrames::Frame& f) { drop(f.m, Drop::neighbor_unresolved); });
    }

  private:
    void send(std::uint16_t port, rte_mbuf* m) {
        rte_eth_tx_buffer(port, w_.tx_queue, w_.tx_buffers[port], m);
    }

    void drop(rte_mbuf* m, Drop why) {
        ++c_.drops[std::size_t(why)];
        capture_dropped(w_.capture, c_, m);
        rte_pktmbuf_free(m);
    }

    [[gnu::always_inline]] void sent_unicast(rte_mbuf* m, std::uint16_t port, std::uint32_t slot) {
        ++c_.unicast;
        ++c_.unicast_per_next_hop[slot];
        capture_sent(w_.capture, c_, m, port, w_.tx_queue);
        send(port, m);
    }

    // The frame's destination MAC is its next-hop's neighbour word's, static or resolved: one
    // path for both kinds (neighbor.h).
    [[gnu::always_inline]] void unicast(rte_mbuf* m, const Decision& d, const Tables& t) {
        const NextHopOut& nh = t.next_hops[d.target];
        if (!rewrite_for(m, d.l3_offset, nh, d.family)) {
            drop(m, Drop::no_headroom);
            return;
        }
        const std::uint64_t w = neighbor_of(t, nh);
        if (!usable(w)) [[unlikely]] {
            unresolved(m, nh, w);
            return;
        }
        write_dst_mac(rte_pktmbuf_mtod(m, std::uint8_t*), w);
        sent_unicast(m, nh.port_id, nh.counter_slot);
    }

    // RFC 4861 §7.2.2: while resolution is in progress, a few packets per neighbour wait for it
    // (Linux's unres_qlen); the rest, and everything for a failed neighbour, are dropped.
    [[gnu::noinline]] void unresolved(rte_mbuf* m, const NextHopOut& nh, std::uint64_t w) {
        if (state_of(w) == NeighborState::failed) {
            drop(m, Drop::neighbor_failed);
            return;
        }
        if (!s_.neighbors) { // no neighbour manager (unit tests): nobody would resolve it
            drop(m, Drop::neighbor_unresolved);
            return;
        }
        const ParkedFrames::Frame f{m, rte_rdtsc(), nh.counter_slot, nh.port_id, binding_of(w)};
        if (!parked_.park(f, s_.unres_qlen.load(std::memory_order_relaxed))) {
            drop(m, Drop::neighbor_unresolved);
            return;
        }
        ++c_.neighbor_queued;
    }

    // One header mbuf + one indirect clone of `payload` (at the PTB's IP header) for `nh`, its
    // destination MAC written: the PTB's bytes are never copied. nullptr when no copy is made
    // (its next-hop unresolved, or no mbuf: counted).
    rte_mbuf* copy_to(rte_mbuf* payload, const NextHopOut& nh, const Tables& t,
                      packet::Family family) {
        const std::uint64_t w = neighbor_of(t, nh);
        if (!usable(w)) {
            ++c_.copies_unresolved;
            return nullptr;
        }
        rte_mbuf* copy = copy_for(payload, s_.header_pool, nh, family);
        if (!copy) {
            ++c_.tx_failed;
            return nullptr;
        }
        write_dst_mac(rte_pktmbuf_mtod(copy, std::uint8_t*), w);
        return copy;
    }

    [[gnu::noinline]] void replicate(rte_mbuf* m, const Decision& d, const Tables& t) {
        const GroupEntry& g = t.groups[d.target];
        rte_pktmbuf_adj(m, d.l3_offset);
        ++c_.replicated;
        for (std::uint32_t i = 0; i < g.next_hop_count; ++i) {
            const NextHopOut& nh = t.next_hops[g.first_next_hop + i];
            rte_mbuf* copy = copy_to(m, nh, t, d.family);
            if (!copy) continue;
            ++c_.copies;
            ++c_.copies_per_next_hop[nh.counter_slot];
            capture_sent(w_.capture, c_, copy, nh.port_id, w_.tx_queue);
            send(nh.port_id, copy);
        }
        rte_pktmbuf_free(m); // the clones keep the data alive until they are sent
    }

    // The PTB goes to its newest owner as a unicast (parked like one while that next-hop
    // resolves), its earlier owners get copies, sent after it: under TX pressure the frame that
    // matters most goes first. The copies clone the PTB from its IP header on, so they are made
    // before the unicast header is written in front of it (where no clone reads).
    [[gnu::noinline]] void transition(rte_mbuf* m, const Decision& d, const Tables& t) {
        Decision newest = d;
        if (d.past_count == 0) ++c_.transition_budget_exhausted;
        rte_mbuf* copies[max_past_owners];
        const NextHopOut* to[max_past_owners];
        unsigned n = 0;
        if (d.past_count) {
            rte_pktmbuf_adj(m, d.l3_offset);
            newest.l3_offset = 0;
            const GroupEntry& g = t.groups[t.next_hop_group[d.target]];
            for (unsigned i = 0; i < d.past_count; ++i) {
                to[n] = &t.next_hops[owner_index(g, d.past[i])];
                if ((copies[n] = copy_to(m, *to[n], t, d.family))) ++n;
            }
        }
        unicast(m, newest, t);
        for (unsigned i = 0; i < n; ++i) {
            ++c_.transition_copies;
            ++c_.transition_per_next_hop[to[i]->counter_slot];
            capture_sent(w_.capture, c_, copies[i], to[i]->port_id, w_.tx_queue);
            send(to[i]->port_id, copies[i]);
        }
    }

    [[gnu::noinline]] void reply(rte_mbuf* m, const Decision& d, const Tables& t) {
        const PortAddresses& own = t.ports[d.target];
        auto* data = rte_pktmbuf_mtod(m, std::uint8_t*);
        const std::size_t room = rte_pktmbuf_data_len(m) + rte_pktmbuf_tailroom(m);
        const std::size_t len = rte_pktmbuf_data_len(m);
        // A next-hop asking for us tells its MAC too (RFC 826's merge), before we overwrite it.
        if (d.family == packet::Family::v4 && s_.neighbor_updates)
            if (auto u = neighbor_update(t, {data, len}, d.l3_offset, d.target))
                rte_ring_mp_enqueue_elem(s_.neighbor_updates, &*u, sizeof(NeighborUpdate));
        const std::span<std::uint8_t> buf(data, room);
        const std::size_t n = d.family == packet::Family::v4
                                  ? make_arp_reply(buf, len, d.l3_offset, own)
                                  : make_neighbor_advert(buf, len, d.l3_offset, own);
        if (n == 0 || rte_pktmbuf_is_contiguous(m) == 0) {
            ++c_.tx_failed;
            rte_pktmbuf_free(m);
            return;
        }
        m->data_len = std::uint16_t(n);
        m->pkt_len = std::uint32_t(n);
        ++c_.answered;
        send(t.port_ids[d.target], m);
    }

    const Shared& s_;
    WorkerConfig& w_;
    LcoreCounters& c_;
    ParkedFrames parked_;
};

WorkerConfig* find_worker(Shared& s) {
    const unsigned me = rte_lcore_id();
    for (WorkerConfig& w : s.workers)
        if (w.lcore == me) return &w;
    return nullptr;
}

// Polls this lcore's RX queues once, deciding with generation `g` (loaded once for the whole
// poll). With a TX role the decided packets are delivered at once, with the same generation;
// otherwise they go to the TX lcore's ring with their Decision and g's Tables attached.
void poll_rx(const Shared& s, const Generation& g, WorkerConfig& w, Deliverer* out,
             BurstScratch& scratch) {
    rte_mbuf** pkts = scratch.pkts;
    Decision* decisions = scratch.decisions;
    Guard& guard = (*g.guards)[w.index].guard; // written by this lcore only
    for (const RxQueue& q : w.rx) {
        const unsigned n = rte_eth_rx_burst(q.port_id, q.queue, pkts, burst);
        if (n == 0) continue;
        w.counters->rx += n;
        const unsigned kept = decide_burst(g.tables, q, pkts, n, decisions, *w.counters, w.capture,
                                           guard, scratch.stage, s.neighbor_updates);
        if (out) {
            for (unsigned i = 0; i < kept; ++i)
                out->deliver(pkts[i], decisions[i], g.tables);
            continue;
        }
        for (unsigned i = 0; i < kept; ++i)
            handover_of(pkts[i], s.decision_offset) = Handover{decisions[i], &g.tables};
        const unsigned sent =
            rte_ring_sp_enqueue_burst(w.to_tx, reinterpret_cast<void**>(pkts), kept, nullptr);
        for (unsigned i = sent; i < kept; ++i) {
            ++w.counters->drops[std::size_t(Drop::ring_full)];
            capture_dropped(w.capture, *w.counters, pkts[i]);
            rte_pktmbuf_free(pkts[i]);
        }
    }
}

// Delivers what RX-only lcores handed over. Returns how many packets it took.
unsigned drain_rings(Shared& s, WorkerConfig& w, Deliverer& out) {
    unsigned got = 0;
    for (rte_ring* r : w.from_rx) {
        rte_mbuf* in[burst];
        const unsigned n =
            rte_ring_sc_dequeue_burst(r, reinterpret_cast<void**>(in), burst, nullptr);
        got += n;
        for (unsigned i = 0; i < n; ++i) {
            const Handover& h = handover_of(in[i], s.decision_offset);
            out.deliver(in[i], h.decision, *h.tables);
        }
    }
    return got;
}

// The generation this lcore decides with until its next quiescent state. Acquire pairs with the
// Reloader's release store: the generation's contents are visible before its address.
const Generation& current(const Shared& s) {
    return *s.current.load(std::memory_order_acquire);
}

// Between two bursts: this lcore holds no pointer into any generation (docs/architecture.md).
void quiescent(const Shared& s, const WorkerConfig& w) {
    rte_rcu_qsbr_quiescent(s.qsbr, w.index);
}

void run(Shared& s, WorkerConfig& w) {
    const bool rx = !w.rx.empty();
    BurstScratch scratch;
    if (!w.tx) {
        while (!s.stop.load(std::memory_order_relaxed)) {
            w.counters->heartbeat_tsc = rte_rdtsc();
            poll_rx(s, current(s), w, nullptr, scratch);
            quiescent(s, w);
        }
        s.rx_running.fetch_sub(1, std::memory_order_acq_rel);
        return;
    }
    Deliverer out(s, w);
    // Partial bursts wait in the TX buffers at most this long (the l3fwd drain pattern).
    std::uint64_t last_drain = rte_rdtsc();
    auto maybe_flush = [&] {
        const std::uint64_t now = rte_rdtsc();
        w.counters->heartbeat_tsc = now; // once per loop iteration: the /healthz heartbeat
        if (now - last_drain > s.drain_cycles) {
            out.neighbor_work(now);
            out.flush_all();
            last_drain = now;
        }
    };
    while (!s.stop.load(std::memory_order_relaxed)) {
        if (rx) poll_rx(s, current(s), w, &out, scratch);
        drain_rings(s, w, out); // each packet with the Tables its RX lcore decided with
        maybe_flush();
        quiescent(s, w);
    }
    if (rx) s.rx_running.fetch_sub(1, std::memory_order_acq_rel);
    // Stopping: RX lcores finish their last burst; deliver everything they handed over.
    for (;;) {
        const bool rx_done = s.rx_running.load(std::memory_order_acquire) == 0;
        if (drain_rings(s, w, out) == 0 && rx_done) break;
        maybe_flush();
        quiescent(s, w);
    }
    out.drop_parked();
    out.flush_all();
}

} // namespace

int worker_main(void* arg) {
    Shared& s = *static_cast<Shared*>(arg);
    WorkerConfig* w = find_worker(s);
    if (w) {
        run(s, *w);
        // After its last table access: a reload in progress no longer waits for this lcore.
        rte_rcu_qsbr_thread_offline(s.qsbr, w->index);
    } // else an EAL lcore the configuration does not use
    s.lcores_returned.fetch_add(1, std::memory_order_release);
    return 0;
}

} // namespace ptbsteer::datapath
