#!/usr/bin/python3
"""ptbsteer-sync with real routing daemons (issue 21, "Done when"): FRR decides the router's
routes over BGP, ptbsteer-sync copies them into ptbsteer, and the servers' kernels judge where
ptbsteer sends each PTB.

Topology (namespaces ptbfr-PID-*): a client (c0) -- router (rin; r-srvK) -- servers srv1..srv9,
each on a point-to-point link to the router, each holding the VIPs 198.51.100.10 and
2001:db8:100::10 on lo and listening on port 80 (tests/e2e's server). The router runs FRR 8.4
(zebra + bgpd: eBGP, multipath-relax, maximum-paths 16, timers 1 3, hash seed set, policy 0)
and learns the VIP routes 198.51.100.0/24 and 2001:db8:100::/48 from a BIRD 2 on every server:
IPv4 sessions whose BGP next hop is a second server address (so that next hop's neighbour entry
on the router sees forwarded traffic only, none of BGP's), and IPv6 sessions, which zebra
installs via the server's link-local address and device. zebra installs nexthop objects ordered
by its own ids, which depend on history: the order is state, not configuration. A delivery LAN
(a bridge) joins the servers and ptbsteer (af_packet: PTBs injected on steer-in, delivered on
steer-out), which reaches each next-hop by the router's gateway address (`via`, resolved by ARP
/ ND): every server answers ARP for its next-hop address there and holds its router link's
link-local address on its LAN port too. ptbsteer-sync (sync_e2e.sync_config: groups site4 and
site6, one per route, plus `transition:`) runs beside ptbsteer's control API and reads the
router's namespace (`netns:`). Client and servers send IPv6 flow label 0 (auto_flowlabels 0):
the router hashes the label under policy 0, and `ip route get` cannot be given one.

Changes, in order, IPv4 and IPv6 alike: 1 start: srv1..srv8 announce, srv9's sessions are off;
2 srv3 withdraws (`birdc disable` of its static VIP routes); 3 srv3 returns; 4 srv9 joins (its
sessions enabled: 8 + a 9th); 5 every BIRD adds the BGP link-bandwidth extended community
(routing_daemons.link_bandwidth) and FRR's weighted ECMP (`bgp bestpath bandwidth
default-weight-for-missing`) installs unequal weights, bw x 100 / total, which the kernel's
group must show; 6 srv4's link to the router goes down (srv4-r down: r-srv4 loses its carrier,
zebra drops the next-hop, weights recomputed); 7 with net.ipv4.fib_multipath_use_neigh=1 the
router's neighbour entries of srv2's two next-hops are set FAILED: the kernel passes srv2's
flows on (nexthop groups check neighbours always), ptbsteer-sync marks srv2 `neighbour: invalid`.

After each change the router's kernel and ptbsteer are polled, both families in one loop, until
the kernel's group holds what the change makes and GET /v1/groups/NAME serves exactly its
next-hops, order, weights and invalid marks; printed: change -> kernel (the daemons), change ->
ptbsteer, and kernel -> ptbsteer (an upper bound: from the last look at the kernel that did not
see the change yet). Then, per family: 1,000 random flows looked up both ways (`ip -batch route
get ... iif rin` on the router against a batch POST /v1/decide: sync_e2e's kernel_choices,
ptbsteer_choices); a batch of new real TCP connections through the router (e2e_flows.connect)
whose owners (ss) POST /v1/decide must name; once ptbsteer has resolved every next-hop, each
connection's PTB (quoting its live segment, as a router on the path would) is injected into
ptbsteer, and the kernels judge: the owner's learns mtu 1400 (`ip route get`), no other server's
learns anything. The router's groups must not have moved while a change was judged. Change 7
also holds the router's own `route get ... iif` to every connection's owner, none of them srv2,
and the FAILED entries must still be there at the end. Connections made before the withdrawal
get their PTBs after it: POST /v1/decide must keep, for those whose owner moved, their own
server as a transition copy, and their owners' kernels must learn. At the end: ptbsteer-sync's
ptbsteer_sync_in_sync is 1, ptbsteer exits 0 and its exit report balances.

Negative controls: the start's 1,000 flows per family, as the start's group decided them, are
looked up in the kernel again after the withdrawal and must in part disagree (a stale group
would send them astray, so the comparison can fail); `--transition 0` pushes the groups without
transitions, and the run must then FAIL (the moved connections made before the withdrawal).

Run as root with /usr/bin/python3, under flock /tmp/ptbsteer-test.lock. Exit: 0 pass, 1 check
failed, 2 setup error, 77 not root or FRR/BIRD missing.
Usage: frr_e2e.py --ptbsteer BIN --sync BIN [--flows N] [--transition S] [--seed S]
"""
import argparse
import ipaddress
import json
import os
import pwd
import random
import shutil
import sys
import tempfile
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, os.path.join(HERE, "..", "kernel"))
import e2e_deliver  # noqa: E402
import e2e_flows  # noqa: E402
import e2e_judge  # noqa: E402
from e2e_deliver import (SteerRun, all_in, control_api, format_states, inject,  # noqa: E402
                         ptb_frame, steer_base, states_now)
from e2e_flows import connect, start_servers  # noqa: E402
from e2e_judge import wait_learned, wait_until  # noqa: E402
from e2e_topology import (INJ_MAC, PTB_MTU, STEER_IN_MAC, STEER_OUT_MAC, VIP,  # noqa: E402
                          client_addr, lan_mac, lan_setup, link_local)
