#!/usr/bin/python3
"""Per-router group states with real routing daemons (issue 22, "Done when"): two FRR border
routers whose groups for the same VIPs are ordered differently, one ptbsteer that tells their
PTBs apart by source MAC, one ptbsteer-sync per router; the servers' kernels judge.

Topology (namespaces ptbrt-PID-*): frr_e2e's (client cl -- router rt -- servers srv1..srvN, the
delivery LAN, ptbsteer's and the injector's namespaces; frr_e2e.Net) with a second border
router rt2 and its own clients cl2 (frr_e2e.Net's _router and _client for it). Each server's
router link srvK-r is a bridge joining both routers' veths, holding the addresses frr_e2e gives
it: both routers reach srvK by the same gateway (IPv4 address, IPv6 link-local address), as two
routers on one server LAN do, so both groups name the same next-hops. Each server's BIRD 2
announces the VIP routes 198.51.100.0/24 and 2001:db8:100::/48 to both routers over eBGP
(frr_e2e.bird_conf, protocols r4/r6 to edge1 and rb4/rb6 to edge2); both routers run FRR 8.4
(zebra + bgpd, frr_e2e.frr_conf) with the same hash seed and policy. zebra orders a nexthop
group by its own nexthop ids, i.e. by the order the sessions came up: edge1's sessions start
together; edge2's are enabled one server at a time, per family in the reverse of the order
edge1's kernel shows, each once the last is in edge2's kernel. Checked from the two kernels
(`ip -j nexthop`): for each family the two orders differ (else the run FAILS).

ptbsteer (af_packet, control API) has `routers:` edge1 and edge2, each told apart by its source
MAC; the PTB frames injected as handed over by router N carry router N's MAC as Ethernet source.
A ptbsteer-sync per router namespace (`router: edge1`, `router: edge2`) pushes that router's
states of site4 and site6 (/v1/routers/R/groups/NAME); ptbsteer derives the shared state.
Before the syncs start, each router resolves its gateways (a UDP datagram to each): a first
connection's resolution would otherwise show ptbsteer-sync an INCOMPLETE neighbour (invalid,
for a millisecond), a change with transition copies.

Checked, in order:
  - both routers' kernels order each VIP group differently, over the same next-hop names; GET
    /v1/routers/R/groups/site4|6 serves each router's group as its kernel holds it;
  - 1,000 random flows per router and family: `ip -batch route get ... iif rin` in that router's
    namespace against POST /v1/decide with "router": "edgeN" (sync_e2e's kernel_choices and
    ptbsteer_choices); without a router the decision is `replicate` (the derived shared state);
  - per router, a batch of real TCP connections from its own clients through it (IPv4 and
    IPv6): POST /v1/decide with its name names each owner (ss); their PTBs, injected with its
    MAC, reach the owner only: the owner's kernel learns mtu 1400, no other server's does, each
    server's kernel counts exactly the PTBs of the connections it holds (Icmp InDestUnreachs,
    Icmp6 InPktTooBigs), ptbsteer counts them unicast to the owners' next-hops, none replicated
    or as transition copies, and ptbsteer_router_ptbs_total / _steered_total{state="own"} of
    that router grow by exactly that many; the routers' groups held still meanwhile;
  - negative control, per router: the same connections by the other router's state (POST
    /v1/decide with its name) and by its kernel (`ip route get ... iif`) would have gone to
    another server for a good share (at least a quarter) of them: one state for both routers
    misdelivers, so the checks above can fail;
  - a PTB from an unknown router (a third source MAC) for a new batch of connections: every
    server's kernel receives every one of them (its counters grow by exactly the batch, per
    family), ptbsteer sends one replicated copy to every next-hop of the shared state, nothing
    is dropped for the replication budget (limits.replication), the owners learn and no other
    server does; ptbsteer_router_steered_total{router="unmatched", state="shared"} and
    ptbsteer_router_ptbs_total{router="unmatched"} grow by exactly the batch;
  - at the end both ptbsteer-syncs report ptbsteer_sync_in_sync 1, ptbsteer exits 0, its exit
    report balances and its routers line counts every PTB by router and state.

Negative controls (options; the run must then FAIL): --wrong-mac (each router's PTBs carry the
other's MAC) and --same-order (edge2's sessions in edge1's order: equal orders).

Everything is stopped by its pid and removed in a finally (frr_e2e.tear_down), SIGTERM included;
at start, what a killed earlier run left: its namespaces, FRR run dirs, work directory and the
processes it started (their environment carries PTBRT_RUN=its pid).

Run as root with /usr/bin/python3, under flock /tmp/ptbsteer-test.lock. Exit: 0 pass, 1 check
failed, 2 setup error, 77 not root or FRR/BIRD missing.
Usage: routers_e2e.py --ptbsteer BIN --sync BIN [--servers N] [--flows N] [--seed S]
                      [--wrong-mac | --same-order] [--keep]
"""
import argparse
import ipaddress
import json
import os
import random
import re
import shutil
import signal
import socket
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", *d) for d in ((), ("e2e",), ("kernel",))]
import e2e_flows  # noqa: E402
from e2e_deliver import scrape_steer  # noqa: E402
from e2e_flows import start_servers  # noqa: E402
from e2e_judge import icmp_counters  # noqa: E402
from e2e_transition import flow_json  # noqa: E402
from e2e_truth import catch_signals  # noqa: E402
from frr_e2e import (APPLIANCE, GROUP, ROUTE, TRANSITION, Net, Run, bird_conf,  # noqa: E402
                     daemons_installed, frr_conf, gateway, hop_name, kernel_group,
                     kernel_owners, p2p, start_steer, start_sync, tear_down)
