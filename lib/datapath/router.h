// Which border router handed a frame over (config `routers:`; Tables::router_*): the per-router
// state of a group is chosen by it, and the per-router counters count by it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "datapath/tables.h"

namespace ptbsteer::datapath {

// A router's number fits 7 bits of Decision::router (decide.h); the configuration allows fewer
// (config::max_routers, checked against this where both are seen: compile_tables.cpp).
inline constexpr std::uint32_t max_router_number = 127;

// The router's number (1..), or 0 when none matched: its source MAC first, then its outer VLAN
// (802.1Q or 802.1ad), then the port it came in on. Inline: it runs for every PTB, and a site
// has a handful of border routers, so a scan of a few MACs is cheaper than a hash.
inline std::uint32_t router_of(const Tables& t, std::span<const std::uint8_t> frame,
                               std::size_t rx_port) noexcept {
    // Without routers: one well-predicted branch instead of the three looks below
    // (docs/performance.md, "Routers").
    if (t.router_slots == 1 || frame.size() < 14) [[likely]]
        return 0;
    const std::uint64_t src = mac_bits(frame.data() + 6);
    for (std::size_t i = 0; i < t.router_macs.size(); ++i)
        if (t.router_macs[i] == src) return t.router_mac_ids[i];
    if (!t.router_vlans.empty() && frame.size() >= 16) {
        const unsigned type = unsigned(frame[12]) << 8 | frame[13];
        if (type == 0x8100 || type == 0x88a8) {
            const unsigned vid = (unsigned(frame[14]) << 8 | frame[15]) & 0x0fff;
            for (std::size_t i = 0; i < t.router_vlans.size(); ++i)
                if (t.router_vlans[i] == vid) return t.router_vlan_ids[i];
        }
    }
    return rx_port < t.router_of_port.size() ? t.router_of_port[rx_port] : 0;
}

} // namespace ptbsteer::datapath
