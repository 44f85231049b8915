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

} // namespace ptbsteer::steer
