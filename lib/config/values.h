// Text forms of the values a configuration holds: MAC addresses, IP addresses and prefixes.
// Each returns nullopt on malformed input; the caller words the error.
#pragma once

#include <optional>
#include <string_view>

#include "config/config.h"

namespace ptbsteer::config {

std::optional<MacAddr> parse_mac(std::string_view text); // "02:00:5e:10:00:01"
std::optional<packet::IpAddr> parse_ip(std::string_view text, packet::Family& family);
// "198.51.100.0/24", "2001:db8::/32"; a bare address is a host prefix. `host_bits` reports
// whether bits beyond the length were set (an error for served prefixes, normal for addresses).
std::optional<Prefix> parse_prefix(std::string_view text, bool* host_bits = nullptr);

} // namespace ptbsteer::config