from e2e_transition import flow_json  # noqa: E402
from e2e_truth import catch_signals  # noqa: E402
from kernel_topology import SERVICE_NET4, SERVICE_NET6, random_flows  # noqa: E402
from lib import config  # noqa: E402
from lib.checks import Checks  # noqa: E402
from lib.netns import InNetns, Namespaces, delete_orphans, ip_batch, nsexec, sysctl  # noqa: E402
from lib.procs import Procs, SetupError, run  # noqa: E402
from lib.runner import BALANCED, remove_eal_dirs  # noqa: E402
from routing_daemons import FRR_DIR, Bird, Frr, link_bandwidth, remove_frr_run_dirs  # noqa
from sync_e2e import Sync, group_state, kernel_choices, ptbsteer_choices, sync_config  # noqa

ROUTE = {4: SERVICE_NET4, 6: SERVICE_NET6}     # what BIRD announces (holds the VIPs)
GROUP = {4: "site4", 6: "site6"}
SERVERS = 9                  # srv9 joins in change 4
ROUTER_AS = 65000
TRANSITION = 30              # the groups' `transition:` (ptbsteer-sync passes it on)
APPLIANCE = "127.0.0.1:9470"     # ptbsteer's control API (e2e_deliver.CONTROL_LISTEN)
BANDWIDTH = {1: 1000, 2: 2000, 3: 1000, 4: 3000, 5: 1000, 6: 1000, 7: 2000, 8: 1000, 9: 1000}
GAP_MS = 0.5                 # between injected PTBs
CLIENTS = {4: "192.0.2.0/24", 6: "2001:db8:2::/64"}    # e2e_topology.client_addr's
CLIENT_LINK = {4: ("203.0.113.249", "203.0.113.250"),  # (router, client) on rin -- c0
               6: ("2001:db8:fe:ff::1", "2001:db8:fe:ff::2")}


# --------------------------------------------------------------------------------------------
# Addresses (documentation ranges only) and the topology

def p2p(fam, k):
    """(router, server session, server next hop) addresses of the router<->srvK link: IPv4 a
    /29 in 203.0.113.128/25, IPv6 2001:db8:fe:K::/64 (whose next hop zebra installs as the
    server's link-local address)."""
    if fam == 4:
        base = 128 + 8 * (k - 1)
        return tuple(f"203.0.113.{base + i}" for i in (1, 2, 3))
    return f"2001:db8:fe:{k:x}::1", f"2001:db8:fe:{k:x}::2", f"2001:db8:fe:{k:x}::2"


def srv_link_mac(k):
    return f"02:70:74:62:02:{k:02x}"


def gateway(fam, k):
    """srvK's next-hop address in the router's kernel."""
    return p2p(4, k)[2] if fam == 4 else link_local(srv_link_mac(k))


