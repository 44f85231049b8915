#!/usr/bin/python3
"""sync-kernel: sync::Kernel (lib/sync/kernel.cpp) reads what iproute2 reads.

One network namespace (ptbs-k-PID) with veth pairs v1..v5 (both ends inside it), legacy
multipath routes (IPv4 weights 1/2/3, IPv6 with global and link-local gateways, one grown by
`ip -6 route append`, routes in tables 100 and 200), nexthop objects (a hash-threshold group
whose members are not in id order, an IPv6 one, a resilient one with 8 buckets, a 16-bit
weight sent over raw netlink), a linkdown next-hop (v3's peer down), a dead one (v5 down) and
static neighbours. kernel-dump's JSON must equal `ip -j route/nexthop/neigh/link` and the
values the topology set, the sysctls those set inside the namespace, and --watch must report
route/nexthop/link/neigh events, nothing when idle, and an overrun when not read. Negative
control: the dump taken before a route changes must differ from iproute2 after it.

Run as root with /usr/bin/python3. Exit 0 pass, 1 failed check, 2 setup error, 77 skipped.
The namespace is removed on exit (finally, SIGTERM/SIGHUP too)."""
import argparse
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import kernel_compare as kc  # noqa: E402
from lib.checks import SKIP, Checks  # noqa: E402
from lib.netns import InNetns, Namespaces, delete_orphans, ip_batch, nsexec, sysctl  # noqa: E402
from lib.procs import Procs, SetupError, run  # noqa: E402

NS = f"ptbs-k-{os.getpid()}"
V4_GW = {i: f"192.0.2.{16 * (i - 1) + 2}" for i in range(1, 6)}  # vI's peer side of 192.0.2.x/28
SYSCTLS = {"net.ipv4.fib_multipath_hash_policy": 1, "net.ipv4.fib_multipath_hash_fields": 0x0f,
           "net.ipv6.fib_multipath_hash_policy": 2, "net.ipv6.fib_multipath_hash_fields": 0x2f,
           "net.ipv4.fib_multipath_use_neigh": 1,
           "net.ipv4.conf.all.ignore_routes_with_linkdown": 1,
           "net.ipv6.conf.all.ignore_routes_with_linkdown": 0}
SEED = 0x9e3779b9
SEED_FILE = "/proc/sys/net/ipv4/fib_multipath_hash_seed"
SYSCTL_NAMES = {"v4_policy": "net.ipv4.fib_multipath_hash_policy",
                "v4_fields": "net.ipv4.fib_multipath_hash_fields",
                "v6_policy": "net.ipv6.fib_multipath_hash_policy",
                "v6_fields": "net.ipv6.fib_multipath_hash_fields",
                "use_neigh": "net.ipv4.fib_multipath_use_neigh",
                "v4_ignore_linkdown": "net.ipv4.conf.all.ignore_routes_with_linkdown",
                "v6_ignore_linkdown": "net.ipv6.conf.all.ignore_routes_with_linkdown"}


