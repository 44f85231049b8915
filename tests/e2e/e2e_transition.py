#!/usr/bin/python3
"""End-to-end test of transitions (issue 20): when a group's owners move, the PTBs of the
connections made before the change must still reach the servers that hold them.

The e2e_truth.py topology (namespaces ptbe-*, see README.md): real TCP connections through a
Linux ECMP router to N servers, ptbsteer in ptbe-steer on af_packet with its control API on;
the group `site` belongs to the API: PUT at start as the router's route lists its next-hops,
with a short `transition:`. Then the router's multipath routes change (`ip route replace`) and
the same group is PUT at once. Connections are made in batches, one batch under each version of
the route, and every PTB quotes one of them. The servers' kernels judge: the server that holds
a connection must learn mtu 1400 from its PTB when, and only when, a frame reached it, and no
other server may learn anything. What each PTB must do is worked out from the connections' real
owners (ss) and the Python model of the kernel's hash over each version's route (held to the
real owners of every batch): it goes to its owner in the newest version (unicast) and to each
distinct earlier owner (a transition copy), newest version first, at most transition_copies
frames in all. POST /v1/decide must say the same before the PTBs go; the captures, ptbsteer's
counters and the kernels must agree with it.

  --case remove   5 servers (next-hops by `via`: ARP), srv3 leaves; transition 6 s. During the
      window: PTBs for half the connections made before the change and for all made after.
      After the window (ptbsteer_group_transition_versions back to 0 about 6 s after the change)
      the other half: newest owner only, so the server of a moved connection must NOT learn
      (the run's own negative control), and ptbsteer_transition_copies_total must not grow.
  --case add      4 servers in the route, srv5 joins (static MACs); transition 6 s.
  --case chained  srv2 leaves, then srv5 joins within one window (8 s, transition_copies 3):
      connections made under each of the three versions; a PTB may go to three owners, and the
      connections of version 1 and of version 2 must each be learned by their own server.
  --case budget   4 servers, srv2 leaves, `limits: replication: {rate: 1, burst: 1}`: the first
      moved connection's PTB gets its copy, every later one within the second goes to its newest
      owner only, and ptbsteer_transition_budget_exhausted_total counts exactly those.

Every case: the PTBs go through ptbsteer as unicasts, each once (ptbs == unicast, no drop, no
replica), and the exit report balances. Negative control: `--transition 0` PUTs the group
without transitions and expects the same: the run must FAIL (exit 1).

Run as root with /usr/bin/python3. Exit: 0 pass, 1 check failed, 2 setup error, 77 not root.
"""

import argparse
import collections
import math
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from e2e_deliver import (SteerRun, all_in, api_group, control_api, format_states,  # noqa: E402
                         inject, ptb_frame, scrape_steer, states_now, steer_base)
from e2e_flows import client_label, connect, predict_owner, start_servers  # noqa: E402
from e2e_judge import Timer, learned_mtus, wait_until  # noqa: E402
from e2e_lan import FrameWatch, is_ptb, ptbs_at  # noqa: E402
from e2e_topology import (INJ_MAC, PTB_MTU, SERVICE_PORT, STEER_IN_MAC, VIP,  # noqa: E402
                          Topology, lan_mac, srv_ns)
from e2e_truth import catch_signals, guarded, parse_args as truth_parse_args  # noqa: E402
from e2e_truth import tear_down  # noqa: E402
from lib import config, prom  # noqa: E402
from lib.checks import Checks  # noqa: E402
from lib.procs import Procs, SetupError  # noqa: E402
from lib.runner import BALANCED, report  # noqa: E402