class Net(Namespaces):
    """client -- router -- srv1..srv9 (+ the delivery LAN, ptbsteer's and the injector's
    namespaces); attributes as e2e_flows.connect expects (families, flows_per_family, n)."""

    def __init__(self, prefix, flows):
        super().__init__()
        self.p = prefix
        self.cl, self.rt, self.lan, self.st, self.inj = (prefix + s for s in
                                                         ("cl", "rt", "lan", "st", "inj"))
        self.n = SERVERS
        self.families = [4, 6]
        self.flows_per_family = flows

    def srv(self, k):
        return f"{self.p}s{k}"

    def adopt(self):
        """The e2e modules name their namespaces through module globals (fixed ptbe-* names,
        never two runs at once); point them at ours, so their connection, capture, PTB and
        judging code runs here unchanged."""
        e2e_flows.NS_CLIENT = self.cl
        e2e_flows.srv_ns = self.srv
        e2e_judge.srv_ns = self.srv
        e2e_deliver.NS_STEER = self.st
        e2e_deliver.NS_INJ = self.inj

    def create(self, clients):
        self.add(self.cl, self.rt, self.lan, self.st, self.inj,
                 *[self.srv(k) for k in range(1, self.n + 1)])
        self._sysctls()
        ip_batch(self.rt, [f"link add rin type veth peer name c0 netns {self.cl}"] +
                 [f"link add r-srv{k} type veth peer name srv{k}-r netns {self.srv(k)}"
                  for k in range(1, self.n + 1)])
        self._router()
        self._client(clients)
        self._lan()
        for k in range(1, self.n + 1):
            self._server(k)

    def _sysctls(self):
        nodad = [("net.ipv6.conf.all.accept_dad", 0), ("net.ipv6.conf.default.accept_dad", 0)]
        quiet = [("net.ipv6.conf.all.disable_ipv6", 1), ("net.ipv6.conf.default.disable_ipv6", 1)]
        # IPv6 flow label 0 on both ends (the router hashes it under policy 0, ptbsteer hashes
        # the quoted one): `ip route get`, which takes no label, then looks up what the router
        # forwarded.
        nolabel = [("net.ipv6.auto_flowlabels", 0)]
        self.edge_sysctls(self.rt, self.cl)
        # No router solicitations: an RS from a server's link-local address would refresh the
        # router's neighbour entry of that gateway (change 7 sets it FAILED).
        nors = [("net.ipv6.conf.all.router_solicitations", 0),
                ("net.ipv6.conf.default.router_solicitations", 0),
                ("net.ipv6.conf.all.accept_ra", 0), ("net.ipv6.conf.default.accept_ra", 0)]
        for k in range(1, self.n + 1):
            # flowlabel_reflect: the quoted IPv6 label is the one the router hashed (e2e).
            sysctl(self.srv(k), nodad + nolabel + nors + [
                ("net.ipv4.conf.all.rp_filter", 0), ("net.ipv4.conf.default.rp_filter", 0),
                ("net.ipv6.flowlabel_reflect", 1)])
        for ns in (self.lan, self.st, self.inj):
            sysctl(ns, quiet)

    @staticmethod
    def edge_sysctls(rt, cl):
        """A router namespace's sysctls and its client namespace's."""
        nodad = [("net.ipv6.conf.all.accept_dad", 0), ("net.ipv6.conf.default.accept_dad", 0)]
        sysctl(cl, nodad + [("net.ipv6.auto_flowlabels", 0)])
        sysctl(rt, nodad + [
            ("net.ipv4.ip_forward", 1), ("net.ipv6.conf.all.forwarding", 1),
            ("net.ipv4.fib_multipath_hash_seed", 0x5eed1), ("net.ipv4.fib_multipath_use_neigh", 1),
            ("net.ipv4.fib_multipath_hash_policy", 0), ("net.ipv6.fib_multipath_hash_policy", 0),
            ("net.ipv4.conf.all.rp_filter", 0), ("net.ipv4.conf.default.rp_filter", 0)])

    def _router(self, rt=None, addr=None):
        """Router `rt` (default ours): its address on each server link is addr(family, k)
        (default p2p's router side)."""
        addr = addr or (lambda fam, k: p2p(fam, k)[0])
        r = ["link set lo up", "link set rin up", f"addr add {CLIENT_LINK[4][0]}/30 dev rin",
             f"addr add {CLIENT_LINK[6][0]}/64 dev rin nodad"]
        for k in range(1, self.n + 1):
            r += [f"addr add {addr(4, k)}/29 dev r-srv{k}",
                  f"addr add {addr(6, k)}/64 dev r-srv{k} nodad", f"link set r-srv{k} up"]
        # The clients' addresses sit behind one gateway: the router holds one neighbour entry
        # for them, not hundreds.
        r += [f"route add {net} via {CLIENT_LINK[fam][1]}" for fam, net in CLIENTS.items()]
        ip_batch(rt or self.rt, r)

    def _client(self, n, cl=None, first=0):
        """Client namespace `cl` (default ours) with client addresses first .. first + n - 1."""
        c = ["link set lo up", "link set c0 up", f"addr add {CLIENT_LINK[4][1]}/30 dev c0",
             f"addr add {CLIENT_LINK[6][1]}/64 dev c0 nodad"]
        c += [f"addr add {client_addr(4, i)}/32 dev lo" for i in range(first, first + n)]
        c += [f"addr add {client_addr(6, i)}/128 dev lo" for i in range(first, first + n)]
        ip_batch(cl or self.cl, c + [f"route add default via {CLIENT_LINK[4][0]}",
                                     f"route add default via {CLIENT_LINK[6][0]}"])

    def _lan(self):
        ip_batch(self.lan, ["link add br0 type bridge forward_delay 0 stp_state 0 "
                            "mcast_snooping 0",
                            f"link add lan-steer type veth peer name steer-out netns {self.st}"]
                 + [f"link add lan-srv{k} type veth peer name srv{k}-lan netns {self.srv(k)}"
                    for k in range(1, self.n + 1)])
        ip_batch(self.st, [f"link add steer-in type veth peer name inj0 netns {self.inj}",
                           f"link set steer-in address {STEER_IN_MAC}",
                           f"link set steer-out address {STEER_OUT_MAC}",
                           "link set steer-in up", "link set steer-out up", "link set lo up"])
        ip_batch(self.inj, [f"link set inj0 address {INJ_MAC}", "link set inj0 up"])
        ports = ["lan-steer"] + [f"lan-srv{k}" for k in range(1, self.n + 1)]
        ip_batch(self.lan, [f"link set {p} master br0" for p in ports] +
                 [f"link set {p} up" for p in ports] + ["link set br0 up"])

    def _server(self, k):
        r4, s4, nh4 = p2p(4, k)
        r6, s6, _ = p2p(6, k)
        ip_batch(self.srv(k), [
            "link set lo up", f"addr add {VIP[4]}/32 dev lo", f"addr add {VIP[6]}/128 dev lo",
            f"link set srv{k}-r address {srv_link_mac(k)}",
            f"addr add {s4}/29 dev srv{k}-r", f"addr add {nh4}/29 dev srv{k}-r",
            f"addr add {s6}/64 dev srv{k}-r nodad", f"link set srv{k}-r up",
            f"route add default via {r4}", f"route add default via {r6}"]
            + lan_setup(k, lan_mac(k))
            # ptbsteer solicits the router's link-local gateway on the LAN: answer it there too.
            + [f"addr add {gateway(6, k)}/64 dev srv{k}-lan nodad",
               # With its router link down (change 6) the server keeps a route to the clients,
               # so `ip route get` (the judge) still answers there.
               f"route add default dev srv{k}-lan metric 4000",
               f"route add ::/0 dev srv{k}-lan metric 4000"])


# --------------------------------------------------------------------------------------------
# The routing daemons' configurations

