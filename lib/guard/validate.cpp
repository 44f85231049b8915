#include "guard/validate.h"

#include <cstring>

namespace ptbsteer::guard {
namespace {

// 16-bit one's-complement sum (RFC 1071 §4.1), folded, not inverted.
std::uint32_t sum_words(const std::uint8_t* p, std::size_t n, std::uint32_t sum) {
    for (; n >= 2; p += 2, n -= 2) sum += std::uint32_t(p[0] << 8 | p[1]);
    if (n) sum += std::uint32_t(p[0] << 8);
    return sum;
}

std::uint16_t fold(std::uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return std::uint16_t(sum);
}

bool ipv4_header_ok(const packet::PtbInfo& p, std::span<const std::uint8_t> f) {
    const std::uint8_t* ip = f.data() + p.l3_offset;
    const std::size_t ihl = std::size_t(ip[0] & 0x0f) * 4;
    return fold(sum_words(ip, ihl, 0)) == 0xffff;
}

} // namespace

bool icmp_checksum_ok(const packet::PtbInfo& p, std::span<const std::uint8_t> f) noexcept {
    const std::uint8_t* icmp = f.data() + p.icmp_offset;
    std::uint32_t sum = 0;
    if (p.family == packet::Family::v6) {
        // Pseudo-header (RFC 8200 §8.1): addresses, upper-layer length, next header 58.
        sum = sum_words(p.outer_src.b.data(), 16, sum);
        sum = sum_words(p.outer_dst.b.data(), 16, sum);
        sum += p.icmp_len;
        sum += 58;
    }
    return fold(sum_words(icmp, p.icmp_len, sum)) == 0xffff;
}

Check validate(const packet::PtbInfo& p, std::span<const std::uint8_t> frame,
               const ValidationPolicy& policy) noexcept {
    const bool v4 = p.family == packet::Family::v4;
    if (v4 && p.mtu == 0) return Check::mtu_unspecified;
    if (p.mtu < (v4 ? policy.v4_floor : ValidationPolicy::v6_floor)) return Check::mtu_below_floor;
    if (p.mtu > policy.ceiling) return Check::mtu_above_ceiling;
    // A router sends a PTB because the packet did not fit: its own length exceeds the MTU.
    if (p.mtu >= p.inner_total_len) return Check::mtu_not_smaller;
    // ICMP errors go to the source of the packet that caused them (RFC 792, RFC 4443 §2.4).
    if (!(p.outer_dst == p.inner.src)) return Check::dst_not_quoted_source;
    if (policy.verify_checksum) {
        if (v4 && !ipv4_header_ok(p, frame)) return Check::bad_checksum;
        if (!icmp_checksum_ok(p, frame)) return Check::bad_checksum;
    }
    return Check::ok;
}

} // namespace ptbsteer::guard
