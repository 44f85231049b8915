// Next-hops given by address (`via:`), as the lcores see them: one 64-bit word per next-hop
// slot holding the resolved MAC and the entry's state, written by the neighbour manager
// (lib/control/neighbors.h) with one atomic store and read by the TX role with one relaxed load.
// Also the frames of that exchange in bytes (no DPDK types): what an RX lcore extracts from an
// ARP or Neighbor Advertisement of a next-hop, and the ARP requests (RFC 826) and Neighbor
// Solicitations (RFC 4861 §4.3) the manager sends.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>

#include "datapath/tables.h"

namespace ptbsteer::datapath {

// The states of RFC 4861 §7.3.2 that matter to a sender which never waits on upper-layer
// confirmation (docs/configuration.md, "Next-hops by address"). Bit 7 set: the MAC may be used.
enum class NeighborState : std::uint8_t {
    incomplete = 0x00, // never resolved: its PTBs wait (unres_qlen), then neighbor_unresolved
    failed = 0x01,     // no answer: its PTBs are dropped as neighbor_failed
    reachable = 0x80,  // answered within reachable_time
    probe = 0x81,      // reachable_time passed without an answer: still used, being solicited
    permanent = 0x82,  // a static `mac:`
};
inline constexpr std::array<NeighborState, 5> neighbor_states = {
    NeighborState::incomplete, NeighborState::reachable, NeighborState::probe,
    NeighborState::failed, NeighborState::permanent};
constexpr std::string_view name(NeighborState s) {
    switch (s) {
    case NeighborState::incomplete: return "incomplete";
    case NeighborState::failed: return "failed";
    case NeighborState::reachable: return "reachable";
    case NeighborState::probe: return "probe";
    case NeighborState::permanent: return "permanent";
    }
    return "?";
}

// NeighborWord (tables.h): bytes 0-5 the MAC (in wire order on a little-endian CPU: the word is
// stored as it is laid out in memory), byte 6 the slot's binding (bumped whenever the slot is
// bound to another address or MAC: a PTB parked for the slot's earlier next-hop must not leave
// for its next one), byte 7 the state.
static_assert(NeighborWord::is_always_lock_free);

inline std::uint64_t neighbor_word(const Mac& mac, NeighborState s,
                                   std::uint8_t binding = 0) noexcept {
    std::uint64_t w = 0;
    std::memcpy(&w, mac.data(), 6);
    return w | std::uint64_t(binding) << 48 | std::uint64_t(s) << 56;
}
inline std::uint8_t binding_of(std::uint64_t w) noexcept {
    return std::uint8_t(w >> 48);
}
inline NeighborState state_of(std::uint64_t w) noexcept {
    return NeighborState(w >> 56);
}
inline bool usable(std::uint64_t w) noexcept {
    return (w >> 63) != 0;
}
inline Mac mac_of(std::uint64_t w) noexcept {
    Mac m;
    std::memcpy(m.data(), &w, 6);
    return m;
}
// An Ethernet destination from the word: the first 6 bytes of every frame we send.
inline void write_dst_mac(std::uint8_t* frame, std::uint64_t w) noexcept {
    std::memcpy(frame, &w, 6);
}
// The word of a next-hop in `t` (its slot's).
inline std::uint64_t neighbor_of(const Tables& t, const NextHopOut& nh) noexcept {
    return t.neighbors[nh.counter_slot].load(std::memory_order_relaxed);
}

// What an RX lcore hands the manager: one next-hop address's link-layer address as a frame
// announced it. `has_mac` false: a Neighbor Advertisement without a Target Link-Layer Address
// option (a reply to a unicast probe, RFC 4861 §7.2.4), which confirms the MAC already held.
struct NeighborUpdate {
    std::uint16_t port = 0; // config port index
    std::uint16_t vlan = 0; // 0: untagged
    packet::Family family = packet::Family::v4;
    bool has_mac = false;
    bool solicited = false; // NA S flag, or an ARP reply
    bool override = true;   // NA O flag (RFC 4861 §7.2.5); ARP always overrides (RFC 826)
    Mac mac{};
    std::uint8_t pad2[2]{};
    packet::IpAddr addr;
};
static_assert(sizeof(NeighborUpdate) == 32); // an rte_ring element: a multiple of 4 bytes

// True when `t` names (port, family, addr) as some next-hop's `via`.
bool is_neighbor(const Tables& t, std::size_t port, packet::Family f, const std::uint8_t* addr);

// The update an ARP packet (request, reply, gratuitous) from a next-hop's address carries, or
// a valid Neighbor Advertisement for one (RFC 4861 §7.1.2: hop limit 255, code 0, checksum;
// §7.2.5): nullopt for anything else, and for a zero or group sender MAC, which no station has.
// `l3` is the ARP or IPv6 header's offset.
std::optional<NeighborUpdate> neighbor_update(const Tables& t, std::span<const std::uint8_t> frame,
                                              std::size_t l3, std::size_t port);

// The source of a solicitation: our MAC and address on the port (for a link-local target, the
// port's link-local address).
struct SolicitFrom {
    Mac mac{};
    std::uint16_t vlan = 0;
    packet::IpAddr addr;
};
// An ARP request for `target` (RFC 826): broadcast, or unicast to `to` (a refresh probe, as
// Linux's ucast_solicit). Returns the frame's length, 0 when `out` is too small.
std::size_t make_arp_request(std::span<std::uint8_t> out, const SolicitFrom& from,
                             const packet::IpAddr& target, const Mac* to);
// A Neighbor Solicitation for `target` with our Source Link-Layer Address option (RFC 4861
// §7.2.2): to the target's solicited-node multicast address (RFC 4291 §2.7.1), or unicast to
// the target at `to` (a probe of a known entry, §7.3.3).
std::size_t make_neighbor_solicitation(std::span<std::uint8_t> out, const SolicitFrom& from,
                                       const packet::IpAddr& target, const Mac* to);
// The EUI-64 link-local address of a MAC (RFC 4291 §2.5.1 and appendix A).
packet::IpAddr link_local_of(const Mac& mac);

} // namespace ptbsteer::datapath