SELF = os.path.abspath(__file__)
GROUP = "site"
# routes: the servers of each version of the router's route, in `nexthop` order; window: the
# group's `transition`; copies: its `transition_copies`; expire: PTBs again after the window;
# budget: limits.replication {rate: 1, burst: 1}.
CASES = {
    "remove": dict(servers=5, routes=[[1, 2, 3, 4, 5], [1, 2, 4, 5]], window=6, copies=2,
                   via="4", expire=True, budget=False),
    "add": dict(servers=5, routes=[[1, 2, 3, 4], [1, 2, 3, 4, 5]], window=6, copies=2,
                via="mac", expire=False, budget=False),
    "chained": dict(servers=5, routes=[[1, 2, 3, 4], [1, 3, 4], [1, 3, 4, 5]], window=8,
                    copies=3, via="mac", expire=False, budget=False),
    "budget": dict(servers=4, routes=[[1, 2, 3, 4], [1, 3, 4]], window=6, copies=2, via="mac",
                   expire=False, budget=True),
}
GAP_MS = 0.2                 # between injected PTBs
MARGIN = 1.5                 # s of the first window left at least when the PTBs go
TRANSITION_COPIES = "ptbsteer_transition_copies_total"
EXHAUSTED = "ptbsteer_transition_budget_exhausted_total"
VERSIONS = "ptbsteer_group_transition_versions"
DELIVERED = "ptbsteer_delivered_packets_total"


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--case", choices=sorted(CASES))
    ap.add_argument("--ptbsteer", help="the ptbsteer binary")
    ap.add_argument("--config-out", help="write the ptbsteer config here (default: work dir)")
    ap.add_argument("--flows", type=int, default=12,
                    help="connections per family in each batch (one batch per version)")
    ap.add_argument("--transition", type=int,
                    help="the `transition:` PUT (default the case's window); 0 is the negative "
                         "control: the expectations stay those of the window, the run must FAIL")
    ap.add_argument("--keep", action="store_true", help="leave the namespaces and work dir")
    ap.add_argument("--cleanup", action="store_true", help="delete left-over ptbe-* namespaces")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every PTB's fate")
    a = ap.parse_args(argv)
    if a.cleanup:
        return a
    if not a.case or not a.ptbsteer:
        ap.error("--case and --ptbsteer are needed")
    if not 2 <= a.flows <= 60:
        ap.error("--flows must be 2..60")
    a.spec = CASES[a.case]
    a.put_transition = a.spec["window"] if a.transition is None else a.transition
    return a


def truth_args(a, workdir):
    """The e2e_truth.py arguments of this topology and ptbsteer run (Topology, SteerRun): one
    client address per connection of every batch."""
    s = a.spec
    argv = ["--family", "both", "--servers", str(s["servers"]),
            "--flows", str(a.flows * len(s["routes"])), "--deliver", "ptbsteer",
            "--ptbsteer", a.ptbsteer, "--via", s["via"], "--settle", "0.3",
            "--config-out", a.config_out or os.path.join(workdir, "ptbsteer.yaml")]
    return truth_parse_args(argv + (["--keep"] if a.keep else []))


def steer_config(a, api_line):
    """The file: the e2e ports, a spare file group (the file needs one; its prefix is none of
    ours), the control API and, for the budget case, a replication budget of one copy a
    second. The group `site` is the API's."""
    spare = config.group("spare", ["198.51.100.64/26"],
                         [config.hop("spare1", mac="02:70:74:62:00:ff")], 0, 1)
    limits = ("limits: {replication: {rate: 1, burst: 1}}\n" if a.spec["budget"] else "")
    return steer_base(via=a.spec["via"]) + "groups:\n" + spare + api_line + limits


