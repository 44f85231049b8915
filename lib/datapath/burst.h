// A burst's decisions in stages (issue 23): every frame up to its hash, then the burst's Linux
// hashes side by side in SIMD lanes (hash/siphash_batch.h), then every PTB's selection. The
// decisions are decide()'s, frame for frame: the rate limiters are spent in the same order
// (per source and global in the first stage, the replication budget in the last, each in frame
// order), and a lane gives the hash decide() computes (tests/unit/dpdk/burst_test.cpp).
// Pure, as decide(): the benchmark and the tests run what the lcores run.
#pragma once

#include <cstdint>
#include <span>

#include "datapath/decide.h"
#include "hash/siphash_batch.h"

namespace ptbsteer::datapath {

inline constexpr unsigned burst = 32; // frames per RX burst
static_assert(burst <= hash::SipLanes::lanes);

// A burst's flows waiting for their hash: a lane set per family (their word counts differ).
struct HashLanes {
    hash::SipLanes v4, v6;
    unsigned n4 = 0, n6 = 0;
    alignas(64) std::uint64_t out4[hash::SipLanes::lanes]{};
    alignas(64) std::uint64_t out6[hash::SipLanes::lanes]{};

    // Puts `flow` in the next lane of its family; returns that lane.
    unsigned add(const hash::Model& m, const packet::FlowKey& flow) noexcept {
        const bool v4f = flow.family == packet::Family::v4;
        unsigned& n = v4f ? n4 : n6;
        m.lane(flow, v4f ? v4 : v6, n);
        return n++;
    }
    // Hashes every waiting lane with `fn`, one call per family that has any.
    void run(hash::SipLanesFn fn) noexcept {
        if (n4) fn(v4, n4, hash::linux_lane_words(packet::Family::v4), out4);
        if (n6) fn(v6, n6, hash::linux_lane_words(packet::Family::v6), out6);
    }
    std::uint64_t result(packet::Family f, unsigned lane) const noexcept {
        return f == packet::Family::v4 ? out4[lane] : out6[lane];
    }
};

// What the first stage leaves for the last one about a PTB.
struct Pending {
    std::uint32_t group = 0; // index into Tables::groups: the state steering it
    std::uint32_t hash = 0;  // unicast outside a lane: the flow's hash
    steer::VerdictKind kind = steer::VerdictKind::drop; // drop: the ports fallback's
    std::int8_t lane = -1; // unicast in a lane: its lane in HashLanes (its family's)
};

// One lcore's room for staging a burst, set up once (its arrays are not cleared per burst).
struct BurstStage {
    packet::PtbInfo info[burst]; // each frame's parse, kept for the last stage and the counters
    Pending pending[burst];
    std::uint8_t waiting[burst]; // the frames with a Pending, in frame order
    HashLanes lanes;
};

// Decides frames[0..n) (n <= burst) arriving on config port `rx_port` into out[0..n), with
// s.info[i] the parse of frame i. `t.hash_lanes` null: each hash computed in the first stage
// (the scalar path, as decide()).
void decide_frames(const Tables& t, const std::span<const std::uint8_t>* frames, unsigned n,
                   std::size_t rx_port, BurstStage& s, Guard* guard, std::uint64_t now,
                   Decision* out) noexcept;

} // namespace ptbsteer::datapath
