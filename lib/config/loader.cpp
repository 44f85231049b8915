// YAML -> Config: the schema, read section by section. Cross-references between sections are
// checked in validate.cpp once everything is read.
#include <array>
#include <charconv>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "config/config.h"
#include "config/presets.h"
#include "config/validate.h"
#include "config/values.h"
#include "config/yaml_reader.h"

namespace ptbsteer::config {
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

struct Loader {
    Reader r;
    Config cfg;
    std::map<std::string, std::size_t> port_index;
    std::vector<ConfigError>& errors;
    std::vector<std::string> preset_dirs;
    // Each preset file is read once however many ports name it (and its errors reported once).
    std::map<std::string, std::optional<PortSettings>> preset_cache;

    void presets_dir(const YAML::Node& n) {
        if (n)
            if (auto s = r.string(n, "presets_dir")) cfg.presets_dir = *s;
        preset_dirs = preset_search_path(cfg.presets_dir, r.file());
    }

    // The settings of preset `name`, named at `node`; nullopt after an error.
    std::optional<PortSettings> preset(const YAML::Node& node, Port& p) {
        if (node.IsNull()) {
            // Unquoted, the null preset's name is YAML's null (as is an empty value).
            r.error(
                node,
                "preset is empty or YAML's null; write the null vdev's preset as preset: \"null\"");
            return std::nullopt;
        }
        const auto name = r.string(node, "preset");
        if (!name) return std::nullopt;
        // A plain file name: a preset never reaches outside its directory.
        if (name->empty() || name->find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
                                 std::string::npos) {
            r.error(node,
                    fmt::format("preset must be one of {} (letters, digits, '_', '-'), not '{}'",
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

    void missing_preset(const YAML::Node& node, const std::string& name) {
        std::string dirs;
        for (const std::string& d : preset_dirs)
            dirs += (dirs.empty() ? "" : ", ") + d;
        bool shipped = false;
        for (std::string_view s : shipped_presets)
            shipped |= s == name;
        if (shipped)
            r.error(node,
                    fmt::format("preset file '{}.yaml' not found in {}; set presets_dir or {} "
                                "to ptbsteer's drivers-config directory",
                                name, dirs, presets_dir_env));
        else
            r.error(node,
                    fmt::format("preset must be one of {}, or have its own {}.yaml; none in {}",
                                join_names(shipped_presets), name, dirs));
    }

    std::optional<std::size_t> port_ref(const YAML::Node& n, std::string_view what) {
        const auto name = r.string(n, what);
        if (!name) return std::nullopt;
        const auto it = port_index.find(*name);
        if (it == port_index.end()) {
            r.error(n, fmt::format("{} names port '{}', which is not defined under ports", what,
                                   *name));
            return std::nullopt;
        }
        return it->second;
    }

    void eal(const YAML::Node& n) {
        if (!n) return;
        const auto items = r.list(n, "eal");
        if (!items) return;
        for (const YAML::Node& i : *items)
            if (auto s = r.string(i, "an eal argument")) cfg.eal.push_back(*s);
    }

    void ports(const YAML::Node& n) {
        const auto items = r.list(n, "ports");
        if (!items) return;
        if (items->empty()) r.error(n, "ports must list at least one port");
        for (const YAML::Node& item : *items) {
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
            if (YAML::Node q = m.get("rx_queues"))
                if (auto v = r.unsigned_in(q, "rx_queues", 1, 128)) p.rx_queues = std::uint16_t(*v);
            if (YAML::Node q = m.get("tx_queues"))
                if (auto v = r.unsigned_in(q, "tx_queues", 1, 128)) p.tx_queues = std::uint16_t(*v);
            // Built-in defaults, then the preset, then the port's own keys.
            if (YAML::Node pr = m.get("preset"))
                if (auto s = preset(pr, p)) apply_settings(*s, p);
            apply_settings(read_settings(r, m), p);
            if (!p.name.empty() && !port_index.emplace(p.name, cfg.ports.size()).second)
                r.error(m.get("name"), fmt::format("port '{}' is defined twice", p.name));
            cfg.ports.push_back(std::move(p));
        }
    }

    static bool looks_like_pci(std::string_view s) {
        // DDDD:BB:DD.F or BB:DD.F, hexadecimal.
        auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
        const std::string_view t = s.size() == 12 ? s.substr(5) : s;
        if (s.size() == 12 && (s[4] != ':' || !hex(s[0]) || !hex(s[1]) || !hex(s[2]) || !hex(s[3])))
            return false;
        return t.size() == 7 && hex(t[0]) && hex(t[1]) && t[2] == ':' && hex(t[3]) && hex(t[4]) &&
               t[5] == '.' && t[6] >= '0' && t[6] <= '7';
    }

    void lcores(const YAML::Node& n) {
        const auto items = r.list(n, "lcores");
        if (!items) return;
        for (const YAML::Node& item : *items) {
            Map m(r, item, "an lcore", {"id", "rx", "tx"});
            if (!m.valid()) continue;
            Lcore l;
            l.where = r.at(item);
            if (auto v = r.unsigned_in(m.get("id", true), "an lcore id", 0, 1023))
                l.id = unsigned(*v);
            if (YAML::Node rx = m.get("rx")) {
                if (auto qs = r.list(rx, "rx", true))
                    for (const YAML::Node& q : *qs)
                        if (auto ref = rx_queue(q)) l.rx.push_back(*ref);
            }
            if (YAML::Node tx = m.get("tx"))
                if (auto b = r.boolean(tx, "tx")) l.tx = *b;
            if (l.rx.empty() && !l.tx)
                r.error(item, fmt::format("lcore {} neither polls a queue (rx) nor transmits (tx)",
                                          l.id));
            cfg.lcores.push_back(std::move(l));
        }
    }

    // "port:queue", or just "port" for its queue 0.
    std::optional<RxQueueRef> rx_queue(const YAML::Node& n) {
        const auto s = r.string(n, "an rx queue");
        if (!s) return std::nullopt;
        const std::size_t colon = s->rfind(':');
        const std::string name = s->substr(0, colon);
        const auto it = port_index.find(name);
        if (it == port_index.end()) {
            r.error(n,
                    fmt::format("rx queue '{}' names port '{}', which is not defined under ports",
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

    void addresses(const YAML::Node& n) {
        if (!n) return;
        const auto items = r.list(n, "addresses");
        if (!items) return;
        for (const YAML::Node& item : *items) {
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

    std::optional<Prefix> own_address(const YAML::Node& n, packet::Family want) {
        if (!n) return std::nullopt;
        const auto s = r.string(n, "an address");
        if (!s) return std::nullopt;
        auto p = parse_prefix(*s);
        if (!p || p->family != want) {
            r.error(n,
                    fmt::format("'{}' is not an {} address with its prefix length (e.g. {})", *s,
                                want == packet::Family::v4 ? "IPv4" : "IPv6",
                                want == packet::Family::v4 ? "203.0.113.2/24" : "2001:db8::2/64"));
            return std::nullopt;
        }
        // Keep the address itself: parse_prefix cleared the host bits.
        packet::Family f;
        p->addr = *parse_ip(s->substr(0, s->find('/')), f);
        return p;
    }

    void groups(const YAML::Node& n) {
        const auto items = r.list(n, "groups");
        if (!items) return;
        if (items->empty()) r.error(n, "groups must list at least one group");
        for (const YAML::Node& item : *items)
            group(item);
    }

    void group(const YAML::Node& item) {
        Map m(r, item, "a group",
              {"name", "prefixes", "hash", "select", "mode", "fallback", "next_hops", "validate"});
        if (!m.valid()) return;
        Group g;
        g.where = r.at(item);
        if (auto s = r.string(m.get("name", true), "a group's name")) g.name = *s;
        if (auto ps = r.list(m.get("prefixes", true), "prefixes", true)) {
            for (const YAML::Node& pn : *ps) {
                const auto s = r.string(pn, "a prefix");
                if (!s) continue;
                bool host_bits = false;
                const auto p = parse_prefix(*s, &host_bits);
                if (!p)
                    r.error(pn,
                            fmt::format("'{}' is not an IPv4 or IPv6 prefix (e.g. 198.51.100.0/24)",
                                        *s));
                else if (host_bits)
                    r.error(pn, fmt::format(
                                    "prefix '{}' has bits set beyond its length; did you mean {}?",
                                    *s, to_string(*p)));
                else
                    g.prefixes.push_back(*p), g.prefix_where.push_back(r.at(pn));
            }
            if (ps->empty()) r.error(m.get("prefixes"), "a group needs at least one prefix");
        }
        hash(m.get("hash", true), g.hash);
        if (YAML::Node s = m.get("select"))
            if (auto i = r.choice(s, "select", {"hash-threshold", "modulo", "maglev"}))
                g.select = static_cast<steer::SelectKind>(*i);
        if (YAML::Node s = m.get("mode"))
            if (auto i = r.choice(s, "mode", {"unicast", "replicate"}))
                g.mode = static_cast<Mode>(*i);
        if (YAML::Node s = m.get("fallback"))
            if (auto i = r.choice(s, "fallback", {"replicate", "drop"}))
                g.fallback = static_cast<Fallback>(*i);
        if (auto hops = r.list(m.get("next_hops", true), "next_hops")) {
            if (hops->empty()) r.error(m.get("next_hops"), "a group needs at least one next-hop");
            for (const YAML::Node& h : *hops)
                next_hop(h, g);
        }
        validation(m.get("validate"), g.validation);
        cfg.groups.push_back(std::move(g));
    }

    // A group's PTB checks (docs/security.md). The IPv6 floor is not configurable: RFC 8200 §5.
    void validation(const YAML::Node& n, guard::ValidationPolicy& v) {
        if (!n) return;
        Map m(r, n, "validate", {"mtu_floor_v4", "mtu_ceiling", "checksum"});
        if (YAML::Node f = m.get("mtu_floor_v4"))
            if (auto x = r.unsigned_in(f, "mtu_floor_v4", 68, 65535))
                v.v4_floor = std::uint32_t(*x); // RFC 791
        if (YAML::Node c = m.get("mtu_ceiling"))
            if (auto x = r.unsigned_in(c, "mtu_ceiling", 1280, 65535))
                v.ceiling = std::uint32_t(*x);
        if (YAML::Node c = m.get("checksum"))
            if (auto b = r.boolean(c, "checksum")) v.verify_checksum = *b;
        if (v.ceiling < v.v4_floor)
            r.error(n, fmt::format("mtu_ceiling {} is below mtu_floor_v4 {}: no PTB could pass",
                                   v.ceiling, v.v4_floor));
    }

    // `limits:` — each limiter is {rate, burst} or `off`.
    void limits(const YAML::Node& n) {
        if (!n) return;
        Map m(r, n, "limits", {"per_source", "global", "replication", "source_slots"});
        rate_limit(m.get("per_source"), "per_source", cfg.limits.per_source);
        rate_limit(m.get("global"), "global", cfg.limits.global);
        rate_limit(m.get("replication"), "replication", cfg.limits.replication);
        if (YAML::Node s = m.get("source_slots"))
            if (auto x = r.unsigned_in(s, "source_slots", 1, 1u << 24))
                cfg.limits.source_slots = std::uint32_t(*x);
    }

    void rate_limit(const YAML::Node& n, std::string_view what, RateLimit& out) {
        if (!n) return;
        if (n.IsScalar() && n.Scalar() == "off") {
            out = RateLimit{0, 0};
            return;
        }
        Map m(r, n, fmt::format("limits.{}", what), {"rate", "burst"});
        if (!m.valid()) return;
        if (auto x =
                r.unsigned_in(m.get("rate", true), "rate (per second; write `off` for no limit)", 1,
                              std::uint64_t(1) << 32))
            out.rate = *x;
        if (YAML::Node b = m.get("burst"))
            if (auto x = r.unsigned_in(b, "burst", 1, std::uint64_t(1) << 32)) out.burst = *x;
    }

    void hash(const YAML::Node& n, HashConfig& h) {
        if (!n) return;
        Map m(r, n, "hash", {"model", "policy", "seed", "fields", "key"});
        if (!m.valid()) return;
        const auto model =
            r.choice(m.get("model", true), "hash model", {"linux", "toeplitz", "crc32c"});
        if (!model) return;
        h.kind = static_cast<hash::ModelKind>(*model);
        const YAML::Node policy = m.get("policy"), seed = m.get("seed"), fields = m.get("fields"),
                         key = m.get("key");
        auto only_for = [&](const YAML::Node& k, std::string_view name, std::string_view models) {
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
            if (auto s = r.unsigned_in(m.get("seed", true),
                                       "seed (net.ipv4.fib_multipath_hash_seed)", 1, 0xffffffff))
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
    std::optional<std::uint32_t> hash_fields(const YAML::Node& n) {
        if (n.IsScalar()) {
            const auto v = r.unsigned_in(n, "fields", 1, 0x3f);
            return v ? std::optional<std::uint32_t>(std::uint32_t(*v)) : std::nullopt;
        }
        const auto items = r.list(n, "fields");
        if (!items) return std::nullopt;
        std::uint32_t bits = 0;
        for (const YAML::Node& f : *items)
            if (auto i = r.choice(
                    f, "a hash field",
                    {"src_ip", "dst_ip", "ip_proto", "flow_label", "src_port", "dst_port"}))
                bits |= 1u << *i;
        if (bits == 0) r.error(n, "fields must name at least one field");
        return bits;
    }

    void toeplitz_key(const YAML::Node& n, std::array<std::uint8_t, 40>& key) {
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
        if (hex.size() != 80 ||
            hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
            r.error(n, "key must be default, symmetric, or 40 bytes in hex (e.g. 6d:5a:56:da:...)");
            return;
        }
        for (std::size_t i = 0; i < 40; ++i)
            key[i] = std::uint8_t(std::stoul(hex.substr(i * 2, 2), nullptr, 16));
    }

    void next_hop(const YAML::Node& item, Group& g) {
        Map m(r, item, "a next-hop",
              {"name", "port", "mac", "vlan", "weight", "deliver", "address"});
        if (!m.valid()) return;
        NextHop h;
        h.where = r.at(item);
        if (auto s = r.string(m.get("name", true), "a next-hop's name")) h.name = *s;
        const auto port = port_ref(m.get("port", true), "a next-hop");
        if (port) h.port = *port;
        if (YAML::Node mac = m.get("mac", true)) {
            if (auto s = r.string(mac, "mac")) {
                if (auto v = parse_mac(*s))
                    h.mac = *v;
                else
                    r.error(mac, fmt::format(
                                     "'{}' is not a MAC address (six hex pairs: 02:00:5e:00:00:01)",
                                     *s));
            }
        }
        if (YAML::Node v = m.get("vlan"))
            if (auto id = r.unsigned_in(v, "vlan", 1, 4094)) h.vlan = std::uint16_t(*id);
        if (YAML::Node w = m.get("weight")) {
            if (auto s = r.string(w, "weight"); s && *s == "0")
                r.error(w, "weight 0 would never be chosen; remove the next-hop instead");
            else if (auto v = r.unsigned_in(w, "weight", 1, 65535))
                h.weight = std::uint32_t(*v);
        }
        if (YAML::Node d = m.get("deliver"))
            if (auto i = r.choice(d, "deliver", {"l2", "ipip"}))
                h.deliver = static_cast<Deliver>(*i);
        const YAML::Node addr = m.get("address");
        if (h.deliver == Deliver::ipip && !addr)
            r.error(item,
                    fmt::format("next-hop '{}' delivers by ipip and needs the server's address",
                                h.name));
        if (h.deliver == Deliver::l2 && addr)
            r.error(addr, "'address' applies to deliver: ipip only");
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

    void metrics(const YAML::Node& n) {
        if (!n) return;
        Map m(r, n, "metrics", {"listen", "reload"});
        if (YAML::Node l = m.get("listen"))
            if (auto s = r.string(l, "listen")) cfg.metrics.listen = *s;
        if (YAML::Node a = m.get("reload"))
            if (auto i = r.choice(a, "reload", {"loopback", "any", "off"}))
                cfg.metrics.reload = static_cast<ReloadAccess>(*i);
    }

    void capture(const YAML::Node& n) {
        if (!n) return;
        Map m(r, n, "capture", {"file", "what", "max_bytes"});
        if (!m.valid()) return;
        if (auto s = r.string(m.get("file", true), "capture file")) {
            if (s->empty()) r.error(m.get("file"), "capture file must name a file");
            cfg.capture.file = *s;
        }
        if (YAML::Node w = m.get("what"))
            if (auto i = r.choice(w, "what", {"drops", "all"}))
                cfg.capture.what = static_cast<CaptureWhat>(*i);
        if (YAML::Node b = m.get("max_bytes"))
            if (auto v = r.unsigned_in(b, "max_bytes", 4096, std::uint64_t(1) << 40))
                cfg.capture.max_bytes = *v;
    }
};

LoadResult load(const std::string& text, const std::string& name) {
    LoadResult out;
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        out.errors.push_back(ConfigError{Location{name, e.mark.line + 1, e.mark.column + 1},
                                         fmt::format("YAML syntax error: {}", e.msg)});
        return out;
    }
    Loader l{Reader(name, out.errors), {}, {}, out.errors, {}, {}};
    l.cfg.file = name;
    Map top(l.r, root, "the configuration",
            {"eal", "presets_dir", "ports", "lcores", "addresses", "groups", "metrics", "capture",
             "limits"});
    if (!top.valid()) return out;
    try {
        l.eal(top.get("eal"));
        l.presets_dir(top.get("presets_dir"));
        l.ports(top.get("ports", true));
        l.lcores(top.get("lcores", true));
        l.addresses(top.get("addresses"));
        l.groups(top.get("groups", true));
        l.metrics(top.get("metrics"));
        l.capture(top.get("capture"));
        l.limits(top.get("limits"));
    } catch (const YAML::Exception& e) {
        // yaml-cpp throws on a few shapes (e.g. a non-scalar key); report it where it happened.
        out.errors.push_back(
            ConfigError{Location{name, e.mark.line + 1, e.mark.column + 1}, e.msg});
        return out;
    }
    validate(l.cfg, l.r);
    if (out.errors.empty()) out.config = std::move(l.cfg);
    return out;
}

} // namespace

LoadResult load_config_text(const std::string& text, const std::string& name) {
    return load(text, name);
}

LoadResult load_config_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        LoadResult out;
        out.errors.push_back(ConfigError{Location{path, 0, 0}, "cannot open the file for reading"});
        return out;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return load(ss.str(), path);
}

} // namespace ptbsteer::config
