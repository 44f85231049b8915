#!/usr/bin/python3
"""End-to-end truth test for ptbsteer: the Linux kernel of each server is the judge.

Real TCP connections go client -> router (multipath route, fixed hash seed) -> one of N servers
that all hold the anycast VIPs. For every live connection we build the ICMP Packet Too Big a
router on the server->client path would send (RFC 792/4443: quoting the server's segment, with
the next sequence number so that tcp_v4_err()/tcp_v6_err() find it inside the send window), and
deliver it over a "delivery LAN" (a bridge every server hangs off). Then:

  * the server that owns the flow must have learned the MTU (`ip route get CLIENT from VIP`
    shows `mtu 1400`: the route exception created by tcp_v4_mtu_reduced/tcp_v6_mtu_reduced),
  * no other server may have learned it (in replicate mode they receive a copy, but their TCP
    stack finds no socket for it, so they must not learn),
  * captures on every server's LAN interface show where each PTB arrived.

Delivery is pluggable:
  --deliver oracle        the harness sends each PTB straight to the owner's LAN MAC (from
                          ptbe-steer's steer-out): proves the harness itself.
  --deliver broadcast-all one copy per server (the replicate-mode expectation).
  --deliver ptbsteer      writes a ptbsteer config, runs `BIN --config FILE` inside ptbe-steer
                          (af_packet vdevs on steer-in / steer-out) and injects every PTB into
                          steer-in; ptbsteer must do the steering. With --via 4|6|ll the config
                          names each server by its LAN address (IPv4, IPv6, EUI-64
                          link-local) instead of its MAC: ptbsteer resolves them by ARP/ND.

A Python re-implementation of the kernel's multipath hash (written from
/work/shared/reference/linux-multipath-hash.md) predicts each flow's owner from the router's
route order and weights; it must agree with the observed owners, which verifies the next-hop
order/weights written into the ptbsteer config.

Run as root with /usr/bin/python3 (stdlib + scapy). Exit: 0 pass, 1 check failed, 2 setup
error, 77 skipped (not root / no netns). Namespaces are ptbe-*; all are removed on exit
(finally + SIGTERM/SIGHUP handlers) unless --keep.
"""

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from e2e_deliver import VIAS, PmdUnavailable, deliver, ptbsteer_config  # noqa: E402
from e2e_flows import Capture, find_owners, model_check, open_connections, ptb_view  # noqa: E402
from e2e_flows import start_servers  # noqa: E402
from e2e_judge import Timer, icmp_counters, judge, learned_mtus, wait_learned  # noqa: E402
from e2e_topology import (MAX_SERVERS, MAX_V4_FLOWS, PREFIX, Topology, lan_mac,  # noqa: E402
                          srv_ns)
from lib import netns, pcapfile  # noqa: E402
from lib.procs import Procs, SetupError  # noqa: E402
from lib.runner import remove_eal_dirs  # noqa: E402

