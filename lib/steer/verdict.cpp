#include "steer/verdict.h"

namespace ptbsteer::steer {

const char* to_string(VerdictKind k) noexcept {
    switch (k) {
    case VerdictKind::unicast: return "unicast";
    case VerdictKind::replicate: return "replicate";
    case VerdictKind::drop: return "drop";
    }
    return "?";
}

const char* to_string(DropReason r) noexcept {
    switch (r) {
    case DropReason::none: return "none";
    case DropReason::no_group: return "no_group";
    case DropReason::no_ports_fallback_drop: return "no_ports_fallback_drop";
    }
    return "?";
}

} // namespace ptbsteer::steer
