#!/usr/bin/python3
"""Hot reload under traffic: the real ptbsteer on net_pcap vdevs, its input a capture streamed
through a named pipe (a bounded stream, paced by this script, so that every frame is sent
exactly once and the reloads happen while it flows), reloaded 50 times in turn with config B,
an invalid or restart-requiring config, and config A, by SIGHUP and POST /reload alternately.

A and B steer the same PTBs differently (other hash seed and policy, other weights, other
next-hops) and their next-hop MAC sets are disjoint, so every output frame says which config
decided it. Checked:
  - every output frame went to the owner of its flow under the config its MAC belongs to
    (independent Python model of the Linux hash, tests/kernel), and replicated PTBs to every
    next-hop of that config's group: nothing lost, nothing duplicated, nothing misdelivered;
  - the output switches between A and B at most once per successful reload (in TX order: no
    frame decided with an old generation after a newer one's);
  - received == delivered + dropped (and nothing dropped, nothing the NIC refused);
  - the reload outcomes (success / failure / restart_required) and the generation, in the HTTP
    answers, /metrics and the exit report, match what was asked;
  - the packet and header mempools' in-use counts are back to their baseline at the end.

Usage: reload_pcap.py --ptbsteer BIN [--lcores 1|2] [--reloads 50]
"""
import argparse
import collections
import os
import re
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lib import config, pcapfile  # noqa: E402
from lib.checks import verdict  # noqa: E402
from lib.frames import ptb, quote  # noqa: E402
from lib.linux_hash import Flow, py_model_hash, py_select  # noqa: E402
from lib.prom import RELOAD_HTTP, reload_counts, sample, wait_received  # noqa: E402
from lib.runner import BALANCED, Ptbsteer, remove_eal_dirs, report  # noqa: E402

from scapy.all import TCP, UDP  # noqa: E402

WEB4, WEB6, REP4 = "198.51.100.0/25", "2001:db8:100::/48", "198.51.100.128/25"
# name, MAC, weight. The MAC's fifth byte says the config: 0a/0c = A, 0b/0d = B.
A = dict(seed=1111, policy=1, fields=0x37,
         web=[(f"a{i}", f"02:00:00:00:0a:0{i}", w) for i, w in enumerate([1, 1, 1, 1], 1)],
         rep=[(f"ra{i}", f"02:00:00:00:0c:0{i}", 1) for i in range(1, 4)],
         limits="{per_source: off, global: off, replication: off}")
B = dict(seed=2222, policy=3, fields=0x37,
         web=[(f"b{i}", f"02:00:00:00:0b:0{i}", w) for i, w in enumerate([3, 1, 2], 1)],
         rep=[(f"rb{i}", f"02:00:00:00:0d:0{i}", 1) for i in range(1, 3)],
         # On, but far above this test's rate: the limiters are rebuilt by the reload, never hit.
         limits="{per_source: {rate: 100000000, burst: 100000000}, "
                "global: {rate: 100000000, burst: 100000000}, "
                "replication: {rate: 100000000, burst: 100000000}}")


def config_text(tmp, lcores, c, variant=None):
    # transition: 0. What is checked here is that each PTB is decided by exactly one
    # configuration; with transitions on, the flows A and B own differently would also get a
    # copy for their owner in the other (tests/e2e/e2e_transition.py tests that).
    text = (config.eal(config.prefix("reload"), config.cores(lcores), memory=1024)
            + config.pcap_ports(tmp, rx="in.fifo") + config.lcores(lcores)
            + "addresses:\n  - {port: in, ipv4: 203.0.113.2/24}\n"
            + f"limits: {c['limits']}\n"
            + "groups:\n"
            + config.group("web", [WEB4, WEB6], config.hops(c["web"]), c["policy"], c["seed"],
                           c["fields"], transition=0)
            + config.group("rep", [REP4], config.hops(c["rep"]), 1, 7, mode="replicate",
                           transition=0)
            + config.metrics())
    return config.spoil(text, variant)


def owner_mac(c, flow):
    weights = [w for _, _, w in c["web"]]
    return c["web"][py_select(weights, py_model_hash(c["seed"], c["policy"], c["fields"], flow))][1]


def make_frames(count):
    """Unique PTBs (short quotes: small frames), each with its expected outcome under A and B."""
    frames = []  # (bytes, kind, expectation) kind: "web" -> {A: mac, B: mac}; "rep"
    for i in range(count):
        fam = 4 if i % 3 else 6
        proto = 6 if i % 2 else 17
        sport, dport = (443 if i % 4 < 2 else 80), 1024 + i
        l4 = TCP(sport=sport, dport=dport) if proto == 6 else UDP(sport=sport, dport=dport)
        if fam == 4 and i % 5 == 0:
            server, client, kind = f"198.51.100.{129 + i % 120}", f"192.0.2.{1 + i % 250}", "rep"
        elif fam == 4:
            server, client, kind = f"198.51.100.{1 + i % 120}", f"192.0.2.{1 + i % 250}", "web"
        else:
            server, client, kind = f"2001:db8:100::{i:x}", f"2001:db8:2::{i:x}", "web"
        f = ptb(server, quote(server, client, l4, 1452 if fam == 4 else 1432, b"d", 96))
        flow = Flow(fam, client, server, proto, dport, sport)  # client -> server
        exp = {"A": owner_mac(A, flow), "B": owner_mac(B, flow)} if kind == "web" else None
        frames.append((bytes(f), kind, exp))
    return frames


