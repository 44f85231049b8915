#!/usr/bin/python3
"""ptbsteer-sync with BIRD 2 as the router (issue 21: "a legacy multipath route written by BIRD
with `merge paths on`"). The router namespace is tests/kernel's topology (a client-facing veth
`rin`, veths r0..r15 to the servers); the far ends s0..s5 are moved into one namespace per
server, each running a BIRD that announces the VIPs (198.51.100.0/24, 2001:db8:100::/48) over
eBGP, one session per family (hold time 6 s). The router's BIRD learns them from every server
and, with `merge paths on` in its kernel protocols, writes ONE legacy RTA_MULTIPATH route per
VIP (no nexthop object), ordered by weight (descending) then gateway. ptbsteer (control API on)
and ptbsteer-sync (reading the router namespace) run as in sync_e2e.py.

Changes: start with servers 1-5; server 3 withdraws the VIPs (its static protocols disabled);
they return; server 0 joins (its BIRD started: the lowest gateway, so BIRD puts it first);
weights per server, set by the router's BGP import filters (BIRD's `weight` route attribute,
merged per next-hop into the kernel route; `birdc configure`). After each, for both families,
the test waits for the router's kernel route to hold the expected gateways and weights, checks
it is a legacy multipath route (no nhid) by bird in BIRD's order (printed), waits until ptbsteer
serves the group as `ip route show` lists it (same gateways, same order), then looks FLOWS
random flows up both ways: `ip -batch route get ... iif rin` on the router and a batch POST
/v1/decide; every flow must get the same gateway, and the route must not have changed meanwhile
(no BGP flap). Negative control, for every change: ptbsteer's answers from before the change
disagree with the kernel after it (flows moved), so the comparison can fail.
Usage: bird_e2e.py --ptbsteer BIN --sync BIN [--flows N]"""
import argparse
import glob
import ipaddress
import json
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "kernel"))
sys.path.insert(0, HERE)
from kernel_topology import (ROUTER_IN4, SERVICE_NET4, SERVICE_NET6, Topology,  # noqa: E402
                             nh_gateway, nh_router_addr, random_flows)
from lib import config, pcapfile  # noqa: E402
from lib import api as api_lib  # noqa: E402
from lib.checks import SKIP, Checks  # noqa: E402
from lib.netns import delete_orphans, ip_batch, nsexec, sysctl  # noqa: E402
from lib.procs import Procs, SetupError, run  # noqa: E402
from lib.runner import remove_eal_dirs  # noqa: E402
from routing_daemons import Bird  # noqa: E402
from sync_e2e import (Sync, app_config, group_state, kernel_choices,  # noqa: E402
                      ptbsteer_choices, sync_config, wait_applied)

PREFIX = "ptbbd"
ROUTER_AS, SERVER_AS = 65000, 65001          # private ASNs: every server in one AS
SERVERS = 6
INITIAL = range(1, SERVERS)                   # servers at start; server 0 joins later
TIMERS = ("hold time 6; keepalive time 2; connect delay time 1; connect retry time 1; "
          "error wait time 1, 2;")
NAME = {4: "site4", 6: "site6"}
ROUTE_WAIT = 15                               # seconds for BGP + BIRD to reach a state


# BIRD configurations --------------------------------------------------------------------------

def router_conf(log, weights):
    """The router: passive eBGP to every server, the VIPs into the kernel as one multipath
    route each (`merge paths on`); server i's routes get weights.get(i, 1) on import."""
    lines = [f"router id {ROUTER_IN4};", f'log "{log}" all;', "protocol device { scan time 1; }"]
    for fam in (4, 6):
        lines.append(f"protocol kernel kernel{fam} {{ ipv{fam} {{ import none; "
                     "export where source = RTS_BGP; }; merge paths on; }")
    for i in range(SERVERS):
        for fam in (4, 6):
            lines.append(f"protocol bgp s{i}v{fam} {{ local as {ROUTER_AS}; "
                         f"neighbor {nh_gateway(fam, i)} as {SERVER_AS}; passive on; {TIMERS} "
                         f"ipv{fam} {{ import filter {{ weight = {weights.get(i, 1)}; accept; }}; "
                         "export none; }; }")
    return "\n".join(lines) + "\n"


