// Driver presets: drivers-config/NAME.yaml holds per-NIC and per-vdev port settings (descriptor
// counts, RSS hash types, TX offloads, devargs, promiscuous mode) that a port names with
// `preset: NAME`. The port's own keys override the preset; errors inside a preset file are
// reported at that file's own path:line:column.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "config/yaml_reader.h"

namespace ptbsteer::config {

// The presets shipped in drivers-config/ (a test checks this list against the folder).
inline constexpr std::array<std::string_view, 11> shipped_presets = {
    "ixgbe", "i40e", "ice", "mlx5", "virtio", "pcap", "af_packet", "af_xdp", "tap", "null", "ring"};

// Environment variable naming a presets directory (searched before the system directories).
inline constexpr const char* presets_dir_env = "PTBSTEER_PRESETS_DIR";

// The directories searched for NAME.yaml, in order. With `presets_dir` (the top-level key; a
// relative path is taken from the configuration file's directory) only that one; otherwise
// $PTBSTEER_PRESETS_DIR, /etc/ptbsteer/drivers-config, /usr/share/ptbsteer/drivers-config, then
// the drivers-config/ of the source tree this binary was built from (running from a build dir).
std::vector<std::string> preset_search_path(const std::string& presets_dir,
                                            const std::string& config_file);

// Settings a preset file or a port entry may give; what is unset leaves the port as it was.
struct PortSettings {
    std::optional<std::uint16_t> rx_desc;
    std::optional<std::uint16_t> tx_desc;
    std::optional<RssTypes> rss;
    std::optional<TxOffloads> tx_offloads;
    std::optional<bool> promiscuous;
    // key -> value, in file order; "{rx_queues}" in a value becomes the port's RX queue count.
    std::vector<std::pair<std::string, std::string>> devargs;
};

// The keys of a preset file, and the subset a port entry may override.
inline constexpr std::array<std::string_view, 6> preset_keys = {
    "rx_descriptors", "tx_descriptors", "rss", "tx_offloads", "devargs", "promiscuous"};
inline constexpr std::array<std::string_view, 4> port_override_keys = {
    "rx_descriptors", "tx_descriptors", "rss", "promiscuous"};

// Reads the settings keys present in `m` (the caller has checked that no other keys are there).
PortSettings read_settings(Reader& r, Map& m);

// Reads a preset file. Every problem is appended to `errors` at the file's own location.
std::optional<PortSettings> load_preset_file(const std::string& path,
                                             std::vector<ConfigError>& errors);

// Lays `s` over `p`. Devargs whose key the device string already carries are left out: what
// the operator wrote wins.
void apply_settings(const PortSettings& s, Port& p);

// The device's own devargs keys: "net_pcap0,rx_pcap=a,tx_pcap=b" -> {rx_pcap, tx_pcap}.
std::vector<std::string> devarg_keys(std::string_view device);

} // namespace ptbsteer::config
