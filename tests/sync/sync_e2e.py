#!/usr/bin/python3
"""ptbsteer-sync against a real kernel router (issue 21, first part): a router namespace holds
multipath routes (tests/kernel's topology: 16 veths to a sink); ptbsteer runs with its control
API and no group for them; ptbsteer-sync reads the router's namespace and keeps ptbsteer's
groups as the kernel holds them. After every change of the router's routes, once sync reports
it applied (its ptbsteer_sync_in_sync metric and a new generation on ptbsteer), FLOWS random
flows are looked up both ways: `ip -batch route get ... iif rin` on the router (the kernel's
forwarding choice) and a batch POST /v1/decide; every flow's next-hop must be the same gateway.

Changes, in order, each against the kernel:
  IPv4 policy 0, 5 weighted next-hops; one removed; one added back in another place; weights
  changed; policy 3 with a field set; a nexthop-object group whose members were added in an
  order other than their ids; a resilient group, then its buckets migrated by a weight change;
  a next-hop's link down with ignore_routes_with_linkdown; failed neighbours with
  fib_multipath_use_neigh and in a nexthop group (the kernel's fallback), then deleted;
  IPv6 policy 0 with weights; seed 0 (random per boot: sync must push the group as replicate,
  and say why). The time from each `ip` command to ptbsteer serving the change is measured
  (p50/p99 printed; docs/performance.md). Negative control: the comparison of the first case is
  run against the *previous* state too, where it must disagree.
Usage: sync_e2e.py --ptbsteer BIN --sync BIN [--flows N]"""
import argparse
import ipaddress
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "kernel"))
from kernel_topology import (SERVICE_NET4, SERVICE_NET6, Topology, nh_gateway,  # noqa: E402
                             random_flows)
from lib import config, pcapfile, prom  # noqa: E402
from lib import api as api_lib  # noqa: E402
from lib.checks import Checks  # noqa: E402
from lib.netns import delete_orphans, ip_batch, nsexec, sysctl  # noqa: E402
from lib.procs import Procs, run  # noqa: E402
from lib.runner import remove_eal_dirs  # noqa: E402


def app_config(tmp, tag="sy", control_listen="127.0.0.1:0"):
    """ptbsteer with its control API; the out port's addresses cover the router's gateways.
    `tag`: its EAL file prefix's (one per instance); `control_listen`: a fixed port for an
    appliance that restarts where ptbsteer-sync expects it."""
    return (config.eal(config.prefix(tag))
            + config.pcap_ports(tmp)
            + config.lcores(1)
            + 'addresses:\n  - {port: out, ipv4: 203.0.113.250/24, ipv6: "2001:db8:ff::fff/56"}\n'
            + "groups:\n"
            + config.group("web", ["192.0.2.128/25"], [config.hop("w1", "02:00:00:00:01:01")],
                           policy=1, seed=7)
            + config.metrics()
            + api_lib.control(tmp, control_listen))


def sync_config(path, ns, token, api_base, *more_bases, router=None):
    """ptbsteer-sync's configuration: the router namespace's two service routes as site4 and
    site6, pushed to the appliance at api_base (and at each of more_bases); with `router`, as
    that border router's states (`router:`, docs/router-sync.md)."""
    hostports = ", ".join(f"http://{b.split('//')[1].split('/')[0]}" for b in (api_base,
                                                                             *more_bases))
    with open(path, "w") as f:
        f.write(f"netns: {ns}\n" + (f"router: {router}\n" if router else "")
                + f"token_file: {token}\nappliances: [{hostports}]\n"
                "listen: 127.0.0.1:0\ncoalesce_ms: 5\ngroups:\n"
                f"  - {{name: site4, route: {SERVICE_NET4}, port: out}}\n"
                f'  - {{name: site6, route: "{SERVICE_NET6}", port: out}}\n')
    return path


def route_cmd(family, hops, nhid=None):
    """`ip route replace` of the service prefix: hops = [(i, weight)] in the kernel's order."""
    prefix = SERVICE_NET4 if family == 4 else SERVICE_NET6
    if nhid is not None:
        return f"route replace {prefix} nhid {nhid}"
    return f"route replace {prefix} " + " ".join(
        f"nexthop via {nh_gateway(family, i)} dev r{i} weight {w}" for i, w in hops)


