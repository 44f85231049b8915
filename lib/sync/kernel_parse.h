// sync::Kernel's rtnetlink message parsers (kernel.cpp does the sockets and the namespace).
// Private to lib/sync; apart so that tests can feed them crafted messages: malformed,
// truncated, or shaped like an older kernel's.
//
// Every function takes a message whose nlmsg_len the caller has checked against the bytes it
// holds (mnl_nlmsg_ok); inside it, every header and attribute is length-checked before it is
// read, and a message that does not parse is skipped.
#pragma once

#include <linux/netlink.h>

#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "sync/kernel.h"

namespace ptbsteer::sync::detail {

// The payload's fixed header (rtmsg, nhmsg, nlmsgerr's int...), or null when the message is too
// short for it.
template <class H>
const H* header(const nlmsghdr* nlh) {
    if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(H))) return nullptr;
    return reinterpret_cast<const H*>(static_cast<const char*>(NLMSG_DATA(nlh)));
}

// A dumped route (RTM_NEWROUTE), with what merging split IPv6 multipath dumps needs.
struct Parsed {
    KernelRoute route;        // hops still empty when route.nhid != 0 (see resolve())
    std::uint32_t metric = 0; // RTA_PRIORITY
    bool sibling = false;     // an IPv6 single-path gateway route that may be an ECMP sibling
};

// None for anything but a unicast IPv4/IPv6 route, or a malformed one.
std::optional<Parsed> parse_route(const nlmsghdr* nlh);
// Joins consecutive IPv6 sibling routes into one multipath route (older kernels' dump shape).
void merge_siblings(std::vector<Parsed>& routes);

// A nexthop object (RTM_NEWNEXTHOP): a plain next-hop, or a group of other objects.
struct NhObject {
    KernelNextHop hop; // plain: id, gateway, oif, flags
    bool group = false;
    bool resilient = false;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> members; // (id, weight), NHA_GROUP order
    std::uint32_t buckets = 0;                                    // resilient: bucket count
};

struct Objects {
    std::map<std::uint32_t, NhObject> nh;
    std::map<std::uint32_t, std::map<std::uint32_t, std::uint32_t>> buckets; // group: index -> id
};

void add_nexthop(const nlmsghdr* nlh, Objects& o); // RTM_NEWNEXTHOP
void add_bucket(const nlmsghdr* nlh, Objects& o);  // RTM_NEWNEXTHOPBUCKET
// Fills the kind, hops (and buckets) of a route to nexthop object r.nhid. False when the
// objects do not fit (one changed between the dumps): dump again.
bool resolve(KernelRoute& r, const Objects& o);

void add_link(const nlmsghdr* nlh, KernelState& s);     // RTM_NEWLINK
void add_neighbor(const nlmsghdr* nlh, KernelState& s); // RTM_NEWNEIGH

} // namespace ptbsteer::sync::detail
