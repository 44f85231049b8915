// IPv6 extension headers (RFC 8200 §4), walked for the outer packet and the quoted one alike.
#include "packet/parser_internal.h"

namespace ptbsteer::packet::detail {

// Walks IPv6 extension headers from `w.begin` (RFC 8200 §4). Stops at the first upper-layer
// header, or at a non-first fragment, whose payload is the middle of some other header.
// AH has its own length rule (RFC 4302 §2.2: 32-bit words minus 2).
Walk walk_ext_chain(Window w, std::uint8_t next, AhIs ah, ExtChain& out) {
    std::size_t pos = w.begin;
    unsigned count = 0;
    for (;;) {
        std::size_t len;
        switch (next) {
        case nh_hop_by_hop:
        case nh_routing:
        case nh_dest_opts:
        case nh_mobility:
        case nh_hip:
        case nh_shim6:
            if (w.end - pos < 2) return Walk::truncated;
            len = (std::size_t(w.base[pos + 1]) + 1) * 8;
            break;
        case proto_ah:
            if (ah == AhIs::upper) {
                out.next = next;
                out.offset = pos;
                return Walk::done;
            }
            if (w.end - pos < 2) return Walk::truncated;
            len = (std::size_t(w.base[pos + 1]) + 2) * 4;
            break;
        case nh_fragment: len = 8; break;
        default:
            out.next = next;
            out.offset = pos;
            return Walk::done;
        }
        if (++count > max_ext_headers || pos + len - w.begin > max_ext_bytes) return Walk::limit;
        if (w.end - pos < len) return Walk::truncated;
        const std::uint8_t* h = w.base + pos;
        if (next == nh_fragment) {
            const std::uint16_t off_flags = be16(h + 2);
            out.fragment = true;
            if ((off_flags & 0xfff8) != 0) {
                out.later_fragment = true;
                out.next = h[0];
                out.offset = pos + len;
                return Walk::done;
            }
        }
        next = h[0];
        pos += len;
    }
}

} // namespace ptbsteer::packet::detail
