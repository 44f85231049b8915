#!/usr/bin/python3
"""End-to-end tests of next-hops given by address (`via:`): the delivery LAN changes under a
running ptbsteer, and the PTBs must follow the servers (the e2e_truth.py topology, namespaces
ptbe-*, ptbsteer on af_packet in ptbe-steer; see README.md).

  --case mac-change-notify  srvK (the owner of most flows) gets a new LAN link with a new MAC,
      as when its NIC is swapped, while PTBs for its flows keep coming (one per --gap-ms). srvK
      announces it (net.ipv4.conf.*.arp_notify=1: a gratuitous ARP; net.ipv6.conf.*.ndisc_notify
      =1: an unsolicited NA; sent again once the new bridge port forwards, see
      e2e_lan.replace_lan_link), so the PTBs must reach the new interface within 2 s.
  --case mac-change-silent  the same without announcements: ptbsteer must find the new MAC by
      re-probing before the entry expires, within reachable_time + 4 s.
  --case failure  srvK's LAN link goes down: it must turn `failed` within reachable_time + 3 s
      (3 unanswered probes) + 5 s of its last answer, its PTBs must be dropped and counted
      (neighbor_failed), every PTB for the other servers must still arrive; when the link comes
      back it must become reachable again and get its PTBs.
  --case unresolved-queue  (IPv4, via 4) srvK does not answer ARP at first (arp_ignore=8 on
      srvK-lan): while its entry is `incomplete`, 5 PTBs for 5 of its flows come in; the first
      unres_qlen (3) must wait (ptbsteer_neighbor_queued_packets_total +3), the other 2 must be
      dropped at once (neighbor_unresolved +2). srvK then answers (arp_ignore=0) before its
      entry would fail: it must turn reachable, the 3 queued PTBs must reach it (and only them)
      and its kernel must learn mtu 1400 for exactly those 3 flows; ptbsteer's exit report must
      balance.

Arrivals are timed by AF_PACKET sockets in the servers' namespaces (PTB frames to the
interface's own MAC only: ptbsteer's ARP/NS broadcasts are not counted), the ARP/ND traffic by
one at the bridge port to ptbsteer (lan-steer); states, MAC-change times and drops come from
its /metrics.
A mac-change run also has srvK's kernel judge the first PTB the new link gets: it quotes a
connection no PTB quoted before, and srvK must learn mtu 1400 for it.

Run as root with /usr/bin/python3. Exit: 0 pass, 1 check failed, 2 setup error, 77 not root.
"""

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from e2e_deliver import (SteerRun, all_in, format_states, inject,  # noqa: E402
                         neighbor_states, ptb_frame, ptbsteer_config, scrape_steer, send_frames,
                         states_now, wait_neighbors)
from e2e_flows import connect, ptb_view, start_servers  # noqa: E402
from e2e_judge import Timer, learned_mtus, wait_until  # noqa: E402
from e2e_lan import (MAC_CHANGE, PACKET_HOST, FrameWatch, announcements_from,  # noqa: E402
                     answers_from, drops, is_nd, is_ptb, per_hop, ptbs_at, replace_lan_link,
                     set_lan_link, solicitations_for)
from e2e_topology import (INJ_MAC, NS_INJ, NS_LAN, PTB_MTU, PY, ROLES, STEER_IN_MAC,  # noqa: E402
                          Topology, lan_addr, lan_mac, link_local, srv_ns)
from e2e_truth import catch_signals, guarded, parse_args as truth_parse_args  # noqa: E402
from e2e_truth import tear_down  # noqa: E402
from lib import config, pcapfile, prom  # noqa: E402
from lib.checks import Checks  # noqa: E402
from lib.netns import nsexec, sysctl  # noqa: E402
from lib.procs import Procs, SetupError, run as run_cmd  # noqa: E402
from lib.runner import BALANCED, report  # noqa: E402