def topology():
    lines = []
    for i in range(1, 6):
        lines += [f"link add v{i} type veth peer name v{i}p", f"link set v{i} up",
                  f"link set v{i}p up", f"addr add 192.0.2.{16 * (i - 1) + 1}/28 dev v{i}",
                  f"addr add 2001:db8:{i}::1/64 dev v{i} nodad"]
    g = V4_GW
    lines += [
        "neigh add 192.0.2.2 lladdr 02:00:00:00:00:02 dev v1 nud permanent",
        "neigh add 2001:db8:1::2 lladdr 02:00:00:00:00:02 dev v1 nud permanent",
        "neigh add 192.0.2.18 lladdr 02:00:00:00:00:12 dev v2 nud stale",
        f"route add 198.51.100.0/25 nexthop via {g[1]} dev v1 weight 1"
        f" nexthop via {g[2]} dev v2 weight 2 nexthop via {g[3]} dev v3 weight 3",
        f"route add 198.51.100.128/25 table 100 nexthop via {g[2]} dev v2 weight 4"
        f" nexthop via {g[1]} dev v1 weight 1",
        f"route add 203.0.113.192/27 nexthop via {g[1]} dev v1 nexthop via {g[5]} dev v5",
        "route add 192.0.2.224/27 via inet6 fe80::9 dev v4",  # RTA_VIA
        "route add 2001:db8:100::/48 nexthop via 2001:db8:1::2 dev v1 weight 1"
        " nexthop via fe80::2 dev v2 weight 2 nexthop via 2001:db8:3::2 dev v3 weight 5",
        "route add 2001:db8:200::/48 via 2001:db8:2::2 dev v2",
        "route append 2001:db8:200::/48 via fe80::4 dev v4",
        "route add 2001:db8:400::/48 table 200 nexthop via fe80::1 dev v1 weight 7"
        " nexthop via 2001:db8:2::2 dev v2",
        # Added in the order 13, 11, 12; the group lists them 12, 13, 11.
        f"nexthop add id 13 via {g[4]} dev v4", f"nexthop add id 11 via {g[1]} dev v1",
        f"nexthop add id 12 via {g[2]} dev v2", "nexthop add id 100 group 12,2/13/11,3",
        "route add 203.0.113.0/26 nhid 100",
        "nexthop add id 120 group 11/12,3 type resilient buckets 8 idle_timer 0",
        "route add 203.0.113.64/26 table 100 nhid 120",
        "route add 203.0.113.128/26 nhid 11",
        "nexthop add id 21 via 2001:db8:2::2 dev v2", "nexthop add id 22 via fe80::3 dev v4",
        "nexthop add id 110 group 22/21,4",
        "route add 2001:db8:300::/48 table 200 nhid 110",
        "nexthop add id 31 via fe80::9 dev v4", "route add 192.0.2.160/27 nhid 31",
    ]
    ip_batch(NS, lines)


def add_wide_group():
    """Group 130 = 11 (weight 1000) / 12 over raw netlink: iproute2 6.1 cannot send weights above
    256. Since 6.12 `struct nexthop_grp` holds weight - 1 in `weight` (low byte) and
    `weight_high`. Returns the kernel's error (0: accepted)."""
    entries = b"".join(struct.pack("=IBBH", nh, (w - 1) & 0xff, (w - 1) >> 8, 0)
                       for nh, w in ((11, 1000), (12, 1)))
    attrs = struct.pack("=HHI", 8, 1, 130) + struct.pack("=HH", 4 + len(entries), 2) + entries
    body = struct.pack("=BBBBI", 0, 0, 0, 0, 0) + attrs
    flags = 0x1 | 0x4 | 0x400 | 0x200  # REQUEST | ACK | CREATE | EXCL
    msg = struct.pack("=IHHII", 16 + len(body), 104, flags, 1, 0) + body  # RTM_NEWNEXTHOP
    with InNetns(NS):
        s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    with s:
        s.send(msg)
        ack = s.recv(4096)
    return -struct.unpack_from("=i", ack, 16)[0]


