#include "config/validate.h"

#include <charconv>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string_view>
#include <tuple>

#include <fmt/format.h>

#include "config/routers.h"
#include "config/values.h"
#include "packet/format.h"

namespace ptbsteer::config {
namespace {

// Every RX queue is polled by exactly one lcore: an unpolled queue fills up and drops silently at
// the NIC, two pollers of one queue corrupt it (DPDK queues are single-consumer).
void check_queues(const Config& cfg, Reader& r) {
    std::map<std::pair<std::size_t, std::uint16_t>, unsigned> poller;
    std::set<unsigned> ids;
    unsigned tx_lcores = 0;
    for (const Lcore& l : cfg.lcores) {
        if (!ids.insert(l.id).second)
            r.error(l.where, fmt::format("lcore {} is listed twice", l.id));
        tx_lcores += l.tx;
        for (const RxQueueRef& q : l.rx) {
            auto [it, fresh] = poller.emplace(std::pair(q.port, q.queue), l.id);
            if (!fresh)
                r.error(l.where,
                        fmt::format(
                            "rx queue {}:{} is polled by lcores {} and {}; a queue has one poller",
                            cfg.ports[q.port].name, q.queue, it->second, l.id));
        }
    }
    if (!cfg.lcores.empty() && tx_lcores == 0)
        r.error(cfg.lcores.front().where, "no lcore has tx: true; nothing would transmit");
    for (std::size_t p = 0; p < cfg.ports.size(); ++p) {
        const Port& port = cfg.ports[p];
        for (std::uint16_t q = 0; q < port.rx_queues; ++q)
            if (!poller.count({p, q}))
                r.error(port.where,
                        fmt::format("rx queue {}:{} is not polled by any lcore", port.name, q));
        // Each transmitting lcore owns one TX queue of every port (no locks on the TX path).
        if (port.tx_queues < tx_lcores)
            r.error(
                port.where,
                fmt::format("port {} has {} tx queue(s) but {} lcores transmit; each needs its own",
                            port.name, port.tx_queues, tx_lcores));
    }
}

void check_addresses(const Config& cfg, Reader& r) {
    std::set<std::size_t> seen;
    for (const Address& a : cfg.addresses)
        if (!seen.insert(a.port).second)
            r.error(cfg.ports[a.port].where,
                    fmt::format("port {} has two address entries; give ipv4 and ipv6 in one",
                                cfg.ports[a.port].name));
}

// An ipip next-hop's tunnel leaves from our own address on its port (RFC 2003 §3.1: the outer
// source is the encapsulator), so that port needs an address of the tunnel's family.
void check_tunnel_sources(const Config& cfg, const Group& g, Reader& r) {
    for (const NextHop& h : g.next_hops) {
        if (h.deliver != Deliver::ipip || !h.tunnel_family) continue;
        const bool v4 = *h.tunnel_family == packet::Family::v4;
        bool found = false;
        for (const Address& a : cfg.addresses)
            found |= a.port == h.port && (v4 ? a.ipv4.has_value() : a.ipv6.has_value());
        if (!found)
            r.error(h.where,
                    fmt::format("next-hop '{}' tunnels over port {}, which has no {} address "
                                "under addresses to send from",
                                h.name, cfg.ports[h.port].name, v4 ? "IPv4" : "IPv6"));
    }
}

// A `via` is resolved from our own address on its port (RFC 826 needs a sender address; an NS
// leaves from an address on the link, RFC 4861 §7.2.2), so it must lie in that port's subnet:
// a typo would otherwise sit unresolved forever. A link-local via needs no address: ptbsteer
// solicits from the port's EUI-64 link-local address (RFC 4291 §2.5.6).
void check_vias(const Config& cfg, const Group& g, Reader& r) {
    for (const NextHop& h : g.next_hops) {
        if (!h.via) continue;
        const bool v4 = h.via_family == packet::Family::v4;
        const std::string text = packet::to_string(*h.via, h.via_family);
        if (!v4 && h.via->b[0] == 0xff) {
            r.error(h.where, fmt::format("next-hop '{}': via {} is a multicast address; give the "
                                         "server's (or gateway's) own address",
                                         h.name, text));
            continue;
        }
        if (packet::is_link_local(*h.via, h.via_family)) continue;
        std::optional<Prefix> own;
        for (const Address& a : cfg.addresses)
            if (a.port == h.port) own = v4 ? a.ipv4 : a.ipv6;
        const Prefix host{h.via_family, *h.via, std::uint8_t(v4 ? 32 : 128)};
        if (!own)
            r.error(h.where,
                    fmt::format("next-hop '{}': via {} is resolved from our {} address on "
                                "port {}, and addresses gives that port none",
                                h.name, text, v4 ? "IPv4" : "IPv6", cfg.ports[h.port].name));
        else if (!contains(*own, host))
            r.error(h.where, fmt::format("next-hop '{}': via {} is not on port {}'s segment ({}); "
                                         "a via is resolved by ARP/ND on the link",
                                         h.name, text, cfg.ports[h.port].name, to_string(*own)));
        else if (own->addr == *h.via)
            r.error(h.where, fmt::format("next-hop '{}': via {} is our own address on port {}",
                                         h.name, text, cfg.ports[h.port].name));
    }
}

// What an l2 next-hop is reached at: its MAC, or the address resolved to one.
std::string target_text(const NextHop& h) {
    return h.via ? "via " + packet::to_string(*h.via, h.via_family)
                 : "MAC " + packet::mac_text(h.mac);
}

void check_group(const Group& g, Reader& r) {
    std::set<std::string> names;
    std::set<std::tuple<std::size_t, std::string, int>> targets;
    for (const NextHop& h : g.next_hops) {
        if (!names.insert(h.name).second)
            r.error(h.where,
                    fmt::format("next-hop '{}' appears twice in group '{}'", h.name, g.name));
        const auto target = std::tuple(h.port, target_text(h), h.vlan ? int(*h.vlan) : -1);
        if (h.deliver == Deliver::l2 && !targets.insert(target).second)
            r.error(
                h.where,
                fmt::format("next-hop '{}' has the same port, {} and VLAN as another in group '{}'",
                            h.name, target_text(h), g.name));
    }
    for (std::size_t i = 0; i < g.prefixes.size(); ++i)
        for (std::size_t j = 0; j < i; ++j)
            if (g.prefixes[i] == g.prefixes[j])
                r.error(g.prefix_where[i], fmt::format("prefix {} is listed twice in group '{}'",
                                                       to_string(g.prefixes[i]), g.name));
    if (g.next_hops.empty()) return;
    std::vector<std::uint32_t> weights;
    for (const NextHop& h : g.next_hops) {
        weights.push_back(h.weight);
        // Only hash-threshold passes a flow on from a next-hop with an invalid neighbour: a
        // resilient bucket's next-hop is used unchecked (nexthop_select_path_res).
        if (!h.neighbour_valid && g.select != steer::SelectKind::hash_threshold)
            r.error(h.where, fmt::format("next-hop '{}': neighbour: invalid applies to select: "
                                         "hash-threshold only",
                                         h.name));
    }
    try {
        if (g.select == steer::SelectKind::resilient) {
            // An empty table was reported where `buckets:` is (loader_groups.cpp).
            if (!g.buckets.empty())
                (void)steer::Selector::build_resilient(g.next_hops.size(), g.buckets);
        } else {
            (void)steer::Selector::build(g.select, weights);
        }
    } catch (const std::exception& e) {
        r.error(g.where, fmt::format("group '{}': {}", g.name, e.what()));
    }
}

// A served address must belong to one group: with overlapping prefixes in two groups, which
// servers own a flow would depend on prefix lengths, an easy way to misdeliver by accident.
void check_overlaps(const Config& cfg, Reader& r) {
    std::set<std::string> names;
    for (std::size_t gi = 0; gi < cfg.groups.size(); ++gi) {
        const Group& g = cfg.groups[gi];
        if (g.derived) continue; // its states' prefixes, checked with them
        if (!names.insert(g.key()).second)
            r.collision(g.where, g.router.empty()
                                     ? fmt::format("group '{}' is defined twice", g.name)
                                     : fmt::format("group '{}' of router '{}' is defined twice",
                                                   g.name, g.router));
        for (std::size_t pi = 0; pi < g.prefixes.size(); ++pi)
            for (std::size_t gj = 0; gj < gi; ++gj)
                // A group's states share its prefixes (routers.cpp checks they are the same).
                for (const Prefix& other : cfg.groups[gj].name == g.name ? std::vector<Prefix>{}
                                                                         : cfg.groups[gj].prefixes)
                    if (contains(other, g.prefixes[pi]) || contains(g.prefixes[pi], other))
                        r.collision(g.prefix_where[pi],
                                    fmt::format("prefix {} of group '{}' overlaps {} of group '{}'",
                                                to_string(g.prefixes[pi]), g.name, to_string(other),
                                                cfg.groups[gj].name));
    }
}

// The EAL runs only the lcores of its `-l` list: an lcore of the configuration outside it would
// never poll. Checked when the list is given as `-l LIST` (ranges and commas); `--lcores`
// mappings and the EAL's default (every CPU) are left to start-up.
std::optional<std::set<unsigned>> eal_lcore_list(const std::vector<std::string>& eal) {
    for (std::size_t i = 0; i + 1 < eal.size(); ++i) {
        if (eal[i] != "-l") continue;
        std::set<unsigned> ids;
        std::string_view list = eal[i + 1];
        while (!list.empty()) {
            const std::size_t comma = list.find(',');
            const std::string_view item = list.substr(0, comma);
            list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
            unsigned lo = 0, hi = 0;
            const std::size_t dash = item.find('-');
            const std::string_view a = item.substr(0, dash);
            const std::string_view b = dash == std::string_view::npos ? a : item.substr(dash + 1);
            if (std::from_chars(a.data(), a.data() + a.size(), lo).ec != std::errc() ||
                std::from_chars(b.data(), b.data() + b.size(), hi).ec != std::errc() || hi < lo ||
                hi > 1023)
                return std::nullopt; // not a form we read: leave it to the EAL
            for (unsigned id = lo; id <= hi; ++id)
                ids.insert(id);
        }
        return ids;
    }
    return std::nullopt;
}

void check_lcores_in_eal(const Config& cfg, Reader& r) {
    const auto ids = eal_lcore_list(cfg.eal);
    if (!ids) return;
    for (const Lcore& l : cfg.lcores)
        if (!ids->count(l.id))
            r.error(l.where,
                    fmt::format("lcore {} is not in the EAL's -l list; add it to eal: [-l, ...]",
                                l.id));
}

} // namespace

void validate(const Config& cfg, Reader& r) {
    check_lcores_in_eal(cfg, r);
    check_queues(cfg, r);
    check_addresses(cfg, r);
    for (const Group& g : cfg.groups) {
        check_group(g, r);
        // A derived state's next-hops are its states', checked there; the union is new.
        if (g.derived) continue;
        check_tunnel_sources(cfg, g, r);
        check_vias(cfg, g, r);
    }
    check_overlaps(cfg, r);
    check_routers(cfg, r);
}

} // namespace ptbsteer::config
