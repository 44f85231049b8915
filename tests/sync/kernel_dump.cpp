// kernel-dump: what sync::Kernel reads from a router's kernel, as JSON, for
// tests/sync/kernel_test.py to compare with iproute2's view of the same namespace.
//
//   kernel-dump [--netns NAME]                 one dump: routes, links, neighbours, sysctls
//   kernel-dump [--netns NAME] --watch SECONDS {"watching": SECONDS} once subscribed, then one
//                                              line per drain() of the notifications
//   --stall SECONDS (with --watch): read nothing for that long first (to provoke an overrun)
#include <poll.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>
#include <thread>

#include <nlohmann/json.hpp>

#include "packet/format.h"
#include "sync/kernel.h"

namespace {

using nlohmann::json;
using namespace ptbsteer;

const char* kind_name(sync::GroupKind k) {
    switch (k) {
    case sync::GroupKind::single: return "single";
    case sync::GroupKind::multipath: return "multipath";
    case sync::GroupKind::resilient: return "resilient";
    }
    return "?";
}

json hop_json(const sync::KernelNextHop& h) {
    return {{"family", packet::to_string(h.family)},
            {"gateway", h.gateway ? json(packet::to_string(*h.gateway, h.family)) : json()},
            {"ifindex", h.ifindex},
            {"ifname", h.ifname},
            {"weight", h.weight},
            {"dead", h.dead},
            {"linkdown", h.linkdown},
            {"id", h.id}};
}

json route_json(const sync::KernelRoute& r) {
    json hops = json::array();
    for (const auto& h : r.hops)
        hops.push_back(hop_json(h));
    return {{"family", packet::to_string(r.family)},
            {"dst", packet::to_string(r.dst, r.family)},
            {"len", r.length},
            {"table", r.table},
            {"nhid", r.nhid},
            {"kind", kind_name(r.kind)},
            {"hops", hops},
            {"buckets", r.buckets}};
}

json state_json(const sync::KernelState& s) {
    json j = {{"routes", json::array()}, {"links", json::array()}, {"neighbors", json::array()}};
    for (const auto& r : s.routes)
        j["routes"].push_back(route_json(r));
    for (const auto& [index, name] : s.links)
        j["links"].push_back(json{{"ifindex", index}, {"name", name}, {"up", s.link_up.at(index)}});
    for (const auto& [key, state] : s.neighbors) {
        const auto& [index, family, bytes] = key;
        packet::IpAddr address;
        address.b = bytes;
        j["neighbors"].push_back(json{{"ifindex", index},
                                      {"family", packet::to_string(family)},
                                      {"address", packet::to_string(address, family)},
                                      {"state", state}});
    }
    const auto& c = s.sysctls;
    j["sysctls"] = {{"v4_policy", c.v4_policy},
                    {"v4_fields", c.v4_fields},
                    {"v6_policy", c.v6_policy},
                    {"v6_fields", c.v6_fields},
                    {"seed", c.seed ? json(*c.seed) : json()},
                    {"use_neigh", c.use_neigh},
                    {"v4_ignore_linkdown", c.v4_ignore_linkdown},
                    {"v6_ignore_linkdown", c.v6_ignore_linkdown}};
    return j;
}

json events_json(const sync::Events& e) {
    return {{"route", e.route},
            {"nexthop", e.nexthop},
            {"link", e.link},
            {"neighbor", e.neighbor},
            {"overrun", e.overrun}};
}

// Prints one line per drain() that found something, until `seconds` have passed.
void watch(sync::Kernel& k, double seconds, double stall) {
    using Clock = std::chrono::steady_clock;
    const auto end = Clock::now() + std::chrono::duration<double>(seconds);
    std::cout << json{{"watching", seconds}}.dump() << std::endl;
    std::this_thread::sleep_for(std::chrono::duration<double>(stall));
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
        if (left.count() <= 0) return;
        pollfd p{k.fd(), POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
        const sync::Events e = k.drain();
        if (e.total() > 0 || e.overrun) std::cout << events_json(e).dump() << std::endl;
    }
}

} // namespace

int main(int argc, char** argv) {
    std::string netns;
    double seconds = -1, stall = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--netns" && i + 1 < argc) {
            netns = argv[++i];
        } else if (a == "--watch" && i + 1 < argc) {
            seconds = std::atof(argv[++i]);
        } else if (a == "--stall" && i + 1 < argc) {
            stall = std::atof(argv[++i]);
        } else {
            std::cerr << "usage: kernel-dump [--netns NAME] [--watch SECONDS [--stall SECONDS]]\n";
            return 2;
        }
    }
    try {
        sync::Kernel k(netns);
        if (seconds >= 0)
            watch(k, seconds, stall);
        else
            std::cout << state_json(k.dump()).dump(1) << "\n";
    } catch (const std::exception& e) {
        std::cerr << "kernel-dump: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
