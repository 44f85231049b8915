"""What the servers' kernels learned (route exceptions with an MTU, ICMP counters) and the
verdict per flow; the run's timings."""
import re
import time

from e2e_topology import PTB_MTU, VIP, srv_ns
from lib.netns import nsexec
from lib.procs import SetupError, run


def learned_mtus(n, flows):
    """{(server, family, client): mtu or None} from `ip route get CLIENT from VIP`."""
    clients = sorted({(f.fam, f.client) for f in flows})
    result = {}
    for k in range(1, n + 1):
        lines = [f"route get {c} from {VIP[fam]}" for fam, c in clients]
        out = run(nsexec(srv_ns(k), "ip", "-batch", "-"), inp="\n".join(lines) + "\n",
                  timeout=30).stdout
        entries, cur = [], None
        for ln in out.splitlines():
            if ln and not ln[0].isspace():
                cur = [ln]
                entries.append(cur)
            elif cur is not None:
                cur.append(ln)
        if len(entries) != len(clients):
            raise SetupError(f"srv{k}: {len(entries)} route entries for {len(clients)} look-ups")
        for (fam, c), e in zip(clients, entries):
            text = " ".join(e)
            if not text.startswith(c + " "):
                raise SetupError(f"srv{k}: unexpected route get output {text!r} for {c}")
            m = re.search(r"\bmtu (\d+)", text)
            result[(k, fam, c)] = int(m.group(1)) if m else None
    return result


def wait_learned(n, flows, expect_all, timeout):
    """Poll until every owner learned (or the timeout): the kernel acts asynchronously."""
    deadline = time.monotonic() + timeout
    while True:
        mtus = learned_mtus(n, flows)
        if not expect_all:
            return mtus
        if all(mtus.get((f.owner, f.fam, f.client)) == PTB_MTU for f in flows):
            return mtus
        if time.monotonic() > deadline:
            return mtus
        time.sleep(0.2)


def wait_until(cond, timeout, every=0.05):
    """Polls cond() until true or timeout: its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(every)


def icmp_counters(ns):
    text = run(nsexec(ns, "cat", "/proc/net/snmp", "/proc/net/netstat", "/proc/net/snmp6")).stdout
    vals = {}
    lines = text.splitlines()
    for i in range(len(lines) - 1):
        h, v = lines[i].split(), lines[i + 1].split()
        if h and v and h[0] == v[0] and h[0].endswith(":") and not h[1].isdigit():
            for name, val in zip(h[1:], v[1:]):
                vals[h[0][:-1] + "." + name] = int(val)
    for ln in lines:
        p = ln.split()
        if len(p) == 2 and p[1].isdigit() and p[0].startswith("Icmp6"):
            vals[p[0]] = int(p[1])
    keep = ("Icmp.InDestUnreachs", "Icmp6InPktTooBigs", "TcpExt.OutOfWindowIcmps",
            "Icmp.InErrors", "Icmp6InErrors")
    return {k: vals.get(k, 0) for k in keep}


class Timer:
    def __init__(self):
        self.t0 = time.monotonic()
        self.last = self.t0
        self.marks = []

    def mark(self, name):
        now = time.monotonic()
        self.marks.append((name, now - self.last))
        self.last = now

    def summary(self):
        parts = ", ".join(f"{n} {t:.1f}s" for n, t in self.marks)
        return f"timings: {parts}; total {time.monotonic() - self.t0:.1f}s"


def judge(args, topo, flows, arrivals, mtus):
    """Per family: every check per flow. Returns (report lines, number of failed flows)."""
    lines, failed = [], 0
    label = args.deliver + (f", seq offset {args.seq_offset}" if args.seq_offset else "")
    for fam in topo.families:
        ff = [f for f in flows if f.fam == fam]
        bad = []
        for f in ff:
            errs = []
            got = arrivals.get(f.key, {})
            for k in range(1, topo.n + 1):
                want = 1 if (args.mode == "replicate" or k == f.owner) else 0
                if got.get(k, 0) != want:
                    errs.append(f"srv{k} received {got.get(k, 0)} PTB(s), expected {want}")
                m = mtus.get((k, fam, f.client))
                if k == f.owner and m != PTB_MTU:
                    errs.append(f"owner srv{k} shows mtu {m}")
                if k != f.owner and m is not None:
                    errs.append(f"non-owner srv{k} learned mtu {m}")
            if errs:
                bad.append(f"  {f} owner srv{f.owner}: " + "; ".join(errs))
            elif args.verbose:
                went = ",".join(f"srv{k}" for k in range(1, topo.n + 1) if got.get(k, 0))
                lines.append(f"  ok {f}: router sent it to srv{f.owner}; PTB arrived at {went}; "
                             f"srv{f.owner} learned mtu {PTB_MTU}")
        failed += len(bad)
        where = "owner only" if args.mode == "unicast" else f"all {topo.n} servers"
        dist = " ".join(f"srv{k}={sum(1 for f in ff if f.owner == k)}"
                        for k in range(1, topo.n + 1))
        verdict = "PASS" if not bad and ff else "FAIL"
        lines.append(f"{verdict} IPv{fam} policy {topo.policy} ({label}, {args.mode}): "
                     f"{len(ff) - len(bad)}/{len(ff)} flows: PTB reached {where}, owner learned "
                     f"mtu {PTB_MTU}, no other server learned  [owners: {dist}]")
        lines += bad[:20]
        if len(bad) > 20:
            lines.append(f"  ... and {len(bad) - 20} more")
    return lines, failed
