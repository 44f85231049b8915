// Checks that a parsed PTB is believable before it reaches a server (RFC 5927 §4, RFC 7690 §7:
// a forged PTB can shrink a connection's MTU or churn route caches). Pure: bytes and PtbInfo in,
// a verdict out; the policy is resolved from the configuration once.
#pragma once

#include <cstdint>
#include <span>

#include "packet/ptb_info.h"

namespace ptbsteer::guard {

// X(name, one-line meaning). Names are drop-reason labels.
#define PTBSTEER_VALIDATION_DROPS(X)                                                               \
    X(mtu_unspecified, "IPv4 PTB with MTU 0 (a pre-RFC 1191 router): nothing to learn from it")   \
    X(mtu_below_floor, "advertised MTU below the family's floor (IPv6: 1280, RFC 8200 §5)")       \
    X(mtu_above_ceiling, "advertised MTU above the configured ceiling")                            \
    X(mtu_not_smaller, "advertised MTU not smaller than the quoted packet: it fit, the PTB is bogus") \
    X(bad_checksum, "ICMP/ICMPv6 checksum (or the outer IPv4 header checksum) is wrong")           \
    X(dst_not_quoted_source, "the PTB is not addressed to the quoted packet's source (RFC 792/4443)")

enum class Check : std::uint8_t {
    ok,
#define PTBSTEER_X(n, text) n,
    PTBSTEER_VALIDATION_DROPS(PTBSTEER_X)
#undef PTBSTEER_X
};

struct ValidationPolicy {
    // Linux never lowers an IPv4 PMTU below net.ipv4.route.min_pmtu (552 by default), so a PTB
    // below it cannot help and is the classic "tiny MTU" attack (RFC 5927 §7.1).
    std::uint32_t v4_floor = 552;
    // IPv6 links have at least 1280 (RFC 8200 §5); RFC 8201 §4 forbids going lower. Fixed.
    static constexpr std::uint32_t v6_floor = 1280;
    std::uint32_t ceiling = 9216; // the largest common jumbo frame
    bool verify_checksum = true;
};

// The first rule `p` breaks, or Check::ok. `frame` is the whole frame `p` was parsed from.
Check validate(const packet::PtbInfo& p, std::span<const std::uint8_t> frame,
               const ValidationPolicy& policy) noexcept;

// RFC 1071 one's-complement sum helpers (exposed for tests and benchmarks).
bool icmp_checksum_ok(const packet::PtbInfo& p, std::span<const std::uint8_t> frame) noexcept;

} // namespace ptbsteer::guard
