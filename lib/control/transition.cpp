#include "control/transition.h"

#include <algorithm>
#include <set>

#include "config/restart_diff.h"

namespace ptbsteer::control {
namespace {

const config::Group* find_group(const config::Config& cfg, const std::string& name) {
    const auto it = std::find_if(cfg.groups.begin(), cfg.groups.end(),
                                 [&](const config::Group& g) { return g.name == name; });
    return it == cfg.groups.end() ? nullptr : &*it;
}

} // namespace

std::uint64_t window_end(const PastVersion& v, const config::Group& current, std::uint64_t hz) {
    return v.retired_tsc + std::uint64_t(current.transition) * hz;
}

History next_history(const History& history, const config::Config& before,
                     const config::Config& after, std::uint64_t now, std::uint64_t hz) {
    History next;
    for (const config::Group& g : after.groups) {
        if (g.transition == 0) continue; // off: no version but the serving one owns flows
        std::vector<PastVersion> versions;
        const config::Group* was = find_group(before, g.name);
        if (was && !config::same_owners(*was, g))
            versions.push_back(PastVersion{*was, now, nullptr});
        if (const auto it = history.find(g.name); it != history.end())
            versions.insert(versions.end(), it->second.begin(), it->second.end());
        // Newest first, so the window's end only falls along the list.
        std::erase_if(versions, [&](const PastVersion& v) { return window_end(v, g, hz) <= now; });
        if (versions.size() > max_versions - 1) versions.resize(max_versions - 1);
        if (!versions.empty()) next.emplace(g.name, std::move(versions));
    }
    return next;
}

bool drop_oldest(History& history) {
    auto oldest = history.end();
    for (auto it = history.begin(); it != history.end(); ++it)
        if (oldest == history.end() ||
            it->second.back().retired_tsc < oldest->second.back().retired_tsc)
            oldest = it;
    if (oldest == history.end()) return false;
    oldest->second.pop_back(); // newest first: the back is the oldest
    if (oldest->second.empty()) history.erase(oldest);
    return true;
}

void keep_compiled(History& history, const datapath::Tables& live) {
    for (auto& [name, versions] : history) {
        if (versions.empty() || versions.front().compiled) continue;
        for (std::size_t gi = 0; gi < live.groups.size(); ++gi)
            if (live.group_names[gi] == name)
                versions.front().compiled = std::make_shared<steer::Group>(live.groups[gi].group);
    }
}

std::vector<DepartedHop> departed_hops(const config::Config& cfg, const History& history) {
    std::vector<DepartedHop> out;
    for (std::uint32_t gi = 0; gi < cfg.groups.size(); ++gi) {
        const config::Group& g = cfg.groups[gi];
        const auto it = history.find(g.name);
        if (it == history.end()) continue;
        std::set<std::string> seen;
        for (const config::NextHop& h : g.next_hops)
            seen.insert(h.name);
        for (const PastVersion& v : it->second) // newest first: its entry for a name wins
            for (const config::NextHop& h : v.group.next_hops)
                if (seen.insert(h.name).second) out.push_back(DepartedHop{gi, &h});
    }
    return out;
}

} // namespace ptbsteer::control
