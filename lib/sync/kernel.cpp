// Reads a router's kernel over rtnetlink with libmnl (kernel.h): the sockets, the network
// namespace, the dumps and the notifications. The messages are parsed in kernel_parse.cpp.
#include "sync/kernel.h"

#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include "sync/kernel_parse.h"

namespace ptbsteer::sync {
namespace {

using namespace detail;

[[noreturn]] void fail(const std::string& what, int err = errno) {
    throw std::runtime_error(fmt::format("{}: {}", what, std::strerror(err)));
}

std::optional<std::uint32_t> read_number(const char* path) {
    std::ifstream f(path);
    std::uint32_t v = 0;
    if (f >> v) return v;
    return std::nullopt;
}

// Read inside the namespace: /proc/sys/net shows the calling thread's network namespace. A file
// the kernel lacks (the seed before 6.11, the fields before 5.14) keeps its default.
Sysctls read_sysctls() {
    Sysctls s;
    const auto num = [](const char* path) { return read_number(path).value_or(0); };
    s.v4_policy = num("/proc/sys/net/ipv4/fib_multipath_hash_policy");
    s.v4_fields = num("/proc/sys/net/ipv4/fib_multipath_hash_fields");
    s.v6_policy = num("/proc/sys/net/ipv6/fib_multipath_hash_policy");
    s.v6_fields = num("/proc/sys/net/ipv6/fib_multipath_hash_fields");
    // One number on 6.18: the configured seed, 0 when none is (a random per-boot key).
    s.seed = read_number("/proc/sys/net/ipv4/fib_multipath_hash_seed");
    s.use_neigh = num("/proc/sys/net/ipv4/fib_multipath_use_neigh") != 0;
    s.v4_ignore_linkdown = num("/proc/sys/net/ipv4/conf/all/ignore_routes_with_linkdown") != 0;
    s.v6_ignore_linkdown = num("/proc/sys/net/ipv6/conf/all/ignore_routes_with_linkdown") != 0;
    return s;
}

// Moves the calling thread into network namespace `target` until leave() or destruction
// (setns(2) moves only the calling thread). target < 0: stays where it is.
class Visit {
  public:
    Visit(int target, int home) : home_(target >= 0 ? home : -1) {
        if (home_ >= 0 && setns(target, CLONE_NEWNET) != 0)
            fail("cannot enter the network namespace (setns)");
    }
    void leave() {
        if (home_ >= 0 && setns(std::exchange(home_, -1), CLONE_NEWNET) != 0)
            fail("cannot return to the original network namespace (setns)");
    }
    ~Visit() {
        if (home_ >= 0) setns(home_, CLONE_NEWNET); // unwinding: best effort
    }
    Visit(const Visit&) = delete;
    Visit& operator=(const Visit&) = delete;

  private:
    int home_;
};

mnl_socket* open_socket(int flags) {
    mnl_socket* s = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | flags);
    if (!s) fail("cannot open an rtnetlink socket");
    if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
        const int err = errno;
        mnl_socket_close(s);
        fail("cannot bind an rtnetlink socket", err);
    }
    return s;
}

// RTNLGRP_NEXTHOP is 32, beyond bind()'s 32-bit group mask: every group is joined the same way,
// with NETLINK_ADD_MEMBERSHIP (net/netlink/af_netlink.c netlink_setsockopt).
void subscribe(mnl_socket* s) {
    for (unsigned g :
         {RTNLGRP_LINK, RTNLGRP_NEIGH, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE, RTNLGRP_NEXTHOP})
        if (mnl_socket_setsockopt(s, NETLINK_ADD_MEMBERSHIP, &g, sizeof g) < 0)
            fail(fmt::format("cannot join rtnetlink group {}", g));
    // A burst (a BGP session's full table) must not overrun it. SO_RCVBUFFORCE goes past
    // net.core.rmem_max with CAP_NET_ADMIN; without it, SO_RCVBUF gets what rmem_max allows.
    const int size = 4 << 20;
    const int fd = mnl_socket_get_fd(s);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0 &&
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) < 0)
        fail("cannot size the rtnetlink notification socket");
}

void count(Events& ev, std::uint16_t type) {
    switch (type) {
    case RTM_NEWROUTE:
    case RTM_DELROUTE: ++ev.route; break;
    case RTM_NEWNEXTHOP:
    case RTM_DELNEXTHOP:
    case RTM_NEWNEXTHOPBUCKET:
    case RTM_DELNEXTHOPBUCKET: ++ev.nexthop; break;
    case RTM_NEWLINK:
    case RTM_DELLINK: ++ev.link; break;
    case RTM_NEWNEIGH:
    case RTM_DELNEIGH: ++ev.neighbor; break;
    default: break;
    }
}

} // namespace