class Run:
    """What the phases share: the case, the topology, ptbsteer's API, the watches on the servers'
    LAN links, the route's versions (kernel order per family) and when each change served."""

    def __init__(self, a, topo, procs, api, srv, workdir, c):
        self.a, self.topo, self.procs, self.api = a, topo, procs, api
        self.srv, self.workdir, self.c = srv, workdir, c
        self.copies = a.spec["copies"]
        self.versions = []          # [{family: [servers in the kernel's order]}]
        # Each change (versions[1:]): monotonic time before the router's route changed, and
        # after the PUT answered. Its window starts in between (when the new version serves).
        self.changing, self.changed = [], []
        self.totals = collections.Counter()   # what the phases saw the counters grow by

    def put(self):
        """PUT the group as the router's route is now; a new version."""
        body = api_group(self.topo, self.a.spec["via"], transition=self.a.put_transition,
                         transition_copies=self.copies)
        status, answer, _ = self.api.call("PUT", f"/v1/groups/{GROUP}", body)
        if status != 200:
            raise SetupError(f"PUT /v1/groups/{GROUP} answered {status}: {answer}")
        self.versions.append({fam: list(o) for fam, o in self.topo.route_order.items()})

    def change(self, servers):
        """The router's route becomes `servers`, and the group is PUT the same moment."""
        self.changing.append(time.monotonic())
        self.topo.set_route(servers)
        self.put()
        self.changed.append(time.monotonic())
        v = len(self.versions)
        print(f"change {v - 1}: router and group now {self.names(self.versions[-1][4])} "
              f"(router + PUT took {self.changed[-1] - self.changing[-1]:.3f} s)")
        n = versions_open()
        want = min(len(self.changed), 7) if self.a.put_transition else 0
        self.c.check(n == want, f"{VERSIONS}{{group=\"{GROUP}\"}} is {want} after change "
                     f"{v - 1}: {n}")

    def batch(self, v):
        """Connections made under version v, each with its owner in every version (the real
        one in v; the model's in the others, held to the real owners of this batch)."""
        per = self.a.flows
        flows, client = connect(self.procs, self.topo, self.workdir,
                                range(v * per, (v + 1) * per), f"client{v}")
        bad = []
        for f in flows:
            f.version = v
            model = predict_owner(f, self.topo, self.versions[v][f.fam])
            if model != f.owner:
                bad.append(f"{f}: model srv{model}, router chose srv{f.owner}")
        dist = collections.Counter(f.owner for f in flows)
        self.c.check(not bad, f"batch {v}: {len(flows)} connections made under version {v} "
                     f"(owners {dict(sorted(dist.items()))}); the model of the kernel's hash "
                     "over the route in its order predicts every owner", "\n".join(bad[:10]))
        return flows, client

    @staticmethod
    def names(servers):
        return ",".join(f"srv{k}" for k in servers)

    def owner(self, f, v):
        """f's owner in version v: the real one in the version it was made under, else the
        model's over that version's route."""
        return f.owner if v == f.version else predict_owner(f, self.topo, self.versions[v][f.fam])

    def owners(self, f):
        """f's owner in every version, oldest first, as text."""
        return ",".join(f"srv{self.owner(f, v)}" for v in range(len(self.versions)))

    def targets(self, f, open_versions):
        """Where f's PTB must go with these versions open: its owner in each, newest first,
        each server once, at most `copies` of them (the first is the unicast)."""
        out = []
        for v in sorted(open_versions, reverse=True):
            if self.owner(f, v) not in out:
                out.append(self.owner(f, v))
        return out[:self.copies]


def versions_open():
    """ptbsteer_group_transition_versions of the group now (None without the series)."""
    return prom.sample(scrape_steer(), VERSIONS, group=GROUP)


def flow_json(f):
    """f as POST /v1/decide takes it: the client->server direction the router hashed."""
    d = {"src": f.client, "dst": VIP[f.fam], "proto": "tcp", "sport": f.cport,
         "dport": SERVICE_PORT}
    if f.fam == 6:
        d["flow_label"] = client_label(f)
    return d


def per_hop(samples, mode):
    """{next-hop: frames} of ptbsteer_delivered_packets_total{group=site, mode=mode}."""
    out = {}
    for (name, labels), v in samples.items():
        d = dict(labels)
        if name == DELIVERED and d.get("group") == GROUP and d.get("mode") == mode:
            out[d.get("next_hop")] = v
    return out


def grown(after, before):
    """{key: after - before} of two per_hop() maps, non-zero entries only."""
    return {k: after.get(k, 0) - before.get(k, 0) for k in set(after) | set(before)
            if after.get(k, 0) != before.get(k, 0)}


