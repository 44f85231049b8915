"""Both views of a namespace's routing state in one canonical form, for kernel_test.py: what
kernel-dump (sync::Kernel) printed, and what iproute2 prints (`ip -d -j route show table all`,
`ip -j nexthop show`, `ip -j nexthop bucket show`, `ip -j neigh show nud all`, `ip -j link`).

A route is (family, prefix, table, nhid, hops); a hop is (gateway, dev, weight, dead, linkdown),
in the kernel's order. Routes compare as multisets: IPv6 has one fe80::/64 per device, same key."""
import collections
import ipaddress
import json

from lib.netns import nsexec
from lib.procs import run

TABLES = {"main": 254, "local": 255, "default": 253}
# NUD_* bits (include/uapi/linux/neighbour.h) as iproute2 names them.
NUD = {0x01: "INCOMPLETE", 0x02: "REACHABLE", 0x04: "STALE", 0x08: "DELAY", 0x10: "PROBE",
       0x20: "FAILED", 0x40: "NOARP", 0x80: "PERMANENT"}


def ip_json(ns, *args):
    out = run(nsexec(ns, "ip", "-j", *args)).stdout
    return json.loads(out) if out.strip() else []


def gw(text):
    return None if text is None else ipaddress.ip_address(text).compressed


def prefix(dst, fam):
    if dst == "default":
        dst = "0.0.0.0/0" if fam == 4 else "::/0"
    return ipaddress.ip_network(dst, strict=False).with_prefixlen


def table_of(t):
    return TABLES.get(str(t), None) or int(t)


# --- kernel-dump's view ---
def dump_hop(h):
    return (gw(h["gateway"]), h["ifname"], h["weight"], h["dead"], h["linkdown"])


def dump_route_key(r):
    fam = 4 if r["family"] == "IPv4" else 6
    return (fam, prefix(f"{r['dst']}/{r['len']}", fam), r["table"])


def dump_routes(d):
    """Canonical routes of a kernel-dump JSON."""
    return [dump_route_key(r) + (r["nhid"], tuple(dump_hop(h) for h in r["hops"]))
            for r in d["routes"]]


def find(d, fam, dst, table=254):
    """The dump's route to `dst` (one, or None)."""
    hits = [r for r in d["routes"] if dump_route_key(r) == (fam, prefix(dst, fam), table)]
    return hits[0] if len(hits) == 1 else None


# --- iproute2's view ---
def ip_hop(h, flags):
    via = h.get("via", {}).get("host")
    return (gw(h.get("gateway", via)), h.get("dev", ""), h.get("weight", 1), "dead" in flags,
            "linkdown" in flags)


def ip_routes(ns):
    out = []
    for fam, extra in ((4, ["-4"]), (6, ["-6"])):
        for r in ip_json(ns, "-d", *extra, "route", "show", "table", "all"):
            if r.get("type", "unicast") != "unicast":
                continue
            if "nexthops" in r:
                hops = tuple(ip_hop(h, h.get("flags", [])) for h in r["nexthops"])
            else:
                hops = (ip_hop(r, r.get("flags", [])),)
            out.append((fam, prefix(r["dst"], fam), table_of(r.get("table", "main")),
                        r.get("nhid", 0), hops))
    return out


def differences(mine, theirs, limit=6):
    """What one multiset of routes has that the other lacks, as text lines."""
    a, b = collections.Counter(mine), collections.Counter(theirs)
    lines = [f"dump only: {r}" for r in (a - b)] + [f"ip only:   {r}" for r in (b - a)]
    return lines[:limit]


def ip_groups(ns):
    """Nexthop objects: id -> ip's JSON object."""
    return {n["id"]: n for n in ip_json(ns, "nexthop", "show")}


def ip_buckets(ns, group):
    """The nexthop id of each bucket of resilient group `group`, in bucket order."""
    rows = ip_json(ns, "nexthop", "bucket", "show", "id", str(group))
    return [b["bucket"]["nhid"] for b in sorted(rows, key=lambda b: b["bucket"]["index"])]


def ip_links(ns):
    """ifindex -> (name, up): up is IFF_UP and IFF_LOWER_UP (carrier)."""
    return {lk["ifindex"]: (lk["ifname"], "UP" in lk["flags"] and "LOWER_UP" in lk["flags"])
            for lk in ip_json(ns, "link", "show")}


def dump_links(d):
    return {lk["ifindex"]: (lk["name"], lk["up"]) for lk in d["links"]}


def nud_names(state):
    return frozenset(name for bit, name in NUD.items() if state & bit) or frozenset({"NONE"})


def ip_neighbors(ns):
    out = set()
    for fam, flag in ((4, "-4"), (6, "-6")):
        for n in ip_json(ns, flag, "neigh", "show", "nud", "all"):
            out.add((n["dev"], gw(n["dst"]), frozenset(n.get("state", ["NONE"]))))
    return out


def dump_neighbors(d):
    names = {lk["ifindex"]: lk["name"] for lk in d["links"]}
    return {(names.get(n["ifindex"], "?"), gw(n["address"]), nud_names(n["state"]))
            for n in d["neighbors"]}
