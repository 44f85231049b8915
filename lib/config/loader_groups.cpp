// groups: each group's prefixes, hash model, selection, next-hops and PTB checks.
#include <algorithm>
#include <array>
#include <string>

#include <fmt/format.h>

#include "config/loader_sections.h"
#include "config/values.h"

namespace ptbsteer::config::detail {

void Loader::groups(const Node& n) {
    const auto items = r.list(n, "groups");
    if (!items) return;
    if (items->empty()) r.error(n, "groups must list at least one group");
    for (const Node& item : *items)
        group(item);
}

void Loader::group(const Node& item) {
    Map m(r, item, "a group",
          {"name", "prefixes", "hash", "select", "mode", "fallback", "next_hops", "validate",
           "transition", "transition_copies", "buckets", "router", "unknown_router"});
    if (!m.valid()) return;
    Group g;
    g.where = r.at(item);
    if (Node n = m.get("name", true)) {
        if (auto s = r.string(n, "a group's name")) g.name = *s;
        // A router's state is named ROUTER/NAME (Group::key()), and the API path NAME.
        if (g.name.find('/') != std::string::npos)
            r.error(n, fmt::format("'{}' cannot name a group: a group's name has no '/'", g.name));
    }
    if (auto ps = r.list(m.get("prefixes", true), "prefixes", true)) {
        for (const Node& pn : *ps) {
            const auto s = r.string(pn, "a prefix");
            if (!s) continue;
            bool host_bits = false;
            const auto p = parse_prefix(*s, &host_bits);
            if (!p)
                r.error(pn, fmt::format("'{}' is not an IPv4 or IPv6 prefix (e.g. 198.51.100.0/24)",
                                        *s));
            else if (host_bits)
                r.error(pn,
                        fmt::format("prefix '{}' has bits set beyond its length; did you mean {}?",
                                    *s, to_string(*p)));
            else
                g.prefixes.push_back(*p), g.prefix_where.push_back(r.at(pn));
        }
        if (ps->empty()) r.error(m.get("prefixes"), "a group needs at least one prefix");
    }
    if (Node rn = m.get("router"))
        if (auto s = r.string(rn, "router")) g.router = *s;
    if (Node u = m.get("unknown_router"))
        if (auto s = r.string(u, "unknown_router")) g.unknown_router = *s == "replicate" ? "" : *s;
    hash(m.get("hash", true), g.hash);
    if (Node s = m.get("select"))
        if (auto v = r.choice(s, "select", steer::select_kind_names)) g.select = *v;
    if (Node s = m.get("mode"))
        if (auto v = r.choice(s, "mode", steer::mode_names)) g.mode = *v;
    if (Node s = m.get("fallback"))
        if (auto v = r.choice(s, "fallback", steer::fallback_names)) g.fallback = *v;
    if (auto hops = r.list(m.get("next_hops", true), "next_hops")) {
        if (hops->empty()) r.error(m.get("next_hops"), "a group needs at least one next-hop");
        for (std::size_t i = 0; i < hops->size(); ++i) {
            const Node& h = (*hops)[i];
            if (known_hops && i < known_hops->size() && (*known_hops)[i]) {
                g.next_hops.push_back(*(*known_hops)[i]);
                g.next_hops.back().where = r.at(h); // messages point at its place now
                continue;
            }
            next_hop(h, g);
        }
    }
    validation(m.get("validate"), g.validation);
    buckets(m.get("buckets"), item, g);
    if (Node t = m.get("transition"))
        if (auto v = r.unsigned_in(t, "transition (seconds)", 0, max_transition))
            g.transition = std::uint32_t(*v);
    if (Node c = m.get("transition_copies"))
        if (auto v = r.unsigned_in(c, "transition_copies", 1, max_transition_copies))
            g.transition_copies = std::uint32_t(*v);
    cfg.groups.push_back(std::move(g));
}

// select: resilient's bucket table (docs/configuration.md): one next-hop name per bucket, in
// bucket order, as `ip nexthop bucket show id N` lists them.
void Loader::buckets(const Node& n, const Node& group, Group& g) {
    if (g.select != steer::SelectKind::resilient) {
        if (n) r.error(n, "buckets applies to select: resilient only");
        return;
    }
    if (!n) {
        r.error(group, "select: resilient needs buckets: the router's bucket table, one next-hop "
                       "name per bucket (ip nexthop bucket show id N)");
        return;
    }
    const auto items = r.list(n, "buckets");
    if (!items) return;
    if (items->empty() || items->size() > steer::Selector::max_buckets)
        r.error(n, fmt::format("buckets lists {} buckets; a resilient group has 1 to {}",
                               items->size(), steer::Selector::max_buckets));
    for (const Node& b : *items) {
        const auto name = r.string(b, "a bucket's next-hop");
        if (!name) continue;
        const auto it = std::find_if(g.next_hops.begin(), g.next_hops.end(),
                                     [&](const NextHop& h) { return h.name == *name; });
        if (it == g.next_hops.end())
            r.error(b,
                    fmt::format("bucket next-hop '{}' is not one of the group's next_hops", *name));
        else
            g.buckets.push_back(std::uint16_t(it - g.next_hops.begin()));
    }
}

// A group's PTB checks (docs/security.md). The IPv6 floor is not configurable: RFC 8200 §5.
void Loader::validation(const Node& n, guard::ValidationPolicy& v) {
    if (!n) return;
    Map m(r, n, "validate", {"mtu_floor_v4", "mtu_ceiling", "checksum"});
    if (Node f = m.get("mtu_floor_v4"))
        if (auto x = r.unsigned_in(f, "mtu_floor_v4", 68, 65535))
            v.v4_floor = std::uint32_t(*x); // RFC 791
    if (Node c = m.get("mtu_ceiling"))
        if (auto x = r.unsigned_in(c, "mtu_ceiling", 1280, 65535)) v.ceiling = std::uint32_t(*x);
    if (Node c = m.get("checksum"))
        if (auto b = r.boolean(c, "checksum")) v.verify_checksum = *b;
    if (v.ceiling < v.v4_floor)
        r.error(n, fmt::format("mtu_ceiling {} is below mtu_floor_v4 {}: no PTB could pass",
                               v.ceiling, v.v4_floor));
}

void Loader::hash(const Node& n, HashConfig& h) {
    if (!n) return;
    Map m(r, n, "hash", {"model", "policy", "seed", "fields", "key"});
    if (!m.valid()) return;
    const auto model = r.choice(m.get("model", true), "hash model", hash::model_kind_names);
    if (!model) return;
    h.kind = *model;
    const Node policy = m.get("policy"), seed = m.get("seed"), fields = m.get("fields"),
               key = m.get("key");
    auto only_for = [&](const Node& k, std::string_view name, std::string_view models) {
        if (k) r.error(k, fmt::format("'{}' applies to the {} model only", name, models));
    };
    std::optional<std::uint32_t> field_bits;
    if (fields) field_bits = hash_fields(fields);
    switch (h.kind) {
    case hash::ModelKind::linux_kernel: {
        only_for(key, "key", "toeplitz");
        if (policy)
            if (auto p = r.choice(policy, "policy", {"0", "1", "3"}))
                h.linux_params.policy = std::uint8_t(*p == 2 ? 3 : *p);
        // 0 makes the kernel pick a random seed at boot: nothing outside it can reproduce that.
        if (auto s = r.unsigned_in(m.get("seed", true), "seed (net.ipv4.fib_multipath_hash_seed)",
                                   1, 0xffffffff))
            h.linux_params.seed = std::uint32_t(*s);
        if (fields && h.linux_params.policy != 3)
            r.error(fields, "'fields' applies to policy 3 only (fib_multipath_hash_fields)");
        if (field_bits) h.linux_params.fields = *field_bits;
        break;
    }
    case hash::ModelKind::toeplitz:
        only_for(policy, "policy", "linux");
        only_for(seed, "seed", "linux or crc32c");
        if (field_bits) h.toeplitz.fields = *field_bits;
        h.toeplitz.key = hash::default_rss_key();
        if (key) toeplitz_key(key, h.toeplitz.key);
        break;
    case hash::ModelKind::crc32c:
        only_for(policy, "policy", "linux");
        only_for(key, "key", "toeplitz");
        if (seed)
            if (auto s = r.unsigned_in(seed, "seed", 0, 0xffffffff))
                h.crc32c.seed = std::uint32_t(*s);
        if (field_bits) h.crc32c.fields = *field_bits;
        break;
    }
}

// A list of field names, or Linux's bit mask as a number (0x37).
std::optional<std::uint32_t> Loader::hash_fields(const Node& n) {
    if (n.IsScalar()) {
        const auto v = r.unsigned_in(n, "fields", 1, 0x3f);
        return v ? std::optional<std::uint32_t>(std::uint32_t(*v)) : std::nullopt;
    }
    const auto items = r.list(n, "fields");
    if (!items) return std::nullopt;
    std::uint32_t bits = 0;
    for (const Node& f : *items)
        if (auto i =
                r.choice(f, "a hash field",
                         {"src_ip", "dst_ip", "ip_proto", "flow_label", "src_port", "dst_port"}))
            bits |= 1u << *i;
    if (bits == 0) r.error(n, "fields must name at least one field");
    return bits;
}

void Loader::toeplitz_key(const Node& n, std::array<std::uint8_t, 40>& key) {
    const auto s = r.string(n, "key");
    if (!s) return;
    if (*s == "default") return;
    if (*s == "symmetric") {
        key = hash::symmetric_rss_key();
        return;
    }
    // 40 bytes as hex pairs, optionally separated by ':'.
    std::string hex;
    for (char c : *s)
        if (c != ':') hex += c;
    if (hex.size() != 80 || hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
        r.error(n, "key must be default, symmetric, or 40 bytes in hex (e.g. 6d:5a:56:da:...)");
        return;
    }
    for (std::size_t i = 0; i < 40; ++i)
        key[i] = std::uint8_t(std::stoul(hex.substr(i * 2, 2), nullptr, 16));
}

void Loader::next_hop(const Node& item, Group& g) {
    Map m(r, item, "a next-hop",
          {"name", "port", "mac", "via", "vlan", "weight", "neighbour", "deliver", "address"});
    if (!m.valid()) return;
    NextHop h;
    h.where = r.at(item);
    if (auto s = r.string(m.get("name", true), "a next-hop's name")) h.name = *s;
    const auto port = port_ref(m.get("port", true), "a next-hop");
    if (port) h.port = *port;
    const Node via = m.get("via");
    const Node mac = m.get("mac");
    if (via && mac)
        r.error(via, fmt::format("next-hop '{}' gives both mac and via; give one: mac pins the "
                                 "MAC, via resolves it by ARP/ND",
                                 h.name));
    else if (!via && !mac)
        r.error(item, fmt::format("next-hop '{}' needs mac (static) or via (an address on the "
                                  "port's segment, resolved by ARP/ND)",
                                  h.name));
    if (via) {
        if (auto s = r.string(via, "via")) {
            if (auto a = parse_ip(*s, h.via_family))
                h.via = *a;
            else
                r.error(via, fmt::format("'{}' is not an IPv4 or IPv6 address", *s));
        }
    }
    if (mac) {
        if (auto s = r.string(mac, "mac")) {
            if (auto v = parse_mac(*s))
                h.mac = *v;
            else
                r.error(mac,
                        fmt::format("'{}' is not a MAC address (six hex pairs: 02:00:5e:00:00:01)",
                                    *s));
        }
    }
    if (Node v = m.get("vlan"))
        if (auto id = r.unsigned_in(v, "vlan", 1, 4094)) h.vlan = std::uint16_t(*id);
    if (Node w = m.get("weight")) {
        if (auto s = r.string(w, "weight"); s && *s == "0")
            r.error(w, "weight 0 would never be chosen; remove the next-hop instead");
        else if (auto v = r.unsigned_in(w, "weight", 1, 65535))
            h.weight = std::uint32_t(*v);
    }
    if (Node n = m.get("neighbour"))
        if (auto v = r.choice(n, "neighbour", {"valid", "invalid"})) h.neighbour_valid = *v == 0;
    if (Node d = m.get("deliver"))
        if (auto v = r.choice(d, "deliver", steer::deliver_names)) h.deliver = *v;
    const Node addr = m.get("address");
    if (h.deliver == Deliver::ipip && !addr)
        r.error(item, fmt::format("next-hop '{}' delivers by ipip and needs the server's address",
                                  h.name));
    if (h.deliver == Deliver::l2 && addr) r.error(addr, "'address' applies to deliver: ipip only");
    if (addr && h.deliver == Deliver::ipip) {
        if (auto s = r.string(addr, "address")) {
            packet::Family f;
            if (auto a = parse_ip(*s, f)) {
                h.tunnel_dst = *a;
                h.tunnel_family = f;
            } else {
                r.error(addr, fmt::format("'{}' is not an IPv4 or IPv6 address", *s));
            }
        }
    }
    if (port) g.next_hops.push_back(std::move(h)); // else reported; never stands for port 0
}

} // namespace ptbsteer::config::detail
