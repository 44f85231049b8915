// What the steering layer decides for one PTB, and the per-group policy that shapes it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "util/name_table.h"

namespace ptbsteer::steer {

// How a group forwards: to the one next-hop the router would pick, or to all of them.
enum class Mode : std::uint8_t { unicast, replicate };
// The spelling of each Mode in the configuration (`mode:`) and in metric labels (`mode=`).
inline constexpr auto mode_names = util::name_table<Mode>("unicast", "replicate");
static_assert(mode_names.size() == std::size_t(Mode::replicate) + 1);
constexpr std::string_view name(Mode m) {
    return mode_names.name(m);
}

// What to do with a PTB whose quoted key lacks the ports the group's hash model needs (a
// truncated quote, a non-first fragment, the reverse of an ESP SA): send it to every next-hop
// (the right server accepts it, the others ignore it; RFC 7690 §3 notes replication is safe),
// or drop it.
enum class Fallback : std::uint8_t { replicate, drop };
// The configuration's `fallback:` spelling of each Fallback.
inline constexpr auto fallback_names = util::name_table<Fallback>("replicate", "drop");
static_assert(fallback_names.size() == std::size_t(Fallback::drop) + 1);
constexpr std::string_view name(Fallback f) {
    return fallback_names.name(f);
}

// How a PTB reaches a next-hop: rewritten Ethernet header on the server's segment, or
// encapsulated (IPv4-in-IPv4 / IPv6-in-IPv6) to the server's address on another segment.
enum class Deliver : std::uint8_t { l2, ipip };
// The configuration's `deliver:` spelling of each Deliver.
inline constexpr auto deliver_names = util::name_table<Deliver>("l2", "ipip");
static_assert(deliver_names.size() == std::size_t(Deliver::ipip) + 1);
constexpr std::string_view name(Deliver d) {
    return deliver_names.name(d);
}

enum class VerdictKind : std::uint8_t { unicast, replicate, drop };
inline constexpr auto verdict_kind_names =
    util::name_table<VerdictKind>("unicast", "replicate", "drop");
static_assert(verdict_kind_names.size() == std::size_t(VerdictKind::drop) + 1);
constexpr std::string_view name(VerdictKind k) {
    return verdict_kind_names.name(k);
}

enum class DropReason : std::uint8_t {
    none,                   // not a drop
    no_ports_fallback_drop, // the key lacks ports the model hashes and the fallback is drop
};
inline constexpr auto drop_reason_names =
    util::name_table<DropReason>("none", "no_ports_fallback_drop");
static_assert(drop_reason_names.size() == std::size_t(DropReason::no_ports_fallback_drop) + 1);
constexpr std::string_view name(DropReason r) {
    return drop_reason_names.name(r);
}

// Unicast(next_hop) | Replicate(group) | Drop(reason). Trivially copyable, 8 bytes.
struct Verdict {
    VerdictKind kind = VerdictKind::drop;
    DropReason reason = DropReason::none;
    std::uint32_t value = 0; // unicast: next-hop index in the group; replicate: group id

    static constexpr Verdict unicast(std::uint32_t next_hop) noexcept {
        return {VerdictKind::unicast, DropReason::none, next_hop};
    }
    static constexpr Verdict replicate(std::uint32_t group) noexcept {
        return {VerdictKind::replicate, DropReason::none, group};
    }
    static constexpr Verdict drop(DropReason why) noexcept { return {VerdictKind::drop, why, 0}; }

    constexpr std::uint32_t next_hop() const noexcept { return value; }
    constexpr std::uint32_t group() const noexcept { return value; }

    friend constexpr bool operator==(const Verdict&, const Verdict&) = default;
};

static_assert(std::is_trivially_copyable_v<Verdict>);
static_assert(sizeof(Verdict) == 8);

} // namespace ptbsteer::steer
