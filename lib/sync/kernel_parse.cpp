// Parsers of rtnetlink dump messages for sync::Kernel (kernel_parse.h).
#include "sync/kernel_parse.h"

#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/neighbour.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <array>
#include <cstring>

namespace ptbsteer::sync::detail {
namespace {

using packet::Family;
using packet::IpAddr;

// A message's (or nest's) attributes by type. Every type read here is below 32 (RTA_NH_ID is
// 30); higher ones are dropped. mnl_attr_ok() has checked each attribute's header and length.
using Attrs = std::array<const nlattr*, 32>;

int keep_attr(const nlattr* a, void* data) {
    if (const auto t = mnl_attr_get_type(a); t < 32) (*static_cast<Attrs*>(data))[t] = a;
    return MNL_CB_OK;
}

Attrs attrs_of(const nlmsghdr* nlh, std::size_t hdrlen) {
    Attrs t{};
    mnl_attr_parse(nlh, hdrlen, keep_attr, &t);
    return t;
}

Attrs attrs_in(const void* p, std::size_t len) {
    Attrs t{};
    mnl_attr_parse_payload(p, len, keep_attr, &t);
    return t;
}

Attrs nested(const nlattr* a) {
    Attrs t{};
    if (a) mnl_attr_parse_nested(a, keep_attr, &t);
    return t;
}

std::optional<std::uint32_t> u32(const Attrs& t, int type) {
    if (!t[type] || mnl_attr_validate(t[type], MNL_TYPE_U32) < 0) return std::nullopt;
    return mnl_attr_get_u32(t[type]);
}

std::optional<std::uint16_t> u16(const Attrs& t, int type) {
    if (!t[type] || mnl_attr_validate(t[type], MNL_TYPE_U16) < 0) return std::nullopt;
    return mnl_attr_get_u16(t[type]);
}

std::optional<Family> family_of(int af) {
    if (af == AF_INET) return Family::v4;
    if (af == AF_INET6) return Family::v6;
    return std::nullopt;
}

std::size_t addr_len(Family f) {
    return f == Family::v4 ? 4 : 16;
}

std::optional<IpAddr> addr_at(const void* p, std::size_t len, Family f) {
    if (len != addr_len(f)) return std::nullopt;
    IpAddr a;
    std::memcpy(a.b.data(), p, len);
    return a;
}

std::optional<IpAddr> addr(const nlattr* a, Family f) {
    if (!a) return std::nullopt;
    return addr_at(mnl_attr_get_payload(a), mnl_attr_get_payload_len(a), f);
}

void set_flags(KernelNextHop& h, unsigned flags) {
    h.dead = flags & RTNH_F_DEAD;
    h.linkdown = flags & RTNH_F_LINKDOWN;
}

// RTA_GATEWAY has the route's family; RTA_VIA (struct rtvia) another one, e.g. an IPv6 gateway
// for an IPv4 route (RFC 5549; net/ipv4/fib_semantics.c fib_nexthop_info).
void set_gateway(KernelNextHop& h, const Attrs& t, Family route) {
    h.family = route;
    h.gateway = addr(t[RTA_GATEWAY], route);
    const nlattr* via = t[RTA_VIA];
    if (h.gateway || !via || mnl_attr_get_payload_len(via) < sizeof(rtvia)) return;
    const auto* p = static_cast<const char*>(mnl_attr_get_payload(via));
    rtvia v;
    std::memcpy(&v, p, sizeof v);
    const auto f = family_of(v.rtvia_family);
    if (!f) return;
    h.family = *f;
    h.gateway = addr_at(p + sizeof v, mnl_attr_get_payload_len(via) - sizeof v, *f);
}

// RTA_MULTIPATH: struct rtnexthop entries, each followed by its own attributes, in the kernel's
// order (net/ipv4/fib_semantics.c fib_add_multipath, net/ipv6/route.c rt6_fill_node).
bool parse_multipath(const nlattr* mp, KernelRoute& r) {
    const auto* p = static_cast<const char*>(mnl_attr_get_payload(mp));
    std::size_t left = mnl_attr_get_payload_len(mp);
    while (left >= sizeof(rtnexthop)) {
        rtnexthop nh;
        std::memcpy(&nh, p, sizeof nh);
        if (nh.rtnh_len < sizeof nh || nh.rtnh_len > left) return false;
        KernelNextHop h;
        h.ifindex = nh.rtnh_ifindex;
        h.weight = nh.rtnh_hops + 1u; // rtnh_hops is the weight - 1 (fib_get_nhs)
        set_flags(h, nh.rtnh_flags);
        set_gateway(h, attrs_in(p + sizeof nh, nh.rtnh_len - sizeof nh), r.family);
        r.hops.push_back(h);
        const std::size_t step = RTNH_ALIGN(nh.rtnh_len);
        if (step >= left) break;
        p += step;
        left -= step;
    }
    return !r.hops.empty();
}

// buckets[i] = the position in r.hops of bucket i's next-hop. False if the bucket dump does not
// fit the group (it changed between the two dumps).
bool fill_buckets(KernelRoute& r, std::uint32_t count, const Objects& o) {
    const auto it = o.buckets.find(r.nhid);
    if (it == o.buckets.end() || it->second.size() != count) return false;
    for (const auto& [index, id] : it->second) {
        std::uint32_t pos = 0;
        while (pos < r.hops.size() && r.hops[pos].id != id)
            ++pos;
        if (index != r.buckets.size() || pos == r.hops.size()) return false;
        r.buckets.push_back(pos);
    }
    return true;
}

} // namespace

std::optional<Parsed> parse_route(const nlmsghdr* nlh) {
    const auto* rtm = header<rtmsg>(nlh);
    const auto fam = rtm ? family_of(rtm->rtm_family) : std::nullopt;
    if (!fam || rtm->rtm_type != RTN_UNICAST || (rtm->rtm_flags & RTM_F_CLONED)) return {};
    if (rtm->rtm_dst_len > 8 * addr_len(*fam)) return {};
    const Attrs t = attrs_of(nlh, sizeof(rtmsg));
    Parsed p;
    KernelRoute& r = p.route;
    r.family = *fam;
    r.length = rtm->rtm_dst_len;
    r.table = u32(t, RTA_TABLE).value_or(rtm->rtm_table);
    if (t[RTA_DST]) {
        const auto dst = addr(t[RTA_DST], *fam);
        if (!dst) return {};
        r.dst = *dst;
    }
    p.metric = u32(t, RTA_PRIORITY).value_or(0);
    r.nhid = u32(t, RTA_NH_ID).value_or(0);
    if (r.nhid) return p; // resolved from the nexthop objects
    if (t[RTA_MULTIPATH]) {
        r.kind = GroupKind::multipath;
        if (!parse_multipath(t[RTA_MULTIPATH], r)) return {};
        return p;
    }
    KernelNextHop h;
    set_gateway(h, t, *fam);
    h.ifindex = static_cast<int>(u32(t, RTA_OIF).value_or(0));
    set_flags(h, rtm->rtm_flags); // a single path's RTNH_F_* are in rtm_flags (fib_dump_info)
    // Router advertisements' default routes share a metric without being siblings
    // (rt6_qualify_for_ecmp excludes RTF_ADDRCONF).
    p.sibling = *fam == Family::v6 && h.gateway && rtm->rtm_protocol != RTPROT_RA;
    r.hops.push_back(h);
    return p;
}

// Kernels before 4.11 dumped each path of an IPv6 multipath route as a route of its own (one
// RTM_NEWROUTE per sibling, in sibling order); since then rt6_fill_node sends one RTA_MULTIPATH
// (6.18 does, also after `ip -6 route append`). Consecutive gateway routes with the same table,
// prefix and metric are exactly what fib6_add_rt2 makes siblings: merge them.
void merge_siblings(std::vector<Parsed>& v) {
    std::vector<Parsed> out;
    for (auto& p : v) {
        if (!out.empty() && p.sibling && out.back().sibling) {
            KernelRoute& a = out.back().route;
            const KernelRoute& b = p.route;
            if (a.table == b.table && a.dst == b.dst && a.length == b.length &&
                out.back().metric == p.metric) {
                a.kind = GroupKind::multipath;
                a.hops.push_back(b.hops[0]);
                continue;
            }
        }
        out.push_back(std::move(p));
    }
    v = std::move(out);
}

void add_nexthop(const nlmsghdr* nlh, Objects& o) {
    const auto* nhm = header<nhmsg>(nlh);
    const Attrs t = attrs_of(nlh, sizeof(nhmsg));
    const auto id = u32(t, NHA_ID);
    if (!nhm || !id) return;
    NhObject n;
    n.hop.id = *id;
    if (const nlattr* g = t[NHA_GROUP]) {
        const std::size_t len = mnl_attr_get_payload_len(g);
        if (len == 0 || len % sizeof(nexthop_grp) != 0) return;
        const auto* p = static_cast<const char*>(mnl_attr_get_payload(g));
        for (std::size_t i = 0; i < len; i += sizeof(nexthop_grp)) {
            std::uint32_t member = 0;
            std::memcpy(&member, p + i, sizeof member);
            // The weight - 1, 16 bits since 6.12: byte 4 is `weight`, byte 5 `weight_high`
            // (resvd1 in older headers, always 0 there; net/ipv4/nexthop.c nla_put_nh_group).
            const auto* w = reinterpret_cast<const std::uint8_t*>(p + i + 4);
            n.members.emplace_back(member, (std::uint32_t{w[1]} << 8 | w[0]) + 1);
        }
        n.group = true;
        n.resilient = u16(t, NHA_GROUP_TYPE).value_or(0) == NEXTHOP_GRP_TYPE_RES;
        n.buckets = u16(nested(t[NHA_RES_GROUP]), NHA_RES_GROUP_BUCKETS).value_or(0);
    } else {
        if (const auto f = family_of(nhm->nh_family)) {
            n.hop.family = *f;
            n.hop.gateway = addr(t[NHA_GATEWAY], *f);
        }
        n.hop.ifindex = static_cast<int>(u32(t, NHA_OIF).value_or(0));
        set_flags(n.hop, nhm->nh_flags);
    }
    o.nh[*id] = std::move(n);
}

void add_bucket(const nlmsghdr* nlh, Objects& o) {
    const Attrs t = attrs_of(nlh, sizeof(nhmsg));
    const Attrs b = nested(t[NHA_RES_BUCKET]);
    const auto group = u32(t, NHA_ID);
    const auto index = u16(b, NHA_RES_BUCKET_INDEX);
    const auto id = u32(b, NHA_RES_BUCKET_NH_ID);
    if (header<nhmsg>(nlh) && group && index && id) o.buckets[*group][*index] = *id;
}

// Fills the hops of a route that uses nexthop object r.nhid. False if an object it names is
// missing (created between the nexthop and the route dumps).
bool resolve(KernelRoute& r, const Objects& o) {
    const auto it = o.nh.find(r.nhid);
    if (it == o.nh.end()) return false;
    const NhObject& n = it->second;
    if (!n.group) {
        r.kind = GroupKind::single;
        r.hops = {n.hop};
        return true;
    }
    r.kind = n.resilient ? GroupKind::resilient : GroupKind::multipath;
    for (const auto& [id, weight] : n.members) {
        const auto m = o.nh.find(id);
        if (m == o.nh.end() || m->second.group) return false;
        r.hops.push_back(m->second.hop);
        r.hops.back().weight = weight;
    }
    return !n.resilient || fill_buckets(r, n.buckets, o);
}

void add_link(const nlmsghdr* nlh, KernelState& s) {
    const auto* ifi = header<ifinfomsg>(nlh);
    const Attrs t = attrs_of(nlh, sizeof(ifinfomsg));
    if (!ifi || !t[IFLA_IFNAME] || mnl_attr_validate(t[IFLA_IFNAME], MNL_TYPE_NUL_STRING) < 0)
        return;
    s.links[ifi->ifi_index] = mnl_attr_get_str(t[IFLA_IFNAME]);
    s.link_up[ifi->ifi_index] = (ifi->ifi_flags & IFF_UP) && (ifi->ifi_flags & IFF_LOWER_UP);
}

void add_neighbor(const nlmsghdr* nlh, KernelState& s) {
    const auto* ndm = header<ndmsg>(nlh);
    const auto fam = ndm ? family_of(ndm->ndm_family) : std::nullopt;
    if (!fam) return;
    const auto dst = addr(attrs_of(nlh, sizeof(ndmsg))[NDA_DST], *fam);
    if (dst) s.neighbors[{ndm->ndm_ifindex, *fam, dst->b}] = ndm->ndm_state;
}

} // namespace ptbsteer::sync::detail