def check_decide(run, flows, want, name):
    """POST /v1/decide names each flow's newest owner as next_hop and its earlier owners, in
    order, as transition (absent when there are none)."""
    status, answer, _ = run.api.call("POST", "/v1/decide", {"flows": [flow_json(f)
                                                                      for f in flows]})
    decisions = (answer or {}).get("decisions", [])
    bad = []
    for f, d in zip(flows, decisions):
        got = [d.get("next_hop")] + d.get("transition", [])
        if got != [f"srv{k}" for k in want[f.key]] or ("transition" in d and len(got) < 2):
            bad.append(f"{f}: decide says {got}, expected {[f'srv{k}' for k in want[f.key]]}")
    moved = sum(1 for f in flows if len(want[f.key]) > 1)
    run.c.check(status == 200 and len(decisions) == len(flows) and not bad,
                f"{name}: POST /v1/decide gives each of the {len(flows)} flows its newest owner "
                f"and, for the {moved} whose owner moved, the earlier owners",
                f"{status} " + "\n".join(bad[:10]))


def arrivals_since(run, t0):
    """{flow key: {server: PTB frames that reached its LAN link, to its MAC}} since t0."""
    out = collections.defaultdict(collections.Counter)
    for k, w in run.srv.items():
        for _, key in ptbs_at(w, f"srv{k}-lan", lan_mac(k), t0):
            out[key][k] += 1
    return out


