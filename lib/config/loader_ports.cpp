// The ports and what refers to them: eal, presets_dir, ports (with their presets), lcores and
// their rx queues, addresses.
#include <array>
#include <cctype>
#include <charconv>
#include <fstream>

#include <fmt/format.h>

#include "config/loader_sections.h"
#include "config/presets.h"
#include "config/values.h"

namespace ptbsteer::config::detail {
namespace {

// A port's keys: its own, then the preset settings it may override (presets.h).
constexpr std::array<std::string_view, 9> port_keys = {"name",           "device", "rx_queues",
                                                       "tx_queues",      "preset", "rx_descriptors",
                                                       "tx_descriptors", "rss",    "promiscuous"};
static_assert(port_keys.size() == 5 + port_override_keys.size());

std::string join_names(std::span<const std::string_view> names) {
    std::string s;
    for (std::string_view n : names)
        s += (s.empty() ? "" : ", ") + std::string(n);
    return s;
}

} // namespace

void Loader::presets_dir(const Node& n) {
    if (n)
        if (auto s = r.string(n, "presets_dir")) cfg.presets_dir = *s;
    preset_dirs = preset_search_path(cfg.presets_dir, r.file());
}

// The settings of preset `name`, named at `node`; nullopt after an error.
std::optional<PortSettings> Loader::preset(const Node& node, Port& p) {
    if (node.IsNull()) {
        // Unquoted, the null preset's name is YAML's null (as is an empty value).
        r.error(node,
                "preset is empty or YAML's null; write the null vdev's preset as preset: \"null\"");
        return std::nullopt;
    }
    const auto name = r.string(node, "preset");
    if (!name) return std::nullopt;
    // A plain file name: a preset never reaches outside its directory.
    if (name->empty() ||
        name->find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != std::string::npos) {
        r.error(node, fmt::format("preset must be one of {} (letters, digits, '_', '-'), not '{}'",
                                  join_names(shipped_presets), *name));
        return std::nullopt;
    }
    p.preset = *name;
    std::string path;
    for (const std::string& dir : preset_dirs) {
        const std::string candidate = dir + "/" + *name + ".yaml";
        if (std::ifstream(candidate)) {
            path = candidate;
            break;
        }
    }
    if (path.empty()) {
        missing_preset(node, *name);
        return std::nullopt;
    }
    p.preset_file = path;
    auto [it, fresh] = preset_cache.try_emplace(path);
    if (fresh) it->second = load_preset_file(path, errors);
    return it->second;
}

void Loader::missing_preset(const Node& node, const std::string& name) {
    std::string dirs;
    for (const std::string& d : preset_dirs)
        dirs += (dirs.empty() ? "" : ", ") + d;
    bool shipped = false;
    for (std::string_view s : shipped_presets)
        shipped |= s == name;
    if (shipped)
        r.error(node, fmt::format("preset file '{}.yaml' not found in {}; set presets_dir or {} "
                                  "to ptbsteer's drivers-config directory",
                                  name, dirs, presets_dir_env));
    else
        r.error(node, fmt::format("preset must be one of {}, or have its own {}.yaml; none in {}",
                                  join_names(shipped_presets), name, dirs));
}

std::optional<std::size_t> Loader::port_ref(const Node& n, std::string_view what) {
    const auto name = r.string(n, what);
    if (!name) return std::nullopt;
    const auto it = port_index.find(*name);
    if (it == port_index.end()) {
        r.error(n,
                fmt::format("{} names port '{}', which is not defined under ports", what, *name));
        return std::nullopt;
    }
    return it->second;
}

void Loader::eal(const Node& n) {
    if (!n) return;
    const auto items = r.list(n, "eal");
    if (!items) return;
    for (const Node& i : *items)
        if (auto s = r.string(i, "an eal argument")) cfg.eal.push_back(*s);
}

void Loader::ports(const Node& n) {
    const auto items = r.list(n, "ports");
    if (!items) return;
    if (items->empty()) r.error(n, "ports must list at least one port");
    for (const Node& item : *items) {
        Map m(r, item, "a port", port_keys);
        if (!m.valid()) continue;
        Port p;
        p.where = r.at(item);
        if (auto s = r.string(m.get("name", true), "a port's name")) p.name = *s;
        if (auto s = r.string(m.get("device", true), "a port's device")) {
            p.device = *s;
            p.is_vdev = s->starts_with("net_") || s->starts_with("eth_");
            // A PCI address may carry devargs too: "0000:03:00.0,mprq_en=1".
            if (!p.is_vdev && !looks_like_pci(s->substr(0, s->find(','))))
                r.error(m.get("device"),
                        fmt::format("device '{}' is neither a PCI address (0000:03:00.0) nor a "
                                    "DPDK vdev (net_pcap0,...)",
                                    *s));
        }
        if (Node q = m.get("rx_queues"))
            if (auto v = r.unsigned_in(q, "rx_queues", 1, 128)) p.rx_queues = std::uint16_t(*v);
        if (Node q = m.get("tx_queues"))
            if (auto v = r.unsigned_in(q, "tx_queues", 1, 128)) p.tx_queues = std::uint16_t(*v);
        // Built-in defaults, then the preset, then the port's own keys.
        if (Node pr = m.get("preset"))
            if (auto s = preset(pr, p)) apply_settings(*s, p);
        apply_settings(read_settings(r, m), p);
        if (!p.name.empty() && !port_index.emplace(p.name, cfg.ports.size()).second)
            r.error(m.get("name"), fmt::format("port '{}' is defined twice", p.name));
        cfg.ports.push_back(std::move(p));
    }
}

bool Loader::looks_like_pci(std::string_view s) {
    // DDDD:BB:DD.F or BB:DD.F, hexadecimal.
    auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
    const std::string_view t = s.size() == 12 ? s.substr(5) : s;
    if (s.size() == 12 && (s[4] != ':' || !hex(s[0]) || !hex(s[1]) || !hex(s[2]) || !hex(s[3])))
        return false;
    return t.size() == 7 && hex(t[0]) && hex(t[1]) && t[2] == ':' && hex(t[3]) && hex(t[4]) &&
           t[5] == '.' && t[6] >= '0' && t[6] <= '7';
}

void Loader::lcores(const Node& n) {
    const auto items = r.list(n, "lcores");
    if (!items) return;
    for (const Node& item : *items) {
        Map m(r, item, "an lcore", {"id", "rx", "tx"});
        if (!m.valid()) continue;
        Lcore l;
        l.where = r.at(item);
        if (auto v = r.unsigned_in(m.get("id", true), "an lcore id", 0, 1023)) l.id = unsigned(*v);
        if (Node rx = m.get("rx")) {
            if (auto qs = r.list(rx, "rx", true))
                for (const Node& q : *qs)
                    if (auto ref = rx_queue(q)) l.rx.push_back(*ref);
        }
        if (Node tx = m.get("tx"))
            if (auto b = r.boolean(tx, "tx")) l.tx = *b;
        if (l.rx.empty() && !l.tx)
            r.error(item,
                    fmt::format("lcore {} neither polls a queue (rx) nor transmits (tx)", l.id));
        cfg.lcores.push_back(std::move(l));
    }
}

// "port:queue", or just "port" for its queue 0.
std::optional<RxQueueRef> Loader::rx_queue(const Node& n) {
    const auto s = r.string(n, "an rx queue");
    if (!s) return std::nullopt;
    const std::size_t colon = s->rfind(':');
    const std::string name = s->substr(0, colon);
    const auto it = port_index.find(name);
    if (it == port_index.end()) {
        r.error(n, fmt::format("rx queue '{}' names port '{}', which is not defined under ports",
                               *s, name));
        return std::nullopt;
    }
    RxQueueRef ref{it->second, 0};
    if (colon != std::string::npos) {
        unsigned q = 0;
        const std::string digits = s->substr(colon + 1);
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), q);
        if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty()) {
            r.error(n, fmt::format("rx queue '{}' must be PORT or PORT:QUEUE", *s));
            return std::nullopt;
        }
        ref.queue = std::uint16_t(q);
    }
    if (ref.queue >= cfg.ports[ref.port].rx_queues) {
        r.error(n, fmt::format("port '{}' has {} rx queue(s); queue {} does not exist", name,
                               cfg.ports[ref.port].rx_queues, ref.queue));
        return std::nullopt;
    }
    return ref;
}

