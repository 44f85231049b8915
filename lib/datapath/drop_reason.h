// Every reason the appliance drops a frame, in one list: PTBSTEER_DROP_REASONS below. It takes the
// parser's outcomes (lib/packet/parse_status.h) and the guard's refusals (lib/guard/validate.h)
// from the layers that own them, then adds the datapath's own; nothing else lists a reason. The
// enum, the names (metric label values), the meanings (docs/metrics.md, by test) and the
// conversions from a parse status or a guard check are all generated from it. The `ptb` slot is
// never a drop and stays zero.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "guard/validate.h"
#include "packet/parse_status.h"

namespace ptbsteer::datapath {

// X(name, one-line meaning): reasons that arise after parsing and validation.
#define PTBSTEER_DATAPATH_DROPS(X)                                                                 \
    X(no_group, "the original flow's destination is in no group's prefixes")                       \
    X(no_ports_fallback_drop, "the quote lacks the ports the group's hash needs; fallback: drop")  \
    X(arp_not_ours, "ARP that does not ask for one of our addresses on that port")                 \
    X(nd_not_ours, "Neighbor Discovery that is not a solicitation for one of our addresses")       \
    X(own_frame, "the frame carries one of our own source MACs: it looped back to us")             \
    X(rate_limited_source, "over the per-source PTB rate (limits.per_source)")                     \
    X(rate_limited_global, "over the global PTB rate (limits.global)")                             \
    X(replication_budget,                                                                          \
      "a replicate-mode PTB whose copies exceed the budget (limits.replication)")                  \
    X(would_loop, "the owner is behind the port and MAC the PTB came from")                        \
    X(ring_full, "the RX lcore's ring to its TX lcore was full")                                   \
    X(neighbor_failed, "the owner's via stopped answering ARP/ND (its neighbour entry failed)")    \
    X(neighbor_unresolved,                                                                         \
      "the owner's via was not resolved in time, or its queue (neighbors.unres_qlen) was full")    \
    X(neighbor_ring_full, "an ARP/ND frame of a next-hop found the neighbour manager's ring full") \
    X(no_headroom,                                                                                 \
      "no room before the packet for the new headers (cannot happen with default mbufs)")

// The one list, in label order. P(name, kind, meaning) for the parser's outcomes, X(name,
// meaning) for the rest.
#define PTBSTEER_DROP_REASONS(P, X)                                                                \
    PTBSTEER_PARSE_STATUSES(P) PTBSTEER_VALIDATION_DROPS(X) PTBSTEER_DATAPATH_DROPS(X)

#define PTBSTEER_DROP_P(n, kind, text) PTBSTEER_DROP_X(n, text)

// 8 bits: it rides in the 16-byte Decision (decide.h) beside the router's number.
enum class Drop : std::uint8_t {
#define PTBSTEER_DROP_X(n, text) n,
    PTBSTEER_DROP_REASONS(PTBSTEER_DROP_P, PTBSTEER_DROP_X)
#undef PTBSTEER_DROP_X
        count_
};
inline constexpr std::size_t drop_count = static_cast<std::size_t>(Drop::count_);
static_assert(drop_count <= 256);

struct DropReason {
    std::string_view name; // the `reason` label value
    std::string_view meaning;
};

inline constexpr std::array<DropReason, drop_count> drop_reasons = {{
#define PTBSTEER_DROP_X(n, text) {#n, text},
    PTBSTEER_DROP_REASONS(PTBSTEER_DROP_P, PTBSTEER_DROP_X)
#undef PTBSTEER_DROP_X
}};
#undef PTBSTEER_DROP_P

constexpr std::string_view name(Drop d) {
    return drop_reasons[static_cast<std::size_t>(d)].name;
}
constexpr std::string_view description(Drop d) {
    return drop_reasons[static_cast<std::size_t>(d)].meaning;
}
constexpr bool is_drop(Drop d) {
    return d != Drop::ptb;
}

namespace detail {
constexpr Drop drop_named(std::string_view n) {
    for (std::size_t i = 0; i < drop_count; ++i)
        if (drop_reasons[i].name == n) return static_cast<Drop>(i);
    return Drop::count_; // refused by the static_asserts below
}
template <typename E, std::size_t N>
constexpr std::array<Drop, N> by_name(std::size_t first) {
    std::array<Drop, N> out{};
    for (std::size_t i = first; i < N; ++i)
        out[i] = drop_named(name(static_cast<E>(i)));
    return out;
}
// By name, not by position: a reason added to one list cannot shift another's meaning.
inline constexpr auto drop_of_status = by_name<packet::ParseStatus, packet::parse_status_count>(0);
inline constexpr auto drop_of_check = by_name<guard::Check, guard::check_count>(1); // [0]: ok
constexpr bool all_named(const auto& table, std::size_t first) {
    for (std::size_t i = first; i < table.size(); ++i)
        if (table[i] == Drop::count_) return false;
    return true;
}
static_assert(all_named(drop_of_status, 0), "a parse status has no drop reason of its name");
static_assert(all_named(drop_of_check, 1), "a guard check has no drop reason of its name");
} // namespace detail

constexpr Drop drop_from(packet::ParseStatus s) {
    return detail::drop_of_status[static_cast<std::size_t>(s)];
}
constexpr Drop drop_from(guard::Check c) {
    return detail::drop_of_check[static_cast<std::size_t>(c)];
}

} // namespace ptbsteer::datapath
