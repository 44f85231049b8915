"""Delivering the PTBs: built with scapy from each live flow, then sent straight to the
servers' LAN (oracle, broadcast-all, wrong-owner) or into ptbsteer, which runs inside
ptbe-steer on af_packet vdevs and must do the steering."""
import os
import signal
import subprocess
import time

from e2e_judge import wait_learned
from e2e_topology import (INJ_MAC, NS_INJ, NS_STEER, ORIG_LEN, PTB_MTU, PTB_SRC, PY, QUOTE_LEN,
                          ROLES, SERVICE_PORT, STEER_IN_MAC, STEER_LAN, STEER_OUT_MAC, VIP,
                          VIP_PREFIX, lan_addr, lan_mac, link_local)
from lib import api, config, pcapfile, prom
from lib.netns import InNetns, nsexec
from lib.procs import SetupError, run, stop

M32 = 0xFFFFFFFF


class PmdUnavailable(Exception):
    """The AF_XDP PMD could not start here (kernel, BPF): the test skips, saying why."""


def ptb_frame(f, dst_mac, src_mac, seq_offset=0):
    from scapy.all import ICMP, IP, TCP, Ether, ICMPv6PacketTooBig, IPv6, Raw, raw
    # The server->client packet that "did not fit": full size, carrying the next byte the
    # server would send, so tcp_v[46]_err() finds seq within [snd_una, snd_nxt].
    tcp = TCP(sport=SERVICE_PORT, dport=f.cport, seq=(f.snd_nxt + seq_offset) & M32,
              ack=f.rcv_nxt or 0,
              flags="PA", window=502)
    if f.fam == 4:
        inner = IP(src=VIP[4], dst=f.client, ttl=63, flags="DF", id=0x1234) / tcp / \
            Raw(bytes(ORIG_LEN - 40))
        outer = IP(src=PTB_SRC[4], dst=VIP[4], ttl=64) / \
            ICMP(type=3, code=4, nexthopmtu=PTB_MTU)
    else:
        inner = IPv6(src=VIP[6], dst=f.client, hlim=63, fl=f.server_label) / tcp / \
            Raw(bytes(ORIG_LEN - 60))
        outer = IPv6(src=PTB_SRC[6], dst=VIP[6], hlim=64) / ICMPv6PacketTooBig(mtu=PTB_MTU)
    quote = raw(inner)[:QUOTE_LEN[f.fam]]
    return raw(Ether(dst=dst_mac, src=src_mac) / outer / Raw(quote))


def send_frames(ns, iface, frames, workdir, name, gap_us, timeout):
    path = os.path.join(workdir, name)
    pcapfile.write(path, frames)
    out = run(nsexec(ns, PY, ROLES, "_send", iface, path, str(gap_us)), timeout=timeout)
    sent = int(out.stdout.strip() or 0)
    if sent != len(frames):
        raise SetupError(f"sent {sent} of {len(frames)} frames on {ns}/{iface}")


def inject(frames, workdir, name, gap_ms):
    """Sends frames into ptbsteer (inj0 -> steer-in), one per gap_ms (a fraction of a
    millisecond is kept to the microsecond), and returns at the end."""
    send_frames(NS_INJ, "inj0", frames, workdir, name, int(gap_ms * 1000),
                timeout=10 + len(frames) * (gap_ms / 1000 + 0.01))


# The vdevs ptbsteer reads the two kernel interfaces with (--pmd): AF_PACKET sockets, or
# AF_XDP sockets fed by an XDP program (drivers-config/af_xdp.yaml).
PMDS = {"af_packet": "net_af_packet", "af_xdp": "net_af_xdp"}


# How the config names srvK (--via): its LAN MAC, or an address ptbsteer resolves by ARP (4) or
# Neighbor Discovery (6: global, ll: the EUI-64 link-local address the kernel derived from it).
VIAS = ("mac", "4", "6", "ll")