def phase(run, name, flows, open_versions):
    """One PTB per flow through ptbsteer, with `open_versions` inside their windows; checks
    decide, the frames that reached each server, the kernels and the counters. Adds what the
    counters grew by to run.totals (for the exit report)."""
    c, copies = run.c, run.copies
    want = {f.key: run.targets(f, open_versions) for f in flows}
    moved = [f for f in flows if len(want[f.key]) > 1]
    budget = run.a.spec["budget"]
    print(f"--- {name}: {len(flows)} PTBs, versions {sorted(open_versions)} open; "
          f"{len(moved)} of the flows have another owner in an earlier open version")
    mtus = learned_mtus(run.topo.n, flows)
    c.check(all(v is None for v in mtus.values()), f"{name}: no server has learned an MTU for "
            "these clients yet")
    check_decide(run, flows, want, name)

    before = scrape_steer()
    frames = [ptb_frame(f, STEER_IN_MAC, INJ_MAC) for f in flows]
    t0 = time.monotonic()
    if run.changing and t0 > run.changing[0] + run.a.spec["window"] - MARGIN and \
            len(open_versions) > 1:
        raise SetupError(f"set-up too slow: {t0 - run.changing[0]:.1f} s after the first change, "
                         f"less than {MARGIN} s of its {run.a.spec['window']} s window left")
    inject(frames, run.workdir, name.replace(" ", "-") + ".pcap", GAP_MS)
    sent = time.monotonic() - t0
    total = len(flows) if budget else sum(len(w) for w in want.values())
    wait_until(lambda: sum(sum(v.values()) for v in arrivals_since(run, t0).values()) >= total,
               3)
    time.sleep(0.3)                      # anything extra or misplaced shows up too
    arrivals = arrivals_since(run, t0)
    after = scrape_steer()

    # Where each PTB went.
    bad, copied, newest_only = [], [], []
    for f in flows:
        got = dict(arrivals.get(f.key, {}))
        w = want[f.key]
        full = {k: 1 for k in w}
        if got == full:
            (copied if len(w) > 1 else newest_only).append(f)
        elif budget and got == {w[0]: 1}:
            newest_only.append(f)
        else:
            bad.append(f"{f} (made under version {f.version}, owners by version "
                       f"{run.owners(f)}): reached {got or 'nobody'}, "
                       f"expected {['srv%d' % k for k in w]}")
        if run.a.verbose:
            print(f"  {f} made under version {f.version}, owners by version {run.owners(f)}: "
                  f"reached {got}")
    exhausted = [f for f in moved if f in newest_only]
    what = (f"the newest owner once and, the {len(moved)} moved ones (owner changed), their "
            "earlier owners once each" if not budget else
            f"the newest owner once, and the {len(moved)} moved ones either their earlier owner "
            "too or the newest owner only")
    c.check(not bad, f"{name}: every PTB reached {what}", "\n".join(bad[:12]))
    most = max((sum(v.values()) for v in arrivals.values()), default=0)
    spread = collections.Counter(sum(arrivals.get(f.key, {}).values()) for f in flows)
    c.check(most <= copies, f"{name}: at most {copies} frames per PTB (frames: PTBs = "
            f"{dict(sorted(spread.items()))})")

    # The kernels: the server holding a connection learns when, and only when, ptbsteer had to
    # send it a frame (under the budget: when it sent the copy), and no other server learns.
    given = copied if budget else moved        # the PTBs whose copies ptbsteer should make
    due = {f.key: want[f.key] if f in given else want[f.key][:1] for f in flows}
    should = [f for f in flows if f.owner in due[f.key]]
    wait_until(lambda: all(learned_mtus(run.topo.n, [f]).get((f.owner, f.fam, f.client))
                           == PTB_MTU for f in should), 3, 0.2)
    mtus = learned_mtus(run.topo.n, flows)
    wrong = []
    for f in flows:
        m = mtus.get((f.owner, f.fam, f.client))
        if (f in should) != (m == PTB_MTU):
            wrong.append(f"{f} (made under version {f.version}, owners by version "
                         f"{run.owners(f)}): srv{f.owner} holds it and shows mtu {m}; a frame "
                         f"{'was' if f in should else 'was not'} due to reach it")
        for k in range(1, run.topo.n + 1):
            if k != f.owner and mtus.get((k, f.fam, f.client)) is not None:
                wrong.append(f"{f}: srv{k}, which does not hold it, learned mtu "
                             f"{mtus[(k, f.fam, f.client)]}")
    learned = [f for f in flows if mtus.get((f.owner, f.fam, f.client)) == PTB_MTU]
    by_batch = ", ".join(
        f"version {v}: {sum(1 for f in learned if f.version == v)}/"
        f"{sum(1 for f in flows if f.version == v)}"
        f" ({sum(1 for f in learned if f.version == v and f.owner != want[f.key][0])} by a copy)"
        for v in sorted({f.version for f in flows}))
    c.check(not wrong, f"{name}: the server holding each connection learned mtu {PTB_MTU} when, "
            f"and only when, a frame was due to reach it ({len(should)}); no other server learned "
            f"anything. Learned, by the version the connection was made under: {by_batch}",
            "\n".join(wrong[:12]))

    # ptbsteer's counters.
    uni = grown(per_hop(after, "unicast"), per_hop(before, "unicast"))
    trans = grown(per_hop(after, "transition"), per_hop(before, "transition"))
    want_uni = dict(collections.Counter(f"srv{want[f.key][0]}" for f in flows))
    want_trans = dict(collections.Counter(f"srv{k}" for f in given for k in want[f.key][1:]))

    def d(metric):
        return (prom.total(after, metric) or 0) - (prom.total(before, metric) or 0)
    ptbs, copies_made, spent = d("ptbsteer_ptbs_total"), d(TRANSITION_COPIES), d(EXHAUSTED)
    others = {m: d(m) for m in ("ptbsteer_replicated_ptbs_total",
                                "ptbsteer_replicated_copies_unresolved_total",
                                "ptbsteer_neighbor_queued_packets_total") if d(m)}
    c.check(ptbs == len(flows) and uni == want_uni and not others,
            f"{name}: ptbsteer took the {len(flows)} PTBs and sent each once as a unicast to "
            f"its newest owner (ptbs +{ptbs:.0f}, {DELIVERED}{{mode=\"unicast\"}} "
            f"+{sum(uni.values()):.0f}; no replica, no copy left unresolved)",
            f"by next-hop {uni}, expected {want_uni}; other counters moved: {others}")
    c.check(copies_made == sum(want_trans.values()) and trans == want_trans,
            f"{name}: {TRANSITION_COPIES} +{copies_made:.0f} and {DELIVERED}"
            f"{{mode=\"transition\"}} by next-hop {dict(sorted(trans.items()))}: one per earlier "
            f"owner of each moved PTB {'that got its copies ' if budget else ''}"
            f"({len(given)} PTBs)", f"expected {want_trans}")
    c.check(spent == len(exhausted), f"{name}: {EXHAUSTED} +{spent:.0f}: the {len(exhausted)} "
            "moved PTBs that went to their newest owner only")
    n_frames = sum(uni.values()) + copies_made
    c.check(n_frames <= copies * len(flows),
            f"{name}: unicasts + transition copies = {n_frames:.0f} <= {copies} x "
            f"{len(flows)} PTBs")
    if budget:
        check_budget(run, name, flows, moved, copied, exhausted, sent)
    run.totals.update(ptbs=ptbs, transition_copies=copies_made, exhausted=spent)


