"""The e2e topology: client -> router (multipath route to the VIPs) -> N servers, a delivery
LAN (a bridge every server hangs off) and the ptbsteer namespace with its injector. Names,
addresses and MACs are fixed (ptbe-*): never two runs at once."""
import ipaddress
import os
import re
import time

from lib.netns import Namespaces, ip_batch, nsexec, sysctl
from lib.procs import SetupError, run

PY = "/usr/bin/python3"
ROLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "e2e_roles.py")

PREFIX = "ptbe-"
NS_CLIENT, NS_ROUTER, NS_LAN, NS_STEER, NS_INJ = (PREFIX + n for n in
                                                  ("client", "router", "lan", "steer", "inj"))

VIP = {4: "198.51.100.10", 6: "2001:db8:100::10"}
VIP_PREFIX = {4: "198.51.100.10/32", 6: "2001:db8:100::10/128"}
PTB_SRC = {4: "203.0.113.1", 6: "2001:db8:ffff::1"}   # the "router" that sends the PTB
PTB_MTU = 1400
ORIG_LEN = 1500          # the too-big server->client packet the PTB complains about
# How much of it a real router quotes: RFC 1812 4.3.2.3 (v4: PTB fits in 576 bytes),
# RFC 4443 2.4(c) (v6: PTB fits in the minimum MTU 1280).
QUOTE_LEN = {4: 576 - 20 - 8, 6: 1280 - 40 - 8}
SERVICE_PORT = 80
MAX_V4_FLOWS = 241       # 192.0.2.10 .. 192.0.2.250
MAX_SERVERS = 32         # 198.51.100.128/25 cut into /30 router links


def srv_ns(k):
    return f"{PREFIX}srv{k}"


def client_addr(fam, i):
    if fam == 4:
        return f"192.0.2.{10 + i}"
    return str(ipaddress.IPv6Address("2001:db8:2::10") + i)


def link_addrs(fam, k):
    """(router side, server side) of the router<->srvK link."""
    if fam == 4:
        base = 128 + 4 * (k - 1)
        return f"198.51.100.{base + 1}", f"198.51.100.{base + 2}"
    return f"2001:db8:1:{k:x}::1", f"2001:db8:1:{k:x}::2"


def lan_mac(k):
    return f"02:70:74:62:00:{k:02x}"     # locally administered, "ptb"


def lan_addr(fam, k):
    """srvK's address on the delivery LAN (a next-hop's `via` in the via modes)."""
    return f"203.0.113.{10 + k}" if fam == 4 else f"2001:db8:ff::{10 + k:x}"


def link_local(mac):
    """The EUI-64 link-local address the kernel gives an interface with this MAC (RFC 4291
    2.5.1, appendix A: the universal/local bit flipped, ff:fe in the middle)."""
    b = bytes.fromhex(mac.replace(":", ""))
    iid = bytes([b[0] ^ 0x02]) + b[1:3] + b"\xff\xfe" + b[3:6]
    return str(ipaddress.IPv6Address(b"\xfe\x80" + bytes(6) + iid))


def lan_setup(k, mac):
    """`ip -batch` lines inside srvK: its LAN end gets `mac` and its addresses, then comes up
    (addresses first: arp_notify / ndisc_notify announce them when the link comes up)."""
    return [f"link set srv{k}-lan address {mac}",
            f"addr add {lan_addr(4, k)}/24 dev srv{k}-lan",
            f"addr add {lan_addr(6, k)}/64 dev srv{k}-lan nodad",
            f"link set srv{k}-lan up"]


# ptbsteer's own addresses on the LAN (`addresses:` of its `out` port in the via modes).
STEER_LAN = {4: "203.0.113.2/24", 6: "2001:db8:ff::2/64"}
STEER_IN_MAC, STEER_OUT_MAC, INJ_MAC = ("02:70:74:62:01:01", "02:70:74:62:01:02",
                                        "02:70:74:62:01:03")


