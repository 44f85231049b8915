#include "packet/format.h"

#include <arpa/inet.h>

#include <fmt/format.h>

namespace ptbsteer::packet {

std::string to_string(Family f) {
    return f == Family::v4 ? "IPv4" : "IPv6";
}

std::string to_string(const IpAddr& a, Family f) {
    char buf[INET6_ADDRSTRLEN];
    const int af = f == Family::v4 ? AF_INET : AF_INET6;
    return inet_ntop(af, a.b.data(), buf, sizeof buf) ? std::string(buf) : std::string("?");
}

std::string mac_text(const std::array<std::uint8_t, 6>& m) {
    return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4],
                       m[5]);
}

std::string to_string(L4 l4) {
    switch (l4) {
    case L4::ports: return "ports";
    case L4::spi: return "spi";
    case L4::portless: return "portless";
    case L4::truncated: return "truncated";
    case L4::unknown: return "unknown";
    }
    return "?";
}

std::string protocol_name(std::uint8_t proto) {
    switch (proto) {
    case 1: return "icmp";
    case 6: return "tcp";
    case 17: return "udp";
    case 33: return "dccp";
    case 47: return "gre";
    case 50: return "esp";
    case 51: return "ah";
    case 58: return "icmpv6";
    case 132: return "sctp";
    case 136: return "udplite";
    default: return fmt::format("proto {}", proto);
    }
}

std::string to_string(const FlowKey& k) {
    const std::string src = to_string(k.src, k.family);
    const std::string dst = to_string(k.dst, k.family);
    const bool v6 = k.family == Family::v6;
    auto endpoint = [v6](const std::string& addr, std::uint16_t port) {
        return v6 ? fmt::format("[{}]:{}", addr, port) : fmt::format("{}:{}", addr, port);
    };
    std::string s;
    switch (k.l4) {
    case L4::ports:
        s = fmt::format("{} {} -> {}", protocol_name(k.proto), endpoint(src, k.sport),
                        endpoint(dst, k.dport));
        break;
    case L4::spi:
        s = fmt::format("{} {} -> {} spi 0x{:08x}", protocol_name(k.proto), src, dst,
                        std::uint32_t(k.sport) << 16 | k.dport);
        break;
    case L4::portless: s = fmt::format("{} {} -> {}", protocol_name(k.proto), src, dst); break;
    case L4::truncated:
        s = fmt::format("{} {} -> {} (no ports: quote truncated)", protocol_name(k.proto), src,
                        dst);
        break;
    case L4::unknown:
        s = fmt::format("{} {} -> {} (ports unknowable)", protocol_name(k.proto), src, dst);
        break;
    }
    if (v6 && k.flow_label != 0) s += fmt::format(" label 0x{:05x}", k.flow_label);
    return s;
}

} // namespace ptbsteer::packet