from lib import prom  # noqa: E402
from lib.checks import Checks  # noqa: E402
from lib.netns import InNetns, delete_orphans, ip_batch, nsexec  # noqa: E402
from lib.procs import Procs, SetupError, run  # noqa: E402
from lib.runner import BALANCED  # noqa: E402
from routing_daemons import Bird, Frr, remove_frr_run_dirs  # noqa: E402
from sync_e2e import ptbsteer_choices  # noqa: E402

PREFIX = "ptbrt"
ROUTERS = ("edge1", "edge2")
ROUTER_MAC = {"edge1": "02:70:74:62:0e:01", "edge2": "02:70:74:62:0e:02"}
STRANGER_MAC = "02:70:74:62:0e:77"     # a third border router, under no routers: entry
# The first client address index of each router's clients (e2e_topology.client_addr): edge2's
# are 192.0.2.128.. and 2001:db8:2::86.., which the servers route back through edge2.
FIRST = {"edge1": 0, "edge2": 118}
EDGE2_CLIENTS = {4: "192.0.2.128/25", 6: "2001:db8:2::80/121"}
RECEIVED = {4: "Icmp.InDestUnreachs", 6: "Icmp6InPktTooBigs"}   # e2e_judge.icmp_counters
DELIVERED = "ptbsteer_delivered_packets_total"
MARK = "PTBRT_RUN"        # in our environment, so in every process we start: our pid


def edge2_addr(fam, k):
    """edge2's address on srvK's link: edge1's (frr_e2e.p2p) + 3, in the same /29 and /64."""
    return str(ipaddress.ip_address(p2p(fam, k)[0]) + 3)