def server_conf(i, log):
    """Server i: the VIPs as static routes (disabling vip4/vip6 withdraws them), eBGP to the
    router, one session per family."""
    lines = [f"router id {nh_gateway(4, i)};", f'log "{log}" all;',
             "protocol device { scan time 1; }",
             f"protocol static vip4 {{ ipv4; route {SERVICE_NET4} unreachable; }}",
             f"protocol static vip6 {{ ipv6; route {SERVICE_NET6} unreachable; }}"]
    for fam in (4, 6):
        router = nh_router_addr(fam, i).split("/")[0]
        lines.append(f"protocol bgp up{fam} {{ local as {SERVER_AS}; "
                     f"neighbor {router} as {ROUTER_AS}; {TIMERS} ipv{fam} {{ import none; "
                     f'export where proto = "vip{fam}"; }}; }}')
    return "\n".join(lines) + "\n"


def birdc_expect(bird, expect, *cmd):
    """`birdc cmd` on `bird`; SetupError unless its answer says `expect`."""
    out = bird.birdc(*cmd)
    if expect not in out:
        raise SetupError(f"birdc {' '.join(cmd)} ({bird.name}): {out.strip()}")


def log_tail(bird, n=20):
    """The last lines of the log file its configuration names (`log "WORKDIR/NAME.log"`)."""
    try:
        with open(bird.conf[:-len(".conf")] + ".log") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def stop_orphans():
    """Daemons of an earlier run that was killed (SIGKILL skips every cleanup): BIRD, ptbsteer
    and ptbsteer-sync whose configuration is in that run's temporary directory (ptbbd-PID-...),
    PID gone; each is stopped by its own pid. Then that directory goes."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        m = re.search(rf"/{PREFIX}-(\d+)-[^/]*/", " ".join(argv[1:]))
        if os.path.basename(argv[0]) in ("bird", "ptbsteer", "ptbsteer-sync") and m and \
                not os.path.exists(f"/proc/{m.group(1)}"):
            try:
                os.kill(int(pid), signal.SIGTERM)
            except OSError:
                pass
    for d in glob.glob(os.path.join(tempfile.gettempdir(), f"{PREFIX}-*-*")):
        m = re.match(rf"{PREFIX}-(\d+)-", os.path.basename(d))
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            shutil.rmtree(d, ignore_errors=True)


# The router's kernel route --------------------------------------------------------------------

def vip(family):
    return SERVICE_NET4 if family == 4 else SERVICE_NET6


def kernel_route(ns, family):
    """The router's VIP route as `ip -j route show` lists it (None: absent)."""
    out = run(nsexec(ns, "ip", "-j", f"-{family}", "route", "show", vip(family))).stdout
    routes = json.loads(out or "[]")
    return routes[0] if len(routes) == 1 else (routes or None)


def route_hops(route):
    """[(gateway, weight)] of a route in its order (a single-path route: one)."""
    if not isinstance(route, dict):
        return []
    hops = route.get("nexthops") or [route]
    return [(str(ipaddress.ip_address(h["gateway"])), h.get("weight", 1))
            for h in hops if "gateway" in h]


def wait_route(ns, family, want):
    """Waits until the VIP route holds the gateways/weights of `want` ({gateway: weight}), in
    any order; returns its hops, or None after ROUTE_WAIT seconds."""
    deadline = time.monotonic() + ROUTE_WAIT
    while time.monotonic() < deadline:
        hops = route_hops(kernel_route(ns, family))
        if dict(hops) == want and len(hops) == len(want):
            return hops
        time.sleep(0.05)
    return None


def bird_order(hops):
    """BIRD's order of merged next-hops: weight descending, then gateway ascending."""
    return sorted(hops, key=lambda h: (-h[1], ipaddress.ip_address(h[0])))


# The test -------------------------------------------------------------------------------------

class Abandoned(Exception):
    """A state never came (its failure is already counted): the later ones are skipped."""


