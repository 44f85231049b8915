// Every reason the appliance drops a frame, in one list. The first entries mirror the parser's
// outcomes (lib/packet/parse_status.h) index for index, so a parse status converts by cast; the
// `ptb` slot is never a drop and stays zero. Names are metric label values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "guard/validate.h"
#include "packet/parse_status.h"

namespace ptbsteer::datapath {

// X(name, one-line meaning) — reasons that arise after parsing.
#define PTBSTEER_DATAPLANE_DROPS(X)                                                                \
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
    X(no_headroom,                                                                                 \
      "no room before the packet for the new headers (cannot happen with default mbufs)")

enum class Drop : std::uint16_t {
#define PTBSTEER_X(n, kind, text) n,
    PTBSTEER_PARSE_STATUSES(PTBSTEER_X)
#undef PTBSTEER_X
#define PTBSTEER_X(n, text) n,
        PTBSTEER_VALIDATION_DROPS(PTBSTEER_X) PTBSTEER_DATAPLANE_DROPS(PTBSTEER_X)
#undef PTBSTEER_X
            count_
};
inline constexpr std::size_t drop_count = static_cast<std::size_t>(Drop::count_);

constexpr Drop drop_from(packet::ParseStatus s) {
    return static_cast<Drop>(s);
}
// guard::Check values follow `ok`, in the same order as their Drop values follow the parser's.
constexpr Drop drop_from(guard::Check c) {
    return static_cast<Drop>(packet::parse_status_count + std::size_t(c) - 1);
}
constexpr bool is_drop(Drop d) {
    return d != Drop::ptb;
}

constexpr std::string_view name(Drop d) {
    switch (d) {
#define PTBSTEER_X(n, kind, text)                                                                  \
    case Drop::n: return #n;
        PTBSTEER_PARSE_STATUSES(PTBSTEER_X)
#undef PTBSTEER_X
#define PTBSTEER_X(n, text)                                                                        \
    case Drop::n: return #n;
        PTBSTEER_VALIDATION_DROPS(PTBSTEER_X)
        PTBSTEER_DATAPLANE_DROPS(PTBSTEER_X)
#undef PTBSTEER_X
    case Drop::count_: break;
    }
    return "?";
}

constexpr std::string_view description(Drop d) {
    switch (d) {
#define PTBSTEER_X(n, kind, text)                                                                  \
    case Drop::n: return text;
        PTBSTEER_PARSE_STATUSES(PTBSTEER_X)
#undef PTBSTEER_X
#define PTBSTEER_X(n, text)                                                                        \
    case Drop::n: return text;
        PTBSTEER_VALIDATION_DROPS(PTBSTEER_X)
        PTBSTEER_DATAPLANE_DROPS(PTBSTEER_X)
#undef PTBSTEER_X
    case Drop::count_: break;
    }
    return "?";
}

} // namespace ptbsteer::datapath

namespace ptbsteer::datapath {
static_assert(drop_from(guard::Check::mtu_unspecified) == Drop::mtu_unspecified);
static_assert(drop_from(guard::Check::dst_not_quoted_source) == Drop::dst_not_quoted_source);
} // namespace ptbsteer::datapath