def dump(tool, *extra):
    p = subprocess.run([tool, "--netns", NS, *extra], capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise SetupError(f"kernel-dump failed ({p.returncode}): {p.stderr.strip()}")
    return json.loads(p.stdout)


def sysctl_values(names):
    return {k: int(run(nsexec(NS, "sysctl", "-n", n)).stdout) for k, n in names.items()}


def hops(r):
    return [(kc.gw(h["gateway"]), h["ifname"], h["weight"]) for h in r["hops"]] if r else None


def narrow(routes):
    """Without the route to group 130: the kernel's RTA_MULTIPATH rendering of a nexthop group
    (what `ip route` prints) keeps only the low 8 bits of weight - 1 in rtnh_hops."""
    return sorted(r for r in routes if r[3] != 130)


def check_routes(c, d):
    mine, theirs = narrow(kc.dump_routes(d)), narrow(kc.ip_routes(NS))
    c.check(mine == theirs,
            f"{len(mine)} unicast routes (all tables, both families) equal ip route's",
            "\n".join(kc.differences(mine, theirs)))
    g = V4_GW
    r = kc.find(d, 4, "198.51.100.0/25")
    c.check(hops(r) == [(g[1], "v1", 1), (g[2], "v2", 2), (g[3], "v3", 3)],
            "legacy IPv4 multipath: 3 next-hops in order, weights 1/2/3", str(hops(r)))
    # The kernel reports a linkdown next-hop as dead too where ignore_routes_with_linkdown
    # applies to its device (fib_nexthop_info, at dump time): set for IPv4 here, not for IPv6.
    c.check(r and [(h["dead"], h["linkdown"]) for h in r["hops"]] == [(False, False)] * 2 +
            [(True, True)], "v3's peer down: its next-hop is linkdown (RTNH_F_LINKDOWN), and dead"
            " (IPv4 ignore_routes_with_linkdown 1)", str(r and r["hops"]))
    r = kc.find(d, 4, "198.51.100.128/25", 100)
    c.check(hops(r) == [(g[2], "v2", 4), (g[1], "v1", 1)], "legacy route in table 100")
    r = kc.find(d, 4, "203.0.113.192/27")
    c.check(r and [(h["dead"], h["linkdown"]) for h in r["hops"]] == [(False, False), (True, True)],
            "v5 down: its next-hop is dead and linkdown", str(r and r["hops"]))
    r = kc.find(d, 4, "192.0.2.224/27")
    c.check(r and r["hops"][0]["family"] == "IPv6" and hops(r) == [("fe80::9", "v4", 1)],
            "IPv4 route via an IPv6 gateway (RTA_VIA)", str(r))
    r = kc.find(d, 6, "2001:db8:100::/48")
    c.check(hops(r) == [("2001:db8:1::2", "v1", 1), ("fe80::2", "v2", 2),
                        ("2001:db8:3::2", "v3", 5)],
            "IPv6 multipath: global and link-local gateways, weights 1/2/5", str(hops(r)))
    c.check(r and [(h["dead"], h["linkdown"]) for h in r["hops"]] == [(False, False)] * 2 +
            [(False, True)], "  v3's next-hop linkdown, not dead (IPv6 ignore_routes_with_linkdown"
            " 0)", str(r and r["hops"]))
    r = kc.find(d, 6, "2001:db8:200::/48")
    c.check(r and r["kind"] == "multipath" and hops(r) == [("2001:db8:2::2", "v2", 1),
                                                           ("fe80::4", "v4", 1)],
            "IPv6 route grown by `ip -6 route append`: one route, 2 next-hops", str(r))
    r = kc.find(d, 6, "2001:db8:400::/48", 200)
    c.check(hops(r) == [("fe80::1", "v1", 7), ("2001:db8:2::2", "v2", 1)],
            "IPv6 multipath in table 200")


def check_groups(c, d, wide):
    groups = kc.ip_groups(NS)
    for dst, table, nhid, kind in (("203.0.113.0/26", 254, 100, "multipath"),
                                   ("203.0.113.64/26", 100, 120, "resilient"),
                                   ("2001:db8:300::/48", 200, 110, "multipath")):
        r = kc.find(d, 6 if ":" in dst else 4, dst, table)
        want = [(m["id"], m.get("weight", 1)) for m in groups[nhid]["group"]]
        got = r and [(h["id"], h["weight"]) for h in r["hops"]]
        c.check(r and r["nhid"] == nhid and r["kind"] == kind and got == want,
                f"nhid {nhid} ({kind}): members and weights in `ip nexthop` order {want}",
                str(r))
        for h in (r["hops"] if r else []):
            m = groups[h["id"]]
            c.check((kc.gw(h["gateway"]), h["ifname"]) == (kc.gw(m.get("gateway")), m["dev"]),
                    f"  member {h['id']}: {m.get('gateway')} dev {m['dev']}")
    r = kc.find(d, 4, "203.0.113.0/26")
    c.check(r and [h["id"] for h in r["hops"]] == [12, 13, 11],
            "group 100 keeps its installed order 12, 13, 11 (not id order)")
    r = kc.find(d, 4, "203.0.113.64/26", 100)
    ids = [r["hops"][b]["id"] for b in r["buckets"]] if r else []
    want = kc.ip_buckets(NS, 120)
    c.check(len(ids) == 8 and ids == want,
            f"resilient group 120: 8 buckets equal `ip nexthop bucket show` {want}", str(ids))
    c.check(sorted(ids) == [11, 11, 12, 12, 12, 12, 12, 12], "  weights 1:3 give 2 and 6 buckets")
    r = kc.find(d, 4, "203.0.113.128/26")
    c.check(r and r["kind"] == "single" and r["nhid"] == 11 and r["hops"][0]["id"] == 11,
            "route to a plain nexthop object: single, id 11")
    r = kc.find(d, 4, "192.0.2.160/27")
    c.check(hops(r) == [("fe80::9", "v4", 1)], "IPv4 route to an IPv6 nexthop object")
    if wide == 0:
        r = kc.find(d, 4, "203.0.113.224/27")
        shown = [m.get("weight", 1) for m in groups[130]["group"]]
        c.check(r and [(h["id"], h["weight"]) for h in r["hops"]] == [(11, 1000), (12, 1)],
                f"16-bit group weight 1000 read back (iproute2 6.1 shows {shown})", str(r))


def check_state(c, d, neighbors):
    c.check(kc.dump_links(d) == kc.ip_links(NS),
            f"{len(d['links'])} links: names and up (IFF_UP and carrier) equal ip link's")
    c.check(not kc.dump_links(d)[kc.ip_json(NS, "link", "show", "v3")[0]["ifindex"]][1],
            "v3 (peer down) is not up")
    mine, theirs = kc.dump_neighbors(d), kc.ip_neighbors(NS)
    c.check(mine == theirs, f"{len(mine)} neighbours (dev, address, NUD state) equal ip neigh's",
            f"dump only {mine - theirs}\nip only {theirs - mine}")
    c.check(neighbors <= mine, "  the static ones: PERMANENT v4 and v6, STALE", str(neighbors))


class Watch:
    """kernel-dump --watch in the background; lines() collects its JSON lines until quiet."""

    def __init__(self, procs, tool, seconds, stall=0.0):
        self.p = procs.start("watch", [tool, "--netns", NS, "--watch", str(seconds), "--stall",
                                       str(stall)], stdout=subprocess.PIPE)
        self.buf = b""
        first = self.lines(quiet=10, until_one=True)
        if not first or "watching" not in first[0]:
            raise SetupError(f"kernel-dump --watch did not start: {first}")

    def lines(self, quiet=0.6, until_one=False, limit=10.0):
        out, end = [], time.monotonic() + limit
        fd = self.p.stdout.fileno()
        while time.monotonic() < end:
            r, _, _ = select.select([fd], [], [], quiet)
            if not r:
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            self.buf += chunk
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                out.append(json.loads(line))
            if until_one and out:
                break
        return out


def total(lines, key):
    return sum(ln.get(key, 0) for ln in lines)


def check_watch(c, tool, procs):
    w = Watch(procs, tool, 20)
    idle = w.lines(quiet=2.0)
    c.check(idle == [], "--watch: nothing in 2 s when nothing changes", str(idle))
    for what, cmd in (("route", "route add 203.0.113.250/32 via 192.0.2.2 dev v1"),
                      ("nexthop", "nexthop add id 40 via 192.0.2.19 dev v2"),
                      ("link", "link add v9 type veth peer name v9p"),
                      ("neighbor", "neigh add 192.0.2.20 lladdr 02:00:00:00:00:20 dev v2")):
        ip_batch(NS, [cmd])
        got = w.lines()
        c.check(total(got, what) >= 1, f"--watch: `ip {cmd}` gives {what} events", str(got))
    procs.stop_all()
    # 2000 route notifications while nobody reads: the 4 MiB buffer holds them (the default
    # 208 KiB would not); 30000 overrun it (ENOBUFS).
    for n, overrun in ((2000, False), (30000, True)):
        w = Watch(procs, tool, 30, stall=4)
        ip_batch(NS, [f"route add 2001:db8:ff:{i:x}::/64 dev v1 table 300" for i in range(n)],
                 timeout=120)
        got = w.lines(quiet=6, limit=40)
        seen = any(ln.get("overrun") for ln in got)
        c.check(seen == overrun and (overrun or total(got, "route") == n),
                f"--watch --stall: {n} routes added unread: overrun {overrun}, "
                f"{total(got, 'route')} counted", str(got)[:300])
        procs.stop_all()
        run(nsexec(NS, "ip", "-6", "route", "flush", "table", "300"), timeout=120)


def check_negative(c, tool):
    """A change after the dump must show: the comparison can fail."""
    before = dump(tool)
    ip_batch(NS, [f"route replace 198.51.100.0/25 nexthop via {V4_GW[1]} dev v1 weight 3"
                  f" nexthop via {V4_GW[2]} dev v2 weight 2 nexthop via {V4_GW[3]} dev v3"])
    diff = kc.differences(narrow(kc.dump_routes(before)), narrow(kc.ip_routes(NS)))
    c.check(len(diff) == 2 and all("198.51.100.0/25" in ln for ln in diff),
            "negative control: the old dump differs from ip route after a replace", str(diff))
    after = dump(tool)
    c.check(narrow(kc.dump_routes(after)) == narrow(kc.ip_routes(NS)), "  a new dump agrees")


def main_run(args, c, procs):
    missing = subprocess.run([args.kernel_dump, "--netns", "ptbs-k-none"], capture_output=True,
                             text=True, timeout=30)
    c.check(missing.returncode == 1 and "not found" in missing.stderr,
            "a missing namespace: exit 1 and a sentence", missing.stderr.strip())
    defaults = dump(args.kernel_dump)["sysctls"]
    seed = run(nsexec(NS, "cat", SEED_FILE), check=False)
    seed = int(seed.stdout) if seed.returncode == 0 else None  # one number: 0 (none) or the seed
    want = sysctl_values(SYSCTL_NAMES)
    want = {k: (bool(v) if "neigh" in k or "linkdown" in k else v) for k, v in want.items()}
    want["seed"] = seed
    c.check({k: defaults[k] for k in want} == want, f"default sysctls {want}", str(defaults))
    sysctl(NS, list(SYSCTLS.items()) + ([("net.ipv4.fib_multipath_hash_seed", SEED)]
                                        if seed is not None else []))
    topology()
    wide = add_wide_group()
    if wide == 0:
        ip_batch(NS, ["route add 203.0.113.224/27 nhid 130"])
    else:
        print(f"note: the kernel refused a 16-bit group weight (errno {wide}): not checked")
    ip_batch(NS, ["link set v3p down", "link set v5 down"])
    time.sleep(0.5)
    d = dump(args.kernel_dump)
    check_routes(c, d)
    check_groups(c, d, wide)
    check_state(c, d, {("v1", "192.0.2.2", frozenset({"PERMANENT"})),
                       ("v1", "2001:db8:1::2", frozenset({"PERMANENT"})),
                       ("v2", "192.0.2.18", frozenset({"STALE"}))})
    s = d["sysctls"]
    want = {"v4_policy": 1, "v4_fields": 0x0f, "v6_policy": 2, "v6_fields": 0x2f,
            "use_neigh": True, "v4_ignore_linkdown": True, "v6_ignore_linkdown": False,
            "seed": SEED if seed is not None else None}
    c.check({k: s[k] for k in want} == want, f"sysctls set in the namespace {want}", str(s))
    check_watch(c, args.kernel_dump, procs)
    check_negative(c, args.kernel_dump)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kernel-dump", required=True)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("skipped: needs root (network namespaces)")
        return SKIP
    delete_orphans(r"ptbs-k-(\d+)$")

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    c, procs, nss = Checks("sync-kernel"), Procs(), Namespaces()
    try:
        nss.add(NS)
        sysctl(NS, [("net.ipv6.conf.all.accept_dad", 0), ("net.ipv6.conf.default.accept_dad", 0)])
        main_run(args, c, procs)
    except SetupError as e:
        print(f"setup error: {e}")
        return 2
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        procs.stop_all()
        nss.destroy()
    c.finish()


if __name__ == "__main__":
    sys.exit(main())