SELF = os.path.abspath(__file__)


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--family", choices=["v4", "v6", "both"], default="both")
    ap.add_argument("--policy", type=int, choices=[0, 3], default=0,
                    help="router fib_multipath_hash_policy (3 uses fields 0x37)")
    ap.add_argument("--seed", type=int, default=12345, help="fib_multipath_hash_seed (non-zero)")
    ap.add_argument("--flows", type=int, default=100, help="connections per family")
    ap.add_argument("--servers", type=int, default=4)
    ap.add_argument("--weights", help="comma list, one per server (default 1,2,1,1,...)")
    ap.add_argument("--route-order",
                    help="comma list: the order of the servers' nexthops in the router's route "
                         "(default 1,2,..,N); the config follows what `ip route show` lists")
    ap.add_argument("--deliver", choices=["oracle", "broadcast-all", "ptbsteer", "wrong-owner"],
                    default="oracle",
                    help="wrong-owner is a negative control (each PTB to the next server): "
                         "it must FAIL")
    ap.add_argument("--seq-offset", type=int, default=0,
                    help="negative control: add this to the quoted sequence number; a large "
                         "value puts it out of window, so no kernel may learn (run must FAIL)")
    ap.add_argument("--mode", choices=["unicast", "replicate"],
                    help="expected/configured delivery (default: replicate for broadcast-all, "
                         "else unicast)")
    ap.add_argument("--ptbsteer", help="ptbsteer binary (for --deliver ptbsteer)")
    ap.add_argument("--pmd", choices=["af_packet", "af_xdp"], default="af_packet",
                    help="the vdevs ptbsteer reads steer-in/steer-out with")
    ap.add_argument("--config-out", help="write the ptbsteer YAML config here (any mode)")
    ap.add_argument("--via", choices=VIAS, default="mac",
                    help="how the config names each server: its LAN MAC (mac), or its LAN "
                         "address for ptbsteer to resolve: IPv4 (4, by ARP), IPv6 (6) or the "
                         "EUI-64 link-local address (ll, both by Neighbor Discovery)")
    ap.add_argument("--gap-us", type=int, default=100, help="pause between injected frames")
    ap.add_argument("--startup-timeout", type=float, default=20,
                    help="seconds for ptbsteer to bind its af_packet sockets")
    ap.add_argument("--settle", type=float, default=1.0,
                    help="extra seconds after ptbsteer bound its sockets, before injecting")
    ap.add_argument("--learn-timeout", type=float, default=5.0,
                    help="seconds to wait for the owners' kernels to learn the MTU")
    ap.add_argument("--no-flowlabel-reflect", action="store_true",
                    help="servers keep their own IPv6 flow label (net.ipv6.flowlabel_reflect=0): "
                         "under policy 0 the quoted label then differs from the hashed one")
    ap.add_argument("--no-model-check", action="store_true",
                    help="do not require the Python hash model to predict the observed owners")
    ap.add_argument("--keep", action="store_true",
                    help="leave the namespaces and work dir (processes are still stopped)")
    ap.add_argument("--pause", action="store_true",
                    help="wait for Enter before tearing down (connections still open)")
    ap.add_argument("--cleanup", action="store_true", help="delete left-over ptbe-* namespaces")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every flow")
    ap.add_argument("--show-metrics", action="store_true",
                    help="ptbsteer mode: scrape its /metrics inside the namespace before "
                         "stopping it")
    a = ap.parse_args(argv)
    a.families = {"v4": [4], "v6": [6], "both": [4, 6]}[a.family]
    if a.weights:
        a.weights = [int(w) for w in a.weights.split(",")]
    else:
        a.weights = [2 if i == 1 else 1 for i in range(a.servers)]
    a.route_order = [int(k) for k in a.route_order.split(",")] if a.route_order else \
        list(range(1, a.servers + 1))
    if sorted(a.route_order) != list(range(1, a.servers + 1)):
        ap.error("--route-order must be a permutation of 1..N")
    if len(a.weights) != a.servers or min(a.weights) < 1:
        ap.error("--weights needs one positive weight per server")
    if not 2 <= a.servers <= MAX_SERVERS:
        ap.error(f"--servers must be 2..{MAX_SERVERS}")
    if a.flows < 1 or (4 in a.families and a.flows > MAX_V4_FLOWS):
        ap.error(f"--flows must be 1..{MAX_V4_FLOWS} with IPv4 (one client address per flow)")
    if a.seed == 0 or a.seed > 0xFFFFFFFF:
        ap.error("--seed must be a non-zero u32 (0 means a random boot-time key)")
    if a.mode is None:
        a.mode = "replicate" if a.deliver == "broadcast-all" else "unicast"
    if a.deliver == "broadcast-all" and a.mode != "replicate":
        ap.error("--deliver broadcast-all implies --mode replicate")
    if a.deliver in ("oracle", "wrong-owner") and a.mode != "unicast":
        ap.error(f"--deliver {a.deliver} implies --mode unicast")
    if a.deliver == "ptbsteer":
        if not a.ptbsteer or not a.config_out:
            ap.error("--deliver ptbsteer needs --ptbsteer BIN and --config-out FILE")
        a.ptbsteer = os.path.abspath(a.ptbsteer)
        if not os.access(a.ptbsteer, os.X_OK):
            ap.error(f"{a.ptbsteer} is not executable")
    return a


