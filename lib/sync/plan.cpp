#include "sync/plan.h"

#include <algorithm>

#include <fmt/format.h>
#include <linux/neighbour.h>

#include "packet/format.h"

namespace ptbsteer::sync {
namespace {

const KernelRoute* find_route(const GroupSpec& s, const KernelState& k) {
    for (const KernelRoute& r : k.routes)
        if (r.family == s.family && r.length == s.length && r.table == s.table && r.dst == s.dst)
            return &r;
    return nullptr;
}

// Whether the kernel gives the next-hop a share of the hash space: fib_rebalance() gives a dead
// one (and a linkdown one when the family ignores such routes) an upper bound of -1.
bool live(const KernelNextHop& h, const Sysctls& s, packet::Family f) {
    const bool ignore_linkdown =
        f == packet::Family::v4 ? s.v4_ignore_linkdown : s.v6_ignore_linkdown;
    return !h.dead && !(h.linkdown && ignore_linkdown);
}

// The kernel's NUD_VALID (include/net/neighbour.h, not in the UAPI headers): states in which a
// neighbour's address is usable.
constexpr std::uint16_t nud_valid =
    NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE | NUD_PROBE | NUD_STALE | NUD_DELAY;

NeighborKey neighbor_key(const KernelNextHop& h) {
    return {h.ifindex, h.family, h.gateway->b};
}

bool neighbor_valid(const KernelState& k, const KernelNextHop& h) {
    const auto it = k.neighbors.find(neighbor_key(h));
    return sync::neighbor_valid(it == k.neighbors.end() ? std::nullopt
                                                        : std::optional<std::uint16_t>(it->second));
}

// Whether the kernel checks the neighbour of each next-hop when it picks one: hash-threshold
// nexthop groups always (nexthop_is_good_nh), legacy IPv4 routes with fib_multipath_use_neigh;
// a resilient group hands out its bucket's next-hop unchecked, and legacy IPv6 routes check
// neighbours only on a host (rt6_score_route, RT6_LOOKUP_F_REACHABLE without forwarding).
bool checks_neighbors(const KernelRoute& r, const Sysctls& s) {
    if (r.kind == GroupKind::resilient) return false;
    return r.nhid != 0 || (s.use_neigh && r.family == packet::Family::v4);
}

// Why the kernel's pick cannot be computed for this route, or "" when it can.
std::string inexact(const GroupSpec& spec, const KernelRoute& r, const KernelState& k,
                    const std::vector<const KernelNextHop*>& hops) {
    const Sysctls& s = k.sysctls;
    const std::uint32_t policy = r.family == packet::Family::v4 ? s.v4_policy : s.v6_policy;
    if (!s.seed)
        return "this kernel has no net.ipv4.fib_multipath_hash_seed: its multipath hash key is "
               "random per boot";
    if (*s.seed == 0)
        return "net.ipv4.fib_multipath_hash_seed is 0: the kernel's multipath hash key is random "
               "per boot (set a seed on the router)";
    if (policy == 2) return "hash policy 2 (inner headers of tunnels) is not modelled";
    if (policy == 1 && !spec.software_hash)
        return "hash policy 1 uses the NIC's L4 hash when the packet comes with one (set "
               "software_hash: true if the router's NICs give none: ethtool -K IF rxhash off)";
    // With no usable next-hop the kernel sends every flow to its entry 0, which ptbsteer can
    // follow only when that entry is live (a dead one is not among the pushed next-hops).
    if (checks_neighbors(r, s) && &r.hops.front() != hops.front() &&
        std::none_of(hops.begin(), hops.end(),
                     [&](const auto* h) { return neighbor_valid(k, *h); }))
        return fmt::format("no live next-hop has a valid neighbour entry, and the kernel then "
                           "uses its first next-hop {}, which is dead",
                           hop_name(r.hops.front()));
    return "";
}

nlohmann::json hash_json(const KernelRoute& r, const Sysctls& s, bool exact) {
    const bool v4 = r.family == packet::Family::v4;
    const std::uint32_t policy = v4 ? s.v4_policy : s.v6_policy;
    // In replicate mode the hash is not used, but the group must still be a valid one.
    nlohmann::json h = {{"model", "linux"},
                        {"policy", exact || policy != 2 ? policy : 0},
                        {"seed", s.seed.value_or(0) != 0 ? *s.seed : 1}};
    if (policy == 3) h["fields"] = v4 ? s.v4_fields : s.v6_fields;
    return h;
}

} // namespace

// fib_good_nh / nexthop_is_good_nh: a next-hop without a neighbour entry counts as reachable
// (nothing has failed yet); one whose entry is FAILED, INCOMPLETE or NONE does not.
bool neighbor_valid(std::optional<std::uint16_t> state) {
    return !state || (*state & nud_valid) != 0;
}

std::string hop_name(const KernelNextHop& h) {
    if (!h.gateway) return "dev-" + h.ifname;
    const std::string a = packet::to_string(*h.gateway, h.family);
    return packet::is_link_local(*h.gateway, h.family) ? a + "@" + h.ifname : a;
}

Plan plan_group(const GroupSpec& spec, const KernelState& kernel) {
    Plan p;
    const std::string route =
        fmt::format("{}/{}", packet::to_string(spec.dst, spec.family), spec.length);
    const KernelRoute* r = find_route(spec, kernel);
    if (!r) {
        p.why = fmt::format("the kernel has no route {} in table {}", route, spec.table);
        return p;
    }
    p.found = true;
    // A resilient group keeps every member: its buckets name them by position, and the kernel
    // moves the buckets of a member that goes (they are read again after every change).
    const bool resilient = r->kind == GroupKind::resilient;
    std::vector<const KernelNextHop*> hops;
    for (const KernelNextHop& h : r->hops)
        if (resilient || live(h, kernel.sysctls, r->family)) hops.push_back(&h);
    if (std::any_of(hops.begin(), hops.end(), [](const auto* h) { return !h->gateway; })) {
        p.why = fmt::format("route {} has a next-hop without a gateway address: ptbsteer reaches "
                            "next-hops by address",
                            route);
        return p;
    }
    if (hops.empty()) {
        p.why = fmt::format("route {} has no live next-hop", route);
        return p;
    }
    p.why = inexact(spec, *r, kernel, hops);
    p.exact = p.why.empty();
    nlohmann::json next_hops = nlohmann::json::array();
    const bool check = checks_neighbors(*r, kernel.sysctls);
    for (const KernelNextHop* h : hops) {
        next_hops.push_back({{"name", hop_name(*h)},
                             {"port", spec.port},
                             {"via", packet::to_string(*h->gateway, h->family)},
                             {"weight", h->weight}});
        if (!check) continue;
        const bool valid = neighbor_valid(kernel, *h);
        p.neighbors[neighbor_key(*h)] = valid;
        // The kernel passes such a next-hop's flows on (steer::Selector::build_threshold).
        if (!valid) next_hops.back()["neighbour"] = "invalid";
    }
    p.body = {{"prefixes", spec.prefixes.empty() ? nlohmann::json::array({route})
                                                 : nlohmann::json(spec.prefixes)},
              {"hash", hash_json(*r, kernel.sysctls, p.exact)},
              {"mode", p.exact ? "unicast" : "replicate"},
              {"next_hops", std::move(next_hops)}};
    if (resilient) {
        nlohmann::json buckets = nlohmann::json::array();
        for (const std::uint32_t b : r->buckets)
            buckets.push_back(hop_name(r->hops.at(b)));
        p.body["select"] = "resilient";
        p.body["buckets"] = std::move(buckets);
    }
    if (spec.transition) p.body["transition"] = *spec.transition;
    if (spec.transition_copies) p.body["transition_copies"] = *spec.transition_copies;
    return p;
}

} // namespace ptbsteer::sync
