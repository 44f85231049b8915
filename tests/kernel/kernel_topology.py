"""The kernel-agreement topology: client-ns -- router-ns -- 16 veths into a sink namespace,
the router's multipath route and hash sysctls, random flows, and the kernel's own choice for
each flow by `ip route get` on the forwarding path."""
import ipaddress
import re

from lib.linux_hash import Flow
from lib.netns import Namespaces, ip_batch, link_mac, nsexec, sysctl
from lib.procs import run


# Documentation ranges only (RFC 5737, RFC 3849).
CLIENT_NET4 = "192.0.2.0/24"        # clients, behind the router's ingress veth
ROUTER_IN4 = "192.0.2.1"
PTB_SENDER4 = "192.0.2.254"         # a router on the client side that emits PTBs
SERVICE_NET4 = "198.51.100.0/24"    # the anycast service prefix with the multipath route
CLIENT_NET6 = "2001:db8:1::/64"
ROUTER_IN6 = "2001:db8:1::1"
PTB_SENDER6 = "2001:db8:1::fe"
SERVICE_NET6 = "2001:db8:100::/48"
MAX_NEXTHOPS = 16


def nh_gateway(family, i):
    """Next-hop i: IPv4 203.0.113.(4i+2) on a /30, IPv6 2001:db8:ff:i::2 on a /64."""
    a = f"203.0.113.{4 * i + 2}" if family == 4 else f"2001:db8:ff:{i:x}::2"
    return str(ipaddress.ip_address(a))  # canonical, as `ip route` prints it


def nh_router_addr(family, i):
    return f"203.0.113.{4 * i + 1}/30" if family == 4 else f"2001:db8:ff:{i:x}::1/64"


class Topology(Namespaces):
    """client-ns --(c0|rin)-- router-ns --(r0..r15|s0..s15)-- sink-ns."""

    def __init__(self, prefix):
        super().__init__()
        self.cl, self.rt, self.sk = f"{prefix}-cl", f"{prefix}-rt", f"{prefix}-sk"
        self.mac = {}

    def create(self):
        self.add(self.cl, self.rt, self.sk)
        # Quiet namespaces: no DAD (addresses usable at once), no IPv6 chatter from client/sink.
        for ns in (self.cl, self.sk):
            sysctl(ns, [("net.ipv6.conf.all.disable_ipv6", 1),
                             ("net.ipv6.conf.default.disable_ipv6", 1)])
        sysctl(self.rt, [
            ("net.ipv4.ip_forward", 1), ("net.ipv6.conf.all.forwarding", 1),
            ("net.ipv4.conf.all.rp_filter", 0), ("net.ipv4.conf.default.rp_filter", 0),
            ("net.ipv6.conf.all.accept_dad", 0), ("net.ipv6.conf.default.accept_dad", 0),
            # No ICMP redirects/errors of our own while forwarding test traffic.
            ("net.ipv4.conf.all.send_redirects", 0), ("net.ipv4.conf.default.send_redirects", 0),
            ("net.ipv4.icmp_ratelimit", 0), ("net.ipv6.icmp.ratelimit", 0),
        ])
        cmds = [f"link add rin type veth peer name c0 netns {self.cl}",
                f"addr add {ROUTER_IN4}/24 dev rin", f"addr add {ROUTER_IN6}/64 dev rin nodad",
                "link set rin up", "link set lo up"]
        for i in range(MAX_NEXTHOPS):
            cmds += [f"link add r{i} type veth peer name s{i} netns {self.sk}",
                     f"addr add {nh_router_addr(4, i)} dev r{i}",
                     f"addr add {nh_router_addr(6, i)} dev r{i} nodad",
                     f"link set r{i} up"]
        ip_batch(self.rt, cmds, timeout=120)
        ip_batch(self.cl, ["link set c0 up", "link set lo up"])
        ip_batch(self.sk, [f"link set s{i} up" for i in range(MAX_NEXTHOPS)] + ["link set lo up"])
        self.mac["rin"] = link_mac(self.rt, "rin")
        self.mac["c0"] = link_mac(self.cl, "c0")
        # Permanent neighbours: the router forwards without ARP/ND answers from the sink.
        neigh = []
        for i in range(MAX_NEXTHOPS):
            mac = link_mac(self.sk, f"s{i}")
            for fam in (4, 6):
                neigh.append(f"neigh replace {nh_gateway(fam, i)} lladdr {mac} dev r{i} "
                             "nud permanent")
        ip_batch(self.rt, neigh)

    # Route and hash configuration -----------------------------------------------------------

    def configure(self, family, seed, policy, fields, weights):
        v = "ipv4" if family == 4 else "ipv6"
        pairs = [("net.ipv4.fib_multipath_hash_seed", seed),
                 (f"net.{v}.fib_multipath_hash_policy", policy)]
        if policy == 3:
            pairs.append((f"net.{v}.fib_multipath_hash_fields", hex(fields)))
        sysctl(self.rt, pairs)
        prefix = SERVICE_NET4 if family == 4 else SERVICE_NET6
        hops = " ".join(f"nexthop via {nh_gateway(family, i)} dev r{i} weight {w}"
                        for i, w in enumerate(weights))
        fam = "-4" if family == 4 else "-6"
        # Delete + add (not replace): IPv6 multipath `replace` semantics changed over versions.
        run(nsexec(self.rt, "ip", fam, "route", "del", prefix), check=False)
        run(nsexec(self.rt, "ip", fam, "route", "add", prefix, *hops.split()))
        shown = run(nsexec(self.rt, "ip", fam, "route", "show", prefix)).stdout
        order = re.findall(r"via (?:inet6 )?(\S+)", shown)
        expect = [nh_gateway(family, i) for i in range(len(weights))]
        if [str(ipaddress.ip_address(a)) for a in order] != expect:
            raise RuntimeError(f"route shows next-hops {order}, expected {expect}")


