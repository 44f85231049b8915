#include "api/decide.h"

#include <array>
#include <string_view>
#include <utility>

#include <arpa/inet.h>

#include <fmt/format.h>

#include "datapath/neighbor.h"
#include "datapath/transition.h"
#include "packet/format.h"

namespace ptbsteer::api {
namespace {

using nlohmann::json;

constexpr std::array<std::pair<std::string_view, std::uint8_t>, 9> protocol_names = {{
    {"icmp", 1},
    {"tcp", 6},
    {"udp", 17},
    {"dccp", 33},
    {"esp", 50},
    {"ah", 51},
    {"icmpv6", 58},
    {"sctp", 132},
    {"udplite", 136},
}};

std::optional<std::uint8_t> protocol(const json& j) {
    if (j.is_number_unsigned() && j.get<std::uint64_t>() <= 255) return std::uint8_t(j.get<int>());
    if (j.is_string())
        for (const auto& [name, number] : protocol_names)
            if (j.get<std::string>() == name) return number;
    return std::nullopt;
}

std::optional<std::uint32_t> number(const json& j, std::uint32_t max) {
    if (!j.is_number_unsigned() || j.get<std::uint64_t>() > max) return std::nullopt;
    return std::uint32_t(j.get<std::uint64_t>());
}

bool address(const json& j, packet::Family& family, packet::IpAddr& out) {
    if (!j.is_string()) return false;
    const std::string s = j.get<std::string>();
    if (::inet_pton(AF_INET, s.c_str(), out.b.data()) == 1) {
        family = packet::Family::v4;
        return true;
    }
    if (::inet_pton(AF_INET6, s.c_str(), out.b.data()) == 1) {
        family = packet::Family::v6;
        return true;
    }
    return false;
}

// A next-hop's own name (Tables::next_hop_names holds "group/name").
std::string short_name(const datapath::Tables& t, std::uint32_t idx) {
    const std::string& full = t.next_hop_names.at(idx);
    return full.substr(full.find('/') + 1);
}

} // namespace

std::optional<packet::FlowKey> flow_from(const json& j, std::string& error, std::string& path) {
    auto fail = [&](std::string field, std::string sentence) {
        path = field.empty() ? "" : "/" + field;
        error = std::move(sentence);
        return std::nullopt;
    };
    if (!j.is_object()) return fail("", "a flow is an object: {\"src\", \"dst\", \"proto\", ...}");
    for (const auto& [key, value] : j.items())
        if (key != "src" && key != "dst" && key != "proto" && key != "sport" && key != "dport" &&
            key != "flow_label" && key != "router")
            return fail(key, fmt::format("unknown key '{}' in a flow (known keys: src, dst, "
                                         "proto, sport, dport, flow_label, router)",
                                         key));
    packet::FlowKey k;
    packet::Family dst_family{};
    if (!address(j.value("src", json()), k.family, k.src))
        return fail("src", "src must be an IPv4 or IPv6 address");
    if (!address(j.value("dst", json()), dst_family, k.dst) || dst_family != k.family)
        return fail("dst", "dst must be an address of src's family");
    const auto p = protocol(j.value("proto", json()));
    if (!p)
        return fail("proto", "proto must be a protocol number (0-255) or one of tcp, udp, sctp, "
                             "dccp, udplite, icmp, icmpv6, esp, ah");
    k.proto = *p;
    // No extension headers here: the fixed header's Next Header is the protocol.
    k.first_nexthdr = k.family == packet::Family::v6 ? k.proto : 0;
    k.l4 = packet::l4_of_protocol(k.proto);
    if (k.l4 != packet::L4::portless) {
        for (const char* field : {"sport", "dport"}) {
            const auto v = number(j.value(field, json()), 0xffff);
            if (!v)
                return fail(field, fmt::format("{} must be a port (0-65535): protocol {} has "
                                               "ports",
                                               field, k.proto));
            (field[0] == 's' ? k.sport : k.dport) = std::uint16_t(*v);
        }
    }
    if (j.contains("flow_label")) {
        const auto v = number(j["flow_label"], 0xfffff);
        if (!v || k.family != packet::Family::v6)
            return fail("flow_label", "flow_label is IPv6's, 0-1048575");
        k.flow_label = *v;
    }
    return k;
}

std::optional<std::uint32_t> router_number(const datapath::Tables& t, const json& flow,
                                           std::string& error) {
    if (!flow.is_object() || !flow.contains("router")) return 0;
    const json& r = flow["router"];
    if (r.is_string())
        for (std::uint32_t i = 1; i < t.router_names.size(); ++i)
            if (t.router_names[i] == r.get<std::string>()) return i;
    error =
        fmt::format("router {} is not one of the routers: of the serving configuration", r.dump());
    return std::nullopt;
}

json decide_json(const datapath::Tables& t, const packet::FlowKey& k, std::uint64_t now,
                 std::uint32_t router) {
    const auto site = t.prefixes.lookup(k.family, k.dst);
    if (!site)
        return {{"verdict", "drop"},
                {"reason", "no_group"},
                {"why", "the destination is in no group's prefixes"}};
    const std::uint32_t gi = t.site_state(*site, router);
    const datapath::GroupEntry& g = t.groups.at(gi);
    json out = {{"group", t.group_names.at(gi)}, {"model", g.group.model().describe()}};
    const bool hashable = !g.group.model().needs_ports() || packet::ports_known(k.l4);
    if (hashable) out["hash"] = g.group.model().hash(k);
    std::uint32_t selected_with = 0;
    const steer::Verdict v = g.group.decide(k, selected_with);
    out["verdict"] = name(v.kind);
    switch (v.kind) {
    case steer::VerdictKind::unicast: {
        const std::uint32_t newest = g.first_next_hop + v.next_hop();
        out["next_hop"] = short_name(t, newest);
        out["next_hop_index"] = v.next_hop();
        // Copies go to the flow's earlier owners too, within the replication budget.
        std::uint32_t past[datapath::max_past_owners];
        const unsigned n = datapath::past_owners(t, g, k, selected_with, newest, now, past);
        if (n > 0) {
            json owners = json::array();
            for (unsigned i = 0; i < n; ++i)
                owners.push_back(short_name(t, past[i]));
            out["transition"] = std::move(owners);
        }
        // Where it would go now: a failed next-hop's PTBs are dropped (neighbor_failed).
        const std::uint64_t w =
            datapath::neighbor_of(t, t.next_hops.at(g.first_next_hop + v.next_hop()));
        out["neighbor"] = std::string(datapath::name(datapath::state_of(w)));
        if (datapath::usable(w)) out["mac"] = packet::mac_text(datapath::mac_of(w));
        break;
    }
    case steer::VerdictKind::replicate:
        out["why"] = g.group.mode() == steer::Mode::replicate
                         ? "the group's mode is replicate"
                         : "the model hashes ports the flow lacks; fallback: replicate";
        break;
    case steer::VerdictKind::drop:
        out["reason"] = name(v.reason);
        out["why"] = "the model hashes ports the flow lacks; fallback: drop";
        break;
    }
    return out;
}

} // namespace ptbsteer::api
