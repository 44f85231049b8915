// Every reason the appliance drops a frame, in one list. The first entries mirror the parser's
// outcomes (lib/packet/parse_status.h) index for index, so a parse status converts by cast; the
// `ptb` slot is never a drop and stays zero. Names are metric label values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "packet/parse_status.h"

namespace ptbsteer::dataplane {

// X(name, one-line meaning) — reasons that arise after parsing.
#define PTBSTEER_DATAPLANE_DROPS(X)                                                                \
    X(no_group, "the original flow's destination is in no group's prefixes")                       \
    X(no_ports_fallback_drop, "the quote lacks the ports the group's hash needs; fallback: drop")  \
    X(arp_not_ours, "ARP that does not ask for one of our addresses on that port")                 \
    X(nd_not_ours, "Neighbor Discovery that is not a solicitation for one of our addresses")       \
    X(ring_full, "the RX lcore's ring to its TX lcore was full")                                   \
    X(no_headroom, "no room before the packet for the new headers (cannot happen with default mbufs)")

enum class Drop : std::uint16_t {
#define PTBSTEER_X(n, kind, text) n,
    PTBSTEER_PARSE_STATUSES(PTBSTEER_X)
#undef PTBSTEER_X
#define PTBSTEER_X(n, text) n,
    PTBSTEER_DATAPLANE_DROPS(PTBSTEER_X)
#undef PTBSTEER_X
    count_
};
inline constexpr std::size_t drop_count = static_cast<std::size_t>(Drop::count_);

constexpr Drop drop_from(packet::ParseStatus s) { return static_cast<Drop>(s); }
constexpr bool is_drop(Drop d) { return d != Drop::ptb; }

constexpr std::string_view name(Drop d) {
    switch (d) {
#define PTBSTEER_X(n, kind, text)                                                                  \
    case Drop::n: return #n;
        PTBSTEER_PARSE_STATUSES(PTBSTEER_X)
#undef PTBSTEER_X
#define PTBSTEER_X(n, text)                                                                        \
    case Drop::n: return #n;
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
        PTBSTEER_DATAPLANE_DROPS(PTBSTEER_X)
#undef PTBSTEER_X
    case Drop::count_: break;
    }
    return "?";
}

} // namespace ptbsteer::dataplane
