#include "control/transition.h"

#include <algorithm>
#include <set>

#include "config/restart_diff.h"

namespace ptbsteer::control {
namespace {

// By key: each router's state of a group (config::Group::router) has its own history.
const config::Group* find_group(const config::Config& cfg, const std::string& key) {
    const auto it = std::find_if(cfg.groups.begin(), cfg.groups.end(),
                                 [&](const config::Group& g) { return g.key() == key; });
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
        const config::Group* was = find_group(before, g.key());
        if (was && !config::same_owners(*was, g))
            versions.push_back(PastVersion{*was, now, nullptr});
        if (const auto it = history.find(g.key()); it != history.end())
            versions.insert(versions.end(), it->second.begin(), it->second.end());
        // Newest first, so the window's end only falls along the list.
        std::erase_if(versions, [&](const PastVersion& v) { return window_end(v, g, hz) <= now; });
        if (versions.size() > max_versions - 1) versions.resize(max_versions - 1);
        if (!versions.empty()) next.emplace(g.key(), std::move(versions));
    }
    return next;
}

bool drop_first_ending(History& history, const config::Config& cfg, std::uint64_t hz) {
    History::iterator first = history.end();
    std::uint64_t first_end = 0;
    for (auto it = history.begin(); it != history.end(); ++it) {
        const config::Group* g = find_group(cfg, it->first);
        // Newest first: the back's window ends first. A group `cfg` lacks has none left.
        const std::uint64_t end = g ? window_end(it->second.back(), *g, hz) : 0;
        if (first == history.end() || end < first_end) {
            first = it;
            first_end = end;
        }
    }
    if (first == history.end()) return false;
    first->second.pop_back();
    if (first->second.empty()) history.erase(first);
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
        const auto it = history.find(g.key());
        if (it == history.end()) continue;
        // A name another state of the group serves is not departed: it is that server, and
        // the states share its slot (a departed copy would bind the slot to its old address).
        std::set<std::string> seen;
        for (const config::Group& state : cfg.groups)
            if (state.name == g.name)
                for (const config::NextHop& h : state.next_hops)
                    seen.insert(h.name);
        for (const PastVersion& v : it->second) // newest first: its entry for a name wins
            for (const config::NextHop& h : v.group.next_hops)
                if (seen.insert(h.name).second) out.push_back(DepartedHop{gi, &h});
    }
    return out;
}

} // namespace ptbsteer::control