struct Kernel::Impl {
    int home = -1;   // the caller's network namespace (open only when netns is given)
    int target = -1; // the router's
    mnl_socket* req = nullptr;
    mnl_socket* events = nullptr;
    unsigned seq = 0;
    std::vector<char> buf = std::vector<char>(1 << 16); // > the kernel's 32 KiB dump skbs

    ~Impl() {
        if (req) mnl_socket_close(req);
        if (events) mnl_socket_close(events);
        if (home >= 0) close(home);
        if (target >= 0) close(target);
    }

    // One dump request; `each` sees every message of the answer. False when the kernel marked
    // it interrupted (NLM_F_DUMP_INTR: the table changed under it). optional: a kernel without
    // this message type (EOPNOTSUPP, e.g. nexthops before 5.3) answers an empty dump.
    template <class F>
    bool dump(std::uint16_t type, std::uint8_t family, std::size_t hdrlen, F&& each,
              bool optional = false) {
        nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        nlh->nlmsg_seq = ++seq;
        // ifinfomsg, ndmsg, nhmsg and rtmsg all begin with their family byte.
        static_cast<std::uint8_t*>(mnl_nlmsg_put_extra_header(nlh, hdrlen))[0] = family;
        if (mnl_socket_sendto(req, nlh, nlh->nlmsg_len) < 0) fail("cannot send a netlink dump");
        const unsigned portid = mnl_socket_get_portid(req);
        bool intr = false;
        for (;;) {
            int n = static_cast<int>(mnl_socket_recvfrom(req, buf.data(), buf.size()));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) fail("cannot read a netlink dump");
            for (auto* m = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(m, n);
                 m = mnl_nlmsg_next(m, &n)) {
                if (m->nlmsg_seq != seq || m->nlmsg_pid != portid) continue; // an older dump's
                intr |= (m->nlmsg_flags & NLM_F_DUMP_INTR) != 0;
                if (m->nlmsg_type == NLMSG_DONE || m->nlmsg_type == NLMSG_ERROR) {
                    // Both begin with an int error; NLMSG_DONE's is the dump's (netlink_dump_done).
                    const auto* err = header<int>(m);
                    const int e = err ? -*err : 0;
                    if (e == 0 || (optional && e == EOPNOTSUPP)) return !intr;
                    fail(fmt::format("netlink dump (message type {}) failed", type), e);
                }
                if (m->nlmsg_type >= NLMSG_MIN_TYPE) each(m);
            }
        }
    }

    // False: the dumps did not agree with each other (a change between them); dump again.
    bool dump_once(KernelState& s) {
        s = {};
        Objects o;
        std::vector<Parsed> routes;
        const auto link = [&](const nlmsghdr* m) { add_link(m, s); };
        const auto neigh = [&](const nlmsghdr* m) { add_neighbor(m, s); };
        const auto nh = [&](const nlmsghdr* m) { add_nexthop(m, o); };
        const auto bucket = [&](const nlmsghdr* m) { add_bucket(m, o); };
        const auto route = [&](const nlmsghdr* m) {
            if (auto p = parse_route(m)) routes.push_back(std::move(*p));
        };
        if (!dump(RTM_GETLINK, AF_UNSPEC, sizeof(ifinfomsg), link) ||
            !dump(RTM_GETNEIGH, AF_INET, sizeof(ndmsg), neigh) ||
            !dump(RTM_GETNEIGH, AF_INET6, sizeof(ndmsg), neigh) ||
            !dump(RTM_GETNEXTHOP, AF_UNSPEC, sizeof(nhmsg), nh, true))
            return false;
        bool resilient = false;
        for (const auto& [id, n] : o.nh)
            resilient |= n.resilient;
        if (resilient && !dump(RTM_GETNEXTHOPBUCKET, AF_UNSPEC, sizeof(nhmsg), bucket, true))
            return false;
        if (!dump(RTM_GETROUTE, AF_INET, sizeof(rtmsg), route) ||
            !dump(RTM_GETROUTE, AF_INET6, sizeof(rtmsg), route))
            return false;
        merge_siblings(routes);
        for (auto& p : routes) {
            if (p.route.nhid && !resolve(p.route, o)) return false;
            for (auto& h : p.route.hops)
                if (const auto l = s.links.find(h.ifindex); l != s.links.end())
                    h.ifname = l->second;
            s.routes.push_back(std::move(p.route));
        }
        return true;
    }
};