def hop_target(via, k):
    """The hop() keyword that reaches srvK: mac=, or via= its LAN address."""
    if via == "mac":
        return {"mac": lan_mac(k)}
    return {"via": link_local(lan_mac(k)) if via == "ll" else lan_addr(int(via), k)}


def ptbsteer_config(topo, mode, pmd="af_packet", via="mac", reachable_time=None):
    """The e2e config; with a via mode the `out` port gets our LAN addresses (the ARP/NS
    source) and `neighbors:` the reachable time, when given."""
    text = steer_base(pmd, via, reachable_time) + "groups:\n"
    fams = [4, 6]
    if topo.route_order[4] == topo.route_order[6]:
        sets = [("site", fams)]
    else:       # the kernel listed the families in different orders: one group per family
        sets = [(f"site{fam}", [fam]) for fam in fams]
    for name, fs in sets:
        hops = [config.hop(f"srv{k}", weight=topo.weights[k - 1], **hop_target(via, k))
                for k in topo.route_order[fs[0]]]
        text += config.group(name, [VIP_PREFIX[f] for f in fs], hops, topo.policy, topo.seed,
                             0x37, mode, "hash-threshold")
    return text


def steer_base(pmd="af_packet", via="mac", reachable_time=None):
    """The e2e config without its groups: EAL, the two ports, one lcore and, in a via mode, our
    LAN addresses and `neighbors:`."""
    devices = [f"{PMDS[pmd]}0,iface=steer-in", f"{PMDS[pmd]}1,iface=steer-out"]
    ports = config.ports(("in", devices[0]), ("out", devices[1]))
    if pmd == "af_xdp":
        ports = ports.replace('"}', '", preset: af_xdp}')
    text = ("# Written by the e2e harness (tests/e2e). next_hops are in the router's route order\n"
            "# (`ip route show` of the VIP route): hash-threshold selection depends on it.\n"
            + config.eal("ptbe", quiet=False, vdevs=devices)
            + ports
            # The loader insists every rx queue has a poller (validate.cpp check_queues), so
            # `out` is polled too; the LAN is quiet and anything read there is not a PTB for
            # our VIPs.
            + config.lcores(1))
    if via != "mac":
        text += (config.addresses(("out", STEER_LAN[4], STEER_LAN[6]))
                 + config.neighbors(reachable_time))
    return text


def api_group(topo, via="mac", **keys):
    """The router's route as the body of PUT /v1/groups/NAME (docs/api.md): both VIPs, the
    router's hash, the next-hops in the kernel's order with their weights, plus `keys` (e.g.
    transition, transition_copies). SetupError when the kernel lists the two families in
    different orders: one group cannot mirror both."""
    if topo.route_order[4] != topo.route_order[6]:
        raise SetupError(f"the router lists its IPv4 next-hops as {topo.route_order[4]} and its "
                         f"IPv6 ones as {topo.route_order[6]}: one group cannot mirror both")
    hsh = {"model": "linux", "policy": topo.policy, "seed": topo.seed}
    if topo.policy == 3:
        hsh["fields"] = 0x37
    return {"prefixes": [VIP_PREFIX[4], VIP_PREFIX[6]], "hash": hsh,
            "select": "hash-threshold", "mode": "unicast",
            "next_hops": [{"name": f"srv{k}", "port": "out", "weight": topo.weights[k - 1],
                           **hop_target(via, k)} for k in topo.route_order[4]], **keys}


# Where ptbsteer's control API listens inside ptbe-steer.
CONTROL_LISTEN = "127.0.0.1:9470"


class SteerApi(api.Api):
    """The control API of the ptbsteer in ptbe-steer, called from inside that namespace."""

    def call(self, *args, **kw):
        with InNetns(NS_STEER):
            return super().call(*args, **kw)


def control_api(workdir):
    """(the `control:` line, its client): ptbsteer's control API on CONTROL_LISTEN with a fresh
    token in workdir/token."""
    token = api.token_file(workdir)
    line = (f'control: {{listen: "{CONTROL_LISTEN}", token_file: "{workdir}/token", '
            f'capture_dir: "{workdir}/captures"}}\n')
    return line, SteerApi(f"http://{CONTROL_LISTEN}", token)


