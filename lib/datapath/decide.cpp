#include "datapath/decide.h"

#include <cassert>
#include <cstring>

#include "datapath/burst.h"
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
// steer_selected()'s transition: `past` holds the serving version's hash until it holds owners.
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

// After the hash: the unicast verdict's next-hop and its loop check, or the replication budget;
// a transition's earlier owners are added by the caller (add_past_owners), out of this path.
[[gnu::always_inline]] inline void
steer_selected(const Tables& t, std::span<const std::uint8_t> frame, std::size_t rx_port,
               const Pending& p, std::uint32_t hash, Guard* guard, std::uint64_t now, Decision& d) {
    const GroupEntry& g = t.groups[p.group];
    if (p.kind == steer::VerdictKind::unicast) [[likely]] {
        d.target = g.first_next_hop + g.group.selector().select(hash);
        // Never hand a PTB back to the station it came from.
        if (loops_back(t, d.target, frame, rx_port)) {
            d.drop = Drop::would_loop;
            return;
        }
        d.action = Action::unicast;
        // A transition: the caller adds the earlier owners (add_past_owners), out of this path,
        // with the hash the serving version selected with.
        if (g.past_count) [[unlikely]] {
            d.action = Action::transition;
            std::memcpy(d.past, &hash, sizeof hash);
        }
        return;
    }
    if (p.kind == steer::VerdictKind::drop) {
        d.drop = Drop::no_ports_fallback_drop;
        return;
    }
    // Replicate: all copies or none; a partial set would make delivery depend on next-hop order.
    if (guard && !guard->replication.allow(now, g.next_hop_count)) {
        d.drop = Drop::replication_budget;
        return;
    }
    d.action = Action::replicate;
    d.target = p.group;
}

// The steps of docs/security.md, in its order: cheap and attacker-independent checks first, so
// forged PTBs never spend the tokens of the router they pretend to come from.
[[gnu::always_inline]] inline bool steer_front(const Tables& t, std::span<const std::uint8_t> frame,
                                               std::size_t rx_port, const packet::PtbInfo& info,
                                               Guard* guard, std::uint64_t now, Decision& d,
                                               Pending& p, HashLanes* lanes) noexcept {
    d = Decision{.ptb = true, .l3_offset = info.l3_offset, .family = info.family};
    // The group is chosen by the ORIGINAL flow's destination: the served address the client
    // talked to, i.e. the quoted packet's source. No group: the quote is not from our servers.
    const std::uint32_t router = router_of(t, frame, rx_port);
    d.router = std::uint8_t(router);
    const auto site = t.prefixes.lookup(info.flow.family, info.flow.dst);
    if (!site) {
        d.drop = Drop::no_group;
        return false;
    }
    // The state of the router that handed the PTB over: it hashed the flow by its own order.
    p.group = t.site_state(*site, router);
    const GroupEntry& g = t.groups[p.group];
    if (const guard::Check c = guard::validate(info, frame, g.validation); c != guard::Check::ok) {
        d.drop = drop_from(c);
        return false;
    }
    if (guard && !guard->per_source.allow(info.outer_src, now)) {
        d.drop = Drop::rate_limited_source;
        return false;
    }
    if (guard && !guard->global.allow(now)) {
        d.drop = Drop::rate_limited_global;
        return false;
    }
    // steer::Group::decide() in two halves: what needs no hash here, the selection in
    // steer_selected(). Without the ports the router hashed, any pick would be a guess: the
    // group's fallback applies.
    const steer::Group& grp = g.group;
    const hash::Model& model = grp.model();
    p.lane = -1;
    if (grp.mode() == steer::Mode::replicate) {
        p.kind = steer::VerdictKind::replicate;
    } else if (model.needs_ports() && !packet::ports_known(info.flow.l4)) {
        p.kind = grp.fallback() == steer::Fallback::drop ? steer::VerdictKind::drop
                                                         : steer::VerdictKind::replicate;
    } else {
        p.kind = steer::VerdictKind::unicast;
        if (lanes && model.has_lane())
            p.lane = std::int8_t(lanes->add(model, info.flow));
        else
            p.hash = model.hash(info.flow);
    }
    return true;
}

