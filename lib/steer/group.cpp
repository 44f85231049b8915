#include "steer/group.h"

#include <stdexcept>
#include <utility>

namespace ptbsteer::steer {

Group::Group(std::uint32_t id, const hash::Model& model, Selector selector, Mode mode,
             Fallback fallback)
    : model_(model), selector_(std::move(selector)), id_(id), mode_(mode), fallback_(fallback) {
    if (selector_.size() == 0)
        throw std::invalid_argument("group: the selector has no next-hops (not built)");
}

Verdict Group::decide(const packet::FlowKey& flow) const noexcept {
    if (mode_ == Mode::replicate) return Verdict::replicate(id_);
    // Without the ports the router hashed, any pick would be a guess: apply the fallback.
    if (model_.needs_ports() && !packet::ports_known(flow.l4))
        return fallback_ == Fallback::drop ? Verdict::drop(DropReason::no_ports_fallback_drop)
                                           : Verdict::replicate(id_);
    return Verdict::unicast(selector_.select(model_.hash(flow)));
}

} // namespace ptbsteer::steer