def check_budget(run, name, flows, moved, copied, exhausted, sent):
    """The replication budget {rate: 1, burst: 1} admits the first moved PTB's copy and, while
    the PTBs take under a second, no other: every later one goes to its newest owner only."""
    c = run.c
    most = 1 + math.floor(sent)
    c.check(1 <= len(copied) <= most and exhausted,
            f"{name}: {len(copied)} moved PTB(s) got their copy, {len(exhausted)} went to the "
            f"newest owner only (the PTBs took {sent:.2f} s: at most {most} copies fit)")
    c.check(bool(moved) and bool(copied) and copied[0] is moved[0],
            f"{name}: the first moved PTB sent ({moved[0] if moved else None}) is the one that "
            "got the burst's copy")


def split_late(flows, run):
    """Half of the flows kept back for after the window (moved and unmoved flows alternately,
    so both halves hold some of each); SetupError when a half has no moved flow, or when no
    early flow is held by a server that left the group."""
    last = len(run.versions) - 1
    moved = [f for f in flows if run.owner(f, 0) != run.owner(f, last)]
    still = [f for f in flows if run.owner(f, 0) == run.owner(f, last)]
    early, late = moved[0::2] + still[0::2], moved[1::2] + still[1::2]
    gone = set(run.versions[0][4]) - set(run.versions[last][4])
    if not moved[1::2] or (gone and not any(f.owner in gone for f in early)):
        raise SetupError(f"too few moved connections ({len(moved)}) to test both sides of the "
                         "window; try more --flows")
    return early, late


def check_forgotten(run, late):
    """After the window, the connections made before the change whose owner moved: their PTBs
    reached the new owner only, so no server may have learned (their own server included):
    what the window's copies did is not done by anything else."""
    last = len(run.versions) - 1
    moved = [f for f in late if run.owner(f, 0) != run.owner(f, last)]
    mtus = learned_mtus(run.topo.n, moved)
    learned = [f"{f}: srv{k}" for f in moved for k in range(1, run.topo.n + 1)
               if mtus.get((k, f.fam, f.client)) is not None]
    run.c.check(bool(moved) and not learned,
                f"after the window: for the {len(moved)} connections made before the change "
                "whose owner moved, their own servers learned nothing (no copy reached them)",
                f"learned: {learned}")


def check_report(run, counters):
    """The exit report's PTBs all went out as unicasts, and its transition counters are what
    /metrics grew by in the phases."""
    ptbs = counters.get("ptb_v4", 0) + counters.get("ptb_v6", 0)
    got = (ptbs, counters.get("unicast"), counters.get("replicated"),
           counters.get("transition_copies"), counters.get("transition_budget_exhausted"))
    want = (run.totals["ptbs"], run.totals["ptbs"], 0, run.totals["transition_copies"],
            run.totals["exhausted"])
    run.c.check(got == want, f"exit report: PTBs {got[0]} = unicast {got[1]}, replicated "
                f"{got[2]}, transition_copies {got[3]}, transition_budget_exhausted {got[4]}: "
                "as /metrics counted them", f"expected {want}")


