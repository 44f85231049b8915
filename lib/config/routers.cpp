// Routers and a group's per-router states (config.h `Router`, `Group::router`): their checks,
// and the shared state each group with router states gets for the routers without their own.
#include "config/routers.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>

namespace ptbsteer::config {
namespace {

void check_router_list(const Config& cfg, Reader& r) {
    std::set<std::string> names;
    std::set<std::tuple<RouterMatch, MacAddr, std::size_t, std::uint16_t>> matches;
    for (const Router& rt : cfg.routers) {
        if (rt.name.empty() || rt.name.find('/') != std::string::npos ||
            rt.name == unmatched_router || rt.name == "replicate")
            r.error(rt.where, fmt::format("'{}' cannot name a router: it needs a name without "
                                          "'/', '{}' is the label of frames no router sent, and "
                                          "'replicate' is an unknown_router policy",
                                          rt.name, unmatched_router));
        if (!names.insert(rt.name).second)
            r.error(rt.where, fmt::format("router '{}' is defined twice", rt.name));
        const auto key = std::tuple(rt.match, rt.match == RouterMatch::mac ? rt.mac : MacAddr{},
                                    rt.match == RouterMatch::port ? rt.port : 0,
                                    rt.match == RouterMatch::vlan ? rt.vlan : 0);
        if (!matches.insert(key).second)
            r.error(rt.where, fmt::format("router '{}' is told apart by the same {} as another "
                                          "router: a frame could not say which sent it",
                                          rt.name, name(rt.match)));
    }
}

// Everything that makes a next-hop the server it is, and how it is reached.
auto identity(const NextHop& h) {
    return std::tie(h.port, h.mac, h.via, h.via_family, h.vlan, h.deliver, h.tunnel_dst,
                    h.tunnel_family);
}

std::vector<Prefix> sorted(std::vector<Prefix> v) {
    std::sort(v.begin(), v.end(), [](const Prefix& a, const Prefix& b) {
        return std::tie(a.family, a.addr.b, a.length) < std::tie(b.family, b.addr.b, b.length);
    });
    return v;
}

// unknown_router: said once per group (on any of its states, alike), naming a router that has
// a state of the group, and only where the group has no state for every router.
void check_unknown_router(const Config& cfg, const Group& g, Reader& r) {
    if (g.unknown_router.empty()) return;
    bool has_state = false;
    for (const Group& o : cfg.groups) {
        if (o.derived || o.name != g.name) continue;
        has_state |= o.router == g.unknown_router;
        if (o.router.empty())
            r.error(g.where, fmt::format("group '{}': unknown_router applies to a group without "
                                         "a state for every router, and this one has one",
                                         g.name));
        else if (!o.unknown_router.empty() && o.unknown_router != g.unknown_router)
            r.error(g.where, fmt::format("group '{}': its states name different unknown_router "
                                         "routers ('{}', '{}')",
                                         g.name, o.unknown_router, g.unknown_router));
    }
    if (!find_router(cfg, g.unknown_router))
        r.error(g.where, fmt::format("group '{}': unknown_router names router '{}', which is not "
                                     "under routers:",
                                     g.name, g.unknown_router));
    else if (!has_state)
        r.error(g.where, fmt::format("group '{}': unknown_router names router '{}', which has no "
                                     "state of this group",
                                     g.name, g.unknown_router));
}

// The states of one group (same name) must serve the same prefixes, and a next-hop name must
// mean the same server in each (they share its counters and its neighbour entry).
void check_states(const Config& cfg, Reader& r) {
    std::map<std::string, const Group*> first;
    // (group, next-hop) -> the next-hop and the key of the state it was first seen in.
    std::map<std::pair<std::string, std::string>, std::pair<const NextHop*, std::string>> hops;
    for (const Group& g : cfg.groups) {
        if (g.derived) continue;
        if (!g.router.empty() && !find_router(cfg, g.router))
            r.error(g.where, fmt::format("group '{}' is router '{}''s state, and no router of "
                                         "that name is under routers:",
                                         g.name, g.router));
        check_unknown_router(cfg, g, r);
        const auto [it, fresh] = first.emplace(g.name, &g);
        if (!fresh && sorted(it->second->prefixes) != sorted(g.prefixes))
            r.collision(g.where, fmt::format("group '{}' of router '{}' serves other prefixes "
                                             "than its state of router '{}': every state of a "
                                             "group serves the same",
                                             g.name, g.router, it->second->router));
        for (const NextHop& h : g.next_hops) {
            const auto [at, added] =
                hops.emplace(std::pair(g.name, h.name), std::pair(&h, g.key()));
            const NextHop& was = *at->second.first;
            // Twice in one state is the group's own mistake (validate.cpp says so).
            if (!added && at->second.second != g.key() && identity(was) != identity(h))
                r.collision(h.where, fmt::format("next-hop '{}' of group '{}' is another server "
                                                 "than in the group's other state (port, mac, "
                                                 "via, vlan or delivery differ)",
                                                 h.name, g.name));
        }
    }
}

// The union of the states' next-hops, first appearance first: every server some router may
// send a flow to.
std::vector<NextHop> union_of(const std::vector<const Group*>& states) {
    std::vector<NextHop> out;
    std::set<std::string> seen;
    for (const Group* g : states)
        for (const NextHop& h : g->next_hops)
            if (seen.insert(h.name).second) out.push_back(h);
    return out;
}

} // namespace

std::string_view name(RouterMatch m) {
    switch (m) {
    case RouterMatch::mac: return "mac";
    case RouterMatch::port: return "port";
    case RouterMatch::vlan: return "vlan";
    }
    return "?";
}

const Router* find_router(const Config& cfg, const std::string& name) {
    for (const Router& r : cfg.routers)
        if (r.name == name) return &r;
    return nullptr;
}

std::vector<std::string> router_labels(const Config& cfg) {
    std::vector<std::string> out = {std::string(unmatched_router)};
    for (const Router& r : cfg.routers)
        out.push_back(r.name);
    return out;
}

void check_routers(const Config& cfg, Reader& r) {
    check_router_list(cfg, r);
    check_states(cfg, r);
}

void derive_shared_states(Config& cfg) {
    std::map<std::string, std::vector<const Group*>> states;
    std::set<std::string> shared; // groups with a state for every router without one
    for (const Group& g : cfg.groups) {
        if (g.router.empty()) shared.insert(g.name);
        states[g.name].push_back(&g);
    }
    std::vector<Group> derived;
    for (const auto& [group, list] : states) {
        if (shared.contains(group)) continue;
        const Group* chosen = nullptr;
        for (const Group* g : list)
            if (!g->unknown_router.empty())
                for (const Group* s : list)
                    if (s->router == g->unknown_router) chosen = s;
        Group d = chosen ? *chosen : *list.front();
        d.router.clear();
        d.derived = true;
        if (!chosen) {
            // Which server owns the flow depends on the router; any of them may.
            d.mode = Mode::replicate;
            d.select = steer::SelectKind::hash_threshold;
            d.buckets.clear();
            d.next_hops = union_of(list);
            for (NextHop& h : d.next_hops)
                h.neighbour_valid = true;
        }
        derived.push_back(std::move(d));
    }
    for (Group& g : derived)
        cfg.groups.push_back(std::move(g));
}

} // namespace ptbsteer::config
