#include "api/hop_cache.h"

namespace ptbsteer::api {

std::vector<std::optional<config::NextHop>> HopCache::known(const std::string& group,
                                                            const std::vector<std::string>& keys) {
    std::vector<std::optional<config::NextHop>> out(keys.size());
    const std::lock_guard lock(m_);
    const auto g = by_group_.find(group);
    if (g == by_group_.end()) return out;
    for (std::size_t i = 0; i < keys.size(); ++i)
        if (const auto h = g->second.find(keys[i]); h != g->second.end()) out[i] = h->second;
    return out;
}

void HopCache::keep(const std::string& group, const std::vector<std::string>& keys,
                    const config::Group& served) {
    if (keys.size() != served.next_hops.size()) return; // not the PUT these keys came from
    std::unordered_map<std::string, config::NextHop> hops;
    hops.reserve(keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i)
        hops.emplace(keys[i], served.next_hops[i]);
    const std::lock_guard lock(m_);
    by_group_[group] = std::move(hops);
}

void HopCache::forget(const std::string& group) {
    const std::lock_guard lock(m_);
    by_group_.erase(group);
}

} // namespace ptbsteer::api