def packet_sockets_bound(ns, ifaces):
    idx = {}
    for i in ifaces:
        out = run(nsexec(ns, "ip", "-o", "link", "show", i)).stdout
        idx[int(out.split(":", 1)[0])] = i
    text = run(nsexec(ns, "cat", "/proc/net/packet")).stdout
    bound = set()
    for ln in text.splitlines()[1:]:
        p = ln.split()
        if len(p) >= 5 and p[4].isdigit() and int(p[4]) in idx:
            bound.add(idx[int(p[4])])
    return bound == set(ifaces)


def xdp_attached(ns, ifaces):
    """Every interface has an XDP program (the AF_XDP PMD attached its redirect program)."""
    return all("prog/xdp" in run(nsexec(ns, "ip", "-d", "link", "show", i)).stdout
               for i in ifaces)


def ports_open(args, ns, ifaces):
    xdp = getattr(args, "pmd", "af_packet") == "af_xdp"
    return xdp_attached(ns, ifaces) if xdp else packet_sockets_bound(ns, ifaces)


def deliver(args, topo, flows, procs, workdir):
    """Send the PTBs the chosen way. Returns a note (e.g. ptbsteer output) for the report."""
    if args.deliver in ("oracle", "broadcast-all", "wrong-owner"):
        frames = []
        for f in flows:
            targets = {"oracle": [f.owner], "wrong-owner": [f.owner % topo.n + 1],
                       "broadcast-all": range(1, topo.n + 1)}[args.deliver]
            frames += [ptb_frame(f, lan_mac(k), STEER_OUT_MAC, args.seq_offset)
                       for k in targets]
        send_frames(NS_STEER, "steer-out", frames, workdir, "ptb-lan.pcap", args.gap_us,
                    timeout=10 + len(frames) * (args.gap_us / 1e6 + 0.001))
        return ""

    frames = [ptb_frame(f, STEER_IN_MAC, INJ_MAC, args.seq_offset) for f in flows]
    steer = SteerRun(args, procs, workdir)
    resolved = ""
    if getattr(args, "via", "mac") != "mac":
        # Every next-hop resolved before the first PTB: none waits in the unresolved queue.
        ok, _, states = wait_neighbors(lambda st: all_in(st, "reachable"), 10)
        took = time.monotonic() - steer.opened
        resolved = (f"every next-hop reachable by {took:.1f} s after ptbsteer opened its ports"
                    if ok else f"not every next-hop reachable {took:.1f} s after ptbsteer "
                    f"opened its ports: {format_states(states)}") + "\n"
    send_frames(NS_INJ, "inj0", frames, workdir, "ptb-in.pcap", args.gap_us,
                timeout=10 + len(frames) * (args.gap_us / 1e6 + 0.001))
    wait_learned(topo.n, flows, True, args.learn_timeout)
    if args.show_metrics:
        show_metrics()
    return resolved + steer.stop()


