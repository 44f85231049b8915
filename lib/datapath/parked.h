// PTBs waiting on one TX lcore for their next-hop's first resolution (RFC 4861 §7.2.2, Linux's
// unres_qlen): a few per next-hop, at most `capacity` in all, each until its neighbour word
// (neighbor.h) becomes usable, fails, is bound to another next-hop, or `max_wait` passes.
// Owned by its TX lcore only; it owns the mbufs it holds until it hands each back.
#pragma once

#include <cstdint>

#include "datapath/neighbor.h"

struct rte_mbuf;

namespace ptbsteer::datapath {

class ParkedFrames {
  public:
    // A burst of new flows towards a fresh group waits; a flood towards a dead one is refused.
    static constexpr unsigned capacity = 256;

    struct Frame {
        rte_mbuf* m;
        std::uint64_t since;  // TSC
        std::uint32_t slot;   // its next-hop's counter slot (neighbour word)
        std::uint16_t port;   // DPDK port
        std::uint8_t binding; // the slot's binding when it was parked
    };

    // True when `f` was taken: fewer than `per_hop` wait for its slot and there is room.
    bool park(const Frame& f, unsigned per_hop) {
        unsigned waiting = 0;
        for (unsigned i = 0; i < n_; ++i)
            waiting += frames_[i].slot == f.slot;
        if (n_ == capacity || waiting >= per_hop) return false;
        frames_[n_++] = f;
        return true;
    }

    // Hands each frame whose next-hop resolved to send(frame, word), and each that can no longer
    // be sent (its slot rebound, the entry failed, or waited `max_wait` cycles) to drop(frame).
    template <typename Send, typename Drop>
    void recheck(const NeighborWord* words, std::uint64_t now, std::uint64_t max_wait, Send&& send,
                 Drop&& drop) {
        for (unsigned i = 0; i < n_;) {
            const Frame f = frames_[i];
            const std::uint64_t w = words[f.slot].load(std::memory_order_relaxed);
            if (binding_of(w) != f.binding || state_of(w) == NeighborState::failed ||
                now - f.since > max_wait)
                drop(f);
            else if (usable(w))
                send(f, w);
            else {
                ++i;
                continue;
            }
            frames_[i] = frames_[--n_];
        }
    }

    template <typename Drop>
    void drop_all(Drop&& drop) {
        for (unsigned i = 0; i < n_; ++i)
            drop(frames_[i]);
        n_ = 0;
    }

  private:
    Frame frames_[capacity];
    unsigned n_ = 0;
};

} // namespace ptbsteer::datapath