class Run:
    """The topology, the daemons and the checks of one run."""

    def __init__(self, args, c, procs, tmp):
        self.args, self.c, self.procs, self.tmp = args, c, procs, tmp
        self.rng = random.Random(args.seed)
        self.topo = Topology(f"{PREFIX}-{os.getpid()}")
        self.servers = {}
        self.weights = {}
        self.previous = {}           # family: ptbsteer's answers for the last state

    def server_ns(self, i):
        return f"{self.topo.rt[:-3]}-p{i}"

    def create(self):
        """tests/kernel's topology; each sink end s<i> moved into a server namespace."""
        self.topo.create()
        rt = self.topo.rt
        sysctl(rt, [("net.ipv4.fib_multipath_hash_seed", self.rng.randrange(1, 1 << 32)),
                    ("net.ipv4.fib_multipath_hash_policy", 0),
                    ("net.ipv6.fib_multipath_hash_policy", 0)])
        for i in range(SERVERS):
            ns = self.server_ns(i)
            self.topo.add(ns)
            sysctl(ns, [("net.ipv6.conf.all.accept_dad", 0),
                        ("net.ipv6.conf.default.accept_dad", 0)])
            run(nsexec(self.topo.sk, "ip", "link", "set", f"s{i}", "netns", ns))
            ip_batch(ns, [f"addr add {nh_gateway(4, i)}/30 dev s{i}",
                          f"addr add {nh_gateway(6, i)}/64 dev s{i} nodad",
                          f"link set s{i} up", "link set lo up"])

    def start_server(self, i):
        name = f"server{i}"
        self.servers[i] = Bird(self.procs, self.server_ns(i), self.tmp, name,
                               server_conf(i, f"{self.tmp}/{name}.log"))

    def start_router(self):
        log = f"{self.tmp}/router.log"
        self.router = Bird(self.procs, self.topo.rt, self.tmp, "router",
                           router_conf(log, self.weights))

    def set_weights(self, weights):
        self.weights = weights
        out = self.router.reconfigure(router_conf(f"{self.tmp}/router.log", weights))
        if "Reconfigured" not in out:
            raise SetupError(f"birdc configure (router): {out.strip()}")

    def check_state(self, title, family, live):
        """One state: the kernel route BIRD wrote, ptbsteer serving it, FLOWS flows. False when
        a wait timed out (the later states are then not worth waiting for)."""
        c, rt = self.c, self.topo.rt
        want = {nh_gateway(family, i): self.weights.get(i, 1) for i in live}
        hops = wait_route(rt, family, want)
        route = kernel_route(rt, family)
        if not c.check(hops is not None, f"{title}, IPv{family}: BIRD wrote the route with "
                       f"servers {sorted(live)} (weights {self.weights or 'all 1'})",
                       json.dumps(route) + "\n" + log_tail(self.router)):
            return False
        legacy = isinstance(route, dict) and "nexthops" in route and "nhid" not in route
        c.check(legacy and route.get("protocol") == "bird",
                f"{title}, IPv{family}: a legacy multipath route (RTA_MULTIPATH, no nhid) by "
                "bird", json.dumps(route))
        print("      kernel order: " + ", ".join(f"{g} weight {w}" for g, w in hops))
        c.check(hops == bird_order(hops), f"{title}, IPv{family}: in BIRD's order (weight "
                "descending, then gateway)")
        t0 = time.monotonic()
        gws = [g for g, _ in hops]
        lag = wait_applied(self.api, NAME[family], gws, "unicast", 0, "hash-threshold", None, t0)
        if not c.check(lag is not None, f"{title}, IPv{family}: ptbsteer serves {NAME[family]} "
                       "as `ip route show` lists it" + (f" ({1000 * lag:.0f} ms)" if lag else ""),
                       json.dumps(group_state(self.api, NAME[family])) + "\n"
                       + self.sync.text()[-1500:]):
            return False
        self.compare(title, family)
        now = route_hops(kernel_route(rt, family))
        c.check(now == hops, f"{title}, IPv{family}: the route did not change while compared "
                "(no BGP flap)", f"now {now}\n{log_tail(self.router)}")
        return True

    def compare(self, title, family):
        flows = self.flows[family]
        kernel = kernel_choices(self.topo.rt, flows)
        ours = ptbsteer_choices(self.api, flows)
        wrong = [f"{f}: kernel {k}, ptbsteer {o}" for f, k, o in zip(flows, kernel, ours)
                 if k != o]
        self.c.check(not wrong, f"{title}, IPv{family}: {len(flows) - len(wrong)}/{len(flows)} "
                     f"flows decided as the kernel forwards them ({len(set(kernel))} gateways)",
                     "\n".join(wrong[:5]))
        if family in self.previous:
            moved = sum(k != o for k, o in zip(kernel, self.previous[family]))
            self.c.check(moved > 0, f"{title}, IPv{family}: negative control: ptbsteer's "
                         f"answers for the previous state disagree with the kernel on {moved} "
                         "flows")
        self.previous[family] = ours

    def steps(self):
        """Each change, then both families checked. Server 0 joins last, yet its gateway is
        the lowest: BIRD puts it first, ahead of the servers that were there before."""
        live = set(INITIAL)

        def state(title):
            if not all([self.check_state(title, family, live) for family in (4, 6)]):
                raise Abandoned(title)

        state(f"start, servers {min(live)}-{max(live)}")
        for p in ("vip4", "vip6"):
            birdc_expect(self.servers[3], "disabled", "disable", p)
        live.discard(3)
        state("server 3 withdrew the VIPs")
        for p in ("vip4", "vip6"):
            birdc_expect(self.servers[3], "enabled", "enable", p)
        live.add(3)
        state("server 3 announces them again")
        self.start_server(0)
        live.add(0)
        state("server 0 joined")
        weights = {0: 2, 1: 3, 4: 2, 5: 4}
        self.set_weights(weights)
        state("weights " + ",".join(str(weights.get(i, 1)) for i in range(SERVERS))
              + " (router's import filters)")

    def main(self):
        a, tmp = self.args, self.tmp
        self.create()
        self.flows = {fam: random_flows(self.rng, fam, a.flows) for fam in (4, 6)}
        self.start_router()
        for i in INITIAL:
            self.start_server(i)
        pcapfile.write(f"{tmp}/in.pcap")
        pcapfile.write(f"{tmp}/empty.pcap")
        token = api_lib.token_file(tmp)
        cfg = config.write(f"{tmp}/ptbsteer.yaml", app_config(tmp))
        self.ptbsteer, self.api = api_lib.start(a.ptbsteer, cfg, token)
        scfg = sync_config(f"{tmp}/sync.yaml", self.topo.rt, f"{tmp}/token", self.api.base)
        self.sync = Sync(self.procs, a.sync, scfg, f"{tmp}/sync.log")
        try:
            self.steps()
        except Abandoned as e:
            print(f"stopped after \"{e}\": the later changes build on it")
            print(self.sync.text())
            return
        appliance = self.api.base.split("//")[1].split("/")[0]
        self.c.check(self.sync.sample("ptbsteer_sync_in_sync", appliance=appliance) == 1,
                     "ptbsteer_sync_in_sync is 1: the appliance serves what the kernel holds")
        print(self.sync.text())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ptbsteer", required=True)
    ap.add_argument("--sync", required=True)
    ap.add_argument("--flows", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=20261207)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("skipped: needs root (network namespaces)")
        return SKIP
    if not (shutil.which("bird") and shutil.which("birdc")):
        print("skipped: BIRD 2 (bird, birdc) not installed")
        return SKIP

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    stop_orphans()
    delete_orphans(rf"{PREFIX}-(\d+)-(?:cl|rt|sk|p\d+)$")
    c, procs = Checks("sync-bird-e2e"), Procs()
    with tempfile.TemporaryDirectory(prefix=f"{PREFIX}-{os.getpid()}-") as tmp:
        r = Run(args, c, procs, tmp)
        try:
            r.main()
        except (SetupError, RuntimeError) as e:
            print(f"setup error: {e}")
            for b in [getattr(r, "router", None), *r.servers.values()]:
                if b:
                    print(f"--- {b.name} log\n{log_tail(b)}")
            return 2
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            procs.stop_all()
            if getattr(r, "ptbsteer", None):
                r.ptbsteer.stop()
            remove_eal_dirs()
            r.topo.destroy()
    c.finish()


if __name__ == "__main__":
    sys.exit(main())