class Net2(Net):
    """frr_e2e.Net with a second border router rt2 and its clients cl2; every server's router
    link srvK-r a bridge over srvK-r1 (to rt) and srvK-r2 (to rt2)."""

    def __init__(self, prefix, flows, servers):
        super().__init__(prefix, flows)
        self.n = servers
        self.rt2, self.cl2 = prefix + "rt2", prefix + "cl2"

    def create(self, clients):
        self.add(self.rt2, self.cl2)
        self.edge_sysctls(self.rt2, self.cl2)
        super().create(clients)          # calls our _server(k)
        ip_batch(self.rt2, [f"link add rin type veth peer name c0 netns {self.cl2}"])
        self._router(self.rt2, edge2_addr)
        self._client(clients, self.cl2, FIRST["edge2"])

    def _server(self, k):
        s = self.srv(k)
        ip_batch(self.rt2, [f"link add r-srv{k} type veth peer name srv{k}-r2 netns {s}"])
        ip_batch(s, [f"link set srv{k}-r name srv{k}-r1",
                     f"link add srv{k}-r type bridge forward_delay 0 stp_state 0 "
                     "mcast_snooping 0"]
                 + [f"link set srv{k}-r{i} master srv{k}-r" for i in (1, 2)]
                 + [f"link set srv{k}-r{i} up" for i in (1, 2)])
        super()._server(k)               # the bridge gets srvK-r's MAC and addresses
        ip_batch(s, [f"route add {EDGE2_CLIENTS[fam]} via {edge2_addr(fam, k)}"
                     for fam in (4, 6)])


class Edge2View:
    """Router rt2's side of a Net2 as frr_e2e.Run and e2e_flows.connect use a topology."""

    def __init__(self, net):
        self.rt, self.cl, self.n = net.rt2, net.cl2, net.n
        self.families, self.flows_per_family = net.families, net.flows_per_family


