// The PTB parser: bytes of one Ethernet frame in, a PtbInfo or a named status out.
//
// Pure C++ over a byte span (no DPDK types), so unit tests, fuzzers, the pcap decoder and the
// datapath all run the same code. It never reads past the span, never allocates, never throws.
#pragma once

#include <cstdint>
#include <span>

#include "packet/parse_status.h"
#include "packet/ptb_info.h"

namespace ptbsteer::packet {

// Bounds on an IPv6 extension-header walk (outer and quoted packet each). Real traffic carries
// zero to two; a longer chain is either an attack or a packet no router hashed into ECMP.
inline constexpr unsigned max_ext_headers = 8;
inline constexpr unsigned max_ext_bytes = 256;

// parse_frame() in two parts, apart for tests and fuzzing: the fast path for the common shapes
// (untagged or one 802.1Q tag; IPv4 without options or IPv6 without extension headers, outside
// and in the quote; a TCP or UDP quote with its ports), which returns false for anything else
// (`out` then holds nothing of use), and the general walker, which parses every frame.
namespace detail {
bool parse_common(std::span<const std::uint8_t> frame, PtbInfo& out) noexcept;
ParseStatus parse_frame_walk(std::span<const std::uint8_t> frame, PtbInfo& out) noexcept;
} // namespace detail

// Parses `frame`. On ParseStatus::ptb every field of `out` is set; otherwise `out` holds whatever
// was parsed before the decision and must not be used. Inline, so the caller goes straight to
// the fast path.
inline ParseStatus parse_frame(std::span<const std::uint8_t> frame, PtbInfo& out) noexcept {
    if (detail::parse_common(frame, out)) return ParseStatus::ptb;
    return detail::parse_frame_walk(frame, out);
}

} // namespace ptbsteer::packet