SELF = os.path.abspath(__file__)
CASES = ("mac-change-notify", "mac-change-silent", "failure", "unresolved-queue")
NOTIFY_DEADLINE = 2.0          # s from the new link coming up to the first PTB on it
SILENT_SLACK = 4.0             # + reachable_time without announcements
FAILED_SLACK = 5.0             # + reachable_time + 3 probes after the last answer
BACK_DEADLINE = 4.0            # s from the link coming back up to `reachable`
UNRES_QLEN = 3                 # neighbors.unres_qlen of the unresolved-queue case
HELD = 5                       # PTBs sent for srvK while it is unresolved: 3 wait, 2 dropped
MAX_SOLICIT = 3                # unanswered ARP requests before `failed` (mcast_solicit)
SILENT_MIN = 0.05              # s srvK stays silent after ptbsteer's first request, at least


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--case", choices=CASES)
    ap.add_argument("--family", choices=["v4", "v6"], default="v4",
                    help="the flows' family and the via's: v4 (ARP) or v6 (Neighbor Discovery)")
    ap.add_argument("--via", choices=["4", "6", "ll"],
                    help="the next-hops' via (default: the family's global address; ll: the "
                         "EUI-64 link-local address, with --family v6)")
    ap.add_argument("--servers", type=int,
                    help="default 3 (mac-change, unresolved-queue), 4 (failure)")
    ap.add_argument("--flows", type=int,
                    help="connections (default 8; 24 for unresolved-queue, whose srvK needs 5)")
    ap.add_argument("--reachable-time", type=int,
                    help="neighbors.reachable_time (default: 30, ptbsteer's own, for "
                         "mac-change-notify (only the announcement can then be in time) and "
                         "unresolved-queue; 5 else)")
    ap.add_argument("--gap-ms", type=int, default=50, help="between injected PTBs")
    ap.add_argument("--no-announce", action="store_true",
                    help="negative control: mac-change-notify with arp_notify / ndisc_notify "
                         "left 0 (only re-probing can then find the new MAC): must FAIL")
    ap.add_argument("--ptbsteer", help="the ptbsteer binary")
    ap.add_argument("--config-out", help="write the ptbsteer config here (default: work dir)")
    ap.add_argument("--keep", action="store_true", help="leave the namespaces and work dir")
    ap.add_argument("--cleanup", action="store_true", help="delete left-over ptbe-* namespaces")
    a = ap.parse_args(argv)
    if a.cleanup:
        return a
    if not a.case or not a.ptbsteer:
        ap.error("--case and --ptbsteer are needed")
    a.fam = int(a.family[1])
    a.via = a.via or str(a.fam)
    if (a.via == "4") != (a.fam == 4):
        ap.error("--via must be of the flows' family")
    if a.case == "unresolved-queue" and a.via != "4":
        ap.error("--case unresolved-queue is IPv4 with --via 4 (srvK is kept silent by "
                 "arp_ignore)")
    if a.via == "ll" and a.case != "failure":
        ap.error("--via ll: the EUI-64 link-local address changes with the MAC (e2e_truth.py "
                 "--via ll covers link-local next-hops)")
    a.servers = a.servers or (4 if a.case == "failure" else 3)
    a.flows = a.flows or (24 if a.case == "unresolved-queue" else 8)
    if a.reachable_time is None:
        a.reachable_time = 30 if a.case in ("mac-change-notify", "unresolved-queue") else 5
    return a


def truth_args(a, workdir):
    """The e2e_truth.py arguments of this topology and ptbsteer run (Topology, SteerRun)."""
    argv = ["--family", a.family, "--servers", str(a.servers), "--flows", str(a.flows),
            "--deliver", "ptbsteer", "--ptbsteer", a.ptbsteer, "--via", a.via,
            "--config-out", a.config_out or os.path.join(workdir, "ptbsteer.yaml")]
    if a.case == "unresolved-queue":
        argv += ["--settle", "0"]        # srvK must still be unresolved when the PTBs come
    return truth_parse_args(argv + (["--keep"] if a.keep else []))


def busiest(flows, servers, need):
    """The server that owns most flows (the lowest index among equals); SetupError below need."""
    count = {k: sum(1 for f in flows if f.owner == k) for k in servers}
    k = max(servers, key=lambda s: (count[s], -s))
    if count[k] < need:
        raise SetupError(f"no server owns {need} flows ({count}); try more --flows")
    return k


def via_addrs(a, k, mac):
    """srvK's addresses that answer for its via (a link-local one follows the MAC)."""
    return {lan_addr(4, k)} if a.via == "4" else {lan_addr(6, k), link_local(mac)}


