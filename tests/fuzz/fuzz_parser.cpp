// libFuzzer harness: the PTB parser over any bytes (one input = one Ethernet frame).
//
// The parser reads untrusted bytes from the wire on every lcore, so it must never read outside
// the span (ASan: libFuzzer hands us a heap buffer of exactly `size` bytes), never hit undefined
// behaviour (UBSan), and keep the promises of parser.h (fuzz_check.h). The datapath reuses one
// PtbInfo as scratch for every frame, so a dirty PtbInfo must give the same answer as a fresh one.
// The fast path for common shapes must agree with the general walker on every frame it takes.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "fuzz_check.h"
#include "packet/parser.h"

namespace {

using ptbsteer::packet::ParseStatus;
using ptbsteer::packet::PtbInfo;

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> frame(data, size);
    PtbInfo fresh;
    const ParseStatus s = ptbsteer::packet::parse_frame(frame, fresh);
    ptbsteer::fuzz::check_parse(frame, s, fresh);

    PtbInfo dirty;
    std::memset(static_cast<void*>(&dirty), 0xa5, sizeof dirty);
    FUZZ_CHECK(ptbsteer::packet::parse_frame(frame, dirty) == s);
    if (s == ParseStatus::ptb) FUZZ_CHECK(fresh == dirty);

    PtbInfo walked;
    const ParseStatus w = ptbsteer::packet::detail::parse_frame_walk(frame, walked);
    FUZZ_CHECK(w == s);
    FUZZ_CHECK(walked.l3_offset == fresh.l3_offset);
    if (s == ParseStatus::ptb) FUZZ_CHECK(walked == fresh);
    return 0;
}