def frr_conf(n):
    r = ["frr defaults datacenter", "hostname router", "!", f"router bgp {ROUTER_AS}",
         f" bgp router-id {p2p(4, 1)[0]}", " no bgp ebgp-requires-policy",
         " no bgp default ipv4-unicast", " bgp bestpath as-path multipath-relax",
         " bgp bestpath bandwidth default-weight-for-missing", " timers bgp 1 3"]
    for k in range(1, n + 1):
        for fam in (4, 6):
            peer = p2p(fam, k)[1]
            r += [f" neighbor {peer} remote-as {ROUTER_AS + k}",
                  f" neighbor {peer} timers connect 1"]
    for fam, afi in ((4, "ipv4"), (6, "ipv6")):
        r += [f" address-family {afi} unicast", "  maximum-paths 16"]
        r += [f"  neighbor {p2p(fam, k)[1]} activate" for k in range(1, n + 1)]
        r += [" exit-address-family"]
    return "\n".join(r) + "\n"


def bird_conf(k, workdir, sessions=True, bandwidth=None, more=()):
    """srvK's BIRD: static VIP routes (vip4, vip6; `birdc disable` withdraws them) exported to
    the router over one eBGP session per family (protocols r4, r6; disabled until srvK joins
    when not `sessions`), with a link-bandwidth community of `bandwidth` Mbit/s when given.
    `more`: further routers on srvK's link, (protocol name prefix P, the router's address
    function (family, k), enabled) each: their sessions are protocols P4 and P6."""
    asn = ROUTER_AS + k
    lb = f"bgp_ext_community.add({link_bandwidth(asn, bandwidth)}); " if bandwidth else ""
    text = (f'log "{workdir}/srv{k}.log" all;\nrouter id {p2p(4, k)[1]};\n'
            "protocol device { }\n"
            f"protocol static vip4 {{ ipv4; route {ROUTE[4]} blackhole; }}\n"
            f"protocol static vip6 {{ ipv6; route {ROUTE[6]} blackhole; }}\n")
    routers = [("r", lambda f, i: p2p(f, i)[0], sessions), *more]
    for name, addr, on, fam in [(*rt, fam) for rt in routers for fam in (4, 6)]:
        _, s, nh = p2p(fam, k)
        r = addr(fam, k)
        hop = f" next hop address {nh};" if fam == 4 else ""
        text += (f"protocol bgp {name}{fam} {{\n  {'' if on else 'disabled; '}"
                 f"local {s} as {asn}; neighbor {r} as {ROUTER_AS};\n"
                 "  hold time 3; keepalive time 1; connect delay time 1; connect retry time 1;"
                 " error wait time 1, 2;\n"
                 f"  ipv{fam} {{ import none; export filter {{ if proto = \"vip{fam}\" then "
                 f"{{ {lb}accept; }} reject; }};{hop} }};\n}}\n")
    return text


