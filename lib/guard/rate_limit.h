// Rate limits for the fast path: the Generic Cell Rate Algorithm (GCRA, ITU-T I.371), which is a
// token bucket kept as one timestamp. Per lcore, no locks or atomics: each lcore enforces its
// share of a configured rate (rate / lcores, burst / lcores), so the sum over lcores is the rate.
// Time is any monotonic cycle counter (the TSC in the datapath, a plain integer in tests).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "packet/flow_key.h"

namespace ptbsteer::guard {

// `rate` events per second with bursts of up to `burst`, on a clock of `hz` cycles per second.
class Gcra {
  public:
    Gcra() = default; // unlimited
    Gcra(std::uint64_t rate, std::uint64_t burst, std::uint64_t hz);

    // Admits `cost` events at time `now` (all or none). Never allocates, never blocks.
    bool allow(std::uint64_t now, std::uint64_t cost = 1) noexcept {
        if (interval_ == 0) return true;
        const std::uint64_t tat = tat_ > now ? tat_ : now;
        const std::uint64_t next = tat + cost * interval_;
        // Admit when the new theoretical arrival time is within the burst tolerance of now.
        if (next - now > tolerance_ + interval_) return false;
        tat_ = next;
        return true;
    }
    bool unlimited() const noexcept { return interval_ == 0; }

  private:
    std::uint64_t interval_ = 0;  // cycles per event (0: unlimited)
    std::uint64_t tolerance_ = 0; // (burst - 1) * interval
    std::uint64_t tat_ = 0;       // theoretical arrival time of the next event
};

// One Gcra per outer source address (the router or host that sent the PTB), in a fixed table
// hashed by address. A slot whose source changes is taken over with a fresh bucket: a flood
// from many sources can evict a quiet source's state, but never block it for longer than one
// burst, and the global limit still bounds the total.
class PerSourceLimiter {
  public:
    PerSourceLimiter() = default; // unlimited
    PerSourceLimiter(std::uint64_t rate, std::uint64_t burst, std::uint64_t hz, std::size_t slots);

    // The unlimited case inline: it costs a call per PTB otherwise.
    bool allow(const packet::IpAddr& source, std::uint64_t now) noexcept {
        return slots_.empty() || allow_limited(source, now);
    }
    bool unlimited() const noexcept { return slots_.empty(); }

  private:
    bool allow_limited(const packet::IpAddr& source, std::uint64_t now) noexcept;

    struct Slot {
        std::uint64_t tag = 0; // hash of the address; 0 = empty
        Gcra bucket;
    };
    std::vector<Slot> slots_; // power of two
    Gcra prototype_;
};

// The 64-bit mix used to spread addresses over slots (exposed for tests).
std::uint64_t source_hash(const packet::IpAddr& a) noexcept;

} // namespace ptbsteer::guard
