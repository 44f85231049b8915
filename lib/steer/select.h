// Next-hop selection within a group: the step after hashing. Pure C++ (no DPDK types).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "util/name_table.h"

namespace ptbsteer::steer {

enum class SelectKind : std::uint8_t { hash_threshold, modulo, maglev, resilient };
// The configuration's `select:` spelling of each SelectKind.
inline constexpr auto select_kind_names =
    util::name_table<SelectKind>("hash-threshold", "modulo", "maglev", "resilient");
static_assert(select_kind_names.size() == std::size_t(SelectKind::resilient) + 1);
constexpr std::string_view name(SelectKind k) {
    return select_kind_names.name(k);
}

namespace detail {
// n % d as Lemire's fastmod (select.cpp cites it): two multiplications, m = ceil(2^64 / d).
inline std::uint32_t fastmod(std::uint32_t n, std::uint64_t m, std::uint32_t d) noexcept {
    const std::uint64_t low = m * n;
    return static_cast<std::uint32_t>((static_cast<unsigned __int128>(low) * d) >> 64);
}
} // namespace detail

// A selector is built once per group from the next-hops' weights (route order) and then only
// read. select() returns the index of the chosen next-hop in [0, weights.size()).
//
// Build-time limits (std::invalid_argument otherwise, never at select time):
//   - 1 .. max_next_hops next-hops, every weight >= 1;
//   - hash_threshold: sum of weights <= INT32_MAX (Linux keeps the total in an int);
//   - modulo: sum of weights <= max_modulo_total (one table slot per unit of weight);
//   - maglev: table size a prime in [max(next-hops, 2), max_maglev_table_size].
class Selector {
  public:
    static constexpr std::size_t max_next_hops = 4096; // table_ entries are 16-bit
    static constexpr std::uint32_t max_modulo_total = 65536;
    static constexpr std::uint32_t max_maglev_table_size = 1u << 24;

    // hash_threshold: exactly Linux's fib_rebalance/rt6_upper_bound_set bounds, compared as
    //   fib_select_multipath does: first i with (hash >> 1) <= bound[i].
    // modulo: weighted: hash % sum(weights) mapped onto the next-hops in order.
    // maglev: Maglev lookup table (size: a prime >= 100 x next-hops), hash % size.
    // resilient: needs its bucket table (build_resilient).
    static Selector build(SelectKind kind, std::span<const std::uint32_t> weights);

    // As above; for maglev, ids[i] is a stable 64-bit identity of next-hop i (maglev_id() of
    // its name) that seeds its permutation, so a next-hop keeps its permutation when others
    // come and go. Empty ids: derived from the index. Other kinds ignore ids.
    static Selector build(SelectKind kind, std::span<const std::uint32_t> weights,
                          std::span<const std::uint64_t> ids);

    // Maglev with an explicit table size (a prime). Keeping the size fixed while next-hops come
    // and go is what gives Maglev its minimal disruption: the automatic size changes with the
    // next-hop count, and then h % M moves almost every flow.
    static Selector build_maglev(std::span<const std::uint32_t> weights,
                                 std::span<const std::uint64_t> ids, std::uint32_t table_size);

    // A Linux resilient nexthop group (kernel >= 5.13, net/ipv4/nexthop.c
    // nexthop_select_path_res): bucket (hash >> 1) % buckets.size(), whose next-hop is
    // buckets[bucket] (an index below `next_hops`). The table is the kernel's, read with
    // RTM_GETNEXTHOPBUCKET: its idle-timer migrations cannot be computed, only copied.
    static Selector build_resilient(std::size_t next_hops, std::span<const std::uint16_t> buckets);
    static constexpr std::size_t max_buckets = 65535; // NHA_RES_GROUP_BUCKETS is 16-bit