def frr_weights(live, bandwidth):
    """The weights FRR 8.4 gives its multipaths with link bandwidth (bgp_zebra.c: bw x 100 /
    the total of the multipaths' bandwidth, in Mbit/s, truncated)."""
    total = sum(bandwidth[k] for k in live)
    return {k: bandwidth[k] * 100 // total for k in live}


# --------------------------------------------------------------------------------------------
# The router's kernel and ptbsteer's groups

def server_of(dev):
    return int(dev.rsplit("srv", 1)[1])


def kernel_group(rt, fam):
    """[(server, gateway, device, weight)] of the VIP route in the kernel's order (a nexthop
    object group or a legacy multipath route); [] without a route."""
    routes = json.loads(run(nsexec(rt, "ip", "-j", f"-{fam}", "route", "show", ROUTE[fam]))
                        .stdout or "[]")
    if not routes:
        return []
    route = routes[0]
    if "nhid" in route:
        nhs = {nh["id"]: nh for nh in json.loads(run(nsexec(rt, "ip", "-j", "nexthop", "show"))
                                                 .stdout)}
        group = nhs[route["nhid"]].get("group") or [{"id": route["nhid"], "weight": 1}]
        hops = [(nhs[g["id"]], g.get("weight", 1)) for g in group]
    else:
        hops = [(h, h.get("weight", 1)) for h in route.get("nexthops", [route])]
    return [(server_of(h["dev"]), str(ipaddress.ip_address(h["gateway"])), h["dev"], w)
            for h, w in hops]


def hop_name(gw, dev):
    """ptbsteer-sync's name of a next-hop (docs/router-sync.md): the gateway, `@device` after a
    link-local one."""
    return f"{gw}@{dev}" if gw.startswith("fe80:") else gw


def served(api, fam, router=None):
    """[(name, weight, neighbour)] ptbsteer serves in group site4/site6 (router `router`'s
    state of it, when given), in order."""
    g = group_state(api, GROUP[fam], router) or {}
    return [(h["name"], h.get("weight", 1), h.get("neighbour", "valid"))
            for h in g.get("next_hops", [])]


def wanted(group, invalid=()):
    return [(hop_name(gw, dev), w, "invalid" if k in invalid else "valid")
            for k, gw, dev, w in group]


def wait_change(rt, api, live, weights=None, invalid=(), timeout=30, router=None):
    """Polls the router's kernel until the VIP routes' groups hold exactly the servers `live`
    (with these weights, when given), and ptbsteer until it serves each as the kernel holds it
    (`invalid`: the servers whose next-hops it must mark `neighbour: invalid`; `router`: in
    that router's state), both families in one loop. {family: (the kernel's group, when the
    last look at the kernel that did not see it yet began (None: the first look saw it), when
    the kernel was seen holding it, when ptbsteer was first seen serving it (None: not in
    time))}, times monotonic."""
    deadline = time.monotonic() + timeout
    state = {fam: [None, None, None, None] for fam in (4, 6)}
    while any(st[3] is None for st in state.values()) and time.monotonic() < deadline:
        for fam, st in state.items():
            began = time.monotonic()
            if st[2] is None:
                g = kernel_group(rt, fam)
                if sorted(k for k, *_ in g) == sorted(live) and \
                        (weights is None or all(w == weights[k] for k, _, _, w in g)):
                    st[0], st[2] = g, time.monotonic()
                else:
                    st[1] = began
            if st[2] is not None and st[3] is None and \
                    served(api, fam, router) == wanted(st[0], invalid):
                st[3] = time.monotonic()
        time.sleep(0.002)
    for fam, st in state.items():
        if st[2] is None:
            raise SetupError(f"IPv{fam}: the router's kernel never held srv{sorted(live)}"
                             f"{' with weights ' + str(weights) if weights else ''} in "
                             f"{timeout} s: {kernel_group(rt, fam)}")
    return {fam: tuple(st) for fam, st in state.items()}


# --------------------------------------------------------------------------------------------
# One change: applied, then judged

class Run:
    """`router`: the border router whose state of the groups is judged (`net.rt` is its
    namespace; None: the groups' state for every router); `first`: the index of its clients'
    first address (e2e_topology.client_addr)."""

    def __init__(self, a, net, procs, api, sync, workdir, c, rng, router=None, first=0):
        self.a, self.net, self.procs, self.api, self.sync = a, net, procs, api, sync
        self.workdir, self.c, self.rng = workdir, c, rng
        self.router, self.first = router, first
        self.batches = self.injected = 0      # connection batches made, PTB batches sent
        self.clients = []
        self.lags = []
        self.names_before = {}       # next-hop name -> server, of earlier groups

    def applied(self, title, started, live, weights=None, invalid=()):
        """Waits for the kernel to hold `live` and ptbsteer to serve it (wait_change); checks
        it does and prints how long it took from `started` (when the change was made) to the
        kernel (the daemons) and to ptbsteer serving it, and from the kernel to ptbsteer
        (ptbsteer-sync: at most the time since the last look at the kernel that did not see the
        change yet). Returns {family: kernel group}."""
        change = wait_change(self.net.rt, self.api, live, weights, invalid,
                             router=self.router)
        for fam, (g, missed, seen, done) in change.items():
            hops = ", ".join(f"srv{k}" + (f"/{w}" if weights else "") for k, _, _, w in g)
            bad = f"; invalid: {','.join(f'srv{k}' for k in invalid)}" if invalid else ""
            lag = ""
            if done:
                lag = f", change -> ptbsteer {done - started:.2f} s"
                if missed:
                    lag += f" (kernel -> ptbsteer <= {1000 * (done - missed):.0f} ms)"
                    self.lags.append(done - missed)
            self.c.check(bool(done), f"{title}: ptbsteer serves {GROUP[fam]} as the kernel "
                         f"holds it ({hops}{bad}); change -> kernel {seen - started:.2f} s{lag}",
                         f"kernel {wanted(g, invalid)}\n"
                         f"ptbsteer {served(self.api, fam, self.router)}")
        return {fam: change[fam][0] for fam in change}

    def steady(self, title, groups):
        """The router's groups did not change while a change was judged (else the judging
        raced the daemons, and proves nothing)."""
        now = {fam: kernel_group(self.net.rt, fam) for fam in groups}
        self.c.check(now == groups, f"{title}: the router's groups held still while judged",
                     f"before {groups}\nafter {now}")

    def resolved(self, title):
        """ptbsteer has resolved every next-hop of site4/site6 on the LAN (reachable), so no
        PTB waits in its unresolved queue."""
        def ours(st):
            return {k: v for k, v in st.items() if k[0] in GROUP.values()}
        ok = wait_until(lambda: all_in(ours(states_now()), "reachable"), 10, 0.1)
        self.c.check(bool(ok), f"{title}: ptbsteer resolved every next-hop (ARP / ND on the LAN)",
                     format_states(ours(states_now())))

    def compare(self, title):
        """1,000 random flows per family: the kernel's forwarding choice and POST /v1/decide
        agree. Returns {family: (flows, kernel choices)}."""
        out = {}
        for fam in (4, 6):
            fl = random_flows(self.rng, fam, self.a.flows_random)
            kernel = kernel_choices(self.net.rt, fl)
            ours = [str(o).split("@")[0] for o in ptbsteer_choices(self.api, fl, self.router)]
            wrong = [f"{f.src} -> {f.dst} {f.proto} {f.sport} {f.dport}: kernel {k}, ptbsteer {o}"
                     for f, k, o in zip(fl, kernel, ours) if k != o]
            self.c.check(not wrong, f"{title}: IPv{fam}: {len(fl) - len(wrong)}/{len(fl)} random "
                         f"flows decided as the router's kernel forwards them "
                         f"({len(set(kernel))} next-hops used)", "\n".join(wrong[:5]))
            out[fam] = (fl, kernel)
        return out

    def connections(self, name):
        """A new batch of connections per family through the router (e2e_flows.connect)."""
        per = self.a.flows
        at = self.first + self.batches * per
        flows, client = connect(self.procs, self.net, self.workdir, range(at, at + per), name)
        self.batches += 1
        self.clients.append(client)
        return flows

    def decide_owners(self, title, flows, groups):
        """POST /v1/decide names each connection's owner (ss), by its gateway in the kernel's
        group (as PTBs from our router, when we have one)."""
        by_name = {hop_name(gw, dev): k for fam in groups for k, gw, dev, _ in groups[fam]}
        more = {"router": self.router} if self.router else {}
        status, answer, _ = self.api.call("POST", "/v1/decide",
                                          {"flows": [{**flow_json(f), **more} for f in flows]})
        got = [by_name.get(d.get("next_hop")) for d in (answer or {}).get("decisions", [])]
        bad = [f"{f}: owner srv{f.owner}, decide {d}" for f, d in zip(flows, got)
               if d != f.owner]
        self.c.check(status == 200 and len(got) == len(flows) and not bad,
                     f"{title}: POST /v1/decide names the owner of every one of the "
                     f"{len(flows)} connections", "\n".join(bad[:5]) or f"{status} {answer}")

    def ptbs(self, title, flows, src_mac=INJ_MAC):
        """Every connection's PTB into ptbsteer (frames from `src_mac`: a router's, for
        routers:); its owner's kernel learns mtu 1400, no other server's kernel learns
        anything."""
        n = self.net.n
        self.resolved(title)
        mtus = e2e_judge.learned_mtus(n, flows)
        if any(v is not None for v in mtus.values()):
            raise SetupError(f"{title}: an MTU learned before any PTB")
        self.injected += 1
        inject([ptb_frame(f, STEER_IN_MAC, src_mac) for f in flows], self.workdir,
               f"ptb{self.injected}.pcap", GAP_MS)
        mtus = wait_learned(n, flows, True, 3)
        wrong = []
        for f in flows:
            if mtus.get((f.owner, f.fam, f.client)) != PTB_MTU:
                wrong.append(f"{f}: owner srv{f.owner} shows mtu "
                             f"{mtus.get((f.owner, f.fam, f.client))}")
            wrong += [f"{f}: srv{k} (not its owner srv{f.owner}) learned "
                      f"{mtus[(k, f.fam, f.client)]}" for k in range(1, n + 1)
                      if k != f.owner and mtus.get((k, f.fam, f.client)) is not None]
        owners = sorted({f.owner for f in flows})
        self.c.check(not wrong, f"{title}: {len(flows)} PTBs through ptbsteer: each owner's "
                     f"kernel learned mtu {PTB_MTU}, no other server's did (owners "
                     f"{','.join(f'srv{k}' for k in owners)})", "\n".join(wrong[:8]))

    def judge(self, title, groups, flows=None):
        """New connections (unless given), decide, PTBs, kernels; the groups held still."""
        flows = flows or self.connections(f"c{self.batches}")
        self.decide_owners(title, flows, groups)
        self.ptbs(title, flows)
        self.steady(title, groups)

    def transition(self, title, flows, groups):
        """Connections made before the change: POST /v1/decide names each one's new owner
        (the kernel's now) and, for those whose owner moved, the owner they were made with
        among the transition copies."""
        by_name = {hop_name(gw, dev): k for fam in groups for k, gw, dev, _ in groups[fam]}
        by_name.update(self.names_before)
        status, answer, _ = self.api.call("POST", "/v1/decide",
                                          {"flows": [flow_json(f) for f in flows]})
        moved, bad = 0, []
        for f, d in zip(flows, (answer or {}).get("decisions", [])):
            now = by_name.get(d.get("next_hop"))
            earlier = [by_name.get(t) for t in d.get("transition", [])]
            if now != f.owner:
                moved += 1
                if f.owner not in earlier:
                    bad.append(f"{f}: made with srv{f.owner}, decide {d}")
        self.c.check(status == 200 and moved > 0 and not bad,
                     f"{title}: {moved} of the {len(flows)} connections made before the change "
                     "have a new owner; POST /v1/decide keeps their own server as a transition "
                     "copy", "\n".join(bad[:5]) or f"{status} {answer}")


def kernel_owners(rt, flows):
    """The server the router's kernel forwards each connection to (route get ... iif rin)."""
    lines = [f"route get to {VIP[f.fam]} from {f.client} iif rin ipproto tcp sport {f.cport} "
             "dport 80" for f in flows]
    out = ip_batch(rt, lines).stdout
    records = [ln for ln in out.splitlines() if ln and not ln[0].isspace()]
    return [server_of(r.split(" dev ")[1].split()[0]) for r in records]


# --------------------------------------------------------------------------------------------

def changes(r, birds, t):
    """The seven changes, each applied and judged; t: when the daemons started."""
    net, c = r.net, r.c
    live = list(range(1, 9))
    groups = r.applied("1 start (srv1..srv8 announce)", t, live)
    r.names_before = {hop_name(gw, dev): k for fam in groups for k, gw, dev, _ in groups[fam]}
    before = r.compare("1 start")
    r.judge("1 start", groups)
    pre = r.connections("pre")           # made now, their PTBs after the withdrawal
    start_decide = {fam: ptbsteer_choices(r.api, before[fam][0]) for fam in (4, 6)}

    t = time.monotonic()
    birds[3].birdc("disable", "vip4")
    birds[3].birdc("disable", "vip6")
    live = [k for k in live if k != 3]
    groups = r.applied("2 srv3 withdraws", t, live)
    r.compare("2 srv3 withdrawn")
    for fam in (4, 6):
        now = kernel_choices(net.rt, before[fam][0])
        stale = sum(1 for a, b in zip(start_decide[fam], now) if str(a).split("@")[0] != b)
        c.check(stale > 0, f"negative control: IPv{fam}: the start's group, kept, would now "
                f"decide {stale} of {len(now)} random flows unlike the kernel (it can fail)")
    r.judge("2 srv3 withdrawn", groups)
    title = (f"2 srv3 withdrawn, connections made before it ({sum(f.owner == 3 for f in pre)}"
             f" held by srv3; transition {r.a.transition} s)")
    r.transition(title, pre, groups)
    r.ptbs(title, pre)

    t = time.monotonic()
    birds[3].birdc("enable", "vip4")
    birds[3].birdc("enable", "vip6")
    live = sorted(live + [3])
    groups = r.applied("3 srv3 returns", t, live)
    r.compare("3 srv3 returned")
    r.judge("3 srv3 returned", groups)

    t = time.monotonic()
    birds[9].birdc("enable", "r4")
    birds[9].birdc("enable", "r6")
    live = list(range(1, 10))
    groups = r.applied("4 srv9 joins", t, live)
    r.compare("4 srv9 joined")
    r.judge("4 srv9 joined", groups)

    t = time.monotonic()
    for k in range(1, SERVERS + 1):
        birds[k].reconfigure(bird_conf(k, r.workdir, bandwidth=BANDWIDTH[k]))
    weights = frr_weights(live, BANDWIDTH)
    groups = r.applied("5 link bandwidth (weighted ECMP)", t, live, weights)
    for fam in (4, 6):
        ws = sorted({w for *_, w in groups[fam]})
        c.check(len(ws) > 1, f"5: IPv{fam}: the kernel's group has unequal weights {ws} "
                "(FRR: bw x 100 / total)")
    r.compare("5 weighted")
    r.judge("5 weighted", groups)

    t = time.monotonic()
    run(nsexec(net.srv(4), "ip", "link", "set", "srv4-r", "down"))
    live = [k for k in live if k != 4]
    weights = frr_weights(live, BANDWIDTH)
    groups = r.applied("6 srv4's link down", t, live, weights)
    r.compare("6 srv4 link down")
    r.judge("6 srv4 link down", groups)

    t = time.monotonic()
    # extern_learn: the kernel's periodic neighbour GC, active while the host holds more than
    # gc_thresh1 (a host-wide setting) entries, deletes FAILED entries but none learned
    # externally; the state is what the kernel's selection reads.
    ip_batch(net.rt, [f"neigh replace {gateway(fam, 2)} dev r-srv2 nud failed extern_learn"
                      for fam in (4, 6)])
    groups = r.applied("7 srv2's neighbour failed", t, live, weights, invalid=(2,))
    r.compare("7 srv2 neighbour failed")
    flows = r.connections("c7")
    kern = kernel_owners(net.rt, flows)
    bad = [f"{f}: owner srv{f.owner}, route get srv{k}" for f, k in zip(flows, kern)
           if k != f.owner]
    c.check(not bad and not any(f.owner == 2 for f in flows),
            "7: the router's `route get ... iif` names every connection's owner, none srv2",
            "\n".join(bad[:5]))
    r.judge("7 srv2 neighbour failed", groups, flows)
    for fam in (4, 6):
        state = run(nsexec(net.rt, "ip", f"-{fam}", "neigh", "show", gateway(fam, 2),
                           "dev", "r-srv2")).stdout.strip()
        c.check("FAILED" in state, f"7: IPv{fam}: srv2's neighbour entry still FAILED at the "
                f"end ({state})")


def start_steer(a, procs, workdir, more=""):
    """ptbsteer (a.ptbsteer) in ptbsteer's namespace (Net.adopt) with its control API, reaching
    the next-hops by ARP / ND on the LAN, and a spare group (the file needs one; the VIPs'
    groups come from ptbsteer-sync); `more`: further top-level keys (e.g. `routers:`).
    (SteerRun, API client) once the API answers."""
    api_line, api = control_api(workdir)
    spare = config.group("spare", ["192.0.2.192/26"],
                         [config.hop("spare1", mac="02:70:74:62:00:ff")], 0, 1)
    cfg = os.path.join(workdir, "ptbsteer.yaml")
    with open(cfg, "w") as f:
        f.write(steer_base(via="4") + more + "groups:\n" + spare + api_line)
    steer = SteerRun(types.SimpleNamespace(config_out=cfg, ptbsteer=a.ptbsteer,
                                           startup_timeout=20, settle=0.2), procs, workdir)
    if not wait_until(lambda: api_up(api), 10, 0.1):
        raise SetupError("ptbsteer's control API did not answer in 10 s")
    return steer, api


def start_sync(a, procs, net, api, workdir, rt=None, router=None):
    """ptbsteer-sync (a.sync) beside ptbsteer's API (in net.st), reading router namespace `rt`
    (default net.rt), its groups with `transition: a.transition`; with `router`, pushing that
    router's states (files sync-ROUTER.yaml and .log, else sync.*)."""
    name = f"sync-{router}" if router else "sync"
    scfg = sync_config(os.path.join(workdir, f"{name}.yaml"), rt or net.rt, f"{workdir}/token",
                       api.base, router=router)
    with open(scfg) as f:
        text = f.read().replace("port: out}", f"port: out, transition: {a.transition}}}")
    with open(scfg, "w") as f:
        f.write(text)
    wrapper = os.path.join(workdir, "sync.sh")      # ptbsteer-sync beside ptbsteer's API
    with open(wrapper, "w") as f:
        f.write(f"#!/bin/sh\nexec nsenter --net=/run/netns/{net.st} {a.sync} \"$@\"\n")
    os.chmod(wrapper, 0o755)
    return Sync(procs, wrapper, scfg, os.path.join(workdir, f"{name}.log"))


def main_run(a, c):
    prefix = f"ptbfr-{os.getpid()}-"
    delete_orphans(r"ptbfr-(\d+)-\w+$")
    remove_frr_run_dirs(r"ptbfr-(\d+)-frr")
    net = Net(prefix, a.flows * 9)
    net.adopt()
    procs = Procs()
    workdir = tempfile.mkdtemp(prefix="ptbfr-")
    os.chmod(workdir, 0o755)
    steer = frr = r = None
    catch_signals()
    t0 = time.monotonic()
    try:
        net.create(a.flows * 9)
        t_daemons = time.monotonic()
        frr = Frr(procs, net.rt, workdir, prefix + "frr", frr_conf(SERVERS))
        birds = {k: Bird(procs, net.srv(k), workdir, f"srv{k}",
                         bird_conf(k, workdir, sessions=k != 9))
                 for k in range(1, SERVERS + 1)}
        start_servers(procs, SERVERS, time.monotonic() + 15)
        steer, api = start_steer(a, procs, workdir)
        sync = start_sync(a, procs, net, api, workdir)
        print(f"setup {time.monotonic() - t0:.1f} s")
        r = Run(a, net, procs, api, sync, workdir, c, random.Random(a.seed))
        changes(r, birds, t_daemons)
        with InNetns(net.st):
            ok = r.sync.sample("ptbsteer_sync_in_sync", appliance=APPLIANCE)
        c.check(ok == 1, f"ptbsteer-sync: ptbsteer_sync_in_sync{{appliance=\"{APPLIANCE}\"}} "
                f"is {ok}")
        note = steer.stop()
        c.check(steer.p.returncode == 0 and BALANCED in steer.output(),
                f"ptbsteer exited {steer.p.returncode} and its exit report balances", note)
        if r.lags:
            r.lags.sort()
            print(f"kernel -> ptbsteer serving (upper bounds): median "
                  f"{1000 * r.lags[len(r.lags) // 2]:.0f} ms, max {1000 * r.lags[-1]:.0f} ms "
                  f"over {len(r.lags)} group changes")
    except SetupError as e:
        print(f"SETUP ERROR: {e}")
        if r:
            print(r.sync.text()[-3000:])
        if frr:
            print(frr.vtysh("show bgp ipv4 unicast summary", "show bgp ipv6 unicast summary",
                            check=False))
        return 2
    finally:
        tear_down(a, procs, net, workdir, r.clients if r else [], steer, r"ptbfr-(\d+)-frr")
        print(f"total {time.monotonic() - t0:.1f} s")
    return None


def tear_down(a, procs, net, workdir, clients, steer, frr_dirs):
    """Stops what a run started (its client processes first: closing their stdin ends them;
    ptbsteer, when it runs), removes EAL's runtime dir, the FRR run dirs that `frr_dirs`
    matches (remove_frr_run_dirs), the namespaces and, unless --keep, the work directory."""
    for cl in clients:
        try:
            cl.stdin.close()
        except OSError:
            pass
    if steer and steer.p.poll() is None:
        steer.stop()
    procs.stop_all()
    remove_eal_dirs("ptbe")
    remove_frr_run_dirs(frr_dirs)
    net.destroy()
    if not a.keep:
        shutil.rmtree(workdir, ignore_errors=True)


def api_up(api):
    try:
        return api.call("GET", "/v1/groups")[0] == 200
    except OSError:
        return False


def frr_user():
    try:
        return pwd.getpwnam("frr")
    except KeyError:
        return None


def daemons_installed():
    """FRR (bgpd, vtysh, the user frr) and BIRD 2 (bird, birdc) are here."""
    return bool(os.access(os.path.join(FRR_DIR, "bgpd"), os.X_OK) and shutil.which("vtysh")
                and shutil.which("bird") and shutil.which("birdc") and frr_user())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ptbsteer", required=True)
    ap.add_argument("--sync", required=True)
    ap.add_argument("--flows", type=int, default=12, help="connections per family per batch")
    ap.add_argument("--flows-random", type=int, default=1000,
                    help="random flows per family compared after each change")
    ap.add_argument("--seed", type=int, default=20261207)
    ap.add_argument("--transition", type=int, default=TRANSITION,
                    help="the groups' `transition:`; 0 is a negative control: the connections "
                         "made before the withdrawal then lose the PTBs of those whose owner "
                         "moved, and the run must FAIL")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("skipped: needs root (network namespaces)")
        return 77
    if not daemons_installed():
        print(f"skipped: FRR ({FRR_DIR}, vtysh, the user frr) or BIRD 2 (bird, birdc) not "
              "installed")
        return 77
    c = Checks("frr-e2e")
    rc = main_run(a, c)
    if rc is not None:
        return rc
    c.finish()


if __name__ == "__main__":
    sys.exit(main())
