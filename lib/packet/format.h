// Human-readable forms of parser types, for logs, the decoder and test failure messages.
// Not for the fast path: these allocate.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "packet/flow_key.h"
#include "packet/ptb_info.h"

namespace ptbsteer::packet {

std::string to_string(Family f);
std::string to_string(const IpAddr& a, Family f);
// "02:00:5e:00:00:01": the six bytes of an Ethernet address, as the configuration spells them.
std::string mac_text(const std::array<std::uint8_t, 6>& mac);
// fe80::/10 (RFC 4291 §2.5.6): resolved on the link, from a link-local source.
inline bool is_link_local(const IpAddr& a, Family f) {
    return f == Family::v6 && a.b[0] == 0xfe && (a.b[1] & 0xc0) == 0x80;
}
std::string to_string(L4 l4);
// "tcp 192.0.2.1:40000 -> 198.51.100.7:80", "esp 2001:db8::1 -> 2001:db8::2 spi 0x1234",
// "udp 192.0.2.1 -> 198.51.100.7 (no ports: quote truncated)"
std::string to_string(const FlowKey& k);
std::string protocol_name(std::uint8_t proto);

} // namespace ptbsteer::packet
