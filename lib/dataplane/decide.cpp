#include "dataplane/decide.h"

#include "dataplane/responder.h"
#include "packet/parser.h"

namespace ptbsteer::dataplane {
namespace {

Decision dropped(Drop why, std::uint16_t l3) { return Decision{Action::drop, why, l3, 0, {}, false}; }

Decision reply(std::uint16_t l3, std::size_t port, packet::Family f) {
    return Decision{Action::reply, Drop::ptb, l3, std::uint32_t(port), f, false};
}

Decision steer_ptb(const Tables& t, const packet::PtbInfo& info) {
    Decision d{Action::drop, Drop::ptb, info.l3_offset, 0, info.family, true};
    // The group is chosen by the ORIGINAL flow's destination: the served address the client
    // talked to, i.e. the quoted packet's source.
    const auto gi = t.prefixes.lookup(info.flow.family, info.flow.dst);
    if (!gi) {
        d.drop = Drop::no_group;
        return d;
    }
    const GroupEntry& g = t.groups[*gi];
    const steer::Verdict v = g.group.decide(info.flow);
    switch (v.kind) {
    case steer::VerdictKind::unicast:
        d.action = Action::unicast;
        d.target = g.first_next_hop + v.next_hop();
        break;
    case steer::VerdictKind::replicate:
        d.action = Action::replicate;
        d.target = *gi;
        break;
    case steer::VerdictKind::drop: d.drop = Drop::no_ports_fallback_drop; break;
    }
    return d;
}

} // namespace

Decision decide(const Tables& t, std::span<const std::uint8_t> frame, std::size_t rx_port,
                packet::PtbInfo& info) noexcept {
    const packet::ParseStatus s = packet::parse_frame(frame, info);
    switch (s) {
    case packet::ParseStatus::ptb: return steer_ptb(t, info);
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

RxFamily rx_family(std::span<const std::uint8_t> frame, const Decision& d) noexcept {
    constexpr std::size_t eth_header = 14;
    if (d.l3_offset < eth_header || d.l3_offset > frame.size()) return RxFamily::other;
    const unsigned type = unsigned(frame[d.l3_offset - 2]) << 8 | frame[d.l3_offset - 1];
    if (type == 0x0800) return RxFamily::ipv4;
    if (type == 0x86dd) return RxFamily::ipv6;
    return RxFamily::other;
}

} // namespace ptbsteer::dataplane