Kernel::Kernel(const std::string& netns) : impl_(new Impl) {
    try {
        if (!netns.empty()) {
            if (netns.find('/') != std::string::npos || netns == "." || netns == "..")
                throw std::runtime_error(fmt::format("invalid network namespace name '{}'", netns));
            // thread-self: the calling thread's namespace, which may differ from the process's.
            impl_->home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
            if (impl_->home < 0) fail("cannot open /proc/thread-self/ns/net");
            const std::string path = "/var/run/netns/" + netns;
            impl_->target = open(path.c_str(), O_RDONLY | O_CLOEXEC);
            if (impl_->target < 0)
                fail(fmt::format("network namespace '{}' not found: {}", netns, path));
        }
        // A netlink socket belongs to the namespace it was created in, wherever it is used.
        Visit in(impl_->target, impl_->home);
        impl_->req = open_socket(0);
        impl_->events = open_socket(SOCK_NONBLOCK);
        subscribe(impl_->events);
        in.leave();
    } catch (...) {
        delete impl_;
        throw;
    }
}

Kernel::~Kernel() {
    delete impl_;
}

int Kernel::fd() const {
    return mnl_socket_get_fd(impl_->events);
}

KernelState Kernel::dump() {
    KernelState s;
    constexpr int attempts = 8;
    int i = 0;
    while (!impl_->dump_once(s))
        if (++i == attempts)
            throw std::runtime_error(
                fmt::format("the kernel's tables kept changing during {} dumps", attempts));
    Visit in(impl_->target, impl_->home);
    s.sysctls = read_sysctls();
    in.leave();
    return s;
}

std::optional<std::uint16_t> Kernel::neighbor(const NeighborKey& key) {
    const auto& [ifindex, family, bytes] = key;
    char* buf = impl_->buf.data();
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_GETNEIGH;
    nlh->nlmsg_flags = NLM_F_REQUEST;
    nlh->nlmsg_seq = ++impl_->seq;
    auto* ndm = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ndmsg)));
    ndm->ndm_family = family == packet::Family::v4 ? AF_INET : AF_INET6;
    ndm->ndm_ifindex = ifindex;
    mnl_attr_put(nlh, NDA_DST, family == packet::Family::v4 ? 4 : 16, bytes.data());
    if (mnl_socket_sendto(impl_->req, nlh, nlh->nlmsg_len) < 0)
        fail("cannot send a neighbour request");
    const unsigned portid = mnl_socket_get_portid(impl_->req);
    for (;;) {
        int n = static_cast<int>(mnl_socket_recvfrom(impl_->req, buf, impl_->buf.size()));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail("cannot read a neighbour answer");
        for (auto* m = reinterpret_cast<const nlmsghdr*>(buf); mnl_nlmsg_ok(m, n);
             m = mnl_nlmsg_next(m, &n)) {
            if (m->nlmsg_seq != impl_->seq || m->nlmsg_pid != portid) continue;
            if (m->nlmsg_type == NLMSG_ERROR) {
                const auto* err = header<int>(m);
                const int e = err ? -*err : 0;
                if (e == ENOENT) return std::nullopt;
                fail("neighbour request failed", e);
            }
            if (m->nlmsg_type == RTM_NEWNEIGH)
                if (const auto* got = header<ndmsg>(m)) return got->ndm_state;
        }
    }
}

Sysctls Kernel::sysctls() {
    Visit in(impl_->target, impl_->home);
    Sysctls s = read_sysctls();
    in.leave();
    return s;
}

Events Kernel::drain() {
    Events ev;
    const int fd = mnl_socket_get_fd(impl_->events);
    // Bounded, so that a flood cannot keep the caller here: what is left keeps fd() readable.
    for (int reads = 0; reads < 65536; ++reads) {
        const ssize_t got = recv(fd, impl_->buf.data(), impl_->buf.size(), MSG_DONTWAIT);
        if (got < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return ev;
            // The kernel dropped notifications for this socket (af_netlink.c netlink_overrun).
            if (errno == ENOBUFS) {
                ev.overrun = true;
                continue;
            }
            fail("cannot read rtnetlink notifications");
        }
        int n = static_cast<int>(got);
        for (auto* m = reinterpret_cast<const nlmsghdr*>(impl_->buf.data()); mnl_nlmsg_ok(m, n);
             m = mnl_nlmsg_next(m, &n))
            count(ev, m->nlmsg_type);
    }
    return ev;
}

} // namespace ptbsteer::sync
