// The configuration compiled for the fast path: immutable after build, indexed per packet,
// never branching on YAML options. Built once by compile_tables() (lib/control) on the control
// thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "guard/validate.h"
#include "hash/siphash_batch.h"
#include "steer/group.h"
#include "steer/prefix_table.h"

namespace ptbsteer::datapath {

using Mac = std::array<std::uint8_t, 6>;

// A MAC as an integer, so the fast path compares MACs with one instruction (both sides loaded
// the same way: byte order does not matter). Two loads into registers: a 6-byte memcpy into a
// zeroed integer goes through the stack.
inline std::uint64_t mac_bits(const std::uint8_t* p) noexcept {
    std::uint32_t hi;
    std::uint16_t lo;
    std::memcpy(&hi, p, 4);
    std::memcpy(&lo, p + 4, 2);
    return std::uint64_t{hi} << 16 | lo;
}

// A next-hop's resolved MAC and neighbour state (datapath/neighbor.h), one per next-hop slot.
using NeighborWord = std::atomic<std::uint64_t>;

// Everything the TX side needs to emit a PTB towards one next-hop, resolved ahead of time.
struct NextHopOut {
    std::uint16_t port_id = 0; // DPDK port
    // The server's (or, for ipip, the gateway's) MAC when static; all zero for a `via`. What is
    // sent is always the slot's NeighborWord's MAC (neighbor.h), so the two kinds take one path.
    Mac dst_mac{};
    Mac src_mac{};              // our port's MAC
    std::uint16_t vlan_tci = 0; // 0: untagged
    steer::Deliver deliver = steer::Deliver::l2;
    packet::Family tunnel_family = packet::Family::v4;
    packet::IpAddr tunnel_src; // our address on that port (ipip)
    packet::IpAddr tunnel_dst; // the server's address (ipip)
    // Resolved by prepare_header() (tx.h), so the fast path copies bytes instead of branching on
    // VLAN, delivery and family per packet: the Ethernet header (+ 802.1Q tag) for a PTB of each
    // family ([0] IPv4, [1] IPv6: the EtherType differs unless tunnelled), its length (14 or
    // 18), and the whole header's length (the tunnel's IP header included).
    std::array<std::array<std::uint8_t, 18>, 2> eth_header{};
    std::uint8_t eth_len = 14;
    std::uint8_t header_len = 14;
    bool by_address = false; // `via`: dst_mac is resolved at run time (neighbor.h)
    // Index into LcoreCounters' per-next-hop arrays. compile_tables() sets the next-hop's own
    // index; the appliance remaps it to a slot stable across reloads (generation.h).
    std::uint32_t counter_slot = 0;
};

struct GroupEntry {
    steer::Group group;
    std::uint32_t first_next_hop = 0; // into Tables::next_hops
    std::uint32_t next_hop_count = 0;
    guard::ValidationPolicy validation;
    // Its versions that served before this one and still own flows (transition.h), newest
    // first: Tables::past_groups[past_first, past_first + past_count). 0: no transition.
    std::uint32_t past_first = 0;
    std::uint32_t past_count = 0;
    std::uint32_t transition_copies = 1; // frames per PTB at most, its newest owner's included
    // Its departed next-hops (only past versions name them): Tables::next_hops[departed_first,
    // + departed_count), after every group's serving ones.
    std::uint32_t departed_first = 0;
    std::uint32_t departed_count = 0;
};

// A version of a group that served before the current one (lib/control/transition.h).
struct PastGroup {
    steer::Group group; // its hash and selection as they served
    // Its next-hops, by position: indices into Tables::next_hops, from Tables::past_hops.
    std::uint32_t first_hop = 0;
    std::uint64_t until_tsc = 0; // owns flows while the TSC is below this
    // Its hash is the serving version's (only next-hops or weights changed, the common case):
    // it selects with the hash the serving version computed, without hashing again.
    bool same_hash = false;
};
// A past_hops entry for a next-hop that cannot be reached any more (its port lost the tunnel
// source it needs): its flows have no earlier owner to go to.
inline constexpr std::uint32_t no_next_hop = 0xffffffff;

// The appliance's own addresses on one port, answered for ARP and Neighbor Solicitation.
struct PortAddresses {
    Mac mac{};
    std::optional<packet::IpAddr> ipv4;
    std::optional<packet::IpAddr> ipv6;
    packet::IpAddr ipv6_link_local; // EUI-64 from `mac`: the source of link-local solicitations
};

// A next-hop's `via` on one port: what RX lcores learn from (ARP, Neighbor Advertisements).
struct NeighborAddr {
    std::uint16_t port = 0; // config port index
    packet::Family family = packet::Family::v4;
    packet::IpAddr addr;
};

// One served prefix and the site (a group name: all its states) it maps to: what
// `Tables::prefixes` was built from.
struct PrefixRoute {
    packet::Family family = packet::Family::v4;
    packet::IpAddr addr;
    std::uint8_t length = 0;
    std::uint32_t group = 0; // the site
    friend bool operator==(const PrefixRoute&, const PrefixRoute&) = default;
};

struct Tables {
    steer::PrefixTable prefixes; // original flow's destination -> site (site_state() -> group)
    // What `prefixes` holds, in order. A new generation with the same routes (a change of
    // next-hops, hashes or checks only) shares the previous one's rte_lpm tables
    // (PrefixTable::share) instead of building 64 MiB ones again.
    std::vector<PrefixRoute> prefix_routes;
    std::vector<GroupEntry> groups;
    // All groups' next-hops, group after group, then those only past versions of a group
    // name (lib/control/transition.h: departed_hops), from `serving_next_hops` on.
    std::vector<NextHopOut> next_hops;
    std::size_t serving_next_hops = 0;
    std::vector<PastGroup> past_groups;   // GroupEntry::past_first indexes it
    std::vector<std::uint32_t> past_hops; // PastGroup::first_hop indexes it
    // next_hops[i].port_id, apart: the decision's loop check reads it for every PTB, and in a
    // group of 4096 next-hops the NextHopOuts span 256 KiB, these 8 KiB (flat cost in group size).
    std::vector<std::uint16_t> next_hop_ports;
    std::vector<PortAddresses> ports; // by config port index
    // mac_bits() of each port's MAC, apart: the own-frame check reads them for every frame.
    std::vector<std::uint64_t> port_macs;
    std::vector<std::uint16_t> port_ids; // config port index -> DPDK port id
    // Every next-hop's MAC and neighbour state, by counter slot: the appliance's table, shared
    // by every generation and written by its neighbour manager (lib/control/neighbors.h), or
    // `own_neighbors` (tables built without one, e.g. in unit tests: static MACs only).
    const NeighborWord* neighbors = nullptr;
    std::shared_ptr<NeighborWord[]> own_neighbors;
    // The `via` of every next-hop, sorted (port, family, address), no duplicates.
    std::vector<NeighborAddr> neighbor_addrs;
    // How much of each received frame the RX loop prefetches ahead (prefetch_frame(), decide.h):
    // the headers when no group verifies checksums (all decide() reads of the fast path's
    // shapes), else a whole PTB, as the ICMP checksum reads every byte of the quote.
    std::size_t prefetch_bytes = header_prefetch;
    // Two lines: what decide() reads of an IPv6 PTB, Ethernet + 802.1Q + IPv6 + ICMPv6 + the
    // quoted IPv6 header + its ports, is 110 bytes.
    static constexpr std::size_t header_prefetch = 128;
    // The longest PTB frame: 1,280 bytes of IPv6 (RFC 4443 §2.4(c); IPv4's 576, RFC 1812
    // §4.3.2.3, is shorter) after Ethernet and two VLAN tags. Longer frames are not PTBs a
    // router sends; the parser bounds itself, and the prefetch stops here.
    static constexpr std::size_t whole_ptb_prefetch = 1280 + 14 + 2 * 4;
    // The SIMD path that hashes a burst's Linux flows side by side (config `simd:`; burst.h);
    // null: each flow hashed on its own (the scalar path).
    hash::SipLanesFn hash_lanes = nullptr;
    hash::SimdPath simd = hash::SimdPath::scalar; // the path taken, for the reports
    // The routers that hand PTBs over (config `routers:`), numbered from 1 in the
    // configuration's order; 0 is a frame none of them matched. router_of() (router.h) reads
    // these for every PTB: the source MAC first, then the outer VLAN, then the port.
    std::vector<std::uint64_t> router_macs;   // mac_bits() of each router matched by MAC
    std::vector<std::uint8_t> router_mac_ids; // parallel: its number
    std::vector<std::uint16_t> router_vlans;  // each router matched by VLAN: the VLAN id
    std::vector<std::uint8_t> router_vlan_ids;
    std::vector<std::uint8_t> router_of_port; // by config port index: its router's number, or 0
    std::uint32_t router_slots = 1;           // routers + 1
    // The group (index into `groups`) serving a PTB of site s from router r:
    // site_states[s * router_slots + r]: the router's own state, else the site's shared one.
    std::vector<std::uint32_t> site_states;
    // By group: 1 for a site's shared state (no router's own): the per-router counters tell
    // the two apart after the decision, off decide()'s path.
    std::vector<std::uint8_t> group_is_shared;
    std::uint32_t site_state(std::uint32_t site, std::uint32_t router) const noexcept {
        return site_states[site * router_slots + router];
    }
    // For reports only.
    std::vector<std::string> router_names;   // by number: [0] "unmatched"
    std::vector<std::string> group_names;    // each state's key (config::Group::key())
    std::vector<std::string> next_hop_names; // "group/name"
    // The group index of every next-hop: TX finds a transition's group by its newest owner.
    std::vector<std::uint32_t> next_hop_group;
};

} // namespace ptbsteer::datapath
