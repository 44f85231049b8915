#include "guard/rate_limit.h"

#include <cstring>
#include <stdexcept>

namespace ptbsteer::guard {

Gcra::Gcra(std::uint64_t rate, std::uint64_t burst, std::uint64_t hz) {
    if (rate == 0) throw std::invalid_argument("a rate limit of 0 per second admits nothing");
    if (burst == 0) burst = 1;
    interval_ = hz / rate;
    if (interval_ == 0) interval_ = 1; // faster than the clock: one event per cycle
    tolerance_ = (burst - 1) * interval_;
}

PerSourceLimiter::PerSourceLimiter(std::uint64_t rate, std::uint64_t burst, std::uint64_t hz,
                                   std::size_t slots)
    : prototype_(rate, burst, hz) {
    std::size_t n = 1;
    while (n < slots)
        n <<= 1;
    slots_.resize(n);
}

std::uint64_t source_hash(const packet::IpAddr& a) noexcept {
    std::uint64_t lo, hi;
    std::memcpy(&lo, a.b.data(), 8);
    std::memcpy(&hi, a.b.data() + 8, 8);
    // splitmix64 finaliser over both halves: cheap and well spread.
    std::uint64_t x = lo ^ (hi * 0x9e3779b97f4a7c15ull);
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x | 1; // never 0, which marks an empty slot
}

bool PerSourceLimiter::allow_limited(const packet::IpAddr& source, std::uint64_t now) noexcept {
    const std::uint64_t tag = source_hash(source);
    Slot& s = slots_[tag & (slots_.size() - 1)];
    if (s.tag != tag) {
        s.tag = tag;
        s.bucket = prototype_;
    }
    return s.bucket.allow(now);
}

} // namespace ptbsteer::guard
