#include "api/group_json.h"

#include <fmt/format.h>

#include "packet/format.h"

namespace ptbsteer::api {
namespace {

using nlohmann::json;

std::string hex_key(const std::array<std::uint8_t, 40>& key) {
    std::string s;
    for (std::size_t i = 0; i < key.size(); ++i)
        s += fmt::format("{}{:02x}", i ? ":" : "", key[i]);
    return s;
}

json hash_json(const config::HashConfig& h) {
    json j = {{"model", name(h.kind)}};
    switch (h.kind) {
    case hash::ModelKind::linux_kernel:
        j["policy"] = h.linux_params.policy;
        j["seed"] = h.linux_params.seed;
        if (h.linux_params.policy == 3) j["fields"] = h.linux_params.fields;
        break;
    case hash::ModelKind::toeplitz:
        j["key"] = h.toeplitz.key == hash::default_rss_key()     ? "default"
                   : h.toeplitz.key == hash::symmetric_rss_key() ? "symmetric"
                                                                 : hex_key(h.toeplitz.key);
        j["fields"] = h.toeplitz.fields;
        break;
    case hash::ModelKind::crc32c:
        j["seed"] = h.crc32c.seed;
        j["fields"] = h.crc32c.fields;
        break;
    }
    return j;
}

json next_hop_json(const config::Config& cfg, const config::NextHop& h) {
    json j = {{"name", h.name},
              {"port", cfg.ports.at(h.port).name},
              {"weight", h.weight},
              {"deliver", name(h.deliver)}};
    if (h.via)
        j["via"] = packet::to_string(*h.via, h.via_family);
    else
        j["mac"] = packet::mac_text(h.mac);
    if (h.vlan) j["vlan"] = *h.vlan;
    if (!h.neighbour_valid) j["neighbour"] = "invalid";
    if (h.tunnel_dst && h.tunnel_family)
        j["address"] = packet::to_string(*h.tunnel_dst, *h.tunnel_family);
    return j;
}

} // namespace

json group_json(const config::Config& cfg, const config::Group& g) {
    json prefixes = json::array();
    for (const config::Prefix& p : g.prefixes)
        prefixes.push_back(config::to_string(p));
    json hops = json::array();
    for (const config::NextHop& h : g.next_hops)
        hops.push_back(next_hop_json(cfg, h));
    json out = {{"name", g.name},
                {"source", name(g.source)},
                {"prefixes", prefixes},
                {"hash", hash_json(g.hash)},
                {"select", name(g.select)},
                {"mode", name(g.mode)},
                {"fallback", name(g.fallback)},
                {"next_hops", hops},
                {"transition", g.transition},
                {"transition_copies", g.transition_copies},
                {"validate",
                 {{"mtu_floor_v4", g.validation.v4_floor},
                  {"mtu_ceiling", g.validation.ceiling},
                  {"checksum", g.validation.verify_checksum}}}};
    if (!g.router.empty()) out["router"] = g.router;
    if (!g.unknown_router.empty()) out["unknown_router"] = g.unknown_router;
    if (g.derived) out["derived"] = true;
    if (g.select == steer::SelectKind::resilient) {
        json buckets = json::array();
        for (const std::uint16_t b : g.buckets)
            buckets.push_back(g.next_hops.at(b).name);
        out["buckets"] = std::move(buckets);
    }
    return out;
}

} // namespace ptbsteer::api