def start_steer(a, targs, topo, procs, workdir, c):
    """ptbsteer started on a via config; checks every next-hop turns reachable (10 s)."""
    with open(targs.config_out, "w") as fh:
        fh.write(ptbsteer_config(topo, "unicast", via=a.via, reachable_time=a.reachable_time))
    steer = SteerRun(targs, procs, workdir)
    ok, _, states = wait_neighbors(lambda st: all_in(st, "reachable"), 10)
    c.check(ok, f"every next-hop reachable by {time.monotonic() - steer.opened:.1f} s after "
            "ptbsteer opened its ports", format_states(states))
    return steer


def inject_background(procs, frames, workdir, name, gap_ms):
    """The same from a background process (procs.stop ends it early)."""
    path = os.path.join(workdir, name)
    pcapfile.write(path, frames)
    return procs.start(f"injector {name}",
                       nsexec(NS_INJ, PY, ROLES, "_send", "inj0", path, str(gap_ms * 1000)),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def learned(topo, k, f, timeout):
    """srvK's kernel shows mtu PTB_MTU for flow f's client (polled up to timeout)."""
    return wait_until(lambda: learned_mtus(topo.n, [f]).get((k, f.fam, f.client)) == PTB_MTU,
                      timeout, 0.2)


# ------------------------------------------------------------------------------------------
# mac-change

def case_mac_change(a, targs, topo, flows, procs, workdir, watches, c):
    """srvK's link replaced under a stream of PTBs for it; the first one to reach the new link
    is timed against the deadline (see the module doc)."""
    notify = a.case == "mac-change-notify"
    k = busiest(flows, range(1, topo.n + 1), 2)
    mine = [f for f in flows if f.owner == k]
    old_mac, new_mac = lan_mac(k), f"02:70:74:62:02:{k:02x}"
    knob = "arp_notify" if a.fam == 4 else "ndisc_notify"
    announce = int(notify and not a.no_announce)
    sysctl(srv_ns(k), [(f"net.ipv{a.fam}.conf.{x}.{knob}", announce)
                       for x in ("all", "default")])
    print(f"srv{k} owns {len(mine)} flows; its LAN link gets MAC {new_mac} (was {old_mac}); "
          f"{knob}={announce}, reachable_time {a.reachable_time} s, via {a.via}")
    lan = FrameWatch(NS_LAN, is_nd, outgoing=True)
    watches.append(lan)
    start_steer(a, targs, topo, procs, workdir, c)
    srv = FrameWatch(srv_ns(k), is_ptb)
    watches.append(srv)
    ts0 = per_hop(scrape_steer(), MAC_CHANGE, f"srv{k}")
    check_before(a, topo, k, mine, srv, workdir, c)

    deadline = NOTIFY_DEADLINE if notify else a.reachable_time + SILENT_SLACK
    wall = time.time()
    t_change, arrived = swap_under_stream(a, k, mine[1:], srv, procs, workdir, deadline)
    delay = arrived[0][0] - t_change if arrived else None
    said = f"the first after {delay:.2f} s" if arrived else f"none in {deadline + 1.5:.1f} s"
    c.check(bool(arrived) and delay <= deadline,
            f"PTBs reach the new srv{k}-lan ({new_mac}) within {deadline:.1f} s of it coming up: "
            f"{said}")
    report_lan(lan, via_addrs(a, k, new_mac), t_change, {new_mac: "new", old_mac: "old"})
    f = next((f for f in mine[1:] if arrived and f.key == arrived[0][1]), mine[1])
    c.check(learned(topo, k, f, 3), f"srv{k}'s kernel learned mtu {PTB_MTU} for {f} from a PTB "
            "that came in on the new link")
    ts1 = per_hop(scrape_steer(), MAC_CHANGE, f"srv{k}")
    moved = bool(ts1) and all(ts1[g] > ts0.get(g, 0) and ts1[g] >= wall - 1 for g in ts1)
    c.check(moved, f"{MAC_CHANGE} of srv{k} moved to the change ({wall:.1f})",
            f"before {ts0}, after {ts1}")


def check_before(a, topo, k, mine, srv, workdir, c):
    """Ten PTBs for srvK's first flow reach its old MAC; its other flows have learned nothing
    (they are quoted only after the change)."""
    t0 = time.monotonic()
    inject([ptb_frame(mine[0], STEER_IN_MAC, INJ_MAC)] * 10, workdir, "before.pcap", a.gap_ms)
    got = wait_until(lambda: len(ptbs_at(srv, f"srv{k}-lan", lan_mac(k), t0)) >= 10, 1)
    c.check(got, f"before: 10/10 PTBs reached srv{k}-lan at {lan_mac(k)}",
            f"{len(ptbs_at(srv, f'srv{k}-lan', lan_mac(k), t0))} arrived")
    c.check(all(learned_mtus(topo.n, [f]).get((k, f.fam, f.client)) is None for f in mine[1:]),
            f"srv{k} has learned nothing yet for the {len(mine) - 1} flows quoted after the "
            "change")


def swap_under_stream(a, k, flows, srv, procs, workdir, deadline):
    """srvK's link swapped for one with its new MAC, then PTBs quoting `flows` in turn, one per
    gap, until the first reaches the new link or deadline + 1.5 s. Returns (the time the new
    link came up, [(time, flow key)] of the arrivals)."""
    new_mac = f"02:70:74:62:02:{k:02x}"
    count = math.ceil((deadline + 2) * 1000 / a.gap_ms)
    frames = [ptb_frame(flows[i % len(flows)], STEER_IN_MAC, INJ_MAC) for i in range(count)]
    t_change = replace_lan_link(k, lan_mac(k), new_mac)
    injector = inject_background(procs, frames, workdir, "after.pcap", a.gap_ms)
    arrived = wait_until(lambda: ptbs_at(srv, f"srv{k}-lan", new_mac, t_change),
                         deadline + 1.5)
    procs.stop(injector)
    return t_change, arrived


def report_lan(lan, addrs, t0, names):
    """Prints the ARP/ND about `addrs` at ptbsteer's port since t0 (MACs named by `names`)."""
    for what, items in (("announced to ptbsteer", announcements_from(lan, addrs, t0)),
                        ("answered to ptbsteer", answers_from(lan, addrs, t0)),
                        ("solicited by ptbsteer", solicitations_for(lan, addrs, t0))):
        text = ", ".join(f"+{t - t0:.2f}s {kind} {m}" + (f" ({names[m]})" if m in names else "")
                         for t, kind, m in items[:12])
        print(f"  {what}: {text or 'nothing'}" + (" ..." if len(items) > 12 else ""))


# ------------------------------------------------------------------------------------------
# failure

def case_failure(a, targs, topo, flows, procs, workdir, watches, c):
    """srvK's link down: failed in time, its PTBs dropped and counted, the others delivered;
    link up: reachable again and delivered (see the module doc)."""
    k = busiest(flows, range(1, topo.n + 1), 1)
    # IPv6 would drop srvK's global address when the link goes down (keep_addr_on_down=0).
    sysctl(srv_ns(k), [("net.ipv6.conf.all.keep_addr_on_down", 1)])
    lan = FrameWatch(NS_LAN, is_nd, outgoing=True)
    watches.append(lan)
    start_steer(a, targs, topo, procs, workdir, c)
    srv = {j: FrameWatch(srv_ns(j), is_ptb) for j in range(1, topo.n + 1)}
    watches.extend(srv.values())
    mine = [f for f in flows if f.owner == k]
    print(f"srv{k} (owner of {len(mine)}/{len(flows)} flows) loses its LAN link; "
          f"reachable_time {a.reachable_time} s, via {a.via}")
    c.check(deliver_all(a, flows, srv, workdir, "up"), "every PTB reached its owner (link up)")

    t_down = set_lan_link(k, False)
    addrs = via_addrs(a, k, lan_mac(k))
    last = max([t for t, _, _ in answers_from(lan, addrs) if t <= t_down], default=None)
    if last is None:
        raise SetupError(f"no ARP/ND answer from srv{k} was seen before its link went down")
    deadline = a.reachable_time + 3 + FAILED_SLACK
    seen = watch_states(f"srv{k}", "failed", last + deadline + 1)
    took = seen.get("failed", time.monotonic()) - last
    marks = ", ".join(f"{s} at +{t - last:.1f}s" for s, t in sorted(seen.items(),
                                                                    key=lambda x: x[1]))
    c.check("failed" in seen and took <= deadline,
            f"srv{k} failed within reachable_time + 3 + {FAILED_SLACK:.0f} = {deadline:.0f} s "
            f"of its last answer: {'after %.1f s' % took if 'failed' in seen else 'not'} "
            f"(link down at +{t_down - last:.1f}s; states seen: {marks})")
    report_lan(lan, addrs, last, {lan_mac(k): f"srv{k}"})
    check_failed_drops(a, k, flows, srv, workdir, c)

    t_up = set_lan_link(k, True)
    back = watch_states(f"srv{k}", "reachable", t_up + BACK_DEADLINE).get("reachable")
    c.check(back is not None, f"srv{k} reachable again within {BACK_DEADLINE:.0f} s of its "
            f"link coming up: {'after %.1f s' % (back - t_up) if back else 'not'}")
    c.check(deliver_all(a, flows, srv, workdir, "back"),
            f"every PTB reached its owner again, srv{k}'s included")


def watch_states(hop, until, deadline):
    """Scrapes every 0.2 s until next-hop `hop` is in state `until` (in every group) or the
    monotonic deadline; returns {state: when it was first seen}."""
    seen = {}

    def there():
        st = states_now()
        for state in {s for (_, h), s in st.items() if h == hop}:
            seen.setdefault(state, time.monotonic())
        return all_in(st, until, hop)
    if not wait_until(there, deadline - time.monotonic(), 0.2):
        seen.pop(until, None)
    return seen


def check_failed_drops(a, k, flows, srv, workdir, c):
    """One PTB per flow while srvK is failed: every other one reaches its owner, srvK's reach
    nobody and the neighbor_failed drops grow by exactly their number."""
    reason = "neighbor_failed"
    mine = [f for f in flows if f.owner == k]
    name, d0 = drops(scrape_steer(), reason)
    c.check(name is not None, f"a drops counter has reason {reason}")
    ok = deliver_all(a, flows, srv, workdir, "down", skip=k)
    c.check(ok, f"every PTB for the other servers reached its owner while srv{k} is failed, "
            f"none of srv{k}'s reached anyone")

    def grown():
        return drops(scrape_steer(), reason)[1] - d0
    wait_until(lambda: grown() >= len(mine), 2, 0.1)
    time.sleep(0.3)                      # more than was sent would show up too
    grew = grown()
    c.check(grew == len(mine), f"{name}{{reason=\"{reason}\"}} grew by the {len(mine)} PTBs "
            f"for srv{k}: by {grew:.0f}")


def deliver_all(a, flows, srv, workdir, name, skip=None):
    """One PTB per flow injected; True when each reached its owner exactly once (to the
    owner's MAC) and nowhere else, except that the flows of server `skip` must reach nobody.
    Prints what went wrong."""
    t0 = time.monotonic()
    inject([ptb_frame(f, STEER_IN_MAC, INJ_MAC) for f in flows], workdir, f"{name}.pcap",
           a.gap_ms)
    want = {f.key: (0 if f.owner == skip else 1, f.owner) for f in flows}
    total = sum(n for n, _ in want.values())

    def got():
        return {j: [key for _, key in ptbs_at(w, f"srv{j}-lan", lan_mac(j), t0)]
                for j, w in srv.items()}

    wait_until(lambda: sum(len(v) for v in got().values()) >= total, 2)
    time.sleep(0.2)                      # anything extra or misplaced shows up too
    arrivals = got()
    bad = []
    for key, (n, owner) in want.items():
        where = {j: v.count(key) for j, v in arrivals.items() if key in v}
        if where != ({owner: 1} if n else {}):
            bad.append(f"{key} (owner srv{owner}) arrived at {where or 'nobody'}")
    for b in bad[:10]:
        print("  " + b)
    return not bad


# ------------------------------------------------------------------------------------------
# unresolved-queue

QUEUED = "ptbsteer_neighbor_queued_packets_total"
DELIVERED = "ptbsteer_delivered_packets_total"
UNRESOLVED = "neighbor_unresolved"


def case_unresolved_queue(a, targs, topo, flows, procs, workdir, watches, c):
    """PTBs for a next-hop that does not answer ARP yet: unres_qlen of them wait and go out when
    it answers, the others are dropped at once (see the module doc). Times are printed from
    ptbsteer's first ARP request for srvK as seen at the bridge port lan-steer."""
    k = busiest(flows, range(1, topo.n + 1), HELD)
    hop, iface, addrs = f"srv{k}", f"srv{k}-lan", {lan_addr(4, k)}
    held = [f for f in flows if f.owner == k][:HELD]
    queued, dropped = held[:UNRES_QLEN], held[UNRES_QLEN:]
    frames = [ptb_frame(f, STEER_IN_MAC, INJ_MAC) for f in held]   # scapy: before ptbsteer
    if any(v is not None for v in learned_mtus(topo.n, flows).values()):
        raise SetupError("an MTU was learned before any PTB was sent")
    knob = f"net.ipv4.conf.{iface}.arp_ignore"
    # The kernel obeys max(all, iface): `all` must stay 0 (it would silence srvK-r too).
    all_knob = run_cmd(nsexec(srv_ns(k), "sysctl", "-n", "net.ipv4.conf.all.arp_ignore"))
    if all_knob.stdout.strip() != "0":
        raise SetupError(f"net.ipv4.conf.all.arp_ignore is not 0 in {srv_ns(k)}")
    sysctl(srv_ns(k), [(knob, 8)])
    print(f"srv{k} owns {sum(1 for f in flows if f.owner == k)}/{len(flows)} flows and answers "
          f"no ARP ({knob}=8); unres_qlen {UNRES_QLEN}; PTBs for its flows "
          f"{', '.join(map(str, held))} in this order: the first {UNRES_QLEN} should wait, the "
          f"other {len(dropped)} be dropped")
    lan = FrameWatch(NS_LAN, is_nd, outgoing=True)
    watches.append(lan)
    srv = {j: FrameWatch(srv_ns(j), is_ptb) for j in range(1, topo.n + 1)}
    watches.extend(srv.values())
    write_config(a, targs, topo, UNRES_QLEN)
    steer = SteerRun(targs, procs, workdir)
    marks = [("ports open", steer.opened)]

    samples, t = first_scrape(3)
    marks.append(("first /metrics", t))
    if samples is None:
        raise SetupError("ptbsteer's /metrics listed no neighbour states within 3 s of "
                         "opening its ports")
    first = {g: s for (g, h), s in neighbor_states(samples).items() if h == hop}
    if "failed" in first.values():
        print_times(marks, lan, addrs, srv, k)
        raise SetupError(f"set-up too slow: srv{k} was already failed at the first /metrics "
                         f"scrape ({format_states(neighbor_states(samples))})")
    ok = c.check(bool(first) and all(s == "incomplete" for s in first.values()),
                 f"srv{k} incomplete at ptbsteer's first /metrics "
                 f"(+{t - steer.opened:.2f} s after it opened its ports)",
                 format_states(neighbor_states(samples)))
    if not ok:
        return
    before = counts(samples, hop)

    marks.append(("PTBs sent", time.monotonic()))
    t_sent = marks[-1][1]
    send_frames(NS_INJ, "inj0", frames, workdir, "held.pcap", 1000, timeout=10)

    def all_counted():
        d = grown(counts(scrape_steer(timeout=1), hop), before)
        return d if d["queued"] + d["unresolved"] >= HELD else None
    d = wait_until(all_counted, 1, 0.01) or grown(counts(scrape_steer(), hop), before)
    marks.append(("counters read", time.monotonic()))
    c.check(d["queued"] == UNRES_QLEN, f"{QUEUED} grew by {UNRES_QLEN} while srv{k} is "
            f"incomplete: by {d['queued']:.0f}")
    c.check(d["unresolved"] == HELD - UNRES_QLEN,
            f"dropped{{reason=\"{UNRESOLVED}\"}} grew by {HELD - UNRES_QLEN} (the queue was "
            f"full): by {d['unresolved']:.0f}")
    c.check(d["delivered"] == 0, f"nothing delivered to srv{k} yet: {d['delivered']:.0f}")

    # The negative control needs a request that srvK saw and let pass: one at least, and
    # SILENT_MIN s after it (the others answer theirs within a few ms).
    asked = wait_until(lambda: solicitations_for(lan, addrs), 1, 0.01)
    if asked:
        time.sleep(max(0.0, asked[0][0] + SILENT_MIN - time.monotonic()))
    sysctl(srv_ns(k), [(knob, 0)])
    t_allow = time.monotonic()
    marks.append(("arp_ignore=0", t_allow))
    asked = [t for t, _, _ in solicitations_for(lan, addrs)]
    if len(asked) >= MAX_SOLICIT and asked[MAX_SOLICIT - 1] <= t_allow:
        print_times(marks, lan, addrs, srv, k)
        raise SetupError(f"set-up too slow: srv{k} was let answer ARP only after ptbsteer's "
                         f"request #{MAX_SOLICIT} for it, the last before it turns failed")
    delays = {}
    for j in (j for j in srv if j != k):
        req, ans = (f(lan, {lan_addr(4, j)}) for f in (solicitations_for, answers_from))
        if req and ans:
            delays[j] = ans[0][0] - req[0][0]
    c.check(len(delays) == topo.n - 1, "the other servers answered ptbsteer's ARP: " +
            (", ".join(f"srv{j} {1000 * d:.2f} ms after its first request"
                       for j, d in sorted(delays.items())) or "none"))
    answered = [x for x in answers_from(lan, addrs) if x[0] < t_allow]
    blocked = [t for t in asked if t < t_allow]
    c.check(bool(blocked) and not answered,
            f"negative control: srv{k} answered none of ptbsteer's {len(blocked)} ARP "
            f"request(s) for it in the {t_allow - asked[0] if asked else 0:.3f} s from the "
            "first to arp_ignore=0", f"answers: {answered}")

    seen = watch_states(hop, "reachable", t_allow + 3)
    marks += [(f"{s} seen", t) for s, t in seen.items()]
    c.check("reachable" in seen and "failed" not in seen,
            f"srv{k} turned reachable without failing first (states seen: "
            f"{', '.join(sorted(seen)) or 'none'})")

    wait_until(lambda: len(srv[k].since(t_sent)) >= UNRES_QLEN, 2)
    time.sleep(0.3)                      # more than the queue held would show up too
    got = [(t, ifname, ptype, ptb_view(fr)) for t, ifname, ptype, fr in srv[k].since(t_sent)]
    mine = [v[1:] for _, ifname, ptype, v in got
            if ifname == iface and ptype == PACKET_HOST and v[0] == lan_mac(k)]
    c.check(len(got) == UNRES_QLEN and sorted(mine) == sorted(f.key for f in queued),
            f"exactly the {UNRES_QLEN} queued PTBs reached {iface} ({lan_mac(k)}), once each",
            f"arrived: {[(round(t - t_sent, 3), i, p, v) for t, i, p, v in got]}")
    c.check(all(t >= t_allow for t, _, _, _ in got),
            f"none reached srv{k} before it was let answer ARP")
    stray = {j: len(srv[j].since(t_sent)) for j in srv if j != k and srv[j].since(t_sent)}
    c.check(not stray, "no PTB reached another server", f"{stray}")

    wait_until(lambda: all(learned_mtus(topo.n, [f]).get((k, 4, f.client)) == PTB_MTU
                           for f in queued), 3, 0.2)
    mtus = learned_mtus(topo.n, flows)
    c.check(all(mtus.get((k, 4, f.client)) == PTB_MTU for f in queued),
            f"srv{k}'s kernel learned mtu {PTB_MTU} for the {UNRES_QLEN} queued flows",
            f"{[(str(f), mtus.get((k, 4, f.client))) for f in queued]}")
    c.check(all(mtus.get((k, 4, f.client)) is None for f in dropped),
            f"srv{k} learned nothing for the {len(dropped)} dropped flows",
            f"{[(str(f), mtus.get((k, 4, f.client))) for f in dropped]}")
    wrong = sorted(key for key, v in mtus.items() if v is not None and key[0] != k)
    c.check(not wrong, "no other server learned anything", f"{wrong}")

    d = grown(counts(scrape_steer(), hop), before)
    c.check(d == {"queued": UNRES_QLEN, "unresolved": HELD - UNRES_QLEN,
                  "delivered": UNRES_QLEN},
            f"at the end: queued +{UNRES_QLEN}, neighbor_unresolved +{HELD - UNRES_QLEN}, "
            f"delivered to srv{k} +{UNRES_QLEN}", f"{d}")
    print_times(marks, lan, addrs, srv, k)

    note = steer.stop()
    out = steer.output()
    print("  " + next((ln for ln in out.splitlines() if ln.startswith("ptbsteer-counters")),
                      "(no ptbsteer-counters line)"))
    c.check(steer.p.returncode == 0 and BALANCED in out and report(out) is not None,
            f"ptbsteer exited {steer.p.returncode} and its exit report balances", note)


def write_config(a, targs, topo, unres_qlen):
    """The via config of start_steer() with neighbors.unres_qlen given."""
    text = ptbsteer_config(topo, "unicast", via=a.via, reachable_time=a.reachable_time)
    line = config.neighbors(a.reachable_time)
    if line not in text:
        raise SetupError(f"no {line.strip()!r} line in the written config")
    with open(targs.config_out, "w") as fh:
        fh.write(text.replace(line, config.neighbors(a.reachable_time, unres_qlen)))


def first_scrape(timeout):
    """ptbsteer's first /metrics that lists neighbour states, polled every 10 ms up to timeout:
    (samples or None, when)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            samples = scrape_steer(timeout=1)
            if neighbor_states(samples):
                return samples, time.monotonic()
        except (OSError, RuntimeError, ValueError):
            pass
        if time.monotonic() > deadline:
            return None, time.monotonic()
        time.sleep(0.01)


def counts(samples, hop):
    """What the case watches: PTBs that waited, drops as neighbor_unresolved, PTBs delivered
    (unicast) to next-hop `hop`."""
    return {"queued": prom.total(samples, QUEUED), "unresolved": drops(samples, UNRESOLVED)[1],
            "delivered": sum(v for (n, labels), v in samples.items() if n == DELIVERED
                             and dict(labels).get("next_hop") == hop
                             and dict(labels).get("mode") == "unicast")}


def grown(now, before):
    return {key: now[key] - before[key] for key in before}


def print_times(marks, lan, addrs, srv, k):
    """The case's moments, ptbsteer's ARP requests for srvK, srvK's answers and the PTBs'
    arrivals at srvK, in seconds from the first request (from the ports opening without one)."""
    asked = solicitations_for(lan, addrs)
    t0 = asked[0][0] if asked else marks[0][1]
    origin = "ptbsteer's first ARP request for srv%d" % k if asked else "ports open"
    items = [(t, name) for name, t in marks]
    items += [(t, f"ARP request #{i + 1}") for i, (t, _, _) in enumerate(asked[:6])]
    items += [(t, f"srv{k} answered") for t, _, _ in answers_from(lan, addrs)[:3]]
    items += [(t, f"PTB at srv{k}-lan") for t, _, _, _ in srv[k].frames[:HELD + 2]]
    print(f"times from {origin}: " + ", ".join(f"{name} {t - t0:+.3f}"
                                               for t, name in sorted(items)))


def main_run(a):
    timer = Timer()
    procs = Procs()
    workdir = tempfile.mkdtemp(prefix="ptbe-")
    targs = truth_args(a, workdir)
    topo = Topology(targs)
    client = None
    watches = []
    c = Checks(f"e2e_neighbors {a.case} {a.family} via {a.via}")
    catch_signals()
    try:
        topo.create()
        start_servers(procs, topo.n, time.monotonic() + 15)
        flows, client = connect(procs, topo, workdir)
        timer.mark("setup")
        run = {"failure": case_failure,
               "unresolved-queue": case_unresolved_queue}.get(a.case, case_mac_change)
        run(a, targs, topo, flows, procs, workdir, watches, c)
        timer.mark(a.case)
        print(timer.summary())
        print(f"{c.name}: {c.passed} passed, {c.failed} failed")
        return 1 if c.failed else 0
    finally:
        for w in watches:
            w.stop()
        tear_down(targs, topo, procs, workdir, client, SELF)


def main():
    return guarded(parse_args(sys.argv[1:]), main_run, SELF)


if __name__ == "__main__":
    sys.exit(main())
