#include "guard/validate.h"


#include "guard/ones_sum.h"

namespace ptbsteer::guard {
namespace {

// RFC 1071: a correct checksum makes the folded sum all ones (0xffff reads the same in either
// byte order, so the native-order sum of ones_sum() can be compared directly).
bool sums_to_all_ones(std::uint64_t sum) { return ones_fold(sum) == 0xffff; }

bool ipv4_header_ok(const packet::PtbInfo& p, std::span<const std::uint8_t> f) {
    const std::uint8_t* ip = f.data() + p.l3_offset;
    const std::size_t ihl = std::size_t(ip[0] & 0x0f) * 4;
    return sums_to_all_ones(detail::ones_sum_scalar(ip, ihl, 0)); // 20..60 bytes: inline
}

} // namespace

bool icmp_checksum_ok(const packet::PtbInfo& p, std::span<const std::uint8_t> f) noexcept {
    const std::uint8_t* icmp = f.data() + p.icmp_offset;
    std::uint64_t sum = 0;
    if (p.family == packet::Family::v6) {
        // Pseudo-header (RFC 8200 §8.1): addresses, upper-layer length, next header 58.
        // The two addresses sit side by side in the IPv6 header (RFC 8200 §3): one 32-byte sum.
        sum = detail::ones_sum_scalar(f.data() + p.l3_offset + 8, 32, sum);
        sum += ones_word(p.icmp_len);
        sum += ones_word(58);
    }
    return sums_to_all_ones(ones_sum(icmp, p.icmp_len, sum));
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
