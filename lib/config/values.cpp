#include "config/values.h"

#include <arpa/inet.h>

#include <charconv>
#include <string>

#include <fmt/format.h>

namespace ptbsteer::config {

std::optional<MacAddr> parse_mac(std::string_view text) {
    MacAddr mac{};
    if (text.size() != 17) return std::nullopt;
    for (std::size_t i = 0; i < 6; ++i) {
        const char* p = text.data() + i * 3;
        if (i < 5 && p[2] != ':' && p[2] != '-') return std::nullopt;
        unsigned v = 0;
        auto [end, ec] = std::from_chars(p, p + 2, v, 16);
        if (ec != std::errc() || end != p + 2) return std::nullopt;
        mac[i] = std::uint8_t(v);
    }
    return mac;
}

std::optional<packet::IpAddr> parse_ip(std::string_view text, packet::Family& family) {
    packet::IpAddr a;
    const std::string s(text);
    if (inet_pton(AF_INET, s.c_str(), a.b.data()) == 1) {
        family = packet::Family::v4;
        return a;
    }
    if (inet_pton(AF_INET6, s.c_str(), a.b.data()) == 1) {
        family = packet::Family::v6;
        return a;
    }
    return std::nullopt;
}

std::optional<Prefix> parse_prefix(std::string_view text, bool* host_bits) {
    const std::size_t slash = text.find('/');
    Prefix p;
    const auto addr = parse_ip(text.substr(0, slash), p.family);
    if (!addr) return std::nullopt;
    const unsigned max = p.family == packet::Family::v4 ? 32 : 128;
    unsigned len = max;
    if (slash != std::string_view::npos) {
        const std::string_view l = text.substr(slash + 1);
        auto [end, ec] = std::from_chars(l.data(), l.data() + l.size(), len);
        if (ec != std::errc() || end != l.data() + l.size() || l.empty() || len > max)
            return std::nullopt;
    }
    p.length = std::uint8_t(len);
    p.addr = *addr;
    bool dirty = false;
    for (unsigned bit = len; bit < max; ++bit) {
        std::uint8_t& byte = p.addr.b[bit / 8];
        const std::uint8_t mask = std::uint8_t(0x80 >> (bit % 8));
        if (byte & mask) dirty = true;
        byte &= std::uint8_t(~mask);
    }
    if (host_bits) *host_bits = dirty;
    return p;
}

bool contains(const Prefix& outer, const Prefix& inner) {
    if (outer.family != inner.family || outer.length > inner.length) return false;
    for (unsigned bit = 0; bit < outer.length; ++bit) {
        const std::uint8_t mask = std::uint8_t(0x80 >> (bit % 8));
        if ((outer.addr.b[bit / 8] & mask) != (inner.addr.b[bit / 8] & mask)) return false;
    }
    return true;
}

std::string to_string(const Prefix& p) {
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(p.family == packet::Family::v4 ? AF_INET : AF_INET6, p.addr.b.data(), buf,
              sizeof buf);
    return fmt::format("{}/{}", buf, p.length);
}

std::string to_string(const ConfigError& e) {
    return fmt::format("{}:{}:{}: {}", e.where.file, e.where.line, e.where.column, e.message);
}

} // namespace ptbsteer::config
