// A steering group: the servers behind one anycast/ECMP site, the router's hash model and its
// next-hop selection. decide() is the per-packet step after the prefix lookup.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hash/hash_model.h"
#include "packet/flow_key.h"
#include "steer/select.h"
#include "steer/verdict.h"

namespace ptbsteer::steer {

class Group {
  public:
    // id: the group's index in the group table (carried by Replicate verdicts). The selector's
    // size is the next-hop count; in replicate mode it is still needed for that count.
    Group(std::uint32_t id, const hash::Model& model, Selector selector, Mode mode = Mode::unicast,
          Fallback fallback = Fallback::replicate);

    // mode replicate -> Replicate(id); the model needs ports the key lacks -> the fallback
    // (Replicate(id) or Drop(no_ports_fallback_drop)); else Unicast(select(hash(flow))).
    // `flow` is the ORIGINAL (client->server) flow, i.e. packet::reversed() of the quote.
    // Inline: a few branches around hash() and select(), run for every steered PTB.
    Verdict decide(const packet::FlowKey& flow) const noexcept {
        std::uint32_t unused;
        return decide(flow, unused);
    }
    // The same, and for a unicast verdict the hash it selected with in `hash` (a transition
    // selects with it again, in earlier versions of the group: datapath/transition.h).
    Verdict decide(const packet::FlowKey& flow, std::uint32_t& hash) const noexcept {
        if (mode_ == Mode::replicate) return Verdict::replicate(id_);
        // Without the ports the router hashed, any pick would be a guess: apply the fallback.
        if (model_.needs_ports() && !packet::ports_known(flow.l4))
            return fallback_ == Fallback::drop ? Verdict::drop(DropReason::no_ports_fallback_drop)
                                               : Verdict::replicate(id_);
        hash = model_.hash(flow);
        return Verdict::unicast(selector_.select(hash));
    }

    std::uint32_t id() const noexcept { return id_; }
    std::size_t next_hop_count() const noexcept { return selector_.size(); }
    Mode mode() const noexcept { return mode_; }
    Fallback fallback() const noexcept { return fallback_; }
    const hash::Model& model() const noexcept { return model_; }
    const Selector& selector() const noexcept { return selector_; }

  private:
    hash::Model model_;
    Selector selector_;
    std::uint32_t id_;
    Mode mode_;
    Fallback fallback_;
};

} // namespace ptbsteer::steer
