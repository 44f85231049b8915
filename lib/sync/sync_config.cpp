#include "sync/sync_config.h"

#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "config/node.h"
#include "config/values.h"
#include "config/yaml_reader.h"

namespace ptbsteer::sync {
namespace {

using config::Map;
using config::Node;
using config::Reader;

// "http://HOST:PORT" (the control API speaks plain HTTP on a private listener, docs/api.md).
std::optional<Appliance> parse_url(const std::string& url) {
    const std::string scheme = "http://";
    if (url.rfind(scheme, 0) != 0) return std::nullopt;
    std::string rest = url.substr(scheme.size());
    if (!rest.empty() && rest.back() == '/') rest.pop_back();
    Appliance a;
    a.name = rest;
    std::string port;
    if (!rest.empty() && rest.front() == '[') { // [IPv6]:port
        const auto close = rest.find(']');
        if (close == std::string::npos) return std::nullopt;
        a.host = rest.substr(1, close - 1);
        if (close + 1 < rest.size()) {
            if (rest[close + 1] != ':') return std::nullopt;
            port = rest.substr(close + 2);
        }
    } else {
        const auto colon = rest.rfind(':');
        a.host = rest.substr(0, colon);
        if (colon != std::string::npos) port = rest.substr(colon + 1);
    }
    if (a.host.empty() || a.host.find('/') != std::string::npos) return std::nullopt;
    if (!port.empty()) {
        if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
            return std::nullopt;
        const unsigned long p = std::stoul(port);
        if (p == 0 || p > 65535) return std::nullopt;
        a.port = std::uint16_t(p);
    }
    return a;
}

void appliances(Reader& r, const Node& n, SyncConfig& c) {
    const auto items = r.list(n, "appliances", true);
    if (!items) return;
    if (items->empty()) r.error(n, "appliances must list at least one ptbsteer control API");
    for (const Node& item : *items) {
        const auto url = r.string(item, "an appliance");
        if (!url) continue;
        if (auto a = parse_url(*url))
            c.appliances.push_back(*a);
        else
            r.error(item, fmt::format("'{}' is not a control API URL (http://HOST:PORT, e.g. "
                                      "http://192.0.2.10:9470)",
                                      *url));
    }
}

void group(Reader& r, const Node& item, SyncConfig& c, std::set<std::string>& names) {
    Map m(r, item, "a group",
          {"name", "route", "table", "port", "prefixes", "transition", "transition_copies",
           "software_hash"});
    if (!m.valid()) return;
    GroupSpec g;
    if (auto s = r.string(m.get("name", true), "a group's name")) {
        g.name = *s;
        if (!names.insert(g.name).second)
            r.error(m.get("name"), fmt::format("group '{}' appears twice", g.name));
    }
    if (auto s = r.string(m.get("route", true), "route")) {
        bool host_bits = false;
        if (auto p = config::parse_prefix(*s, &host_bits); p && !host_bits) {
            g.family = p->family;
            g.dst = p->addr;
            g.length = p->length;
        } else {
            r.error(m.get("route"), fmt::format("'{}' is not a route prefix as the kernel holds "
                                                "it (e.g. 198.51.100.0/24, host bits zero)",
                                                *s));
        }
    }
    if (Node t = m.get("table"))
        if (auto v = r.unsigned_in(t, "table", 1, 0xffffffffu)) g.table = std::uint32_t(*v);
    if (auto s = r.string(m.get("port", true), "port")) g.port = *s;
    if (Node p = m.get("prefixes"))
        if (auto ps = r.list(p, "prefixes", true))
            for (const Node& pn : *ps)
                if (auto s = r.string(pn, "a prefix")) {
                    if (config::parse_prefix(*s))
                        g.prefixes.push_back(*s);
                    else
                        r.error(pn, fmt::format("'{}' is not an IPv4 or IPv6 prefix", *s));
                }
    if (Node t = m.get("transition"))
        if (auto v = r.unsigned_in(t, "transition (seconds)", 0, config::max_transition))
            g.transition = std::uint32_t(*v);
    if (Node t = m.get("transition_copies"))
        if (auto v = r.unsigned_in(t, "transition_copies", 1, config::max_transition_copies))
            g.transition_copies = std::uint32_t(*v);
    if (Node b = m.get("software_hash"))
        if (auto v = r.boolean(b, "software_hash")) g.software_hash = *v;
    c.groups.push_back(std::move(g));
}

SyncLoad load(const std::string& text, const std::string& name) {
    SyncLoad out;
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        out.errors.push_back({{name, e.mark.line + 1, e.mark.column + 1},
                              fmt::format("YAML syntax error: {}", e.msg)});
        return out;
    }
    Reader r(name, out.errors);
    SyncConfig c;
    c.file = name;
    Map top(r, Node(root), "the configuration",
            {"netns", "router", "token_file", "appliances", "groups", "resync", "coalesce_ms",
             "listen"});
    if (!top.valid()) return out;
    try {
        if (Node n = top.get("netns"))
            if (auto s = r.string(n, "netns")) c.netns = *s;
        if (Node n = top.get("router")) {
            if (auto s = r.string(n, "router")) c.router = *s;
            if (c.router.find('/') != std::string::npos || c.router == "")
                r.error(n, "router must name one of the appliances' routers: (no '/')");
        }
        if (auto s = r.string(top.get("token_file", true), "token_file")) c.token_file = *s;
        appliances(r, top.get("appliances", true), c);
        if (Node n = top.get("resync"))
            if (auto v = r.unsigned_in(n, "resync (seconds)", 1, 86400)) c.resync = *v;
        if (Node n = top.get("coalesce_ms"))
            if (auto v = r.unsigned_in(n, "coalesce_ms", 0, 1000)) c.coalesce_ms = *v;
        if (Node n = top.get("listen"))
            if (auto s = r.string(n, "listen")) c.listen = *s == "off" ? "" : *s;
        std::set<std::string> names;
        if (auto items = r.list(top.get("groups", true), "groups")) {
            if (items->empty()) r.error(top.get("groups"), "groups must list at least one route");
            for (const Node& item : *items)
                group(r, item, c, names);
        }
    } catch (const YAML::Exception& e) {
        out.errors.push_back({{name, e.mark.line + 1, e.mark.column + 1}, e.msg});
        return out;
    }
    if (out.errors.empty()) out.config = std::move(c);
    return out;
}

} // namespace

SyncLoad load_sync_config_text(const std::string& text, const std::string& name) {
    return load(text, name);
}

SyncLoad load_sync_config_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        SyncLoad out;
        out.errors.push_back({{path, 0, 0}, fmt::format("cannot read {}", path)});
        return out;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    return load(ss.str(), path);
}

} // namespace ptbsteer::sync
