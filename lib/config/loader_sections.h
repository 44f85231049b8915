// Private to lib/config's loader files: the Loader, which reads a configuration's YAML section by
// section into a Config. load() (loader.cpp) drives it; each section is read in the file named
// beside it. Not for use outside lib/config.
#pragma once

#include <yaml-cpp/yaml.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/presets.h"
#include "config/yaml_reader.h"

namespace ptbsteer::config::detail {

struct Loader {
    Reader r;
    Config cfg;
    std::map<std::string, std::size_t> port_index;
    std::vector<ConfigError>& errors;
    std::vector<std::string> preset_dirs;
    // Each preset file is read once however many ports name it (and its errors reported once).
    std::map<std::string, std::optional<PortSettings>> preset_cache;
    // read_group(): next-hops already read, by position (GroupDoc::known_hops); else null.
    const std::vector<std::optional<NextHop>>* known_hops = nullptr;

    // loader_ports.cpp: eal, presets_dir, ports, lcores, addresses.
    void presets_dir(const Node& n);
    std::optional<PortSettings> preset(const Node& node, Port& p);
    void missing_preset(const Node& node, const std::string& name);
    std::optional<std::size_t> port_ref(const Node& n, std::string_view what);
    void eal(const Node& n);
    void ports(const Node& n);
    static bool looks_like_pci(std::string_view s);
    void lcores(const Node& n);
    std::optional<RxQueueRef> rx_queue(const Node& n);
    void addresses(const Node& n);
    std::optional<Prefix> own_address(const Node& n, packet::Family want);

    // loader_routers.cpp: routers.
    void routers(const Node& n);

    // loader_groups.cpp: groups, with their hash models, next-hops and PTB checks.
    void groups(const Node& n);
    void group(const Node& item);
    void validation(const Node& n, guard::ValidationPolicy& v);
    void buckets(const Node& n, const Node& group, Group& g);
    void hash(const Node& n, HashConfig& h);
    std::optional<std::uint32_t> hash_fields(const Node& n);
    void toeplitz_key(const Node& n, std::array<std::uint8_t, 40>& key);
    void next_hop(const Node& item, Group& g);

    // loader_options.cpp: limits, metrics, control, capture.
    void limits(const Node& n);
    void rate_limit(const Node& n, std::string_view what, RateLimit& out);
    void neighbors(const Node& n);
    void simd(const Node& n);
    void metrics(const Node& n);
    void control(const Node& n);
    void capture(const Node& n);
};

} // namespace ptbsteer::config::detail
