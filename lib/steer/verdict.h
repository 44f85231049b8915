// What the steering layer decides for one PTB, and the per-group policy that shapes it.
#pragma once

#include <cstdint>
#include <type_traits>

namespace ptbsteer::steer {

// How a group forwards: to the one next-hop the router would pick, or to all of them.
enum class Mode : std::uint8_t { unicast, replicate };

// What to do with a PTB whose quoted key lacks the ports the group's hash model needs (a
// truncated quote, a non-first fragment, the reverse of an ESP SA): send it to every next-hop
// (the right server accepts it, the others ignore it; RFC 7690 §3 notes replication is safe),
// or drop it.
enum class Fallback : std::uint8_t { replicate, drop };

// How a PTB reaches a next-hop: rewritten Ethernet header on the server's segment, or
// encapsulated (IPv4-in-IPv4 / IPv6-in-IPv6) to the server's address on another segment.
enum class Deliver : std::uint8_t { l2, ipip };

enum class VerdictKind : std::uint8_t { unicast, replicate, drop };

enum class DropReason : std::uint8_t {
    none,                   // not a drop
    no_group,               // no served prefix matches the original flow's destination
    no_ports_fallback_drop, // the key lacks ports the model hashes and the fallback is drop
};

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

const char* to_string(VerdictKind k) noexcept;
const char* to_string(DropReason r) noexcept;

} // namespace ptbsteer::steer
