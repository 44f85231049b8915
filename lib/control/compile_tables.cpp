#include "control/compile_tables.h"

#include <algorithm>
#include <map>
#include <stdexcept>
#include <string_view>
#include <tuple>

#include <fmt/format.h>

#include "config/restart_diff.h"
#include "datapath/neighbor.h"
#include "datapath/router.h"
#include "datapath/tx.h"

namespace ptbsteer::control {
namespace {

hash::Model make_model(const config::HashConfig& h) {
    switch (h.kind) {
    case hash::ModelKind::linux_kernel: return hash::Model::linux_kernel(h.linux_params);
    case hash::ModelKind::toeplitz: return hash::Model::toeplitz(h.toeplitz);
    case hash::ModelKind::crc32c: return hash::Model::crc32c(h.crc32c);
    }
    throw std::logic_error("unknown hash model");
}

NextHopOut resolve(const config::NextHop& h, const config::Config& cfg, const Tables& t) {
    NextHopOut out;
    out.port_id = t.port_ids.at(h.port);
    out.dst_mac = h.mac;
    out.src_mac = t.ports.at(h.port).mac;
    out.vlan_tci = h.vlan.value_or(0);
    out.by_address = h.via.has_value();
    out.deliver = h.deliver;
    if (h.deliver == config::Deliver::ipip) {
        out.tunnel_family = *h.tunnel_family;
        out.tunnel_dst = *h.tunnel_dst;
        const auto& own =
            out.tunnel_family == packet::Family::v4 ? t.ports[h.port].ipv4 : t.ports[h.port].ipv6;
        if (!own)
            throw std::invalid_argument(fmt::format(
                "next-hop '{}' tunnels over port {}, which has no {} address under addresses",
                h.name, cfg.ports[h.port].name,
                out.tunnel_family == packet::Family::v4 ? "IPv4" : "IPv6"));
        out.tunnel_src = *own;
    }
    prepare_header(out);
    return out;
}

// Maglev positions follow next-hop names, in a table whose size does not move with every
// next-hop added or removed (Selector::maglev_stable_table_size): a change of one next-hop then
// moves about 1/N of flows, as Maglev promises (Eisenbud et al., NSDI 2016, §3.4), not all.
steer::Selector make_selector(const config::Group& g) {
    std::vector<std::uint32_t> weights;
    std::vector<std::uint64_t> ids;
    std::vector<std::uint8_t> usable;
    for (const config::NextHop& h : g.next_hops) {
        weights.push_back(h.weight);
        ids.push_back(steer::Selector::maglev_id(h.name));
        usable.push_back(h.neighbour_valid ? 1 : 0);
    }
    if (g.select == steer::SelectKind::resilient)
        return steer::Selector::build_resilient(g.next_hops.size(), g.buckets);
    if (g.select == steer::SelectKind::hash_threshold)
        return steer::Selector::build_threshold(weights, usable);
    if (g.select != steer::SelectKind::maglev) return steer::Selector::build(g.select, weights);
    return steer::Selector::build_maglev(weights, ids,
                                         steer::Selector::maglev_stable_table_size(weights.size()));
}

void add_hop(Tables& t, std::uint32_t gi, const config::Group& g, const config::NextHop& h,
             NextHopOut out) {
    if (h.via)
        t.neighbor_addrs.push_back(NeighborAddr{std::uint16_t(h.port), h.via_family, *h.via});
    out.counter_slot = std::uint32_t(t.next_hops.size());
    t.next_hops.push_back(out);
    t.next_hop_ports.push_back(out.port_id);
    t.next_hop_names.push_back(fmt::format("{}/{}", g.name, h.name));
    t.next_hop_group.push_back(gi);
}

// Departed next-hops follow the serving ones. One that cannot be reached any more (an ipip
// next-hop whose port lost its tunnel source in this change) keeps its place, so every
// departed next-hop has one, but no past version sends to it.
std::vector<bool> add_departed(Tables& t, const config::Config& cfg,
                               const std::vector<DepartedHop>& departed) {
    std::vector<bool> reachable;
    for (const DepartedHop& d : departed) {
        NextHopOut out;
        reachable.push_back(true);
        try {
            out = resolve(*d.hop, cfg, t);
        } catch (const std::invalid_argument&) {
            out = NextHopOut{};
            out.port_id = t.port_ids.at(d.hop->port);
            out.src_mac = t.ports.at(d.hop->port).mac;
            prepare_header(out); // a plain Ethernet header: never sent to, but well formed
            reachable.back() = false;
        }
        GroupEntry& e = t.groups[d.group];
        if (e.departed_count++ == 0) e.departed_first = std::uint32_t(t.next_hops.size());
        add_hop(t, d.group, cfg.groups[d.group], *d.hop, out);
    }
    return reachable;
}

// Each group's past versions still in their window (transition.h), newest first, their
// next-hops by name: one the group still has is its serving entry, a departed one its own.
void add_past_groups(Tables& t, const config::Config& cfg, const PastState& past,
                     const std::vector<DepartedHop>& departed) {
    const std::vector<bool> reachable = add_departed(t, cfg, departed);
    // Every serving next-hop by (group name, next-hop name): an earlier version of one router's
    // state may name a server another state of the group still serves (not departed).
    std::map<std::pair<std::string_view, std::string_view>, std::uint32_t> serving;
    for (std::uint32_t gi = 0; gi < cfg.groups.size(); ++gi)
        for (std::uint32_t i = 0; i < cfg.groups[gi].next_hops.size(); ++i)
            serving.emplace(std::pair<std::string_view, std::string_view>(
                                cfg.groups[gi].name, cfg.groups[gi].next_hops[i].name),
                            t.groups[gi].first_next_hop + i);
    for (std::uint32_t gi = 0; gi < cfg.groups.size(); ++gi) {
        const config::Group& g = cfg.groups[gi];
        const auto it = past.history->find(g.key());
        if (it == past.history->end()) continue;
        GroupEntry& e = t.groups[gi];
        std::map<std::string_view, std::uint32_t> index;
        for (std::uint32_t i = 0; i < g.next_hops.size(); ++i)
            index.emplace(g.next_hops[i].name, e.first_next_hop + i);
        for (std::size_t k = 0; k < departed.size(); ++k)
            if (departed[k].group == gi)
                index.emplace(departed[k].hop->name,
                              reachable[k] ? std::uint32_t(t.serving_next_hops + k) : no_next_hop);
        e.past_first = std::uint32_t(t.past_groups.size());
        for (const PastVersion& v : it->second) {
            const std::uint64_t until = window_end(v, g, past.hz);
            if (until <= past.now) break; // newest first: the older ones ended before
            // Copied from the tables it served in when it can be (keep_compiled()): a 4096-next-hop
            // Maglev table is not built again at every change. Its id may then be another index
            // than gi: only replicate verdicts carry it, and a past version's are not used.
            t.past_groups.push_back(PastGroup{
                v.compiled ? *v.compiled
                           : steer::Group(gi, make_model(v.group.hash), make_selector(v.group),
                                          v.group.mode, v.group.fallback),
                std::uint32_t(t.past_hops.size()), until, config::same_hash(v.group.hash, g.hash)});
            for (const config::NextHop& h : v.group.next_hops) {
                const auto own = index.find(h.name);
                t.past_hops.push_back(
                    own != index.end() ? own->second
                                       : serving.at(std::pair<std::string_view, std::string_view>(
                                             g.name, h.name)));
            }
        }
        e.past_count = std::uint32_t(t.past_groups.size()) - e.past_first;
    }
}

static_assert(config::max_routers <= datapath::max_router_number);

void add_routers(Tables& t, const config::Config& cfg) {
    t.router_slots = std::uint32_t(cfg.routers.size() + 1);
    t.router_of_port.assign(cfg.ports.size(), 0);
    t.router_names = {std::string(config::unmatched_router)};
    for (std::size_t i = 0; i < cfg.routers.size(); ++i) {
        const config::Router& r = cfg.routers[i];
        const auto id = std::uint8_t(i + 1);
        t.router_names.push_back(r.name);
        switch (r.match) {
        case config::RouterMatch::mac:
            t.router_macs.push_back(mac_bits(r.mac.data()));
            t.router_mac_ids.push_back(id);
            break;
        case config::RouterMatch::vlan:
            t.router_vlans.push_back(r.vlan);
            t.router_vlan_ids.push_back(id);
            break;
        case config::RouterMatch::port: t.router_of_port.at(r.port) = id; break;
        }
    }
}

// A site is a group name: its states (one per router that has its own, and the shared one every
// other router uses) serve the same prefixes, so the prefix table holds the site once.
void add_sites(Tables& t, const config::Config& cfg) {
    std::map<std::string_view, std::uint32_t> site_of;
    std::vector<std::uint32_t> shared;
    for (std::uint32_t gi = 0; gi < cfg.groups.size(); ++gi) {
        const config::Group& g = cfg.groups[gi];
        if (!g.router.empty()) continue;
        site_of.emplace(g.name, std::uint32_t(shared.size()));
        shared.push_back(gi);
        for (const config::Prefix& p : g.prefixes)
            t.prefix_routes.push_back(
                PrefixRoute{p.family, p.addr, p.length, std::uint32_t(shared.size() - 1)});
    }
    t.site_states.resize(shared.size() * t.router_slots);
    for (std::uint32_t s = 0; s < shared.size(); ++s)
        std::fill_n(t.site_states.begin() + s * t.router_slots, t.router_slots, shared[s]);
    t.group_is_shared.assign(cfg.groups.size(), 0);
    for (const std::uint32_t gi : shared)
        t.group_is_shared[gi] = 1;
    for (std::uint32_t gi = 0; gi < cfg.groups.size(); ++gi) {
        const config::Group& g = cfg.groups[gi];
        if (g.router.empty()) continue;
        const auto r = std::find_if(cfg.routers.begin(), cfg.routers.end(),
                                    [&](const config::Router& x) { return x.name == g.router; });
        t.site_states.at(site_of.at(g.name) * t.router_slots + 1 +
                         std::uint32_t(r - cfg.routers.begin())) = gi;
    }
}

void sort_neighbor_addrs(std::vector<NeighborAddr>& v) {
    auto key = [](const NeighborAddr& a) { return std::tuple(a.port, a.family, a.addr.b); };
    std::sort(v.begin(), v.end(), [&](const auto& x, const auto& y) { return key(x) < key(y); });
    v.erase(std::unique(v.begin(), v.end(),
                        [&](const auto& x, const auto& y) { return key(x) == key(y); }),
            v.end());
}

} // namespace

void own_neighbor_words(Tables& t) {
    std::size_t n = 0;
    for (const NextHopOut& nh : t.next_hops)
        n = std::max<std::size_t>(n, nh.counter_slot + 1);
    t.own_neighbors = std::shared_ptr<NeighborWord[]>(new NeighborWord[n]());
    for (const NextHopOut& nh : t.next_hops)
        t.own_neighbors[nh.counter_slot].store(
            nh.by_address ? neighbor_word(Mac{}, NeighborState::incomplete)
                          : neighbor_word(nh.dst_mac, NeighborState::permanent));
    t.neighbors = t.own_neighbors.get();
}

Tables compile_tables(const config::Config& cfg, const std::vector<std::uint16_t>& port_ids,
                      const std::vector<Mac>& port_macs, const Tables* previous,
                      steer::PrefixRecycler* recycler, const PastState* past,
                      const std::vector<DepartedHop>* departed) {
    Tables t;
    t.port_ids = port_ids;
    t.ports.resize(cfg.ports.size());
    for (std::size_t i = 0; i < cfg.ports.size(); ++i) {
        t.ports[i].mac = port_macs.at(i);
        t.ports[i].ipv6_link_local = link_local_of(port_macs[i]);
        t.port_macs.push_back(mac_bits(port_macs[i].data()));
    }
    for (const config::Address& a : cfg.addresses) {
        if (a.ipv4) t.ports[a.port].ipv4 = a.ipv4->addr;
        if (a.ipv6) t.ports[a.port].ipv6 = a.ipv6->addr;
    }
    std::size_t hops = 0;
    for (const config::Group& g : cfg.groups)
        hops += g.next_hops.size();
    t.next_hops.reserve(hops);
    t.next_hop_ports.reserve(hops);
    for (std::uint32_t gi = 0; gi < cfg.groups.size(); ++gi) {
        const config::Group& g = cfg.groups[gi];
        GroupEntry e{steer::Group(gi, make_model(g.hash), make_selector(g), g.mode, g.fallback),
                     std::uint32_t(t.next_hops.size()), std::uint32_t(g.next_hops.size()),
                     g.validation};
        e.transition_copies = std::max<std::uint32_t>(g.transition_copies, 1);
        for (const config::NextHop& h : g.next_hops)
            add_hop(t, gi, g, h, resolve(h, cfg, t));
        if (g.validation.verify_checksum) t.prefetch_bytes = Tables::whole_ptb_prefetch;
        t.groups.push_back(std::move(e));
        t.group_names.push_back(g.key());
    }
    t.serving_next_hops = t.next_hops.size();
    add_routers(t, cfg);
    // The SIMD path (config `simd:`, checked by the loader); scalar hashes each flow on its own.
    if (const auto b = hash::siphash24_batch_for(cfg.simd);
        b && b->path != hash::SimdPath::scalar) {
        t.simd = b->path;
        t.hash_lanes = b->fn;
    }
    add_sites(t, cfg);
    if (past && departed) add_past_groups(t, cfg, *past, *departed);
    sort_neighbor_addrs(t.neighbor_addrs);
    own_neighbor_words(t);
    if (previous && previous->prefix_routes == t.prefix_routes) {
        t.prefixes = previous->prefixes.share();
        return t;
    }
    t.prefixes = steer::PrefixTable(steer::PrefixTable::Limits{}, recycler);
    for (const PrefixRoute& r : t.prefix_routes)
        t.prefixes.add(r.family, r.addr, r.length, r.group);
    return t;
}

} // namespace ptbsteer::control
