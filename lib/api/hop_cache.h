// The next-hops of each API group as its last PUT gave them, by their JSON text, so that the
// next PUT of the group reads only the next-hops that changed (config::GroupDoc::known_hops).
// A next-hop read from a JSON text is a function of that text alone (ports are restart-only),
// so concurrent PUTs can share this freely: the worst a race does is keep a few entries too
// many or too few until the group's next PUT.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.h"

namespace ptbsteer::api {

class HopCache {
  public:
    // For each key (a PUT's next-hops, as JSON text): the NextHop read from it last time.
    std::vector<std::optional<config::NextHop>> known(const std::string& group,
                                                      const std::vector<std::string>& keys);
    // After a PUT served: `served`'s next-hops by the keys they were read from (same order).
    // Replaces what the group kept, so the cache holds only what serves.
    void keep(const std::string& group, const std::vector<std::string>& keys,
              const config::Group& served);
    void forget(const std::string& group);

  private:
    std::mutex m_;
    std::map<std::string, std::unordered_map<std::string, config::NextHop>> by_group_;
};

} // namespace ptbsteer::api