def wait_closed(run):
    """Until ptbsteer_group_transition_versions reads 0 (up to the window + 3 s after the last
    change); checks it closed `window` seconds after the change: no earlier than that after the
    change began (less 0.1 s for ptbsteer's TSC rate), at most 1.5 s later after the PUT
    answered."""
    window = run.a.spec["window"]
    began, served = run.changing[-1], run.changed[-1]
    closed = wait_until(lambda: versions_open() == 0, served + window + 3 - time.monotonic(),
                        0.1)
    now = time.monotonic()
    run.c.check(bool(closed) and now - began >= window - 0.1 and now - served <= window + 1.5,
                f"{VERSIONS}{{group=\"{GROUP}\"}} back to 0 {now - began:.1f} s after the "
                f"change began, {now - served:.1f} s after the PUT answered (transition "
                f"{window} s)")


def main_run(a):
    timer = Timer()
    procs = Procs()
    workdir = tempfile.mkdtemp(prefix="ptbe-")
    targs = truth_args(a, workdir)
    topo = Topology(targs)
    clients = []
    watches = []
    spec = a.spec
    c = Checks(f"e2e_transition {a.case}" + (f" transition {a.put_transition}"
                                             if a.transition is not None else ""))
    catch_signals()
    try:
        topo.create()
        if spec["routes"][0] != list(range(1, topo.n + 1)):
            topo.set_route(spec["routes"][0])
        start_servers(procs, topo.n, time.monotonic() + 15)
        api_line, api = control_api(workdir)
        with open(targs.config_out, "w") as fh:
            fh.write(steer_config(a, api_line))
        steer = SteerRun(targs, procs, workdir)
        if not wait_until(lambda: api.call("GET", "/v1/groups")[0] == 200, 5, 0.1):
            raise SetupError("the control API did not answer in 5 s")
        srv = {k: FrameWatch(srv_ns(k), is_ptb) for k in range(1, topo.n + 1)}
        watches.extend(srv.values())
        run = Run(a, topo, procs, api, srv, workdir, c)
        run.put()
        group = api.call("GET", f"/v1/groups/{GROUP}")[1] or {}
        c.check(group.get("transition") == a.put_transition and
                group.get("transition_copies") == run.copies,
                f"the group serves with transition {a.put_transition} s, transition_copies "
                f"{run.copies}; next-hops {run.names(run.versions[0][4])} as the router lists them",
                f"{group}")
        if spec["via"] != "mac":
            hops = [f"srv{k}" for k in spec["routes"][0]]
            ok = wait_until(lambda: all(all_in(states_now(), "reachable", h) for h in hops), 10,
                            0.1)
            c.check(bool(ok), "every next-hop resolved by ARP (reachable)",
                    format_states(states_now()))
        timer.mark("setup")

        batches = []
        flows, client = run.batch(0)
        clients.append(client)
        batches.append(flows)
        for v, servers in enumerate(spec["routes"][1:], 1):
            run.change(servers)
            if v < len(spec["routes"]) - 1 or not spec["budget"]:
                flows, client = run.batch(v)
                clients.append(client)
                batches.append(flows)
        timer.mark("changes+connections")

        every = list(range(len(run.versions)))
        last = every[-1]
        if spec["expire"]:
            early, late = split_late(batches[0], run)
            phase(run, "in the window", early + sum(batches[1:], []), every)
            timer.mark("window")
            wait_closed(run)
            phase(run, "after the window", late, [last])
            check_forgotten(run, late)
            timer.mark("after")
        else:
            phase(run, "in the window", sum(batches, []), every)
            timer.mark("window")

        note = steer.stop()
        out = steer.output()
        print("  " + next((ln for ln in out.splitlines() if ln.startswith("ptbsteer-counters")),
                          "(no ptbsteer-counters line)"))
        c.check(steer.p.returncode == 0 and BALANCED in out and report(out) is not None,
                f"ptbsteer exited {steer.p.returncode} and its exit report balances", note)
        check_report(run, report(out) or {})
        print(timer.summary())
        print(f"{c.name}: {c.passed} passed, {c.failed} failed")
        return 1 if c.failed else 0
    finally:
        for w in watches:
            w.stop()
        # tear_down closes the first client's stdin; the others end by SIGTERM (procs).
        tear_down(targs, topo, procs, workdir, clients[0] if clients else None, SELF)


def main():
    return guarded(parse_args(sys.argv[1:]), main_run, SELF)


if __name__ == "__main__":
    sys.exit(main())