def read_pcap(path):
    """[(dst_mac, ip_bytes)] in file order; plain struct parsing (scapy is too slow here)."""
    return [(fr[0:6].hex(":"), fr[pcapfile.l3_offset(fr):]) for _, fr in pcapfile.read(path)]


class Feeder(threading.Thread):
    """Writes the pcap stream into the FIFO: the header at once (net_pcap reads it while the EAL
    probes the port), then the frames, round after round, paced, until told to stop."""

    def __init__(self, fifo, frames, rate):
        super().__init__(daemon=True)
        self.fifo, self.frames, self.rate = fifo, frames, rate
        self.go, self.stop = threading.Event(), threading.Event()
        self.sent = collections.Counter()  # frame index -> times written
        self.error = None

    def run(self):
        try:
            with open(self.fifo, "wb") as f:
                f.write(pcapfile.HEADER)
                f.flush()
                self.go.wait()
                chunk, i, t0, n = 32, 0, time.monotonic(), 0
                while not self.stop.is_set():
                    buf = bytearray()
                    for _ in range(chunk):
                        fr = self.frames[i][0]
                        buf += pcapfile.record(fr)
                        self.sent[i] += 1
                        i = (i + 1) % len(self.frames)
                    f.write(buf)
                    f.flush()
                    n += chunk
                    ahead = n / self.rate - (time.monotonic() - t0)
                    if ahead > 0:
                        time.sleep(ahead)
        except Exception as e:  # reported by the main thread
            self.error = e


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ptbsteer", required=True)
    ap.add_argument("--lcores", type=int, default=1)
    ap.add_argument("--reloads", type=int, default=50)
    ap.add_argument("--frames", type=int, default=1500)
    ap.add_argument("--rate", type=float, default=8000, help="frames per second into the pipe")
    a = ap.parse_args()
    started = time.monotonic()
    frames = make_frames(a.frames)
    failures = []
    with tempfile.TemporaryDirectory(prefix="ptbsteer-reload-") as tmp:
        cfg_path = os.path.join(tmp, "ptbsteer.yaml")
        pcapfile.write(os.path.join(tmp, "empty.pcap"))
        os.mkfifo(os.path.join(tmp, "in.fifo"))

        def install(c, variant=None):
            config.write(cfg_path, config_text(tmp, a.lcores, c, variant))

        install(A)
        feeder = Feeder(os.path.join(tmp, "in.fifo"), frames, a.rate)
        feeder.start()
        p = None
        try:
            p = Ptbsteer(a.ptbsteer, cfg_path, timeout=60, follow=True)
            s0 = p.scrape()
            baseline = {pool: sample(s0, "ptbsteer_mempool_in_use", pool=pool)
                        for pool in ("packets", "headers")}
            if p.get("/reload")[0] != 405:
                failures.append("GET /reload is not refused with 405")

            feeder.go.set()
            expected = collections.Counter()
            successes = 0
            generation = 1
            reload_times = []
            for i in range(a.reloads):
                kind = ("B", "invalid", "A")[i % 3]
                variant = config.INVALID[(i // 3) % 3] if kind == "invalid" else None
                install(B if kind == "B" else A, variant)
                want = "success" if kind != "invalid" else \
                    ("restart_required" if variant == "restart" else "failure")
                expected[want] += 1
                t0 = time.monotonic()
                status, body = p.reload("SIGHUP" if i % 2 == 0 else "POST")
                what = f"reload {i + 1}"
                if status is not None and status != RELOAD_HTTP[want]:
                    failures.append(f"{what} ({kind} {variant}): HTTP {status}, "
                                    f"want {RELOAD_HTTP[want]}: {body}")
                if status and want == "success" and \
                        f"generation {generation + 1} serves" not in body:
                    failures.append(f"{what}: answer does not name generation "
                                    f"{generation + 1}: {body}")
                if status and want == "failure" and \
                        not re.search(r"ptbsteer\.yaml:\d+:\d+: ", body):
                    failures.append(f"{what}: errors without file:line:col: {body}")
                if status and want == "restart_required" and \
                        "metrics.listen changed" not in body:
                    failures.append(f"{what}: restart_required does not say what changed: {body}")
                reload_times.append(time.monotonic() - t0)
                if want == "success":
                    successes += 1
                    generation += 1
                got_gen = sample(p.scrape(), "ptbsteer_config_generation")
                if got_gen != generation:
                    failures.append(f"after {what}: generation {got_gen}, want {generation}")
                time.sleep(0.02)  # let some traffic through under this generation

            feeder.stop.set()
            feeder.join(timeout=10)
            if feeder.error:
                raise RuntimeError(f"feeder: {feeder.error}")
            wait_received(p.url, sum(feeder.sent.values()))
            time.sleep(0.3)  # TX buffers drain within 100 us
            s = p.scrape()
            counts = reload_counts(s)
            if counts != dict(expected):
                failures.append(f"/metrics reload counts {counts}, want {dict(expected)}")
            for pool, base in baseline.items():
                now = sample(s, "ptbsteer_mempool_in_use", pool=pool)
                if now != base:
                    failures.append(f"mempool {pool}: {now} mbufs in use after the run, "
                                    f"{base} before")
            rc, out = p.stop(timeout=30)
        finally:
            feeder.stop.set()
            if p:
                p.kill()
            remove_eal_dirs()
        outputs = read_pcap(os.path.join(tmp, "out.pcap"))

    # Every output frame, by the input it carries and the config its MAC names.
    by_ip = {f[14:]: i for i, (f, _, _) in enumerate(frames)}
    mac_config = {m: "A" for _, m, _ in A["web"] + A["rep"]}
    mac_config.update({m: "B" for _, m, _ in B["web"] + B["rep"]})
    got = collections.defaultdict(collections.Counter)  # frame index -> (config, mac) -> n
    runs, last, bad = 0, None, 0
    for mac, ip in outputs:
        i = by_ip.get(ip)
        c = mac_config.get(mac)
        if i is None or c is None:
            bad += 1
            continue
        got[i][(c, mac)] += 1
        if c != last:
            runs, last = runs + 1, c
    if bad:
        failures.append(f"{bad} output frames match no input or carry a MAC of neither config")
    # A PTB may be missing only if it was counted as dropped because the RX -> TX ring was full
    # (2 lcores on a busy 2-core machine: the TX lcore can be descheduled): checked below.
    c = report(out) or {}
    ring_full = c.get("drop.ring_full", 0)
    wrong = 0
    missing = collections.Counter()  # kind -> PTBs not delivered
    for i, (f, kind, exp) in enumerate(frames):
        n = feeder.sent[i]
        g = got.pop(i, collections.Counter())
        if kind == "web":
            ptbs = sum(g.values())
            ok = all(mac == exp[c] for c, mac in g)
        else:
            ptbs = 0
            ok = True
            for conf_name, conf in (("A", A), ("B", B)):
                per = [g[(conf_name, mac)] for _, mac, _ in conf["rep"]]
                ok &= len(set(per)) == 1  # every next-hop of the group got each PTB
                ptbs += per[0]
        ok &= ptbs <= n
        missing[kind] += max(n - ptbs, 0)
        if not ok:
            wrong += 1
            if wrong <= 5:
                failures.append(f"frame {i} ({kind}) sent {n}x: got {dict(g)}, "
                                f"expected {exp or 'all of a group'}")
    if wrong:
        failures.append(f"{wrong} of {len(frames)} distinct PTBs duplicated or misdelivered")
    if sum(missing.values()) != ring_full:
        failures.append(f"{sum(missing.values())} PTBs never came out, but {ring_full} were "
                        "dropped (ring_full)")
    # In TX order, A and B alternate at most once per successful reload.
    if runs > successes + 1:
        failures.append(f"the output switches config {runs - 1} times, more than the "
                        f"{successes} reloads")
    if runs < min(successes, 10):
        failures.append(f"only {runs} runs of A/B output: the reloads did not happen under traffic")

    total = sum(feeder.sent.values())
    n_rep = sum(feeder.sent[i] for i, fr in enumerate(frames) if fr[1] == "rep")
    copies = sum(1 for mac, _ in outputs if mac[12:14] in ("0c", "0d"))
    for k, v in {"rx": total, "unicast": total - n_rep - missing["web"],
                 "replicated": n_rep - missing["rep"],
                 "dropped": ring_full, "tx_failed": 0, "copies": copies}.items():
        if c.get(k, -1) != v:
            failures.append(f"exit counter {k} = {c.get(k)}, expected {v}")
    if BALANCED not in out:
        failures.append("ptbsteer reports unbalanced counters")
    r = report(out, "ptbsteer-reloads") or {}
    want_r = {"generation": 1 + successes, **expected}
    if any(r.get(k) != v for k, v in want_r.items()):
        failures.append(f"exit report reloads {r}, want {want_r}")
    if rc != 0:
        failures.append(f"ptbsteer exited with {rc}")

    rt = sorted(reload_times)
    return verdict(failures,
                   f"reload under traffic ({a.lcores} lcore{'s' if a.lcores > 1 else ''}): "
                   f"{a.reloads} reloads ({dict(expected)}), reload latency median "
                   f"{rt[len(rt) // 2] * 1000:.0f} ms, max {rt[-1] * 1000:.0f} ms; {total} PTBs "
                   f"in ({len(frames)} distinct), {len(outputs)} frames out in {runs} A/B runs, "
                   f"{ring_full} dropped as ring_full; {time.monotonic() - started:.1f} s: "
                   f"{'all as expected' if not failures else f'{len(failures)} failures'}",
                   out[-4000:], limit=12)


if __name__ == "__main__":
    sys.exit(main())