class Topology(Namespaces):
    def __init__(self, args):
        super().__init__()
        self.n = args.servers
        self.weights = args.weights
        self.add_order = args.route_order      # order of `nexthop` clauses in `ip route add`
        self.policy = args.policy
        self.seed = args.seed
        self.flows_per_family = args.flows
        self.families = args.families
        self.reflect = 0 if args.no_flowlabel_reflect else 1
        self.route_order = {}      # family -> [server index in the router's route order]

    def namespaces(self):
        return [NS_CLIENT, NS_ROUTER, NS_LAN, NS_STEER, NS_INJ] + \
               [srv_ns(k) for k in range(1, self.n + 1)]

    def create(self):
        self.add(*self.namespaces())
        self._sysctls()
        self._links()
        self._addresses_and_routes()
        self._read_route_order()
        self._check_bridge_forwarding()

    def _sysctls(self):
        # No DAD: addresses must be usable at once (tentative v6 addresses cannot be bound).
        nodad = [("net.ipv6.conf.all.accept_dad", 0), ("net.ipv6.conf.default.accept_dad", 0)]
        # The LAN side must stay silent (no RS/MLD/ND) so ptbsteer's rx only sees our PTBs.
        noipv6 = [("net.ipv6.conf.all.disable_ipv6", 1), ("net.ipv6.conf.default.disable_ipv6", 1)]
        sysctl(NS_CLIENT, nodad)
        mp = [("net.ipv4.ip_forward", 1), ("net.ipv6.conf.all.forwarding", 1),
              ("net.ipv4.fib_multipath_hash_seed", self.seed),
              ("net.ipv4.fib_multipath_hash_policy", self.policy),
              ("net.ipv6.fib_multipath_hash_policy", self.policy)]
        if self.policy == 3:
            mp += [("net.ipv4.fib_multipath_hash_fields", 0x37),
                   ("net.ipv6.fib_multipath_hash_fields", 0x37)]
        sysctl(NS_ROUTER, nodad + mp + [("net.ipv4.conf.all.rp_filter", 0),
                                        ("net.ipv4.conf.default.rp_filter", 0)])
        for k in range(1, self.n + 1):
            # flowlabel_reflect=1 (FLOWLABEL_REFLECT_ESTABLISHED): the server's segments carry
            # the client's flow label, so the quoted label equals the one the router hashed
            # under policy 0 (RFC 7690 / linux-multipath-hash.md). Must be set before the
            # listening sockets exist (inet6_create copies it into np->repflow).
            sysctl(srv_ns(k), nodad + [("net.ipv4.conf.all.rp_filter", 0),
                                       ("net.ipv4.conf.default.rp_filter", 0),
                                       ("net.ipv6.flowlabel_reflect", self.reflect)])
        for ns in (NS_LAN, NS_STEER, NS_INJ):
            sysctl(ns, noipv6)

    def _links(self):
        ip_batch(NS_ROUTER, [f"link add r-c type veth peer name c0 netns {NS_CLIENT}"] +
                 [f"link add r-srv{k} type veth peer name srv{k}-r netns {srv_ns(k)}"
                  for k in range(1, self.n + 1)])
        lan = ["link add br0 type bridge forward_delay 0 stp_state 0",
               f"link add lan-steer type veth peer name steer-out netns {NS_STEER}"]
        lan += [f"link add lan-srv{k} type veth peer name srv{k}-lan netns {srv_ns(k)}"
                for k in range(1, self.n + 1)]
        ip_batch(NS_LAN, lan)
        ip_batch(NS_STEER, [f"link add steer-in type veth peer name inj0 netns {NS_INJ}"])
        ip_batch(NS_STEER, [f"link set steer-in address {STEER_IN_MAC}",
                            f"link set steer-out address {STEER_OUT_MAC}",
                            "link set steer-in up", "link set steer-out up", "link set lo up"])
        ip_batch(NS_INJ, [f"link set inj0 address {INJ_MAC}", "link set inj0 up"])
        ports = ["lan-steer"] + [f"lan-srv{k}" for k in range(1, self.n + 1)]
        ip_batch(NS_LAN, [f"link set {p} master br0" for p in ports] +
                 [f"link set {p} up" for p in ports] + ["link set br0 up"])
        # Static FDB entries: the bridge never floods a PTB addressed to a server, so a capture
        # on srvK-lan sees only what was sent to srvK's MAC (plus nothing else of ours).
        run(nsexec(NS_LAN, "bridge", "-batch", "-"),
            inp="".join(f"fdb add {lan_mac(k)} dev lan-srv{k} master static\n"
                        for k in range(1, self.n + 1)))

    def _addresses_and_routes(self):
        r = ["link set lo up", "link set r-c up",
             "addr add 192.0.2.1/24 dev r-c", "addr add 2001:db8:2::1/64 dev r-c nodad"]
        for k in range(1, self.n + 1):
            r4, _ = link_addrs(4, k)
            r6, _ = link_addrs(6, k)
            r += [f"link set r-srv{k} up", f"addr add {r4}/30 dev r-srv{k}",
                  f"addr add {r6}/64 dev r-srv{k} nodad"]
        # `-6` is not accepted inside -batch lines; family is inferred from the prefix.
        r += [f"route add {self._multipath(fam, self.add_order)}" for fam in (4, 6)]
        ip_batch(NS_ROUTER, r)

        c = ["link set lo up", "link set c0 up"]
        n4 = min(self.flows_per_family, MAX_V4_FLOWS) if 4 in self.families else 0
        n6 = self.flows_per_family if 6 in self.families else 0
        c += [f"addr add {client_addr(4, i)}/24 dev c0" for i in range(max(n4, 1))]
        c += [f"addr add {client_addr(6, i)}/64 dev c0 nodad" for i in range(max(n6, 1))]
        c += ["route add default via 192.0.2.1", "route add default via 2001:db8:2::1"]
        ip_batch(NS_CLIENT, c)

        for k in range(1, self.n + 1):
            r4, s4 = link_addrs(4, k)
            r6, s6 = link_addrs(6, k)
            ip_batch(srv_ns(k), [
                "link set lo up", f"addr add {VIP[4]}/32 dev lo", f"addr add {VIP[6]}/128 dev lo",
                f"link set srv{k}-r up", f"addr add {s4}/30 dev srv{k}-r",
                f"addr add {s6}/64 dev srv{k}-r nodad",
                f"route add default via {r4}", f"route add default via {r6}"]
                + lan_setup(k, lan_mac(k)))

    def _multipath(self, fam, servers):
        """The VIP prefix and one `nexthop` clause per server of `servers`, in that order."""
        return VIP_PREFIX[fam] + "".join(f" nexthop via {link_addrs(fam, k)[1]} dev r-srv{k} "
                                         f"weight {self.weights[k - 1]}" for k in servers)

    def set_route(self, servers):
        """The router's multipath routes to both VIPs replaced (`ip route replace`, one batch) by
        routes over `servers` in this order, as an operator adds or removes an ECMP next-hop;
        route_order is read back from the kernel."""
        ip_batch(NS_ROUTER, [f"route replace {self._multipath(fam, servers)}" for fam in (4, 6)])
        self._read_route_order(servers)

    def _read_route_order(self, servers=None):
        """The next-hop order as the kernel lists it (= the order hash-threshold walks); the
        route must hold `servers` (default all), in any order."""
        want = sorted(servers or range(1, self.n + 1))
        for fam in (4, 6):
            out = run(nsexec(NS_ROUTER, "ip", f"-{fam}", "route", "show", VIP_PREFIX[fam])).stdout
            devs = re.findall(r"nexthop via \S+ dev r-srv(\d+) weight (\d+)", out)
            if sorted(int(d) for d, _ in devs) != want:
                raise SetupError(f"IPv{fam} multipath route not as expected:\n{out}")
            order = [int(d) for d, _ in devs]
            for k, w in devs:
                if int(w) != self.weights[int(k) - 1]:
                    raise SetupError(f"IPv{fam} route weight mismatch:\n{out}")
            self.route_order[fam] = order

    def _check_bridge_forwarding(self):
        deadline = time.monotonic() + 10
        while True:
            out = run(nsexec(NS_LAN, "bridge", "link", "show")).stdout
            states = re.findall(r"state (\w+)", out)
            if len(states) == self.n + 1 and all(s == "forwarding" for s in states):
                return
            if time.monotonic() > deadline:
                raise SetupError(f"bridge ports not forwarding:\n{out}")
            time.sleep(0.1)
