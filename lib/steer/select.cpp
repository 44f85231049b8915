// Next-hop selection: Linux hash-threshold, weighted modulo and Maglev. All the work is done in
// build(); select() is a table lookup plus (hash-threshold only) a short forward step.
#include "steer/select.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>

namespace ptbsteer::steer {

namespace {

// Acceleration table for hash-threshold: 2^bits entries, at least 16 per next-hop so that a
// bucket rarely contains more than one upper bound, clamped to [2^12, 2^16] (16 KiB .. 256 KiB).
constexpr unsigned min_accel_bits = 12;
constexpr unsigned max_accel_bits = 16;
constexpr unsigned accel_slack_bits = 4;

constexpr std::uint32_t unset_slot = std::numeric_limits<std::uint32_t>::max();

void check_weights(std::span<const std::uint32_t> weights) {
    if (weights.empty())
        throw std::invalid_argument("selector: a group needs at least one next-hop");
    if (weights.size() > Selector::max_next_hops)
        throw std::invalid_argument("selector: " + std::to_string(weights.size()) +
                                    " next-hops exceed the limit of " +
                                    std::to_string(Selector::max_next_hops));
    for (std::size_t i = 0; i < weights.size(); ++i)
        if (weights[i] == 0)
            throw std::invalid_argument("selector: next-hop " + std::to_string(i) +
                                        " has weight 0 (weights start at 1)");
}

std::uint64_t total_weight(std::span<const std::uint32_t> weights) {
    std::uint64_t total = 0;
    for (std::uint32_t w : weights)
        total += w;
    return total;
}

// Lemire, Kaser, Kurz, "Faster Remainder by Direct Computation" (2019): with
// m = ceil(2^64 / d), n % d == ((m * n mod 2^64) * d) >> 64 for all 32-bit n and d >= 1.
std::uint64_t fastmod_constant(std::uint32_t d) {
    return ~std::uint64_t{0} / d + 1;
}

// fib_rebalance (net/ipv4/fib_semantics.c) and rt6_upper_bound_set (net/ipv6/route.c): with w the
// running weight sum including next-hop i,
//   upper_bound = DIV_ROUND_CLOSEST_ULL((u64)w << 31, total) - 1,
// where DIV_ROUND_CLOSEST_ULL(x, d) for unsigned x is (x + d / 2) / d. Every next-hop is live
// here (the config lists live next-hops), so none gets the dead marker -1, the bounds never
// decrease, and the last one is exactly 2^31 - 1.
std::vector<std::int32_t> linux_upper_bounds(std::span<const std::uint32_t> weights) {
    const std::uint64_t total = total_weight(weights);
    if (total > static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max()))
        throw std::invalid_argument("selector: hash_threshold total weight " +
                                    std::to_string(total) + " exceeds INT32_MAX");
    std::vector<std::int32_t> bounds;
    bounds.reserve(weights.size());
    std::uint64_t w = 0;
    for (std::uint32_t weight : weights) {
        w += weight;
        const std::uint64_t rounded = ((w << 31) + total / 2) / total;
        bounds.push_back(static_cast<std::int32_t>(static_cast<std::int64_t>(rounded) - 1));
    }
    return bounds;
}

unsigned accel_bits_for(std::size_t next_hops) {
    const unsigned need = static_cast<unsigned>(std::bit_width(next_hops - 1)) + accel_slack_bits;
    return std::clamp(need, min_accel_bits, max_accel_bits);
}

// Next-hop indexes fit the 16-bit entries of Selector::table_.
static_assert(Selector::max_next_hops <= 65536);

std::vector<std::uint16_t> narrow(const std::vector<std::uint32_t>& wide) {
    return std::vector<std::uint16_t>(wide.begin(), wide.end());
}

// Entry k holds the first step whose bound is >= the smallest (hash >> 1) of bucket k. Bounds
// never decrease, so for any value x in the bucket the Linux answer (first i with x <= bound[i])
// is at or after that entry, and select() reaches it by stepping forward.
template <typename Step>
std::vector<std::uint32_t> threshold_accel_table(const std::vector<Step>& steps, unsigned bits) {
    const std::uint32_t shift = 31 - bits;
    std::vector<std::uint32_t> table(std::size_t{1} << bits);
    std::uint32_t i = 0;
    for (std::size_t k = 0; k < table.size(); ++k) {
        const std::int64_t bucket_low = static_cast<std::int64_t>(k) << shift;
        while (steps[i].bound < bucket_low)
            ++i; // terminates: the last bound is 2^31 - 1 >= every bucket_low
        table[k] = i;
    }
    return table;
}

std::vector<std::uint32_t> modulo_table(std::span<const std::uint32_t> weights) {
    const std::uint64_t total = total_weight(weights);
    if (total > Selector::max_modulo_total)
        throw std::invalid_argument("selector: modulo total weight " + std::to_string(total) +
                                    " exceeds " + std::to_string(Selector::max_modulo_total));
    std::vector<std::uint32_t> table;
    table.reserve(total);
    for (std::uint32_t i = 0; i < weights.size(); ++i)
        table.insert(table.end(), weights[i], i);
    return table;
}

bool is_prime(std::uint32_t n) {
    if (n < 2) return false;
    for (std::uint32_t d = 2; static_cast<std::uint64_t>(d) * d <= n; ++d)
        if (n % d == 0) return false;
    return true;
}

// splitmix64's finaliser (Steele, Lea, Flood 2014): a cheap bijective mixer, so distinct ids give
// unrelated offsets and skips.
std::uint64_t mix64(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// One next-hop's walk through its Maglev permutation: slot_j = (offset + j * skip) mod M, with
// offset = h1(id) mod M and skip = h2(id) mod (M - 1) + 1 (Eisenbud et al., NSDI 2016, §3.4).
// M prime makes every skip coprime with M, so the walk visits every slot.
struct Permutation {
    std::uint32_t pos;
    std::uint32_t skip;

    Permutation(std::uint64_t id, std::uint32_t m)
        : pos(static_cast<std::uint32_t>(mix64(id) % m)),
          skip(static_cast<std::uint32_t>(mix64(id ^ 0x5bd1e9955bd1e995ULL) % (m - 1)) + 1) {}

    std::uint32_t next(std::uint32_t m) {
        const std::uint32_t here = pos;
        const std::uint64_t moved = static_cast<std::uint64_t>(pos) + skip;
        pos = static_cast<std::uint32_t>(moved >= m ? moved - m : moved);
        return here;
    }
};

// Maglev population (Pseudocode 1 of the paper) with weights: next-hops take turns claiming their
// next unclaimed preferred slot. Weighting: each round every next-hop earns credit equal to its
// weight and takes one turn per max-weight of credit, so the heaviest next-hop takes a turn every
// round and next-hop i takes turns at w_i / w_max of that rate; shares of the table follow the
// weights. Equal weights reduce to the paper's unweighted round-robin exactly.
std::vector<std::uint32_t> maglev_table(std::span<const std::uint32_t> weights,
                                        std::span<const std::uint64_t> ids, std::uint32_t m) {
    const std::size_t n = weights.size();
    const std::uint32_t w_max = *std::max_element(weights.begin(), weights.end());
    std::vector<Permutation> perms;
    perms.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
        perms.emplace_back(ids.empty() ? static_cast<std::uint64_t>(i) : ids[i], m);

    std::vector<std::uint32_t> table(m, unset_slot);
    std::vector<std::uint64_t> credit(n, 0);
    std::uint32_t filled = 0;
    while (filled < m) {
        for (std::size_t i = 0; i < n && filled < m; ++i) {
            credit[i] += weights[i];
            if (credit[i] < w_max) continue;
            credit[i] -= w_max;
            std::uint32_t slot = perms[i].next(m);
            while (table[slot] != unset_slot)
                slot = perms[i].next(m);
            table[slot] = static_cast<std::uint32_t>(i);
            ++filled;
        }
    }
    return table;
}

} // namespace

Selector Selector::build(SelectKind kind, std::span<const std::uint32_t> weights) {
    return build(kind, weights, {});
}

Selector Selector::build(SelectKind kind, std::span<const std::uint32_t> weights,
                         std::span<const std::uint64_t> ids) {
    check_weights(weights);
    Selector s;
    s.kind_ = kind;
    s.n_ = weights.size();
    switch (kind) {
    case SelectKind::hash_threshold: return build_threshold(weights, {});
    case SelectKind::modulo:
        s.table_ = narrow(modulo_table(weights));
        s.table_mod_ = static_cast<std::uint32_t>(s.table_.size());
        s.fastmod_m_ = fastmod_constant(s.table_mod_);
        return s;
    case SelectKind::maglev: return build_maglev(weights, ids, maglev_table_size(weights.size()));
    case SelectKind::resilient:
        throw std::invalid_argument("selector: a resilient group needs its bucket table");
    }
    throw std::invalid_argument("selector: unknown selection kind");
}

Selector Selector::build_threshold(std::span<const std::uint32_t> weights,
                                   std::span<const std::uint8_t> usable) {
    check_weights(weights);
    if (!usable.empty() && usable.size() != weights.size())
        throw std::invalid_argument("selector: usable flags for " + std::to_string(usable.size()) +
                                    " of " + std::to_string(weights.size()) + " next-hops");
    Selector s;
    s.kind_ = SelectKind::hash_threshold;
    s.n_ = weights.size();
    s.bounds_ = linux_upper_bounds(weights);
    const auto ok = [&](std::size_t i) { return usable.empty() || usable[i] != 0; };
    // An unusable next-hop's range joins the next usable one's (the first usable next-hop within
    // the bound); past the last usable one, flows go to the first usable one, else to entry 0.
    std::optional<std::uint32_t> first_usable;
    for (std::uint32_t i = 0; i < s.n_; ++i) {
        if (!ok(i)) continue;
        if (!first_usable) first_usable = i;
        s.steps_.push_back({s.bounds_[i], i});
    }
    if (!ok(s.n_ - 1))
        s.steps_.push_back({std::numeric_limits<std::int32_t>::max(), first_usable.value_or(0)});
    const unsigned bits = accel_bits_for(s.n_);
    s.accel_shift_ = 31 - bits;
    s.table_ = narrow(threshold_accel_table(s.steps_, bits));
    return s;
}

Selector Selector::build_resilient(std::size_t next_hops, std::span<const std::uint16_t> buckets) {
    if (next_hops == 0 || next_hops > max_next_hops)
        throw std::invalid_argument("selector: " + std::to_string(next_hops) + " next-hops; 1 to " +
                                    std::to_string(max_next_hops));
    if (buckets.empty() || buckets.size() > max_buckets)
        throw std::invalid_argument("selector: " + std::to_string(buckets.size()) +
                                    " buckets; 1 to " + std::to_string(max_buckets));
    for (const std::uint16_t b : buckets)
        if (b >= next_hops)
            throw std::invalid_argument("selector: a bucket names next-hop " + std::to_string(b) +
                                        " of " + std::to_string(next_hops));
    Selector s;
    s.kind_ = SelectKind::resilient;
    s.n_ = next_hops;
    s.table_.assign(buckets.begin(), buckets.end());
    s.table_mod_ = static_cast<std::uint32_t>(buckets.size());
    s.fastmod_m_ = fastmod_constant(s.table_mod_);
    s.mod_shift_ = 1;
    return s;
}

Selector Selector::build_maglev(std::span<const std::uint32_t> weights,
                                std::span<const std::uint64_t> ids, std::uint32_t table_size) {
    check_weights(weights);
    if (!ids.empty() && ids.size() != weights.size())
        throw std::invalid_argument("selector: " + std::to_string(ids.size()) + " ids for " +
                                    std::to_string(weights.size()) + " next-hops");
    if (table_size > max_maglev_table_size ||
        table_size < std::max<std::size_t>(weights.size(), 2) || !is_prime(table_size))
        throw std::invalid_argument("selector: maglev table size " + std::to_string(table_size) +
                                    " must be a prime between the next-hop count and " +
                                    std::to_string(max_maglev_table_size));
    Selector s;
    s.kind_ = SelectKind::maglev;
    s.n_ = weights.size();
    s.table_ = narrow(maglev_table(weights, ids, table_size));
    s.table_mod_ = table_size;
    s.fastmod_m_ = fastmod_constant(table_size);
    return s;
}

std::uint32_t Selector::maglev_stable_table_size(std::size_t next_hops) {
    // 65537 (prime) up to 512 next-hops: one size whatever the count, and M/N >= 100 keeps the
    // extra churn of a change small (the paper's own choice, §5.3). Above, 100 x the next power
    // of two.
    constexpr std::uint32_t fixed = 65537;
    const std::uint32_t grown = maglev_table_size(std::bit_ceil(next_hops));
    return std::max(fixed, grown);
}

std::uint32_t Selector::maglev_table_size(std::size_t next_hops) {
    const std::uint64_t want =
        std::max<std::uint64_t>(101, 100 * static_cast<std::uint64_t>(next_hops));
    if (want > max_maglev_table_size)
        throw std::invalid_argument("selector: too many next-hops for a maglev table");
    auto m = static_cast<std::uint32_t>(want);
    while (!is_prime(m))
        ++m;
    return m;
}

std::uint64_t Selector::maglev_id(std::string_view name) noexcept {
    // FNV-1a, 64-bit (offset basis and prime from the FNV specification).
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (char c : name) {
        h ^= static_cast<unsigned char>(c);
        h *= 0x100000001b3ULL;
    }
    return h;
}

} // namespace ptbsteer::steer