[[gnu::always_inline]] inline void steer_back(const Tables& t, std::span<const std::uint8_t> frame,
                                              std::size_t rx_port, const packet::PtbInfo& info,
                                              const Pending& p, std::uint32_t hash, Guard* guard,
                                              std::uint64_t now, Decision& d) {
    steer_selected(t, frame, rx_port, p, hash, guard, now, d);
    if (d.action == Action::transition) [[unlikely]]
        add_past_owners(t, info, frame, rx_port, guard, now, d);
}

[[gnu::always_inline]] inline bool decide_front(const Tables& t,
                                                std::span<const std::uint8_t> frame,
                                                std::size_t rx_port, packet::PtbInfo& info,
                                                Guard* guard, std::uint64_t now, Decision& d,
                                                Pending& p, HashLanes* lanes) {
    const packet::ParseStatus s = packet::parse_frame(frame, info);
    // Loop guard: whatever it is, a frame we sent is not ours to process again.
    if (frame.size() >= 14 && from_us(t, frame)) {
        d = dropped(Drop::own_frame, info.l3_offset);
        return false;
    }
    switch (s) {
    case packet::ParseStatus::ptb:
        return steer_front(t, frame, rx_port, info, guard, now, d, p, lanes);
    case packet::ParseStatus::arp:
        if (arp_for_us(frame, info.l3_offset, t.ports[rx_port]))
            d = reply(info.l3_offset, rx_port, packet::Family::v4);
        else if (neighbor_update(t, frame, info.l3_offset, rx_port))
            d = learn(info.l3_offset, packet::Family::v4);
        else
            d = dropped(Drop::arp_not_ours, info.l3_offset);
        return false;
    case packet::ParseStatus::neighbor_discovery:
        if (ns_for_us(frame, info.l3_offset, t.ports[rx_port]))
            d = reply(info.l3_offset, rx_port, packet::Family::v6);
        else if (neighbor_update(t, frame, info.l3_offset, rx_port))
            d = learn(info.l3_offset, packet::Family::v6);
        else
            d = dropped(Drop::nd_not_ours, info.l3_offset);
        return false;
    default: d = dropped(drop_from(s), info.l3_offset); return false;
    }
}

} // namespace

Decision decide(const Tables& t, std::span<const std::uint8_t> frame, std::size_t rx_port,
                packet::PtbInfo& info, Guard* guard, std::uint64_t now) noexcept {
    Decision d;
    Pending p;
    if (decide_front(t, frame, rx_port, info, guard, now, d, p, nullptr))
        steer_back(t, frame, rx_port, info, p, p.hash, guard, now, d);
    return d;
}

void decide_frames(const Tables& t, const std::span<const std::uint8_t>* frames, unsigned n,
                   std::size_t rx_port, BurstStage& s, Guard* guard, std::uint64_t now,
                   Decision* out) noexcept {
    assert(n <= burst); // the stage's arrays and the lanes hold a burst
    // The scalar path: each frame decided whole, hash included, as decide() does; no stages.
    if (!t.hash_lanes) {
        for (unsigned i = 0; i < n; ++i) {
            // The next frame's lines arrive while this one is decided (decide.h).
            if (i + 1 < n) prefetch_frame(t, frames[i + 1].data(), frames[i + 1].size());
            Pending p;
            if (decide_front(t, frames[i], rx_port, s.info[i], guard, now, out[i], p, nullptr))
                steer_back(t, frames[i], rx_port, s.info[i], p, p.hash, guard, now, out[i]);
        }
        return;
    }
    HashLanes& lanes = s.lanes;
    lanes.n4 = lanes.n6 = 0;
    unsigned waiting = 0;
    for (unsigned i = 0; i < n; ++i) {
        if (i + 1 < n) prefetch_frame(t, frames[i + 1].data(), frames[i + 1].size());
        if (decide_front(t, frames[i], rx_port, s.info[i], guard, now, out[i], s.pending[i],
                         &lanes))
            s.waiting[waiting++] = std::uint8_t(i);
    }
    lanes.run(t.hash_lanes);
    for (unsigned w = 0; w < waiting; ++w) {
        const unsigned i = s.waiting[w];
        const Pending& p = s.pending[i];
        const std::uint32_t hash = p.lane < 0
                                       ? p.hash
                                       : t.groups[p.group].group.model().from_lane(
                                             lanes.result(s.info[i].flow.family, unsigned(p.lane)));
        steer_back(t, frames[i], rx_port, s.info[i], p, hash, guard, now, out[i]);
    }
}

} // namespace ptbsteer::datapath
