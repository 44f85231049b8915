#include "dataplane/decide.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "dataplane/responder.h"
#include "guard/validate.h"
#include "packet/parser.h"

namespace ptbsteer::dataplane {
namespace {

Decision dropped(Drop why, std::uint16_t l3) { return Decision{Action::drop, why, l3, 0, {}, false}; }

Decision reply(std::uint16_t l3, std::size_t port, packet::Family f) {
    return Decision{Action::reply, Drop::ptb, l3, std::uint32_t(port), f, false};
}

// A MAC as an integer: one compare instead of a memcmp call per port (both sides are loaded the
// same way, so byte order does not matter).
std::uint64_t mac_bits(const std::uint8_t* p) {
    std::uint64_t v = 0;
    std::memcpy(&v, p, 6);
    return v;
}

bool from_us(const Tables& t, std::span<const std::uint8_t> frame) {
    const std::uint64_t src = mac_bits(frame.data() + 6);
    for (const PortAddresses& p : t.ports)
        if (mac_bits(p.mac.data()) == src) return true;
    return false;
}

// A PTB after the checks that come before its group's verdict: either decided (dropped), or
// waiting for the verdict of `group`.
struct PtbStep {
    Decision d;
    const GroupEntry* group = nullptr;
};

// The steps of docs/security.md, in its order: cheap and attacker-independent checks first, so
// forged PTBs never spend the tokens of the router they pretend to come from.
[[gnu::always_inline]] inline PtbStep steer_before_verdict(const Tables& t, std::span<const std::uint8_t> frame,
                             const packet::PtbInfo& info, Guard* guard, std::uint64_t now) {
    Decision d{Action::drop, Drop::ptb, info.l3_offset, 0, info.family, true};
    // The group is chosen by the ORIGINAL flow's destination: the served address the client
    // talked to, i.e. the quoted packet's source. No group: the quote is not from our servers.
    const auto gi = t.prefixes.lookup(info.flow.family, info.flow.dst);
    if (!gi) {
        d.drop = Drop::no_group;
        return {d};
    }
    const GroupEntry& g = t.groups[*gi];
    if (const guard::Check c = guard::validate(info, frame, g.validation); c != guard::Check::ok) {
        d.drop = drop_from(c);
        return {d};
    }
    if (guard && !guard->per_source.allow(info.outer_src, now)) {
        d.drop = Drop::rate_limited_source;
        return {d};
    }
    if (guard && !guard->global.allow(now)) {
        d.drop = Drop::rate_limited_global;
        return {d};
    }
    return {d, &g};
}

[[gnu::always_inline]] inline Decision apply_verdict(const Tables& t, std::span<const std::uint8_t> frame, std::size_t rx_port,
                       Decision d, const GroupEntry& g, const steer::Verdict& v, Guard* guard,
                       std::uint64_t now) {
    switch (v.kind) {
    case steer::VerdictKind::unicast: {
        d.target = g.first_next_hop + v.next_hop();
        // Never hand a PTB back to the station it came from (a routing loop through us). The
        // next-hop's MAC is only read when it sits behind the port the PTB came in on.
        if (t.next_hop_ports[d.target] == t.port_ids[rx_port] &&
            mac_bits(t.next_hops[d.target].dst_mac.data()) == mac_bits(frame.data() + 6)) {
            d.drop = Drop::would_loop;
            return d;
        }
        d.action = Action::unicast;
        break;
    }
    case steer::VerdictKind::replicate:
        // All copies or none: a partial set would make delivery depend on next-hop order.
        if (guard && !guard->replication.allow(now, g.next_hop_count)) {
            d.drop = Drop::replication_budget;
            return d;
        }
        d.action = Action::replicate;
        d.target = std::uint32_t(&g - t.groups.data()); // the group's index
        break;
    case steer::VerdictKind::drop: d.drop = Drop::no_ports_fallback_drop; break;
    }
    return d;
}

// Everything but a PTB: answered, or dropped under its parse status. `s` is not ptb.
Decision not_a_ptb(const Tables& t, std::span<const std::uint8_t> frame, std::size_t rx_port,
                   packet::ParseStatus s, const packet::PtbInfo& info) {
    switch (s) {
    case packet::ParseStatus::arp:
        if (arp_for_us(frame, info.l3_offset, t.ports[rx_port]))
            return reply(info.l3_offset, rx_port, packet::Family::v4);
        return dropped(Drop::arp_not_ours, info.l3_offset);
    case packet::ParseStatus::neighbor_discovery:
        if (ns_for_us(frame, info.l3_offset, t.ports[rx_port]))
            return reply(info.l3_offset, rx_port, packet::Family::v6);
        return dropped(Drop::nd_not_ours, info.l3_offset);
    default: return dropped(drop_from(s), info.l3_offset);
    }
}

// Parses and takes a frame as far as its group's verdict.
[[gnu::always_inline]] inline PtbStep classify(const Tables& t, std::span<const std::uint8_t> frame, std::size_t rx_port,
                 packet::PtbInfo& info, Guard* guard, std::uint64_t now) {
    const packet::ParseStatus s = packet::parse_frame(frame, info);
    // Loop guard: whatever it is, a frame we sent is not ours to process again.
    if (frame.size() >= 14 && from_us(t, frame)) return {dropped(Drop::own_frame, info.l3_offset)};
    if (s == packet::ParseStatus::ptb) return steer_before_verdict(t, frame, info, guard, now);
    return {not_a_ptb(t, frame, rx_port, s, info)};
}

} // namespace

Decision decide(const Tables& t, std::span<const std::uint8_t> frame, std::size_t rx_port,
                packet::PtbInfo& info, Guard* guard, std::uint64_t now) noexcept {
    const PtbStep step = classify(t, frame, rx_port, info, guard, now);
    if (!step.group) return step.d;
    const steer::Verdict v = step.group->group.decide(info.flow);
    return apply_verdict(t, frame, rx_port, step.d, *step.group, v, guard, now);
}

void decide_burst(const Tables& t, const std::span<const std::uint8_t>* frames, std::size_t n,
                  std::size_t rx_port, packet::PtbInfo* infos, Guard* guard, std::uint64_t now,
                  Decision* out) noexcept {
    for (std::size_t base = 0; base < n; base += max_decide_burst) {
        const std::size_t m = std::min(n - base, max_decide_burst);
        const std::span<const std::uint8_t>* f = frames + base;
        packet::PtbInfo* info = infos + base;
        Decision* d = out + base;

        // 1. In packet order (the per-source and global limiters' order, as in decide()):
        // parse, classify, validate, limit; then the group's verdict where it needs no hash.
        const GroupEntry* group[max_decide_burst];
        std::optional<steer::Verdict> verdict[max_decide_burst];
        const hash::Model* models[max_decide_burst];
        const packet::FlowKey* keys[max_decide_burst];
        std::size_t hashed_at[max_decide_burst];
        std::size_t to_hash = 0;
        for (std::size_t i = 0; i < m; ++i) {
            const PtbStep step = classify(t, f[i], rx_port, info[i], guard, now);
            d[i] = step.d;
            group[i] = step.group;
            if (!step.group) continue;
            verdict[i] = step.group->group.decide_before_hash(info[i].flow);
            if (verdict[i]) continue;
            models[to_hash] = &step.group->group.model();
            keys[to_hash] = &info[i].flow;
            hashed_at[to_hash++] = i;
        }
        // 2. The hashes together: SipHash in SIMD lanes for the Linux model.
        std::uint32_t hashes[max_decide_burst];
        hash::Model::hash_many(models, keys, to_hash, hashes);
        for (std::size_t j = 0; j < to_hash; ++j) {
            const std::size_t i = hashed_at[j];
            verdict[i] = group[i]->group.decide_with_hash(hashes[j]);
        }
        // 3. In packet order again (the replication budget's order): the verdicts applied.
        for (std::size_t i = 0; i < m; ++i)
            if (group[i]) d[i] = apply_verdict(t, f[i], rx_port, d[i], *group[i], *verdict[i], guard, now);
    }
}

RxFamily rx_family(std::span<const std::uint8_t> frame, const Decision& d) noexcept {
    constexpr std::size_t eth_header = 14;
    if (d.l3_offset < eth_header || d.l3_offset > frame.size()) return RxFamily::other;
    const unsigned type = unsigned(frame[d.l3_offset - 2]) << 8 | frame[d.l3_offset - 1];
    if (type == 0x0800) return RxFamily::ipv4;
    if (type == 0x86dd) return RxFamily::ipv6;
    return RxFamily::other;
}

} // namespace ptbsteer::dataplane