    // Smallest prime >= max(101, 100 x next_hops): the automatic Maglev table size.
    static std::uint32_t maglev_table_size(std::size_t next_hops);
    // The table size a live group keeps while next-hops come and go: 65537 up to 512
    // next-hops, then 100 x the next power of two, so only crossing a power of two changes it.
    static std::uint32_t maglev_stable_table_size(std::size_t next_hops);
    // hash_threshold with the kernel's neighbour fallback. usable[i] is 0 when the router's
    // neighbour entry for next-hop i is not valid (FAILED, INCOMPLETE), which the kernel checks in
    // nexthop-object groups always and in legacy IPv4 routes with fib_multipath_use_neigh=1. Such
    // a next-hop keeps its share of the bounds, but a flow hashed there goes to the first usable
    // next-hop within the bound, else to the first usable one, else to entry 0
    // (fib_select_multipath and nexthop_select_path_hthr since Linux 6.6).
    static Selector build_threshold(std::span<const std::uint32_t> weights,
                                    std::span<const std::uint8_t> usable);

    // Stable identity of a next-hop for build(..., ids): 64-bit FNV-1a of its name.
    static std::uint64_t maglev_id(std::string_view name) noexcept;

    // Inline: it runs for every steered PTB, and the call would cost more than its body.
    std::uint32_t select(std::uint32_t hash) const noexcept {
        if (table_.empty()) [[unlikely]]
            return 0; // a default-constructed selector: never built, has no next-hops to pick
        if (kind_ == SelectKind::hash_threshold) return select_threshold(hash);
        return select_by_mod(hash);
    }
    SelectKind kind() const noexcept { return kind_; }
    std::size_t size() const noexcept { return n_; }

    // Linux's per-next-hop upper bounds (hash_threshold only; empty otherwise). For tests/docs.
    const std::vector<std::int32_t>& upper_bounds() const noexcept { return bounds_; }
    // The lookup table: maglev slot -> next-hop, modulo slot -> next-hop, resilient bucket ->
    // next-hop, or for hash_threshold the acceleration table (top bits of hash >> 1 -> first
    // candidate step; a step is a next-hop unless some next-hop is unusable). For tests.
    const std::vector<std::uint16_t>& table() const noexcept { return table_; }

  private:
    // fib_select_multipath / fib6_select_path: the kernel's hash is already shifted right by one
    // (fib_multipath_hash returns mhash >> 1) and a next-hop is skipped while hash > upper_bound.
    // A step is a range of the hash space and the next-hop serving it: one per next-hop, or
    // with unusable next-hops the ranges the neighbour fallback gives each usable one.
    std::uint32_t select_threshold(std::uint32_t hash) const noexcept {
        const auto x = static_cast<std::int32_t>(hash >> 1);
        std::uint32_t i = table_[static_cast<std::uint32_t>(x) >> accel_shift_];
        while (x > steps_[i].bound)
            ++i;
        return steps_[i].owner;
    }
    // resilient takes the kernel's shifted hash (mod_shift_ 1), modulo and maglev all of it.
    std::uint32_t select_by_mod(std::uint32_t hash) const noexcept {
        return table_[detail::fastmod(hash >> mod_shift_, fastmod_m_, table_mod_)];
    }

    SelectKind kind_ = SelectKind::hash_threshold;
    std::size_t n_ = 0;
    std::vector<std::int32_t> bounds_;
    struct Step {
        std::int32_t bound; // the step serves (hash >> 1) up to here; the last is 2^31 - 1
        std::uint32_t owner;
    };
    std::vector<Step> steps_;
    // maglev table, or modulo/threshold acceleration table. 16-bit entries (next-hop indexes are
    // below max_next_hops): half the cache footprint, which is what a large group costs per
    // packet (the threshold table of 4096 next-hops: 128 KiB instead of 256).
    std::vector<std::uint16_t> table_;
    std::uint32_t table_mod_ = 0;
    std::uint32_t mod_shift_ = 0;
    // hash_threshold: (hash >> 1) >> accel_shift_ indexes table_.
    std::uint32_t accel_shift_ = 0;
    // modulo/maglev: Lemire's fastmod constant for table_mod_ (ceil(2^64 / table_mod_)), so
    // h % table_mod_ is two multiplications instead of a division.
    std::uint64_t fastmod_m_ = 0;
};

} // namespace ptbsteer::steer
