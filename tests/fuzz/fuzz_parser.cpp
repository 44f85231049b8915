// libFuzzer harness: the PTB parser over any bytes (one input = one Ethernet frame).
//
// The parser reads untrusted bytes from the wire on every lcore, so it must never read outside
// the span (ASan: libFuzzer hands us a heap buffer of exactly `size` bytes), never hit undefined
// behaviour (UBSan), and keep the promises of parser.h (fuzz_check.h). The dataplane reuses one
// PtbInfo as scratch for every frame, so a dirty PtbInfo must give the same answer as a fresh one.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "fuzz_check.h"
#include "packet/parser.h"

namespace {

using ptbsteer::packet::ParseStatus;
using ptbsteer::packet::PtbInfo;

bool same_info(const PtbInfo& a, const PtbInfo& b) {
    return a.family == b.family && a.vlan_count == b.vlan_count && a.vlans == b.vlans &&
           a.outer_src == b.outer_src && a.outer_dst == b.outer_dst && a.mtu == b.mtu &&
           a.l3_offset == b.l3_offset && a.icmp_offset == b.icmp_offset &&
           a.quote_offset == b.quote_offset && a.quote_len == b.quote_len &&
           a.icmp_len == b.icmp_len && a.inner_total_len == b.inner_total_len &&
           a.inner_fragment == b.inner_fragment && a.inner == b.inner && a.flow == b.flow;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> frame(data, size);
    PtbInfo fresh;
    const ParseStatus s = ptbsteer::packet::parse_frame(frame, fresh);
    ptbsteer::fuzz::check_parse(frame, s, fresh);

    PtbInfo dirty;
    std::memset(static_cast<void*>(&dirty), 0xa5, sizeof dirty);
    FUZZ_CHECK(ptbsteer::packet::parse_frame(frame, dirty) == s);
    if (s == ParseStatus::ptb) FUZZ_CHECK(same_info(fresh, dirty));
    return 0;
}