def stop_orphans():
    """What an earlier run that was killed left (SIGKILL skips its finally): the processes it
    started (their environment holds MARK=its pid; it is gone), stopped by their pid, and its
    work directory."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        run_pid = next((e.split(b"=", 1)[1].decode() for e in env
                        if e.startswith(MARK.encode() + b"=")), None)
        if run_pid and run_pid.isdigit() and not os.path.exists(f"/proc/{run_pid}"):
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass
    tmp = tempfile.gettempdir()
    for d in os.listdir(tmp):
        m = re.fullmatch(PREFIX + r"-(\d+)-\w+", d)
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            shutil.rmtree(os.path.join(tmp, d), ignore_errors=True)


def wait_groups(rt, want, timeout=20):
    """Polls router `rt`'s kernel until its VIP groups hold exactly the servers want[family]:
    {family: [server, in the kernel's order]}; SetupError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        got = {fam: [k for k, *_ in kernel_group(rt, fam)] for fam in want}
        if all(sorted(got[fam]) == sorted(want[fam]) for fam in want):
            return got
        if time.monotonic() > deadline:
            raise SetupError(f"{rt}: the kernel's groups {got}, not {want} after {timeout} s")
        time.sleep(0.05)


def sessions_in_order(net, birds, same=False):
    """edge1's sessions come up as they will; then edge2's, one server at a time per family in
    the reverse of edge1's order (`same`: in edge1's order), each once the last is in edge2's
    kernel. Returns the two kernels' orders {router: {family: [server]}}."""
    everyone = list(range(1, net.n + 1))
    first = wait_groups(net.rt, {4: everyone, 6: everyone})
    reverse = {fam: first[fam] if same else first[fam][::-1] for fam in (4, 6)}
    for i in range(net.n):
        for fam in (4, 6):
            birds[reverse[fam][i]].birdc("enable", f"rb{fam}")
        second = wait_groups(net.rt2, {fam: reverse[fam][:i + 1] for fam in (4, 6)})
    return {"edge1": first, "edge2": second}


def resolve_gateways(net):
    """Each router sends a UDP datagram to each server's gateway (port 9) and waits until its
    neighbour entries of them are valid (REACHABLE or STALE)."""
    for rt in (net.rt, net.rt2):
        with InNetns(rt):
            for k in range(1, net.n + 1):
                for fam, af in ((4, socket.AF_INET), (6, socket.AF_INET6)):
                    where = ((gateway(4, k), 9) if fam == 4 else
                             (gateway(6, k), 9, 0, socket.if_nametoindex(f"r-srv{k}")))
                    with socket.socket(af, socket.SOCK_DGRAM) as s:
                        s.sendto(b"ptbrt", where)
        deadline = time.monotonic() + 5
        while True:
            entries = json.loads(run(nsexec(rt, "ip", "-j", "neigh", "show")).stdout or "[]")
            ok = {(str(ipaddress.ip_address(e["dst"])), e.get("dev")) for e in entries
                  if {"REACHABLE", "STALE"} & set(e.get("state", []))}
            missing = [(gateway(fam, k), f"r-srv{k}") for k in range(1, net.n + 1)
                       for fam in (4, 6) if (gateway(fam, k), f"r-srv{k}") not in ok]
            if not missing:
                break
            if time.monotonic() > deadline:
                raise SetupError(f"{rt}: gateways not resolved in 5 s: {missing}")
            time.sleep(0.05)


# --------------------------------------------------------------------------------------------
# What the servers' kernels and ptbsteer counted

def counted(net):
    """({server: its kernel's ICMP counters}, ptbsteer's metric samples) now."""
    return {k: icmp_counters(net.srv(k)) for k in range(1, net.n + 1)}, scrape_steer()


def grown(before, after, name, **labels):
    return int((prom.sample(after, name, **labels) or 0)
               - (prom.sample(before, name, **labels) or 0))


def sent(before, after, mode):
    """{next-hop: frames} ptbsteer sent in `mode` between two scrapes (every group's series of
    the next-hop summed), non-zero only."""
    out = {}
    for (name, labels), v in after.items():
        d = dict(labels)
        if name == DELIVERED and d.get("mode") == mode:
            out[d["next_hop"]] = out.get(d["next_hop"], 0) + v - (before.get((name, labels)) or 0)
    return {h: int(n) for h, n in out.items() if n}


def settled(net, before, wanted, timeout=2):
    """counted() once each server's kernel has counted wanted(server, family) more PTBs of each
    family than `before` (the copies of one PTB leave together, but the kernels count them
    apart), or after `timeout` seconds; and the differences: [(server, family, got)]."""
    deadline = time.monotonic() + timeout
    while True:
        after = counted(net)
        bad = [(k, fam, after[0][k][RECEIVED[fam]] - before[0][k][RECEIVED[fam]])
               for k in range(1, net.n + 1) for fam in (4, 6)]
        bad = [(k, fam, got) for k, fam, got in bad if got != wanted(k, fam)]
        if not bad or time.monotonic() > deadline:
            return after, bad
        time.sleep(0.1)


def check_received(c, title, net, bad, wanted):
    """Each server's kernel counted exactly wanted(server, family) PTBs of each family (bad:
    settled()'s differences)."""
    c.check(not bad, f"{title}: each server's kernel received exactly "
            + ", ".join(f"srv{k} {wanted(k, 4)}+{wanted(k, 6)}" for k in range(1, net.n + 1))
            + " PTBs (IPv4+IPv6)",
            "\n".join(f"srv{k} counted {got} IPv{fam} PTBs, expected {wanted(k, fam)}"
                      for k, fam, got in bad))


def check_router_counts(c, title, before, after, router, own, shared):
    got = [grown(before[1], after[1], "ptbsteer_router_ptbs_total", router=router)]
    got += [grown(before[1], after[1], "ptbsteer_router_steered_total", router=router, state=s)
            for s in ("own", "shared")]
    c.check(got == [own + shared, own, shared], f"{title}: ptbsteer_router_ptbs_total"
            f"{{router=\"{router}\"}} grew by {got[0]}, ptbsteer_router_steered_total "
            f"own/shared by {got[1]}/{got[2]} (expected {own + shared}, {own}/{shared})")


# --------------------------------------------------------------------------------------------

def routed(r, other, net, api, groups):
    """A batch of connections through router r.router, its PTBs with that router's MAC."""
    name, c = r.router, r.c
    e2e_flows.NS_CLIENT = r.net.cl       # connect() opens them from this namespace
    flows = r.connections(f"{name}-c")
    r.decide_owners(f"{name}", flows, groups)
    # Negative control: by the other router's state, and by its kernel.
    by_name = {hop_name(gw, dev): k for fam in groups for k, gw, dev, _ in groups[fam]}
    status, answer, _ = api.call("POST", "/v1/decide", {"flows": [
        {**flow_json(f), "router": other.router} for f in flows]})
    theirs = [by_name.get(d.get("next_hop")) for d in (answer or {}).get("decisions", [])]
    kern = kernel_owners(other.net.rt, flows)
    off = sum(t != f.owner for f, t in zip(flows, theirs))
    off_kernel = sum(t != f.owner for f, t in zip(flows, kern))
    c.check(status == 200 and len(theirs) == len(flows) and
            min(off, off_kernel) >= len(flows) / 4,
            f"negative control: {name}'s {len(flows)} connections by {other.router}'s state "
            f"(POST /v1/decide): {off} would have gone to another server; by "
            f"{other.router}'s kernel (route get ... iif rin): {off_kernel} (it can fail)",
            f"{status} {answer}")
    before = counted(net)
    r.ptbs(f"{name}", flows, ROUTER_MAC[other.router if r.a.wrong_mac else name])

    def owned(k, fam):
        return sum(f.owner == k and f.fam == fam for f in flows)
    after, bad = settled(net, before, owned)
    check_received(c, name, net, bad, owned)
    hop_of = {(k, fam): hop_name(gw, dev) for fam in groups for k, gw, dev, _ in groups[fam]}
    uni = sent(before[1], after[1], "unicast")
    want = {}
    for f in flows:
        want[hop_of[(f.owner, f.fam)]] = want.get(hop_of[(f.owner, f.fam)], 0) + 1
    others = {m: sent(before[1], after[1], m) for m in ("replicate", "transition")}
    c.check(uni == want and not any(others.values()),
            f"{name}: ptbsteer sent the {len(flows)} PTBs unicast to their owners' next-hops, "
            "none replicated, no transition copies",
            f"unicast {uni}\nexpected {want}\nother {others}")
    check_router_counts(c, name, before, after, name, len(flows), 0)
    r.steady(name, groups)
    return len(flows)


def stranger(r, net, groups):
    """A batch of connections through edge1 whose PTBs come from a MAC no router has."""
    c, title = r.c, "unknown router"
    e2e_flows.NS_CLIENT = r.net.cl
    flows = r.connections("stranger")
    before = counted(net)
    r.ptbs(title, flows, STRANGER_MAC)
    per_fam = {fam: sum(f.fam == fam for f in flows) for fam in (4, 6)}
    after, bad = settled(net, before, lambda k, fam: per_fam[fam])
    check_received(c, title, net, bad, lambda k, fam: per_fam[fam])
    hops = {hop_name(gw, dev): fam for fam in groups for _, gw, dev, _ in groups[fam]}
    copies = sent(before[1], after[1], "replicate")
    want = {h: per_fam[fam] for h, fam in hops.items()}
    budget = grown(before[1], after[1], "ptbsteer_dropped_packets_total",
                   reason="replication_budget")
    c.check(copies == want and not sent(before[1], after[1], "unicast") and budget == 0,
            f"{title}: ptbsteer replicated each of the {len(flows)} PTBs to all {net.n} "
            f"next-hops of its family ({sum(copies.values())} copies), none dropped for the "
            "replication budget", f"copies {copies}\nexpected {want}\nbudget drops {budget}")
    check_router_counts(c, title, before, after, "unmatched", 0, len(flows))
    return len(flows)


def check_states(c, api, groups):
    """ptbsteer's derived shared state: replicate over every next-hop of the router states."""
    for fam in (4, 6):
        status, g, _ = api.call("GET", f"/v1/groups/{GROUP[fam]}")
        g = g or {}
        names = sorted(h.get("name") for h in g.get("next_hops", []))
        want = sorted({hop_name(gw, dev) for s in groups.values() for _, gw, dev, _ in s[fam]})
        c.check(status == 200 and g.get("derived") and g.get("mode") == "replicate" and
                names == want, f"GET /v1/groups/{GROUP[fam]}: the derived shared state "
                f"replicates to the {len(want)} next-hops of the routers' states",
                json.dumps(g)[:1500])


def check_orders(c, groups):
    for fam in (4, 6):
        order = {rt: [k for k, *_ in groups[rt][fam]] for rt in ROUTERS}
        names = {rt: {hop_name(gw, dev) for _, gw, dev, _ in groups[rt][fam]} for rt in ROUTERS}
        c.check(order["edge1"] != order["edge2"] and names["edge1"] == names["edge2"],
                f"IPv{fam}: the routers' kernels order the group of {ROUTE[fam]} differently "
                "(`ip -j nexthop`): "
                + "; ".join(f"{rt} " + ",".join(f"srv{k}" for k in order[rt]) for rt in ROUTERS)
                + f", over the same {len(names['edge1'])} next-hops",
                f"next-hops {names}")


def scenario(a, c, net, procs, api, syncs, workdir, t_daemons, runs):
    """The checks, in the docstring's order; `runs` gets each router's frr_e2e.Run. Returns
    the PTBs sent {router or "unmatched": count}."""
    rng = random.Random(a.seed)
    views = {"edge1": net, "edge2": Edge2View(net)}
    runs.update({rt: Run(a, views[rt], procs, api, syncs[rt], workdir, c,
                         random.Random(rng.random()), router=rt, first=FIRST[rt])
                 for rt in ROUTERS})
    everyone = list(range(1, net.n + 1))
    groups = {rt: runs[rt].applied(f"{rt}: every session up", t_daemons, everyone)
              for rt in ROUTERS}
    check_orders(c, groups)
    check_states(c, api, groups)
    for rt in ROUTERS:
        fl = runs[rt].compare(rt)[4][0][:100]
        shared = ptbsteer_choices(api, fl)
        c.check(all(d == "replicate" for d in shared), f"{rt}: POST /v1/decide without a "
                f"router: replicate ({len(fl)} of its random IPv4 flows)", str(shared[:5]))
    counts = {rt: routed(runs[rt], runs[other], net, api, groups[rt])
              for rt, other in zip(ROUTERS, ROUTERS[::-1])}
    counts["unmatched"] = stranger(runs["edge1"], net, groups["edge1"])
    return counts


def main_run(a, c):
    prefix = f"{PREFIX}-{os.getpid()}-"
    stop_orphans()
    os.environ[MARK] = str(os.getpid())
    delete_orphans(PREFIX + r"-(\d+)-\w+$")
    remove_frr_run_dirs(PREFIX + r"-(\d+)-frr\d")
    clients = 2 * a.flows                # a router's clients make two batches at most
    net = Net2(prefix, clients, a.servers)
    net.adopt()
    procs = Procs()
    workdir = tempfile.mkdtemp(prefix=prefix)
    os.chmod(workdir, 0o755)
    steer, runs, frrs = None, {}, []
    catch_signals()
    t0 = time.monotonic()
    try:
        net.create(clients)
        t_daemons = time.monotonic()
        conf = frr_conf(a.servers)
        frrs = [Frr(procs, rt, workdir, f"{prefix}frr{i}", conf.replace(
                    f"router-id {p2p(4, 1)[0]}", f"router-id {addr(4, 1)}"))
                for i, rt, addr in ((1, net.rt, lambda f, k: p2p(f, k)[0]),
                                    (2, net.rt2, edge2_addr))]
        birds = {k: Bird(procs, net.srv(k), workdir, f"srv{k}",
                         bird_conf(k, workdir, more=[("rb", edge2_addr, False)]))
                 for k in range(1, a.servers + 1)}
        start_servers(procs, a.servers, time.monotonic() + 15)
        routers = "routers:\n" + "".join(f'  - {{name: {rt}, mac: "{ROUTER_MAC[rt]}"}}\n'
                                         for rt in ROUTERS)
        steer, api = start_steer(a, procs, workdir, routers)
        orders = sessions_in_order(net, birds, a.same_order)
        print(f"sessions up in {time.monotonic() - t_daemons:.1f} s: "
              + "; ".join(f"{rt} IPv{fam} {orders[rt][fam]}" for rt in ROUTERS for fam in (4, 6)))
        resolve_gateways(net)
        syncs = {rt: start_sync(a, procs, net, api, workdir, rt=ns, router=rt)
                 for rt, ns in zip(ROUTERS, (net.rt, net.rt2))}
        print(f"setup {time.monotonic() - t0:.1f} s")
        counts = scenario(a, c, net, procs, api, syncs, workdir, t_daemons, runs)
        with InNetns(net.st):
            ok = {rt: s.sample("ptbsteer_sync_in_sync", appliance=APPLIANCE)
                  for rt, s in syncs.items()}
        c.check(all(v == 1 for v in ok.values()), f"both ptbsteer-syncs in sync ({ok})")
        note = steer.stop()
        out = steer.output()
        line = re.search(r"^ptbsteer-routers (.*)$", out, re.M)
        got = dict(kv.split("=", 1) for kv in line.group(1).split()) if line else {}
        want = {"unmatched": f"{counts['unmatched']}/0/{counts['unmatched']}",
                **{rt: f"{counts[rt]}/{counts[rt]}/0" for rt in ROUTERS}}
        c.check(steer.p.returncode == 0 and BALANCED in out and got == want,
                f"ptbsteer exited {steer.p.returncode}, its exit report balances and counts "
                f"by router {got} (PTBs/own/shared; expected {want})", note)
    except RuntimeError as e:            # SetupError, or a helper that could not go on
        print(f"SETUP ERROR: {e}")
        for f in sorted(os.listdir(workdir)):
            if f.startswith("sync-") and f.endswith(".log"):
                with open(os.path.join(workdir, f)) as log:
                    print(f"--- {f}\n" + log.read()[-2000:])
        for frr in frrs:
            print(frr.vtysh("show bgp ipv4 unicast summary", "show bgp ipv6 unicast summary",
                            check=False))
        return 2
    finally:
        tear_down(a, procs, net, workdir, [cl for r in runs.values() for cl in r.clients],
                  steer, PREFIX + r"-(\d+)-frr\d")
        print(f"total {time.monotonic() - t0:.1f} s")
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for binary in ("--ptbsteer", "--sync"):
        ap.add_argument(binary, required=True)
    ap.add_argument("--servers", type=int, default=4, choices=range(2, 9))
    ap.add_argument("--flows", type=int, default=12, choices=range(1, 31),
                    metavar="1..30", help="connections per family per batch")
    ap.add_argument("--flows-random", type=int, default=1000,
                    help="random flows per router and family compared with the kernel")
    ap.add_argument("--seed", type=int, default=20261207)
    ap.add_argument("--transition", type=int, default=TRANSITION,
                    help="the groups' `transition:` (ptbsteer-sync passes it on)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--wrong-mac", action="store_true",
                    help="negative control: each router's PTBs carry the other router's MAC; "
                         "the run must FAIL (PTBs to the wrong servers, counted by router)")
    ap.add_argument("--same-order", action="store_true",
                    help="negative control: edge2's sessions come up in edge1's order; the run "
                         "must FAIL (equal orders, and one state would do)")
    a = ap.parse_args()
    skip = ("needs root (network namespaces)" if os.geteuid() != 0 else
            None if daemons_installed() else
            "FRR (bgpd, vtysh, the user frr) or BIRD 2 (bird, birdc) not installed")
    if skip:
        print(f"skipped: {skip}")
        return 77
    c = Checks("routers-e2e")
    return main_run(a, c) or c.finish()       # finish() exits 0 or 1


if __name__ == "__main__":
    sys.exit(main())
