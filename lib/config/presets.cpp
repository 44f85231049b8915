#include "config/presets.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace ptbsteer::config {

const std::array<std::string_view, rss_type_count> rss_type_names = {"ipv4",
                                                                     "frag-ipv4",
                                                                     "nonfrag-ipv4-tcp",
                                                                     "nonfrag-ipv4-udp",
                                                                     "nonfrag-ipv4-sctp",
                                                                     "nonfrag-ipv4-other",
                                                                     "ipv6",
                                                                     "frag-ipv6",
                                                                     "nonfrag-ipv6-tcp",
                                                                     "nonfrag-ipv6-udp",
                                                                     "nonfrag-ipv6-sctp",
                                                                     "nonfrag-ipv6-other",
                                                                     "l2-payload",
                                                                     "ipv6-ex",
                                                                     "ipv6-tcp-ex",
                                                                     "ipv6-udp-ex"};

namespace {

namespace fs = std::filesystem;

// Descriptor counts outside this range are mistakes; inside it the device's own limits and
// alignment apply (rte_eth_dev_adjust_nb_rx_tx_desc rounds to them at start-up).
constexpr std::uint64_t min_descriptors = 32;
constexpr std::uint64_t max_descriptors = 32768;

std::optional<std::uint16_t> descriptors(Reader& r, const Node& n, std::string_view what) {
    if (!n) return std::nullopt;
    const auto v = r.unsigned_in(n, what, min_descriptors, max_descriptors);
    return v ? std::optional<std::uint16_t>(std::uint16_t(*v)) : std::nullopt;
}

// A list of RSS type names; "ip" stands for the set DPDK calls RTE_ETH_RSS_IP.
std::optional<RssTypes> rss_types(Reader& r, const Node& n) {
    if (!n) return std::nullopt;
    const auto items = r.list(n, "rss");
    if (!items) return std::nullopt;
    std::array<std::string_view, rss_type_count + 1> choices{};
    for (std::size_t i = 0; i < rss_type_count; ++i)
        choices[i] = rss_type_names[i];
    choices[rss_type_count] = "ip";
    RssTypes set = 0;
    bool ok = true;
    for (const Node& item : *items) {
        const auto i = r.choice(item, "an rss hash type", choices);
        if (!i) {
            ok = false;
            continue;
        }
        set |= *i == rss_type_count ? rss_ip : rss_bit(RssType(*i));
    }
    return ok ? std::optional<RssTypes>(set) : std::nullopt;
}

std::optional<TxOffloads> tx_offloads(Reader& r, const Node& n) {
    if (!n) return std::nullopt;
    const auto items = r.list(n, "tx_offloads");
    if (!items) return std::nullopt;
    TxOffloads set = 0;
    for (const Node& item : *items)
        if (auto i = r.choice(item, "a tx offload", tx_offload_names))
            set |= tx_offload_bit(TxOffload(*i));
    return set;
}

bool plain_token(std::string_view s, std::string_view extra) {
    if (s.empty()) return false;
    for (char c : s)
        if (!std::isalnum(static_cast<unsigned char>(c)) && extra.find(c) == std::string_view::npos)
            return false;
    return true;
}

// devargs: a mapping of key to value, appended to the device string as ",key=value".
std::vector<std::pair<std::string, std::string>> devargs(Reader& r, const Node& n) {
    std::vector<std::pair<std::string, std::string>> out;
    if (!n) return out;
    if (!n.IsMap()) {
        r.error(n, "devargs must be a mapping of driver option to value (qpairs: 2)");
        return out;
    }
    for (const Node::Entry& kv : n.entries()) {
        const std::string& key = kv.key;
        if (!plain_token(key, "_-")) {
            r.error(kv.key_node,
                    fmt::format("devargs key '{}' must be letters, digits, '_' or '-'", key));
            continue;
        }
        const auto value = r.string(kv.value, "a devargs value");
        if (!value) continue;
        // ',' separates devargs and '=' separates key from value in an EAL device string.
        if (value->empty() || value->find_first_of(",= ") != std::string::npos) {
            r.error(kv.value,
                    fmt::format("devargs value '{}' must be non-empty, without ',', '=' or "
                                "spaces",
                                *value));
            continue;
        }
        out.emplace_back(key, *value);
    }
    return out;
}

std::string substitute(std::string value, const Port& p) {
    const std::string_view var = "{rx_queues}";
    for (std::size_t at; (at = value.find(var)) != std::string::npos;)
        value.replace(at, var.size(), std::to_string(p.rx_queues));
    return value;
}

} // namespace