def kernel_choices(ns, flows):
    """The gateway the kernel forwards each flow to: one `ip -batch` of `route get ... iif`."""
    lines = []
    for f in flows:
        pname = {1: "icmp", 58: "ipv6-icmp", 6: "tcp", 17: "udp"}[f.proto]
        cmd = f"route get to {f.dst} from {f.src} iif rin ipproto {pname}"
        if f.proto in (6, 17):
            cmd += f" sport {f.sport} dport {f.dport}"
        lines.append(cmd)
    out = ip_batch(ns, lines, timeout=120).stdout
    records = [ln for ln in out.splitlines() if ln and not ln[0].isspace()]
    if len(records) != len(flows):
        raise RuntimeError(f"ip -batch answered {len(records)} of {len(flows)} look-ups")
    return [str(ipaddress.ip_address(re.search(r" via (?:inet6 )?(\S+) ", r + " ").group(1)))
            for r in records]


def ptbsteer_choices(api, flows, router=None):
    """POST /v1/decide's next-hop (or verdict) for each flow; with `router`, as PTBs from that
    border router (its state of the group)."""
    more = {"router": router} if router else {}
    status, answer, _ = api.call("POST", "/v1/decide", {"flows": [
        {"src": f.src, "dst": f.dst, "proto": f.proto, "sport": f.sport, "dport": f.dport,
         **more} for f in flows]})
    if status != 200:
        raise RuntimeError(f"POST /v1/decide: {status} {answer}")
    return [d.get("next_hop") if d.get("verdict") == "unicast" else d.get("verdict")
            for d in answer["decisions"]]