def main_run(args):
    timer = Timer()
    procs = Procs()
    topo = Topology(args)
    workdir = tempfile.mkdtemp(prefix="ptbe-")
    client_proc = None
    failures = 0

    catch_signals()
    try:
        topo.create()
        print(f"topology: {topo.n} servers, weights {','.join(map(str, topo.weights))}, "
              f"policy {topo.policy}, seed {topo.seed}; route order "
              f"v4 {['srv%d' % k for k in topo.route_order[4]]} "
              f"v6 {['srv%d' % k for k in topo.route_order[6]]}")
        timer.mark("setup")
        deadline = time.monotonic() + 15
        start_servers(procs, topo.n, deadline)
        deadline = time.monotonic() + 20 + 0.05 * args.flows * len(topo.families)
        flows, conn_errors, client_proc = open_connections(procs, topo, workdir, deadline)
        timer.mark("connect")
        problems = [f"connection failed: {e}" for e in conn_errors]
        problems += find_owners(flows, topo.n)
        problems += [f"{f}: no server->client segment sniffed" for f in flows
                     if f.snd_nxt is None]
        v6_label_mismatch = [f for f in flows if f.fam == 6 and
                             f.client_labels != {f.server_label}]
        if problems:
            print("\n".join(problems[:30]))
            raise SetupError(f"{len(problems)} flow set-up problems")
        print(f"flows: {len(flows)} live connections "
              "(" + ", ".join(f"IPv{fam}: {sum(1 for f in flows if f.fam == fam)}"
                              for fam in topo.families) + ")")
        if v6_label_mismatch:
            print(f"note: {len(v6_label_mismatch)} IPv6 flows where the server's flow label "
                  f"differs from the client's (flowlabel_reflect)")

        bad_model = model_check(flows, topo)
        print(f"model check (Python kernel-hash model with route order + weights): "
              f"{len(flows) - len(bad_model)}/{len(flows)} owners predicted")
        for b in bad_model[:10]:
            print("  " + b)
        if bad_model and not args.no_model_check:
            failures += 1

        if args.config_out:
            with open(args.config_out, "w") as fh:
                fh.write(ptbsteer_config(topo, args.mode, args.pmd, args.via))
            print(f"ptbsteer config written to {args.config_out}")

        before = learned_mtus(topo.n, flows)
        stale = [k for k, v in before.items() if v is not None]
        if stale:
            raise SetupError(f"MTU already learned before any PTB was sent: {stale[:5]}")
        counters0 = {k: icmp_counters(srv_ns(k)) for k in range(1, topo.n + 1)}
        timer.mark("prepare")

        caps = []
        bpf = "(icmp and icmp[0] = 3 and icmp[1] = 4) or (icmp6 and ip6[40] = 2)"
        cap_deadline = time.monotonic() + 10
        for k in range(1, topo.n + 1):
            caps.append((k, Capture(procs, srv_ns(k), f"srv{k}-lan",
                                    os.path.join(workdir, f"lan-srv{k}.pcap"), bpf,
                                    snaplen=200)))
        for _, c in caps:
            c.wait_ready(cap_deadline)
        note = deliver(args, topo, flows, procs, workdir)
        # ptbsteer mode already waited for the kernels before stopping ptbsteer.
        mtus = wait_learned(topo.n, flows, args.deliver != "ptbsteer", args.learn_timeout)
        time.sleep(0.2)                      # let the captures write the last frames
        for _, c in caps:
            c.stop()
        timer.mark("deliver+learn")

        arrivals = {}
        stray = 0
        for k, c in caps:
            for _, frame in pcapfile.read(c.path):
                v = ptb_view(frame)
                if not v:
                    continue
                dmac, fam, client, cport = v
                if dmac != lan_mac(k):
                    stray += 1               # flooded/mis-addressed: not delivered to srvK
                    continue
                per = arrivals.setdefault((fam, client, cport), {})
                per[k] = per.get(k, 0) + 1
        if note:
            print(note)
        lines, bad_flows = judge(args, topo, flows, arrivals, mtus)
        print("\n".join(lines))
        if stray:
            print(f"note: {stray} PTB frames seen on a server LAN port with another dst MAC")
        for k in range(1, topo.n + 1):
            c1 = icmp_counters(srv_ns(k))
            delta = {n: c1[n] - counters0[k][n] for n in c1 if c1[n] != counters0[k][n]}
            print(f"  srv{k} counters: {delta or 'no change'}")
        failures += bad_flows
        timer.mark("judge")
        print(timer.summary())
        if args.pause:
            input(f"paused; namespaces {PREFIX}*, work dir {workdir}. Enter to tear down: ")
        return 1 if failures else 0
    finally:
        tear_down(args, topo, procs, workdir, client_proc)


def catch_signals():
    """SIGTERM/SIGHUP end the run through its finally (exit 128+N); so does SIGINT, which a
    background job may inherit ignored."""
    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def tear_down(args, topo, procs, workdir, client_proc=None, script=SELF):
    """Stops our processes (the client first: closing its stdin ends it), removes EAL's runtime
    dirs, the namespaces and the work dir (unless --keep). Not cut short by a second Ctrl-C or
    SIGTERM."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if client_proc is not None and client_proc.poll() is None:
        try:
            client_proc.stdin.close()
        except OSError:
            pass
    procs.stop_all()
    if args.deliver == "ptbsteer":
        # EAL leaves its runtime dir for our --file-prefix behind after a clean exit.
        remove_eal_dirs("ptbe")
    if args.keep:
        print(f"--keep: namespaces {topo.created} and {workdir} left in place; "
              f"remove with: {script} --cleanup")
    else:
        topo.destroy()
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    return guarded(parse_args(sys.argv[1:]), main_run)


def guarded(args, run, script=SELF):
    """run(args) with the exit statuses of the e2e scripts: 77 not root, 2 when ptbe-*
    namespaces are left over or on a SetupError, 77 when the AF_XDP PMD cannot run, 130 on
    Ctrl-C; --cleanup only removes left-over namespaces."""
    if os.geteuid() != 0:
        print("skipped: needs root (network namespaces)")
        return 77
    if args.cleanup:
        netns.delete(netns.listed(PREFIX))
        return 0
    stale = netns.listed(PREFIX)
    if stale:
        print(f"left-over namespaces {stale}: another run is active or crashed; "
              f"remove them with {script} --cleanup")
        return 2
    try:
        return run(args)
    except SetupError as e:
        print(f"SETUP ERROR: {e}")
        return 2
    except PmdUnavailable as e:
        print(f"SKIP: the AF_XDP PMD cannot run here (docs/deployment.md, \"AF_XDP\"):\n{e}")
        return 77
    except KeyboardInterrupt:
        print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
