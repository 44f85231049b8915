#include "datapath/decide.h"

#include <cstring>

#include "datapath/neighbor.h"
#include "datapath/responder.h"
#include "guard/validate.h"
#include "packet/parser.h"

namespace ptbsteer::datapath {
namespace {

Decision dropped(Drop why, std::uint16_t l3) {
    return Decision{.action = Action::drop, .drop = why, .l3_offset = l3};
}

Decision reply(std::uint16_t l3, std::size_t port, packet::Family f) {
    return Decision{
        .action = Action::reply, .l3_offset = l3, .family = f, .target = std::uint32_t(port)};
}

Decision learn(std::uint16_t l3, packet::Family f) {
    return Decision{.action = Action::learn, .l3_offset = l3, .family = f};
}

bool from_us(const Tables& t, std::span<const std::uint8_t> frame) {
    const std::uint64_t src = mac_bits(frame.data() + 6);
    for (const std::uint64_t own : t.port_macs)
        if (own == src) return true;
    return false;
}

// Whether next-hop `idx` is the station the frame came from (a routing loop through us). Its MAC
// (the neighbour word's: static or resolved) is only read when it sits behind the RX port.
[[gnu::always_inline]] inline bool loops_back(const Tables& t, std::uint32_t idx,
                                              std::span<const std::uint8_t> frame,
                                              std::size_t rx_port) {
    if (t.next_hop_ports[idx] != t.port_ids[rx_port]) return false;
    const std::uint64_t w = neighbor_of(t, t.next_hops[idx]);
    return std::memcmp(&w, frame.data() + 6, 6) == 0;
}

// During a transition (transition.h): a copy for each earlier owner of the flow, paid from the
// replication budget like any copy; once the budget is spent, the newest owner only. `d` is
// steer_ptb()'s transition: `past` holds the serving version's hash until it holds owners.
[[gnu::noinline]] void add_past_owners(const Tables& t, const packet::PtbInfo& info,
                                       std::span<const std::uint8_t> frame, std::size_t rx_port,
                                       Guard* guard, std::uint64_t now, Decision& d) {
    std::uint32_t hash;
    std::memcpy(&hash, d.past, sizeof hash);
    const GroupEntry& g = t.groups[t.next_hop_group[d.target]];
    std::uint32_t owners[max_past_owners];
    const unsigned n = past_owners(t, g, info.flow, hash, d.target, now, owners);
    unsigned kept = 0;
    for (unsigned i = 0; i < n; ++i)
        if (!loops_back(t, owners[i], frame, rx_port)) d.past[kept++] = local_owner(g, owners[i]);
    // No earlier owner apart from the newest, or they would loop: a plain unicast.
    if (kept == 0) {
        d.action = Action::unicast;
        return;
    }
    // All copies, else the newest earlier owner's alone (an lcore's share of a small burst may
    // be one token), else none: past_count 0, the budget is spent.
    while (kept > 0 && guard && !guard->replication.allow(now, kept))
        --kept;
    d.past_count = std::uint8_t(kept);
}

// The steps of docs/security.md, in its order: cheap and attacker-independent checks first, so
// forged PTBs never spend the tokens of the router they pretend to come from.
Decision steer_ptb(const Tables& t, std::span<const std::uint8_t> frame, std::size_t rx_port,
                   const packet::PtbInfo& info, Guard* guard, std::uint64_t now) {
    Decision d{.ptb = true, .l3_offset = info.l3_offset, .family = info.family};
    // The group is chosen by the ORIGINAL flow's destination: the served address the client
    // talked to, i.e. the quoted packet's source. No group: the quote is not from our servers.
    const std::uint32_t router = router_of(t, frame, rx_port);
    d.router = std::uint8_t(router);
    const auto site = t.prefixes.lookup(info.flow.family, info.flow.dst);
    if (!site) {
        d.drop = Drop::no_group;
        return d;
    }
    // The state of the router that handed the PTB over: it hashed the flow by its own order.
    const std::uint32_t gi = t.site_state(*site, router);
    const GroupEntry& g = t.groups[gi];
    if (const guard::Check c = guard::validate(info, frame, g.validation); c != guard::Check::ok) {
        d.drop = drop_from(c);
        return d;
    }
    if (guard && !guard->per_source.allow(info.outer_src, now)) {
        d.drop = Drop::rate_limited_source;
        return d;
    }
    if (guard && !guard->global.allow(now)) {
        d.drop = Drop::rate_limited_global;
        return d;
    }
    std::uint32_t hash = 0;
    const steer::Verdict v = g.group.decide(info.flow, hash);
    switch (v.kind) {
    case steer::VerdictKind::unicast: {
        d.target = g.first_next_hop + v.next_hop();
        // Never hand a PTB back to the station it came from.
        if (loops_back(t, d.target, frame, rx_port)) {
            d.drop = Drop::would_loop;
            return d;
        }
        d.action = Action::unicast;
        // A transition: decide() adds the earlier owners (add_past_owners), out of this path,
        // with the hash the serving version selected with.
        if (g.past_count) [[unlikely]] {
            d.action = Action::transition;
            std::memcpy(d.past, &hash, sizeof hash);
        }
        break;
    }
    case steer::VerdictKind::replicate:
        // All copies or none: a partial set would make delivery depend on next-hop order.
        if (guard && !guard->replication.allow(now, g.next_hop_count)) {
            d.drop = Drop::replication_budget;
            return d;
        }
        d.action = Action::replicate;
        d.target = gi;
        break;
    case steer::VerdictKind::drop: d.drop = Drop::no_ports_fallback_drop; break;
    }
    return d;
}

} // namespace

Decision decide(const Tables& t, std::span<const std::uint8_t> frame, std::size_t rx_port,
                packet::PtbInfo& info, Guard* guard, std::uint64_t now) noexcept {
    const packet::ParseStatus s = packet::parse_frame(frame, info);
    // Loop guard: whatever it is, a frame we sent is not ours to process again.
    if (frame.size() >= 14 && from_us(t, frame)) return dropped(Drop::own_frame, info.l3_offset);
    switch (s) {
    case packet::ParseStatus::ptb: {
        Decision d = steer_ptb(t, frame, rx_port, info, guard, now);
        if (d.action == Action::transition) [[unlikely]]
            add_past_owners(t, info, frame, rx_port, guard, now, d);
        return d;
    }
    case packet::ParseStatus::arp:
        if (arp_for_us(frame, info.l3_offset, t.ports[rx_port]))
            return reply(info.l3_offset, rx_port, packet::Family::v4);
        if (neighbor_update(t, frame, info.l3_offset, rx_port))
            return learn(info.l3_offset, packet::Family::v4);
        return dropped(Drop::arp_not_ours, info.l3_offset);
    case packet::ParseStatus::neighbor_discovery:
        if (ns_for_us(frame, info.l3_offset, t.ports[rx_port]))
            return reply(info.l3_offset, rx_port, packet::Family::v6);
        if (neighbor_update(t, frame, info.l3_offset, rx_port))
            return learn(info.l3_offset, packet::Family::v6);
        return dropped(Drop::nd_not_ours, info.l3_offset);
    default: return dropped(drop_from(s), info.l3_offset);
    }
}

} // namespace ptbsteer::datapath