std::vector<std::string> preset_search_path(const std::string& presets_dir,
                                            const std::string& config_file) {
    if (!presets_dir.empty()) {
        fs::path dir(presets_dir);
        if (dir.is_relative()) dir = fs::path(config_file).parent_path() / dir;
        return {dir.lexically_normal().string()};
    }
    std::vector<std::string> dirs;
    if (const char* env = std::getenv(presets_dir_env); env && *env) dirs.emplace_back(env);
    dirs.emplace_back("/etc/ptbsteer/drivers-config");
    dirs.emplace_back("/usr/share/ptbsteer/drivers-config");
#ifdef PTBSTEER_SOURCE_PRESETS_DIR
    dirs.emplace_back(PTBSTEER_SOURCE_PRESETS_DIR);
#endif
    return dirs;
}

PortSettings read_settings(Reader& r, Map& m) {
    PortSettings s;
    s.rx_desc = descriptors(r, m.get("rx_descriptors"), "rx_descriptors");
    s.tx_desc = descriptors(r, m.get("tx_descriptors"), "tx_descriptors");
    s.rss = rss_types(r, m.get("rss"));
    s.tx_offloads = tx_offloads(r, m.get("tx_offloads"));
    if (Node n = m.get("promiscuous")) s.promiscuous = r.boolean(n, "promiscuous");
    s.devargs = devargs(r, m.get("devargs"));
    return s;
}

std::optional<PortSettings> load_preset_file(const std::string& path,
                                             std::vector<ConfigError>& errors) {
    std::ifstream in(path);
    if (!in) {
        errors.push_back(
            ConfigError{Location{path, 0, 0}, "cannot open the preset file for reading"});
        return std::nullopt;
    }
    std::ostringstream text;
    text << in.rdbuf();
    const std::size_t before = errors.size();
    Reader r(path, errors);
    PortSettings s;
    try {
        const Node root(YAML::Load(text.str()));
        Map m(r, root, "a preset", preset_keys);
        if (m.valid()) s = read_settings(r, m);
    } catch (const YAML::Exception& e) {
        errors.push_back(ConfigError{Location{path, e.mark.line + 1, e.mark.column + 1},
                                     fmt::format("YAML syntax error: {}", e.msg)});
    }
    if (errors.size() != before) return std::nullopt;
    return s;
}

std::vector<std::string> devarg_keys(std::string_view device) {
    std::vector<std::string> keys;
    std::size_t at = device.find(',');
    while (at != std::string_view::npos) {
        const std::size_t next = device.find(',', at + 1);
        const std::string_view item =
            device.substr(at + 1, next == std::string_view::npos ? next : next - at - 1);
        keys.emplace_back(item.substr(0, item.find('=')));
        at = next;
    }
    return keys;
}

void apply_settings(const PortSettings& s, Port& p) {
    if (s.rx_desc) p.rx_desc = *s.rx_desc;
    if (s.tx_desc) p.tx_desc = *s.tx_desc;
    if (s.rss) p.rss = *s.rss;
    if (s.tx_offloads) {
        p.tx_offloads = *s.tx_offloads;
        p.tx_offloads_explicit = true;
    }
    if (s.promiscuous) p.promiscuous = *s.promiscuous;
    const std::vector<std::string> given = devarg_keys(p.device);
    for (const auto& [key, value] : s.devargs) {
        bool present = false;
        for (const std::string& g : given)
            present |= g == key;
        if (!present) p.device += fmt::format(",{}={}", key, substitute(value, p));
    }
}

} // namespace ptbsteer::config
