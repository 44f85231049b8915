// ARP and Neighbor Discovery for the appliance's own addresses, so a router can use ptbsteer as
// the next-hop of its filter-based forwarding without static neighbour entries.
// Works in place on frame bytes (no DPDK types).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "datapath/tables.h"

namespace ptbsteer::datapath {

// True when the frame (l3 at `l3_offset`) is an ARP request for `port`'s IPv4 address, or a
// Neighbor Solicitation (RFC 4861 §4.3) for its IPv6 address.
bool arp_for_us(std::span<const std::uint8_t> frame, std::size_t l3_offset,
                const PortAddresses& port);
bool ns_for_us(std::span<const std::uint8_t> frame, std::size_t l3_offset,
               const PortAddresses& port);

// Turns the request in `room[0, len)` into its reply, in place; `room` may extend past `len`
// (buffer tailroom) because a Neighbor Advertisement can be longer than the solicitation.
// Returns the reply's length, or 0 when it does not fit. VLAN tags are kept: the reply goes back
// on the VLAN the request came from.
std::size_t make_arp_reply(std::span<std::uint8_t> room, std::size_t len, std::size_t l3_offset,
                           const PortAddresses& port);
std::size_t make_neighbor_advert(std::span<std::uint8_t> room, std::size_t len,
                                 std::size_t l3_offset, const PortAddresses& port);

} // namespace ptbsteer::datapath
