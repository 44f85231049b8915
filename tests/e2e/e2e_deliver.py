"""Delivering the PTBs: built with scapy from each live flow, then sent straight to the
servers' LAN (oracle, broadcast-all, wrong-owner) or into ptbsteer, which runs inside
ptbe-steer on af_packet vdevs and must do the steering."""
import os
import signal
import subprocess
import time

from e2e_judge import wait_learned
from e2e_topology import (INJ_MAC, NS_INJ, NS_STEER, ORIG_LEN, PTB_MTU, PTB_SRC, PY, QUOTE_LEN,
                          ROLES, SERVICE_PORT, STEER_IN_MAC, STEER_OUT_MAC, VIP, VIP_PREFIX,
                          lan_mac)
from lib import config, pcapfile
from lib.netns import nsexec
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


# The vdevs ptbsteer reads the two kernel interfaces with (--pmd): AF_PACKET sockets, or
# AF_XDP sockets fed by an XDP program (drivers-config/af_xdp.yaml).
PMDS = {"af_packet": "net_af_packet", "af_xdp": "net_af_xdp"}


def ptbsteer_config(topo, mode, pmd="af_packet"):
    devices = [f"{PMDS[pmd]}0,iface=steer-in", f"{PMDS[pmd]}1,iface=steer-out"]
    ports = config.ports(("in", devices[0]), ("out", devices[1]))
    if pmd == "af_xdp":
        ports = ports.replace('"}', '", preset: af_xdp}')
    text = ("# Written by tests/e2e/e2e_truth.py. next_hops are in the router's route order\n"
            "# (`ip route show` of the VIP route): hash-threshold selection depends on it.\n"
            + config.eal("ptbe", quiet=False, vdevs=devices)
            + ports
            # The loader insists every rx queue has a poller (validate.cpp check_queues), so
            # `out` is polled too; the LAN is quiet and anything read there is not a PTB for
            # our VIPs.
            + config.lcores(1)
            + "groups:\n")
    fams = [4, 6]
    if topo.route_order[4] == topo.route_order[6]:
        sets = [("site", fams)]
    else:       # the kernel listed the families in different orders: one group per family
        sets = [(f"site{fam}", [fam]) for fam in fams]
    for name, fs in sets:
        hops = [config.hop(f"srv{k}", lan_mac(k), weight=topo.weights[k - 1])
                for k in topo.route_order[fs[0]]]
        text += config.group(name, [VIP_PREFIX[f] for f in fs], hops, topo.policy, topo.seed,
                             0x37, mode, "hash-threshold")
    return text


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
    cfg = args.config_out
    check = run(nsexec(NS_STEER, args.ptbsteer, "--config", cfg, "--check"), check=False,
                timeout=30)
    if check.returncode != 0:
        raise SetupError(f"ptbsteer --check rejected {cfg}:\n{check.stdout}{check.stderr}")
    log_path = os.path.join(workdir, "ptbsteer.log")
    log = open(log_path, "wb")
    p = procs.start("ptbsteer", nsexec(NS_STEER, args.ptbsteer, "--config", cfg),
                    stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + args.startup_timeout
    while not ports_open(args, NS_STEER, ["steer-in", "steer-out"]):
        if p.poll() is not None:
            log.close()
            text = open(log_path, errors="replace").read()[-3000:]
            if getattr(args, "pmd", "") == "af_xdp" and ("xdp" in text.lower() or "xsk" in text.lower()):
                raise PmdUnavailable(f"{' '.join(nsexec(NS_STEER, args.ptbsteer, '--config', cfg))}"
                                     f" exited {p.returncode}:\n{text}")
            raise SetupError(f"ptbsteer exited early ({p.returncode}):\n{text}")
        if time.monotonic() > deadline:
            raise SetupError(f"ptbsteer did not open its {getattr(args, 'pmd', 'af_packet')} ports on steer-in/steer-out")
        time.sleep(0.1)
    time.sleep(args.settle)
    send_frames(NS_INJ, "inj0", frames, workdir, "ptb-in.pcap", args.gap_us,
                timeout=10 + len(frames) * (args.gap_us / 1e6 + 0.001))
    wait_learned(topo.n, flows, True, args.learn_timeout)
    if args.show_metrics:
        show_metrics()
    rc = stop(p, signal.SIGTERM, timeout=10)
    log.close()
    out = open(log_path, errors="replace").read()
    return f"ptbsteer exit status {rc}; output (last 40 lines):\n" + \
        "\n".join(out.splitlines()[-40:])


def show_metrics(listen="127.0.0.1:9469"):
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
