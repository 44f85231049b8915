// The `routers:` section (docs/configuration.md, "Routers"): each border router that hands PTBs
// over, and the one thing that tells its frames apart (source MAC, ingress port or VLAN).
#include <fmt/format.h>

#include "config/loader_sections.h"
#include "config/values.h"

namespace ptbsteer::config::detail {

void Loader::routers(const Node& n) {
    if (!n) return;
    const auto items = r.list(n, "routers");
    if (!items) return;
    if (items->size() > max_routers)
        r.error(n, fmt::format("{} routers; at most {}", items->size(), max_routers));
    for (const Node& item : *items) {
        Map m(r, item, "a router", {"name", "mac", "port", "vlan"});
        if (!m.valid()) continue;
        Router rt;
        rt.where = r.at(item);
        if (auto s = r.string(m.get("name", true), "a router's name")) rt.name = *s;
        const Node mac = m.get("mac"), port = m.get("port"), vlan = m.get("vlan");
        if (int(bool(mac)) + int(bool(port)) + int(bool(vlan)) != 1) {
            r.error(item, fmt::format("router '{}' needs exactly one of mac (its frames' source "
                                      "MAC), port (every frame of that port) or vlan",
                                      rt.name));
            continue;
        }
        if (mac) {
            rt.match = RouterMatch::mac;
            const auto s = r.string(mac, "mac");
            const auto v = s ? parse_mac(*s) : std::nullopt;
            if (!v) {
                if (s) r.error(mac, fmt::format("'{}' is not a MAC address", *s));
                continue;
            }
            rt.mac = *v;
        } else if (port) {
            rt.match = RouterMatch::port;
            const auto p = port_ref(port, "a router");
            if (!p) continue;
            rt.port = *p;
        } else {
            rt.match = RouterMatch::vlan;
            const auto v = r.unsigned_in(vlan, "vlan", 1, 4094);
            if (!v) continue;
            rt.vlan = std::uint16_t(*v);
        }
        cfg.routers.push_back(std::move(rt));
    }
}

} // namespace ptbsteer::config::detail
