#!/usr/bin/python3
"""Kernel-agreement test: the running Linux kernel is the judge of ptbsteer's `linux` hash model.

We did not write the kernel, so its next-hop choices are an independent truth. For many flows
and for several seeds, hash policies, field sets, families and weighted next-hop sets, this
script asks the kernel which next-hop it forwards a client->server flow to, and asks
ptbsteer-hashcalc (steer::Selector hash_threshold over hash::Model::linux_kernel) the same
question. Three checks:

1. `ip route get` look-ups in a router namespace, thousands per case, through `ip -batch`.
   ptbsteer models the FORWARDING path, so the look-up must take it:
   - IPv4: `route get DST from SRC iif rin ipproto P sport S dport D`. With `iif`,
     inet_rtm_getroute() builds a packet (inet_rtm_getroute_build_skb) and routes it through
     ip_route_input_rcu(), the forwarding path; fib_multipath_hash() sees that skb.
   - IPv6: inet6_rtm_getroute() never builds a packet, with or without `iif`: the hash is
     rt6_multipath_hash(net, fl6, skb=NULL), from the flowi6. For policies 0 and 1 that gives
     the same keys as forwarding a packet without extension headers; for policy 3 it does not
     (forwarding adds jhash_2words(outer, inner, 0) in rt6_multipath_custom_hash_skb), so IPv6
     policy 3 is judged only by real packets (check 3). iproute2 cannot pass a flow label either.
2. The PTB form, the product itself: for a subset of each case, real ICMP Packet Too Big frames
   (scapy) quoting the server->client packet go to ptbsteer-hashcalc --pcap, whose choice (from
   the reversed quote) must equal the kernel's choice for the client->server flow.
3. Real packets: client-ns -- router-ns -- N veths into a sink namespace. Frames are injected on
   the client veth with an AF_PACKET socket (no socket, so no socket hash rides along) and each
   flow is seen leaving the router on exactly one egress veth (AF_PACKET sockets in the sink).
   Under policy 0 the router also forwards real PTBs: the kernel hashes an ICMP error on the
   quoted header (ip_multipath_l3_keys / ip6_multipath_l3_keys), so the PTB must leave where the
   flow left, and ptbsteer-hashcalc must say so too.

Run as root with /usr/bin/python3 (stdlib + scapy). Namespaces are named ptbk-<pid>-* and are
always deleted (finally + atexit + SIGTERM). Exit status: 0 all agree, 1 disagreement, 2 setup
error, 77 skipped (not root / no netns support), the code meson treats as a skipped test.
"""
import argparse
import atexit
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from kernel_cases import Report, check_packets, check_route_get, explore_forms  # noqa: E402
from kernel_topology import Topology  # noqa: E402
from lib.checks import SKIP  # noqa: E402
from lib.netns import delete_orphans  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hashcalc", help="path to ptbsteer-hashcalc")
    ap.add_argument("--flows", type=int, default=2000, help="route-get flows per case")
    ap.add_argument("--ptb-flows", type=int, default=200, help="PTB-pcap flows per case")
    ap.add_argument("--packet-flows", type=int, default=300, help="real-packet flows per case")
    ap.add_argument("--kernel-only", action="store_true",
                    help="no ptbsteer-hashcalc: print the kernel's choices (harness debugging)")
    ap.add_argument("--no-pymodel", dest="pymodel", action="store_false",
                    help="skip the independent Python model (a debug aid that tells which side "
                         "of a disagreement is wrong; never decides pass/fail)")
    ap.add_argument("--explore", action="store_true",
                    help="compare route-get forms with real forwarding and exit")
    ap.add_argument("--no-packets", action="store_true", help="skip the real-packet check")
    ap.add_argument("--no-ptb", action="store_true", help="skip the PTB pcap check")
    ap.add_argument("--quick", action="store_true", help="fewer seeds for real packets")
    ap.add_argument("--rng-seed", type=int, default=20240607)
    args = ap.parse_args()
    if not args.kernel_only and not args.explore and not args.hashcalc:
        ap.error("--hashcalc is required (or --kernel-only)")
    if os.geteuid() != 0:
        print("kernel-agreement: needs root (network namespaces); skipped")
        return SKIP
    if not os.path.exists("/proc/sys/net/ipv4/fib_multipath_hash_seed"):
        print("kernel-agreement: kernel has no fib_multipath_hash_seed (< 6.11); skipped")
        return SKIP
    # Namespaces of a killed earlier run (SIGKILL skips every cleanup): ptbk-<pid>-*.
    delete_orphans(r"ptbk-(\d+)-(?:cl|rt|sk)$")
    topo = Topology(f"ptbk-{os.getpid()}")
    atexit.register(topo.destroy)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    signal.signal(signal.SIGINT, lambda *a: sys.exit(130))
    rng = random.Random(args.rng_seed)
    t0 = time.monotonic()
    rep = Report()
    with tempfile.TemporaryDirectory(prefix="ptbk-") as tmp:
        args.tmp = tmp
        try:
            try:
                topo.create()
            except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                print(f"kernel-agreement: cannot build namespaces: {e}")
                return 2
            if args.explore:
                explore_forms(args, topo, rng)
                return 0
            check_route_get(args, topo, rep, rng)
            if not args.no_packets:
                check_packets(args, topo, rep, rng)
        finally:
            topo.destroy()
    dt = time.monotonic() - t0
    print(f"kernel-agreement: {len(rep.lines)} comparisons, {rep.failures} failed, "
          f"{dt:.1f} s")
    return 1 if rep.failures else 0


if __name__ == "__main__":
    sys.exit(main())
