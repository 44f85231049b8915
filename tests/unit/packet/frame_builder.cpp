#include "frame_builder.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace ptbsteer::test {
namespace {

void put16(Bytes& b, std::size_t at, std::uint16_t v) {
    b[at] = std::uint8_t(v >> 8);
    b[at + 1] = std::uint8_t(v);
}
void put32(Bytes& b, std::size_t at, std::uint32_t v) {
    put16(b, at, std::uint16_t(v >> 16));
    put16(b, at + 2, std::uint16_t(v));
}
void append(Bytes& b, const Bytes& more) {
    b.insert(b.end(), more.begin(), more.end());
}

Bytes addr_bytes(packet::Family f, const std::string& text) {
    const packet::IpAddr a = addr(text);
    return Bytes(a.b.begin(), a.b.begin() + (f == packet::Family::v4 ? 4 : 16));
}

// IPv6 extension headers; the last one's Next Header is `final_proto`.
Bytes ext_chain(const std::vector<ExtHeader>& ext, std::uint8_t final_proto) {
    Bytes out;
    for (std::size_t i = 0; i < ext.size(); ++i) {
        const ExtHeader& e = ext[i];
        Bytes h(e.length, 0);
        h[0] = i + 1 < ext.size() ? ext[i + 1].type : final_proto;
        if (e.type == 44) {
            put16(h, 2, e.frag_offset_flags);
            put32(h, 4, 0xabcd1234);
        } else if (e.type == 51) {
            h[1] = std::uint8_t(e.length / 4 - 2);
            put32(h, 4, 0x51515151);
        } else {
            h[1] = std::uint8_t(e.length / 8 - 1);
            if (e.length > 2) h[2] = 1, h[3] = std::uint8_t(e.length - 4); // one PadN option
        }
        append(out, h);
    }
    return out;
}

std::uint8_t first_type(const std::vector<ExtHeader>& ext, std::uint8_t proto) {
    return ext.empty() ? proto : ext.front().type;
}

// The whole quoted packet, untruncated.
Bytes inner_packet(const Inner& in, std::size_t* l4_offset) {
    Bytes l4(in.l4_len, 0);
    for (std::size_t i = 0; i < l4.size(); ++i)
        l4[i] = std::uint8_t(0xa0 + i);
    if (in.proto == 50 && l4.size() >= 4) {
        put32(l4, 0, in.spi);
    } else if (in.proto == 51 && l4.size() >= 8) {
        l4[0] = 6, l4[1] = 4; // next header TCP, 24 bytes
        put32(l4, 4, in.spi);
    } else if (l4.size() >= 4) {
        put16(l4, 0, in.sport);
        put16(l4, 2, in.dport);
    }
    Bytes p;
    if (in.family == packet::Family::v4) {
        const std::size_t ihl = 20 + in.v4_options;
        p.assign(ihl, 0);
        p[0] = std::uint8_t((in.version_override ? in.version_override : 4) << 4 |
                            (in.ihl_override ? in.ihl_override : ihl / 4));
        put16(p, 2, std::uint16_t(ihl + l4.size()));
        put16(p, 4, 0x1234);
        put16(p, 6, in.v4_frag);
        p[8] = 64;
        p[9] = in.proto;
        const Bytes s = addr_bytes(in.family, in.src), d = addr_bytes(in.family, in.dst);
        std::copy(s.begin(), s.end(), p.begin() + 12);
        std::copy(d.begin(), d.end(), p.begin() + 16);
        for (std::size_t i = 20; i < ihl; ++i)
            p[i] = 1; // NOP options
        put16(p, 10, internet_checksum(p.data(), ihl));
    } else {
        const Bytes ext = ext_chain(in.ext, in.proto);
        p.assign(40, 0);
        put32(p, 0,
              std::uint32_t(in.version_override ? in.version_override : 6) << 28 |
                  (in.flow_label & 0xfffff));
        put16(p, 4, std::uint16_t(ext.size() + l4.size()));
        p[6] = first_type(in.ext, in.proto);
        p[7] = 64;
        const Bytes s = addr_bytes(in.family, in.src), d = addr_bytes(in.family, in.dst);
        std::copy(s.begin(), s.end(), p.begin() + 8);
        std::copy(d.begin(), d.end(), p.begin() + 24);
        append(p, ext);
    }
    *l4_offset = p.size();
    append(p, l4);
    return p;
}

} // namespace

packet::IpAddr addr(const std::string& text) {
    packet::IpAddr a;
    const int af = text.find(':') != std::string::npos ? AF_INET6 : AF_INET;
    if (inet_pton(af, text.c_str(), a.b.data()) != 1) throw std::invalid_argument(text);
    return a;
}

std::uint16_t internet_checksum(const std::uint8_t* p, std::size_t n, std::uint32_t sum) {
    for (std::size_t i = 0; i + 1 < n; i += 2)
        sum += std::uint32_t(p[i] << 8 | p[i + 1]);
    if (n & 1) sum += std::uint32_t(p[n - 1] << 8);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return std::uint16_t(~sum);
}

