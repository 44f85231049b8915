#include "config/restart_diff.h"

#include <tuple>

#include <fmt/format.h>

namespace ptbsteer::config {
namespace {

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const std::string& x : v)
        s += (s.empty() ? "" : " ") + x;
    return s;
}

std::string rx_text(const Config& c, const Lcore& l) {
    std::string s;
    for (const RxQueueRef& q : l.rx)
        s += fmt::format("{}{}:{}", s.empty() ? "" : ", ", c.ports.at(q.port).name, q.queue);
    return "[" + s + "]";
}

// A changed value, quoted when it is text.
template <typename T>
void changed(std::vector<std::string>& out, const std::string& what, const T& from, const T& to) {
    if (from == to) return;
    if constexpr (std::is_convertible_v<T, std::string>)
        out.push_back(fmt::format("{} changed from '{}' to '{}'", what, from, to));
    else
        out.push_back(fmt::format("{} changed from {} to {}", what, from, to));
}

// Everything start_ports() (lib/control/ports.cpp) configured a device with. The preset's
// values are compared resolved, so an edited preset file counts as well.
void port_changes(const Port& a, const Port& b, std::vector<std::string>& out) {
    const std::string p = fmt::format("port '{}'", a.name);
    changed(out, p + ": device", a.device, b.device);
    changed(out, p + ": rx_queues", a.rx_queues, b.rx_queues);
    changed(out, p + ": tx_queues", a.tx_queues, b.tx_queues);
    changed(out, p + ": preset", a.preset, b.preset);
    changed(out, p + ": rx_descriptors", a.rx_desc, b.rx_desc);
    changed(out, p + ": tx_descriptors", a.tx_desc, b.tx_desc);
    if (a.rss != b.rss) out.push_back(p + ": rss types changed");
    if (a.tx_offloads != b.tx_offloads) out.push_back(p + ": tx_offloads changed");
    changed(out, p + ": promiscuous", a.promiscuous, b.promiscuous);
}

void ports(const Config& a, const Config& b, std::vector<std::string>& out) {
    if (a.ports.size() != b.ports.size()) {
        out.push_back(
            fmt::format("ports: {} port(s) instead of {}", b.ports.size(), a.ports.size()));
        return;
    }
    for (std::size_t i = 0; i < a.ports.size(); ++i) {
        if (a.ports[i].name != b.ports[i].name) {
            out.push_back(fmt::format("ports: port {} is named '{}' instead of '{}'", i + 1,
                                      b.ports[i].name, a.ports[i].name));
            continue;
        }
        port_changes(a.ports[i], b.ports[i], out);
    }
}

void lcores(const Config& a, const Config& b, std::vector<std::string>& out) {
    if (a.lcores.size() != b.lcores.size()) {
        out.push_back(
            fmt::format("lcores: {} lcore(s) instead of {}", b.lcores.size(), a.lcores.size()));
        return;
    }
    for (std::size_t i = 0; i < a.lcores.size(); ++i) {
        const Lcore& x = a.lcores[i];
        const Lcore& y = b.lcores[i];
        if (x.id != y.id) {
            out.push_back(
                fmt::format("lcores: entry {} is lcore {} instead of {}", i + 1, y.id, x.id));
            continue;
        }
        changed(out, fmt::format("lcore {}: rx", x.id), rx_text(a, x), rx_text(b, y));
        changed(out, fmt::format("lcore {}: tx", x.id), x.tx, y.tx);
    }
}

void others(const Config& a, const Config& b, std::vector<std::string>& out) {
    changed(out, "eal", join(a.eal), join(b.eal));
    changed(out, "presets_dir", a.presets_dir, b.presets_dir);
    changed(out, "metrics.listen", a.metrics.listen, b.metrics.listen);
    changed(out, "metrics.reload", std::string(name(a.metrics.reload)),
            std::string(name(b.metrics.reload)));
    changed(out, "control", std::string(a.control.enabled ? "on" : "off"),
            std::string(b.control.enabled ? "on" : "off"));
    changed(out, "control.listen", a.control.listen, b.control.listen);
    changed(out, "control.token_file", a.control.token_file, b.control.token_file);
    changed(out, "control.capture_dir", a.control.capture_dir, b.control.capture_dir);
    changed(out, "capture.file", a.capture.file, b.capture.file);
    changed(out, "capture.what", std::string(name(a.capture.what)),
            std::string(name(b.capture.what)));
    changed(out, "capture.max_bytes", a.capture.max_bytes, b.capture.max_bytes);
    // The per-router counters are numbered by the routers' places (datapath/router.h).
    auto routers = [](const Config& c) {
        std::string s;
        for (const Router& r : c.routers)
            s += fmt::format("{}{}={}:{}", s.empty() ? "" : ", ", r.name, int(r.match),
                             r.match == RouterMatch::mac
                                 ? fmt::format("{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}", r.mac[0],
                                               r.mac[1], r.mac[2], r.mac[3], r.mac[4], r.mac[5])
                             : r.match == RouterMatch::port ? std::to_string(r.port)
                                                            : std::to_string(r.vlan));
        return s;
    };
    changed(out, "routers", routers(a), routers(b));
}

auto hash_key(const HashConfig& h) {
    return std::tie(h.kind, h.linux_params.seed, h.linux_params.policy, h.linux_params.fields,
                    h.toeplitz.key, h.toeplitz.fields, h.crc32c.seed, h.crc32c.fields);
}

} // namespace

std::vector<std::string> restart_only_changes(const Config& running, const Config& next) {
    std::vector<std::string> out;
    others(running, next, out);
    ports(running, next, out);
    // Lcores name ports by index: compare them only when the ports line up.
    if (running.ports.size() == next.ports.size()) lcores(running, next, out);
    return out;
}

bool same_group(const Group& a, const Group& b) {
    auto hop = [](const NextHop& h) {
        return std::tie(h.name, h.port, h.mac, h.via, h.via_family, h.vlan, h.weight,
                        h.neighbour_valid, h.deliver, h.tunnel_dst, h.tunnel_family);
    };
    auto checks = [](const guard::ValidationPolicy& v) {
        return std::tie(v.v4_floor, v.ceiling, v.verify_checksum);
    };
    if (a.name != b.name || a.router != b.router || a.unknown_router != b.unknown_router ||
        a.derived != b.derived || a.prefixes != b.prefixes ||
        hash_key(a.hash) != hash_key(b.hash) || a.select != b.select || a.buckets != b.buckets ||
        a.mode != b.mode || a.fallback != b.fallback ||
        checks(a.validation) != checks(b.validation) || a.transition != b.transition ||
        a.transition_copies != b.transition_copies || a.next_hops.size() != b.next_hops.size())
        return false;
    for (std::size_t i = 0; i < a.next_hops.size(); ++i)
        if (hop(a.next_hops[i]) != hop(b.next_hops[i])) return false;
    return true;
}

bool same_hash(const HashConfig& a, const HashConfig& b) {
    return hash_key(a) == hash_key(b);
}

bool same_owners(const Group& a, const Group& b) {
    if (hash_key(a.hash) != hash_key(b.hash) || a.select != b.select || a.buckets != b.buckets ||
        a.mode != b.mode || a.next_hops.size() != b.next_hops.size())
        return false;
    for (std::size_t i = 0; i < a.next_hops.size(); ++i)
        if (a.next_hops[i].name != b.next_hops[i].name ||
            a.next_hops[i].weight != b.next_hops[i].weight ||
            a.next_hops[i].neighbour_valid != b.next_hops[i].neighbour_valid)
            return false;
    return true;
}

} // namespace ptbsteer::config
