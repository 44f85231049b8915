// A router's kernel as ptbsteer-sync reads it (docs/router-sync.md): its routes with their
// next-hops in the kernel's order, nexthop objects resolved, the links, neighbours and the
// multipath hash sysctls of one network namespace, over rtnetlink (libmnl). Read only: nothing
// here ever changes the kernel.
//
// Threads: one Kernel per thread; not thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "packet/flow_key.h"

namespace ptbsteer::sync {

// One next-hop of a route, as the kernel holds it.
struct KernelNextHop {
    packet::Family family =
        packet::Family::v4;                // of the gateway (RTA_GATEWAY, RTA_VIA, NHA_GATEWAY)
    std::optional<packet::IpAddr> gateway; // none: a device route (no gateway)
    int ifindex = 0;
    std::string ifname;       // from the link dump ("" if unknown)
    std::uint32_t weight = 1; // legacy: rtnh_hops + 1 (1..256); nexthop groups: NHA_GROUP's
    bool dead = false;        // RTNH_F_DEAD
    bool linkdown = false;    // RTNH_F_LINKDOWN
    std::uint32_t id = 0;     // the nexthop object's id; 0 for a legacy next-hop
};

enum class GroupKind : std::uint8_t {
    single,    // one next-hop (RTA_GATEWAY / RTA_OIF, or a nexthop object that is no group)
    multipath, // legacy RTA_MULTIPATH, or a nexthop group of type mpath (hash-threshold)
    resilient, // a nexthop group of type resilient
};

struct KernelRoute {
    packet::Family family = packet::Family::v4;
    packet::IpAddr dst; // host bits zero
    std::uint8_t length = 0;
    std::uint32_t table = 254; // RTA_TABLE (RT_TABLE_MAIN)
    std::uint32_t nhid = 0;    // RTA_NH_ID: the route uses nexthop object `nhid` (0: legacy)
    GroupKind kind = GroupKind::single;
    std::vector<KernelNextHop> hops; // in the kernel's order (NHA_GROUP's for nexthop groups)
    // resilient only: buckets[i] = the position in `hops` of bucket i's next-hop
    // (RTM_GETNEXTHOPBUCKET), in bucket order; its size is the group's bucket count.
    std::vector<std::uint32_t> buckets;
};

// The multipath hash settings of the namespace (/proc/sys/net/..., read inside it).
struct Sysctls {
    std::uint32_t v4_policy = 0;       // net.ipv4.fib_multipath_hash_policy
    std::uint32_t v4_fields = 0;       // net.ipv4.fib_multipath_hash_fields
    std::uint32_t v6_policy = 0;       // net.ipv6.fib_multipath_hash_policy
    std::uint32_t v6_fields = 0;       // net.ipv6.fib_multipath_hash_fields
    std::optional<std::uint32_t> seed; // net.ipv4.fib_multipath_hash_seed; none: no sysctl
    bool use_neigh = false;            // net.ipv4.fib_multipath_use_neigh
    bool v4_ignore_linkdown = false;   // net.ipv4.conf.all.ignore_routes_with_linkdown
    bool v6_ignore_linkdown = false;   // net.ipv6.conf.all.ignore_routes_with_linkdown
    friend bool operator==(const Sysctls&, const Sysctls&) = default;
};

// A neighbour entry: (ifindex, family, address bytes: IpAddr::b) -> its NUD state (NUD_* bits,
// linux/neighbour.h).
using NeighborKey = std::tuple<int, packet::Family, std::array<std::uint8_t, 16>>;

struct KernelState {
    std::vector<KernelRoute> routes;  // unicast routes of every table, both families
    std::map<int, std::string> links; // ifindex -> name
    std::map<int, bool> link_up;      // ifindex -> IFF_UP and carrier (IFF_LOWER_UP)
    std::map<NeighborKey, std::uint16_t> neighbors;
    Sysctls sysctls;
};

// What notifications arrived since the last drain().
struct Events {
    unsigned route = 0, nexthop = 0, link = 0, neighbor = 0;
    bool overrun = false; // ENOBUFS: some were lost; dump everything again
    unsigned total() const { return route + nexthop + link + neighbor; }
};

class Kernel {
  public:
    // Opens the netlink sockets inside network namespace `netns` (a name under /var/run/netns,
    // or "" for the caller's own) and subscribes to route, nexthop (group 32, joined with
    // NETLINK_ADD_MEMBERSHIP), link and neighbour notifications. Throws std::runtime_error with
    // a sentence (e.g. "network namespace 'x' not found: /var/run/netns/x: No such file").
    explicit Kernel(const std::string& netns = "");
    ~Kernel();
    Kernel(const Kernel&) = delete;
    Kernel& operator=(const Kernel&) = delete;

    // A full dump: links, neighbours, nexthop objects (and resilient groups' buckets), routes,
    // and the sysctls (read inside the namespace). Throws std::runtime_error on a netlink error.
    KernelState dump();
    // The sysctls alone (read inside the namespace): they change without any notification.
    Sysctls sysctls();
    // One neighbour entry's NUD state (RTM_GETNEIGH for one address, Linux >= 4.20), nullopt
    // when the kernel has none. Some neighbour changes come without a notification:
    // __neigh_update announces a change only from a valid state, so an entry created FAILED
    // (`ip neigh replace ... nud failed`) or INCOMPLETE (the first packet towards an
    // unresolved gateway) is silent.
    std::optional<std::uint16_t> neighbor(const NeighborKey& key);
    // The notification socket: poll it for POLLIN, then drain().
    int fd() const;
    // Reads every pending notification without blocking.
    Events drain();

  private:
    struct Impl;
    Impl* impl_;
};

} // namespace ptbsteer::sync