def random_flows(rng, family, n, with_label=False, allow_icmp=True):
    flows, seen = [], set()
    cnet = ipaddress.ip_network(CLIENT_NET4 if family == 4 else CLIENT_NET6)
    snet = ipaddress.ip_network(SERVICE_NET4 if family == 4 else SERVICE_NET6)
    while len(flows) < n:
        if family == 4:
            src = str(cnet[rng.randrange(2, 254)])
            dst = str(snet[rng.randrange(1, 255)])
        else:
            src = str(cnet[rng.randrange(2, 1 << 64)])
            dst = str(snet[rng.randrange(1, 1 << 80)])
        r = rng.random()
        if allow_icmp and r < 0.03:
            proto, sport, dport = (1 if family == 4 else 58), 0, 0
        else:
            proto = 6 if r < 0.6 else 17
            sport = rng.randrange(1024, 65536)
            dport = rng.choice([80, 443, 53, 123, rng.randrange(1, 65536)])
        label = rng.randrange(1, 1 << 20) if (family == 6 and with_label) else 0
        f = Flow(family, src, dst, proto, sport, dport, label)
        if f.key() not in seen:
            seen.add(f.key())
            flows.append(f)
    return flows

def kernel_route_get(topo, flows, weights, with_iif=True):
    """Next-hop index the kernel picks for each flow, via one `ip -batch` process."""
    gw_index = {nh_gateway(flows[0].family, i): i for i in range(len(weights))}
    lines = []
    for f in flows:
        pname = {1: "icmp", 58: "ipv6-icmp", 6: "tcp", 17: "udp"}[f.proto]
        cmd = f"route get to {f.dst} from {f.src}"
        if with_iif:
            cmd += " iif rin"
        cmd += f" ipproto {pname}"
        if f.proto in (6, 17):
            cmd += f" sport {f.sport} dport {f.dport}"
        lines.append(cmd)
    out = ip_batch(topo.rt, lines, timeout=120).stdout
    records = [ln for ln in out.splitlines() if ln and not ln[0].isspace()]
    if len(records) != len(flows):
        raise RuntimeError(f"ip -batch answered {len(records)} of {len(flows)} look-ups")
    choices = []
    for rec in records:
        m = re.search(r" via (\S+) ", rec + " ")
        if not m or str(ipaddress.ip_address(m.group(1))) not in gw_index:
            raise RuntimeError(f"unexpected route get answer: {rec}")
        choices.append(gw_index[str(ipaddress.ip_address(m.group(1)))])
    return choices
