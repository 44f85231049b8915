// Shared by the libFuzzer harnesses: a check that turns a broken invariant into a crash
// libFuzzer records (abort() is caught by its deadly-signal handler, which writes the input as
// crash-<sha1>), plus the parser invariants both packet harnesses assert.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <span>

#include "packet/parser.h"

// Not assert(): the fuzz build may define NDEBUG, and the message must name the invariant.
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::fprintf(stderr, "%s:%d: fuzz invariant broken: %s\n", __FILE__, __LINE__, #cond); \
            std::abort();                                                                          \
        }                                                                                          \
    } while (0)

namespace ptbsteer::fuzz {

// What parser.h promises for any input: a named status, and on `ptb` offsets that lie inside
// the frame and a flow that is exactly the reversed quoted packet.
inline void check_parse(std::span<const std::uint8_t> frame, packet::ParseStatus s,
                        const packet::PtbInfo& p) {
    using packet::ParseStatus;
    FUZZ_CHECK(packet::name(s) != "?");
    FUZZ_CHECK(p.l3_offset <= frame.size());
    FUZZ_CHECK(p.vlan_count <= p.vlans.size());
    if (s != ParseStatus::ptb) return;
    const std::size_t ip_min = p.family == packet::Family::v4 ? 20 : 40;
    FUZZ_CHECK(p.l3_offset == 14 + 4 * std::size_t(p.vlan_count));
    FUZZ_CHECK(std::size_t(p.icmp_offset) >= p.l3_offset + ip_min);
    FUZZ_CHECK(std::size_t(p.quote_offset) == std::size_t(p.icmp_offset) + 8);
    FUZZ_CHECK(std::size_t(p.icmp_len) == std::size_t(p.quote_len) + 8);
    FUZZ_CHECK(std::size_t(p.quote_offset) + p.quote_len <= frame.size());
    FUZZ_CHECK(p.inner.family == p.family);
    FUZZ_CHECK(p.flow == packet::reversed(p.inner));
    FUZZ_CHECK(p.flow.flow_label <= 0xfffff);
    if (p.family == packet::Family::v4) FUZZ_CHECK(p.flow.flow_label == 0);
    if (!packet::ports_known(p.flow.l4)) FUZZ_CHECK(p.flow.sport == 0 && p.flow.dport == 0);
}

} // namespace ptbsteer::fuzz
