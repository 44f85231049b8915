// Checks that a parsed PTB is believable before it reaches a server (RFC 5927 §4, RFC 7690 §7:
// a forged PTB can shrink a connection's MTU or churn route caches). Pure: bytes and PtbInfo in,
// a verdict out; the policy is resolved from the configuration once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "guard/ones_sum.h"
#include "packet/ptb_info.h"

namespace ptbsteer::guard {

// X(name, one-line meaning). Names are drop-reason labels.
#define PTBSTEER_VALIDATION_DROPS(X)                                                               \
    X(mtu_unspecified, "IPv4 PTB with MTU 0 (a pre-RFC 1191 router): nothing to learn from it")    \
    X(mtu_below_floor, "advertised MTU below the family's floor (IPv6: 1280, RFC 8200 §5)")        \
    X(mtu_above_ceiling, "advertised MTU above the configured ceiling")                            \
    X(mtu_not_smaller,                                                                             \
      "advertised MTU not smaller than the quoted packet: it fit, the PTB is bogus")               \
    X(bad_checksum, "ICMP/ICMPv6 checksum (or the outer IPv4 header checksum) is wrong")           \
    X(dst_not_quoted_source,                                                                       \
      "the PTB is not addressed to the quoted packet's source (RFC 792/4443)")

enum class Check : std::uint8_t {
    ok,
#define PTBSTEER_X(n, text) n,
    PTBSTEER_VALIDATION_DROPS(PTBSTEER_X)
#undef PTBSTEER_X
        count_
};
inline constexpr std::size_t check_count = static_cast<std::size_t>(Check::count_);

constexpr std::string_view name(Check c) {
    constexpr std::string_view names[check_count] = {"ok",
#define PTBSTEER_X(n, text) #n,
                                                     PTBSTEER_VALIDATION_DROPS(PTBSTEER_X)
#undef PTBSTEER_X
    };
    return static_cast<std::size_t>(c) < check_count ? names[static_cast<std::size_t>(c)] : "?";
}

struct ValidationPolicy {
    // Linux never lowers an IPv4 PMTU below net.ipv4.route.min_pmtu (552 by default), so a PTB
    // below it cannot help and is the classic "tiny MTU" attack (RFC 5927 §7.1).
    std::uint32_t v4_floor = 552;
    // IPv6 links have at least 1280 (RFC 8200 §5); RFC 8201 §4 forbids going lower. Fixed.
    static constexpr std::uint32_t v6_floor = 1280;
    std::uint32_t ceiling = 9216; // the largest common jumbo frame
    bool verify_checksum = true;
};

namespace detail {
// RFC 1071: a correct checksum makes the folded sum all ones (0xffff reads the same in either
// byte order, so the native-order sum of ones_sum() can be compared directly).
inline bool sums_to_all_ones(std::uint64_t sum) noexcept {
    return ones_fold(sum) == 0xffff;
}

inline bool ipv4_header_ok(const packet::PtbInfo& p, std::span<const std::uint8_t> f) noexcept {
    const std::uint8_t* ip = f.data() + p.l3_offset;
    const std::size_t ihl = std::size_t(ip[0] & 0x0f) * 4;
    return sums_to_all_ones(ones_sum_scalar(ip, ihl, 0)); // 20..60 bytes: inline
}
} // namespace detail

// The ICMP (IPv4) or ICMPv6 checksum of a parsed PTB is correct (also used by tests).
[[gnu::always_inline]] inline bool icmp_checksum_ok(const packet::PtbInfo& p,
                                                    std::span<const std::uint8_t> f) noexcept {
    const std::uint8_t* icmp = f.data() + p.icmp_offset;
    std::uint64_t sum = 0;
    if (p.family == packet::Family::v6) {
        // Pseudo-header (RFC 8200 §8.1): addresses, upper-layer length, next header 58.
        // The two addresses sit side by side in the IPv6 header (RFC 8200 §3): one 32-byte sum.
        sum = detail::ones_sum_scalar(f.data() + p.l3_offset + 8, 32, sum);
        sum += ones_word(p.icmp_len);
        sum += ones_word(58);
    }
    return detail::sums_to_all_ones(ones_sum(icmp, p.icmp_len, sum));
}

// The first rule `p` breaks, or Check::ok. `frame` is the whole frame `p` was parsed from.
// Inline, checksums included: a handful of comparisons and short sums run for every PTB, and
// the calls cost more than some of them (callgrind: 14 instructions at one call site alone).
[[gnu::always_inline]] inline Check validate(const packet::PtbInfo& p,
                                             std::span<const std::uint8_t> frame,
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
        if (v4 && !detail::ipv4_header_ok(p, frame)) return Check::bad_checksum;
        if (!icmp_checksum_ok(p, frame)) return Check::bad_checksum;
    }
    return Check::ok;
}

} // namespace ptbsteer::guard