void Loader::addresses(const Node& n) {
    if (!n) return;
    const auto items = r.list(n, "addresses");
    if (!items) return;
    for (const Node& item : *items) {
        Map m(r, item, "an address entry", {"port", "ipv4", "ipv6"});
        if (!m.valid()) continue;
        Address a;
        // An unresolved port is reported by port_ref; the entry is then not kept, so nothing
        // later mistakes it for port 0 (found by fuzzing: tests/unit/fuzz_regressions).
        const auto port = port_ref(m.get("port", true), "an address entry");
        if (port) a.port = *port;
        a.ipv4 = own_address(m.get("ipv4"), packet::Family::v4);
        a.ipv6 = own_address(m.get("ipv6"), packet::Family::v6);
        if (!m.get("ipv4") && !m.get("ipv6"))
            r.error(item, "an address entry needs ipv4, ipv6 or both");
        if (port) cfg.addresses.push_back(a);
    }
}

std::optional<Prefix> Loader::own_address(const Node& n, packet::Family want) {
    if (!n) return std::nullopt;
    const auto s = r.string(n, "an address");
    if (!s) return std::nullopt;
    auto p = parse_prefix(*s);
    if (!p || p->family != want) {
        r.error(n, fmt::format("'{}' is not an {} address with its prefix length (e.g. {})", *s,
                               want == packet::Family::v4 ? "IPv4" : "IPv6",
                               want == packet::Family::v4 ? "203.0.113.2/24" : "2001:db8::2/64"));
        return std::nullopt;
    }
    // Keep the address itself: parse_prefix cleared the host bits.
    packet::Family f;
    p->addr = *parse_ip(s->substr(0, s->find('/')), f);
    return p;
}

} // namespace ptbsteer::config::detail