class Sync:
    """ptbsteer-sync, writing to a log file; its metrics URL read from the log."""

    def __init__(self, procs, binary, cfg, log):
        self.log = log
        with open(log, "w") as out:
            self.p = procs.start("ptbsteer-sync", [binary, "--config", cfg], stdout=out,
                                 stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while not (m := re.search(r"metrics on (http://\S+)", self.text())):
            if time.monotonic() > deadline or self.p.poll() is not None:
                raise RuntimeError("ptbsteer-sync did not start:\n" + self.text())
            time.sleep(0.05)
        self.metrics = m.group(1)

    def text(self):
        with open(self.log) as f:
            return f.read()

    def sample(self, name, **labels):
        return prom.sample(prom.scrape(self.metrics), name, **labels)


def buckets_of(ns, nhid):
    """The kernel's bucket table of resilient group `nhid`: each bucket's gateway, in order."""
    out = run(nsexec(ns, "ip", "-j", "nexthop", "bucket", "show", "id", str(nhid))).stdout
    gw = {}
    for nh in json.loads(run(nsexec(ns, "ip", "-j", "nexthop", "show")).stdout):
        if "gateway" in nh:
            gw[nh["id"]] = str(ipaddress.ip_address(nh["gateway"]))
    rows = sorted(json.loads(out), key=lambda b: b["bucket"]["index"])
    return [gw[b["bucket"]["nhid"]] for b in rows]


def wait_buckets(ns, nhid, before, timeout=5):
    """How many buckets differ from `before` once the kernel has migrated some (0: none)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = buckets_of(ns, nhid)
        moved = sum(a != b for a, b in zip(before, now))
        if moved:
            return moved
        time.sleep(0.05)
    return 0


def group_buckets(api, name):
    g = group_state(api, name)
    return (g or {}).get("buckets")


def wait_for(cond, t0, timeout=10):
    while time.monotonic() - t0 < timeout:
        if cond():
            return time.monotonic() - t0
        time.sleep(0.001)
    return None


def group_state(api, name, router=None):
    """GET /v1/groups/NAME, or router `router`'s state of it (/v1/routers/R/groups/NAME); None
    when not 200."""
    path = f"/v1/routers/{router}/groups/{name}" if router else f"/v1/groups/{name}"
    status, answer, _ = api.call("GET", path)
    return answer if status == 200 else None


def wait_applied(api, name, want_hops, want_mode, want_policy, want_select, want_invalid, t0,
                 timeout=10):
    """Polls ptbsteer until group `name` serves `want_hops` (gateway names, in order) in
    `want_mode` with hash policy `want_policy`, selection `want_select` and the next-hops
    `want_invalid` marked `neighbour: invalid` (None: not checked); returns the seconds since t0,
    or None."""
    while time.monotonic() - t0 < timeout:
        g = group_state(api, name)
        hops = g.get("next_hops", []) if g else []
        invalid = [h["name"] for h in hops if h.get("neighbour") == "invalid"]
        if g and [h["name"] for h in hops] == want_hops and \
                (want_invalid is None or invalid == want_invalid) and \
                g.get("mode") == want_mode and g.get("select") == want_select and \
                g.get("hash", {}).get("policy") == want_policy:
            return time.monotonic() - t0
        time.sleep(0.001)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ptbsteer", required=True)
    ap.add_argument("--sync", required=True)
    ap.add_argument("--flows", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=20261207)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    c = Checks("sync-e2e")
    delete_orphans(r"ptbsy-(\d+)-(?:cl|rt|sk)$")
    topo = Topology(f"ptbsy-{os.getpid()}")
    procs = Procs()
    lags = []
    with tempfile.TemporaryDirectory() as tmp:
        pcapfile.write(f"{tmp}/in.pcap")
        pcapfile.write(f"{tmp}/empty.pcap")
        token = api_lib.token_file(tmp)
        cfg = config.write(f"{tmp}/ptbsteer.yaml", app_config(tmp))
        p = None
        try:
            topo.create()
            seed4 = rng.randrange(1, 1 << 32)
            sysctl(topo.rt, [("net.ipv4.fib_multipath_hash_seed", seed4),
                             ("net.ipv4.fib_multipath_hash_policy", 0),
                             ("net.ipv6.fib_multipath_hash_policy", 0)])
            v4 = [(0, 1), (1, 3), (2, 1), (3, 2), (4, 1)]
            v6 = [(0, 2), (1, 1), (2, 1), (3, 3)]
            ip_batch(topo.rt, [route_cmd(4, v4)])
            run(nsexec(topo.rt, "ip", "-6", *route_cmd(6, v6).split()))
            p, api = api_lib.start(args.ptbsteer, cfg, token)
            scfg = sync_config(f"{tmp}/sync.yaml", topo.rt, f"{tmp}/token", api.base)
            rc = run([args.sync, "--check", "--config", scfg], check=False)
            c.check(rc.returncode == 0, "ptbsteer-sync --check accepts its configuration",
                    rc.stdout + rc.stderr)
            sync = Sync(procs, args.sync, scfg, f"{tmp}/sync.log")

            def names(family, hops):
                return [nh_gateway(family, i) for i, _ in hops]

            def compare(title, family, want_hops, mode="unicast", policy=0,
                        select="hash-threshold", invalid=()):
                name = "site4" if family == 4 else "site6"
                lag = wait_applied(api, name, want_hops, mode, policy, select,
                                   None if invalid is None else list(invalid), t0)
                c.check(lag is not None, f"{title}: ptbsteer serves {name} as the kernel holds "
                        f"it ({len(want_hops)} next-hops, {mode})"
                        + (f", {1000 * lag:.1f} ms after the change" if lag else ""),
                        json.dumps(group_state(api, name)))
                if lag is None:
                    return None
                lags.append(lag)
                flows = random_flows(rng, family, args.flows)
                kernel = kernel_choices(topo.rt, flows)
                ours = ptbsteer_choices(api, flows)
                if mode == "replicate":
                    c.check(all(o == "replicate" for o in ours),
                            f"{title}: every flow is replicated ({len(flows)} flows)")
                    return flows, kernel
                wrong = [f"{f}: kernel {k}, ptbsteer {o}" for f, k, o in zip(flows, kernel, ours)
                         if k != o]
                c.check(not wrong, f"{title}: {len(flows) - len(wrong)}/{len(flows)} flows "
                        f"decided as the kernel forwards them ({len(set(kernel))} next-hops "
                        "used)", "\n".join(wrong[:5]))
                return flows, kernel

            t0 = time.monotonic()
            first = compare("start, IPv4 policy 0", 4, names(4, v4))
            compare("start, IPv6 policy 0", 6, names(6, v6))
            # One next-hop withdrawn: every flow's owner follows the kernel's new bounds.
            v4b = [h for h in v4 if h[0] != 2]
            t0 = time.monotonic()
            ip_batch(topo.rt, [route_cmd(4, v4b)])
            compare("next-hop 2 withdrawn", 4, names(4, v4b))
            if first:
                flows, before = first
                now = kernel_choices(topo.rt, flows)
                c.check(now != before, "negative control: the withdrawal moved flows, so the "
                        f"comparison can fail ({sum(a != b for a, b in zip(now, before))} moved)")
            v4c = [(0, 1), (5, 1), (1, 3), (3, 2), (4, 1)]
            t0 = time.monotonic()
            ip_batch(topo.rt, [route_cmd(4, v4c)])
            compare("next-hop 5 added in second place", 4, names(4, v4c))
            v4d = [(0, 4), (5, 1), (1, 1), (3, 2), (4, 7)]
            t0 = time.monotonic()
            ip_batch(topo.rt, [route_cmd(4, v4d)])
            compare("weights changed", 4, names(4, v4d))
            t0 = time.monotonic()
            # Sysctls change without a notification: ptbsteer-sync reads them every 20 ms.
            sysctl(topo.rt, [("net.ipv4.fib_multipath_hash_fields", "0x37"),
                             ("net.ipv4.fib_multipath_hash_policy", 3)])
            compare("policy 3, fields 0x37", 4, names(4, v4d), policy=3)
            sysctl(topo.rt, [("net.ipv4.fib_multipath_hash_policy", 0)])
            # A nexthop-object group, members in an order other than their ids.
            members = [(6, 30, 2), (7, 10, 1), (8, 20, 1)]  # (veth, id, weight)
            cmds = [f"nexthop replace id {i} via {nh_gateway(4, k)} dev r{k}"
                    for k, i, _ in members]
            cmds.append("nexthop replace id 100 group "
                        + "/".join(f"{i},{w}" for _, i, w in members))
            t0 = time.monotonic()
            ip_batch(topo.rt, cmds + [route_cmd(4, None, nhid=100)])
            compare("nexthop group 100 (ids 30, 10, 20)", 4,
                    [nh_gateway(4, k) for k, _, _ in members])
            # A resilient group over the same members: the kernel's bucket table, copied; then
            # the weights change and idle buckets migrate at once (idle_timer 0).
            t0 = time.monotonic()
            ip_batch(topo.rt, ["nexthop replace id 200 group 30/10/20 type resilient buckets 32 "
                               "idle_timer 0",
                               route_cmd(4, None, nhid=200)])
            compare("resilient group 200 (32 buckets)", 4,
                    [nh_gateway(4, k) for k, _, _ in members], select="resilient")
            before = buckets_of(topo.rt, 200)
            t0 = time.monotonic()
            ip_batch(topo.rt, ["nexthop replace id 200 group 30,5/10/20 type resilient "
                               "buckets 32 idle_timer 0"])
            moved = wait_buckets(topo.rt, 200, before)
            c.check(moved > 0, f"resilient group 200: {moved} buckets migrated to the heavier "
                    "member")
            compare_buckets = buckets_of(topo.rt, 200)
            lag = wait_for(lambda: group_buckets(api, "site4") == compare_buckets, t0)
            c.check(lag is not None, "resilient group 200: ptbsteer serves the migrated bucket "
                    "table" + (f", {1000 * lag:.1f} ms after the change" if lag else ""),
                    f"kernel {compare_buckets}\nptbsteer {group_buckets(api, 'site4')}")
            compare("resilient group 200 after migration", 4,
                    [nh_gateway(4, k) for k, _, _ in members], select="resilient")
            # Back to a legacy route; a next-hop's link down, ignored by the kernel.
            sysctl(topo.rt, [("net.ipv4.conf.all.ignore_routes_with_linkdown", 1),
                             ("net.ipv4.conf.r1.ignore_routes_with_linkdown", 1)])
            t0 = time.monotonic()
            ip_batch(topo.rt, [route_cmd(4, v4d)])
            compare("legacy route again", 4, names(4, v4d))
            t0 = time.monotonic()
            run(nsexec(topo.sk, "ip", "link", "set", "s1", "down"))
            compare("next-hop 1's link down (ignore_routes_with_linkdown)", 4,
                    names(4, [h for h in v4d if h[0] != 1]))
            run(nsexec(topo.sk, "ip", "link", "set", "s1", "up"))
            # A failed neighbour: with fib_multipath_use_neigh the kernel passes the next-hop's
            # flows on to the next valid one (since 6.6: the first valid within the bound, else
            # the first valid, else entry 0); a nexthop-object group always does. A next-hop with
            # no neighbour entry at all counts as valid.
            sysctl(topo.rt, [("net.ipv4.fib_multipath_use_neigh", 1)])
            failed = [(3, nh_gateway(4, 3)), (4, nh_gateway(4, 4))]
            t0 = time.monotonic()
            ip_batch(topo.rt, [f"neigh replace {gw} dev r{k} nud failed" for k, gw in failed])
            compare("use_neigh: next-hops 3 and 4 (the last) with failed neighbours", 4,
                    names(4, v4d), invalid=[gw for _, gw in failed])
            t0 = time.monotonic()
            ip_batch(topo.rt, [route_cmd(4, None, nhid=100),
                               f"neigh replace {nh_gateway(4, 7)} dev r7 nud failed"])
            compare("nexthop group 100, member 10's neighbour failed", 4,
                    [nh_gateway(4, k) for k, _, _ in members], invalid=[nh_gateway(4, 7)])
            t0 = time.monotonic()
            ip_batch(topo.rt, [f"neigh del {nh_gateway(4, 7)} dev r7"])
            compare("nexthop group 100, member 10's neighbour entry deleted (valid)", 4,
                    [nh_gateway(4, k) for k, _, _ in members])
            ip_batch(topo.rt, [f"neigh del {gw} dev r{k}" for k, gw in failed])
            sysctl(topo.rt, [("net.ipv4.fib_multipath_use_neigh", 0)])
            t0 = time.monotonic()
            ip_batch(topo.rt, [route_cmd(4, v4d)])
            compare("legacy route, neighbours back", 4, names(4, v4d))
            # IPv6: a weight change.
            v6b = [(0, 1), (1, 4), (2, 1), (3, 1)]
            t0 = time.monotonic()
            run(nsexec(topo.rt, "ip", "-6", *route_cmd(6, v6b).split()))
            compare("IPv6 weights changed", 6, names(6, v6b))
            # Seed 0: a random key per boot; nothing can be exact.
            t0 = time.monotonic()
            sysctl(topo.rt, [("net.ipv4.fib_multipath_hash_seed", 0)])
            compare("seed 0: replicate", 4, names(4, v4d), mode="replicate", invalid=None)
            said = sync.text()
            c.check("fib_multipath_hash_seed is 0" in said,
                    "ptbsteer-sync says in one sentence why site4 is replicated", said[-2000:])
            print(said[-3000:])
            appliance = api.base.split("//")[1].split("/")[0]
            c.check(sync.sample("ptbsteer_sync_in_sync", appliance=appliance) == 1,
                    "ptbsteer_sync_in_sync is 1: the appliance serves what the kernel holds")
            # The last change's lag stays on the gauge until the next change is pushed: at
            # least the 5 ms of coalescing, less than the test's own wait for it.
            lag = sync.sample("ptbsteer_sync_lag_seconds", appliance=appliance)
            c.check(lag is not None and 0.005 <= lag < 1, "ptbsteer_sync_lag_seconds keeps the "
                    f"last change's lag ({lag})")
            events = sum(sync.sample("ptbsteer_sync_kernel_events_total", kind=k) or 0
                         for k in ("route", "nexthop", "link", "neighbor"))
            c.check(events > 0, f"ptbsteer-sync counted {events:.0f} kernel notifications")
            if lags:
                lags.sort()
                print(f"change -> ptbsteer serving it: p50 {1000 * lags[len(lags) // 2]:.1f} ms, "
                      f"max {1000 * lags[-1]:.1f} ms over {len(lags)} changes (includes the "
                      "polling client's own 1 ms)")
        finally:
            procs.stop_all()
            if p:
                p.stop()
            remove_eal_dirs()
            topo.destroy()
    c.finish()


if __name__ == "__main__":
    main()