Bytes build_ptb(const Outer& o, const Inner& in, std::size_t quote_len, Geometry* g) {
    Geometry geo;
    const bool v4 = o.family == packet::Family::v4;
    std::size_t inner_l4 = 0;
    Bytes quote = inner_packet(in, &inner_l4);
    geo.inner_full = quote.size();
    quote.resize(std::min(quote.size(), quote_len));

    Bytes icmp(8, 0);
    icmp[0] = o.icmp_type ? o.icmp_type : (v4 ? 3 : 2);
    icmp[1] = o.icmp_code != 0xff ? o.icmp_code : (v4 ? 4 : 0);
    if (v4)
        put16(icmp, 6, std::uint16_t(o.mtu));
    else
        put32(icmp, 4, o.mtu);
    append(icmp, quote);

    Bytes frame(12, 0);
    const std::uint8_t dmac[6] = {0x02, 0, 0, 0, 0, 0x01}, smac[6] = {0x02, 0, 0, 0, 0, 0x02};
    std::copy(dmac, dmac + 6, frame.begin());
    std::copy(smac, smac + 6, frame.begin() + 6);
    for (auto [tpid, tci] : o.vlans) {
        frame.push_back(std::uint8_t(tpid >> 8)), frame.push_back(std::uint8_t(tpid));
        frame.push_back(std::uint8_t(tci >> 8)), frame.push_back(std::uint8_t(tci));
    }
    const std::uint16_t et = v4 ? 0x0800 : 0x86dd;
    frame.push_back(std::uint8_t(et >> 8)), frame.push_back(std::uint8_t(et));
    geo.l3 = frame.size();

    const Bytes s = addr_bytes(o.family, o.src), d = addr_bytes(o.family, o.dst);
    Bytes ip;
    if (v4) {
        const std::size_t ihl = 20 + o.v4_options;
        ip.assign(ihl, 0);
        ip[0] = std::uint8_t((o.version_override ? o.version_override : 4) << 4 |
                             (o.ihl_override ? o.ihl_override : ihl / 4));
        put16(ip, 2, std::uint16_t(std::int32_t(ihl + icmp.size()) + o.length_adjust));
        put16(ip, 6, o.v4_frag);
        ip[8] = 255;
        ip[9] = o.ip_proto_override ? o.ip_proto_override : 1;
        std::copy(s.begin(), s.end(), ip.begin() + 12);
        std::copy(d.begin(), d.end(), ip.begin() + 16);
        for (std::size_t i = 20; i < ihl; ++i)
            ip[i] = 1;
        put16(ip, 10, internet_checksum(ip.data(), ihl));
        put16(icmp, 2, internet_checksum(icmp.data(), icmp.size()));
    } else {
        const std::uint8_t proto = o.ip_proto_override ? o.ip_proto_override : 58;
        const Bytes ext = ext_chain(o.ext, proto);
        ip.assign(40, 0);
        put32(ip, 0, std::uint32_t(o.version_override ? o.version_override : 6) << 28);
        put16(ip, 4, std::uint16_t(std::int32_t(ext.size() + icmp.size()) + o.length_adjust));
        ip[6] = first_type(o.ext, proto);
        ip[7] = 255;
        std::copy(s.begin(), s.end(), ip.begin() + 8);
        std::copy(d.begin(), d.end(), ip.begin() + 24);
        // ICMPv6 checksum over the pseudo-header (RFC 4443 §2.3, RFC 8200 §8.1).
        std::uint32_t sum = 0;
        for (std::size_t i = 0; i < 32; i += 2)
            sum += std::uint32_t(ip[8 + i] << 8 | ip[9 + i]);
        sum += std::uint32_t(icmp.size()) + 58;
        put16(icmp, 2, internet_checksum(icmp.data(), icmp.size(), sum));
        append(ip, ext);
    }
    append(frame, ip);
    geo.icmp = frame.size();
    geo.quote = geo.icmp + 8;
    geo.inner_l4 = geo.quote + inner_l4;
    append(frame, icmp);
    frame.resize(frame.size() + o.eth_padding, 0);
    geo.frame_len = frame.size();
    if (g) *g = geo;
    return frame;
}

Bytes arp_frame(unsigned op, const std::array<std::uint8_t, 6>& sender, const char* sender_ip,
                const char* target_ip) {
    Bytes f = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    f.insert(f.end(), sender.begin(), sender.end());
    f.insert(f.end(), {0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, std::uint8_t(op)});
    f.insert(f.end(), sender.begin(), sender.end());
    const auto s = addr(sender_ip), t = addr(target_ip);
    f.insert(f.end(), s.b.begin(), s.b.begin() + 4);
    f.insert(f.end(), 6, 0);
    f.insert(f.end(), t.b.begin(), t.b.begin() + 4);
    f.resize(60, 0);
    return f;
}

void set_icmpv6_checksum(Bytes& f) {
    constexpr std::size_t ip = 14, icmp = ip + 40;
    const std::size_t plen = std::size_t(f[ip + 4]) << 8 | f[ip + 5];
    std::uint32_t sum = 58 + std::uint32_t(plen);  // next header and upper-layer length
    for (std::size_t i = ip + 8; i < icmp; i += 2) // the two addresses
        sum += std::uint32_t(f[i] << 8 | f[i + 1]);
    f[icmp + 2] = f[icmp + 3] = 0;
    const std::uint16_t c = internet_checksum(f.data() + icmp, plen, sum);
    f[icmp + 2] = std::uint8_t(c >> 8);
    f[icmp + 3] = std::uint8_t(c);
}

} // namespace ptbsteer::test