class SteerRun:
    """ptbsteer on args.config_out inside ptbe-steer: checked (--check), started, and ready once
    its ports are open on steer-in/steer-out (at .opened, monotonic) + args.settle seconds.
    stop() ends it (SIGTERM) and returns a note with its exit status and the tail of its
    output."""

    def __init__(self, args, procs, workdir):
        cfg = args.config_out
        check = run(nsexec(NS_STEER, args.ptbsteer, "--config", cfg, "--check"), check=False,
                    timeout=30)
        if check.returncode != 0:
            raise SetupError(f"ptbsteer --check rejected {cfg}:\n{check.stdout}{check.stderr}")
        self.log_path = os.path.join(workdir, "ptbsteer.log")
        self.log = open(self.log_path, "wb")
        cmd = nsexec(NS_STEER, args.ptbsteer, "--config", cfg)
        self.p = p = procs.start("ptbsteer", cmd, stdout=self.log, stderr=subprocess.STDOUT)
        pmd = getattr(args, "pmd", "af_packet")
        deadline = time.monotonic() + args.startup_timeout
        while not ports_open(args, NS_STEER, ["steer-in", "steer-out"]):
            if p.poll() is not None:
                self.log.close()
                text = self.output()[-3000:]
                if pmd == "af_xdp" and ("xdp" in text.lower() or "xsk" in text.lower()):
                    raise PmdUnavailable(f"{' '.join(cmd)} exited {p.returncode}:\n{text}")
                raise SetupError(f"ptbsteer exited early ({p.returncode}):\n{text}")
            if time.monotonic() > deadline:
                raise SetupError(f"ptbsteer did not open its {pmd} ports on steer-in/steer-out")
            time.sleep(0.1)
        self.opened = time.monotonic()
        time.sleep(args.settle)

    def output(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self, lines=40):
        rc = stop(self.p, signal.SIGTERM, timeout=10)
        self.log.close()
        return f"ptbsteer exit status {rc}; output (last {lines} lines):\n" + \
            "\n".join(self.output().splitlines()[-lines:])


# Where ptbsteer serves /metrics inside ptbe-steer (the default listen address).
METRICS_LISTEN = "127.0.0.1:9469"


def scrape_steer(timeout=5):
    """ptbsteer's metric samples (lib.prom), scraped from inside its namespace."""
    with InNetns(NS_STEER):
        return prom.scrape(f"http://{METRICS_LISTEN}", timeout=timeout)


NEIGHBOR_STATE = "ptbsteer_next_hop_neighbor_state"


def neighbor_states(samples):
    """{(group, next_hop): state} from ptbsteer_next_hop_neighbor_state, the state whose series
    reads 1 ("?" and the list when not exactly one does)."""
    ones = {}
    for (name, labels), v in samples.items():
        if name == NEIGHBOR_STATE:
            d = dict(labels)
            got = ones.setdefault((d.get("group"), d.get("next_hop")), [])
            if v == 1:
                got.append(d.get("state"))
    return {k: v[0] if len(v) == 1 else "?" + ",".join(v) for k, v in ones.items()}


def all_in(states, state, hop=None):
    """True when there are states and every one (of next-hop `hop`, if given) is `state`."""
    mine = [s for (_, h), s in states.items() if hop is None or h == hop]
    return bool(mine) and all(s == state for s in mine)


def format_states(states):
    return ", ".join(f"{g}/{h}={s}" for (g, h), s in sorted(states.items())) or "(no series)"


def states_now():
    """ptbsteer's neighbor states now ({} when the scrape fails)."""
    try:
        return neighbor_states(scrape_steer())
    except (OSError, RuntimeError, ValueError):
        return {}


def wait_neighbors(done, timeout, every=0.1):
    """Scrapes ptbsteer until done(neighbor_states) or `timeout` seconds:
    (done, seconds waited, last states)."""
    t0 = time.monotonic()
    while True:
        states = states_now()
        took = time.monotonic() - t0
        if done(states) or took > timeout:
            return done(states), took, states
        time.sleep(every)


def show_metrics(listen=METRICS_LISTEN):
    """Prints a few of ptbsteer's Prometheus metrics, scraped inside its namespace."""
    cmd = f"nsenter --net=/run/netns/{NS_STEER} curl -s {listen}/metrics"
    r = run(nsexec(NS_STEER, "curl", "-s", "--max-time", "5", f"http://{listen}/metrics"),
            check=False)
    wanted = ("ptbsteer_ptbs_total", "ptbsteer_delivered_packets_total",
              "ptbsteer_received_packets_total")
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith(wanted) and not ln.endswith(" 0")]
    print(f"ptbsteer metrics at http://{listen}/metrics inside namespace {NS_STEER} "
          "(non-zero samples):")
    print("\n".join("  " + ln for ln in lines)
          or f"  (scrape failed: {r.returncode} {r.stderr.strip()})")
    print(f"try while it runs: {cmd} | grep ^ptbsteer_")
