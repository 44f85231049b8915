#!/usr/bin/python3
"""Soak: the real ptbsteer for a bounded time (default 10 minutes; the meson test `soak-30s` runs
30 s) on net_pcap `infinite_rx=1` in (a scapy-made capture, replayed in a loop as fast as the
lcore takes it) and net_null out, reloaded every few seconds while /metrics is scraped
continuously. What a short test cannot see shows up here: a slow leak of mbufs or memory per
reload or per scrape, a counter that goes backwards when per-lcore counters are summed across
generations, a scrape that fails while a reload swaps tables, an exit that is not clean.

The capture holds valid PTBs (unicast and replicate groups, IPv4 and IPv6, some VLAN-tagged),
ARP and Neighbor Solicitations for our addresses, and malformed or forged frames that are dropped
under many reasons. Two valid configurations take turns: A (no limits) and B (other hash seed
and weights, other next-hop names and MACs, rate limits that the traffic exceeds), applied by
SIGHUP and POST /reload alternately; every third reload is an invalid file (a syntax error, a
port that does not exist, or a restart-only change, in turn) that must be refused. Checked:
  - each reload's outcome (HTTP answer, ptbsteer_config_reloads_total, the generation) is the
    expected one, and afterwards only the next-hops of the configuration that should serve (the
    new one, or the old one after a refusal) receive PTBs, while traffic keeps flowing;
  - every scrape of /metrics (every 150 ms) and /healthz succeeds and parses, and no counter
    (counter, histogram and summary series) ever decreases or disappears between two scrapes;
  - RSS is flat: after the warm-up (20 % of the run, at least 5 s and two successful reloads),
    the peak VmRSS exceeds the VmRSS at the end of the warm-up by less than --rss-bound-mib
    (default 16 MiB; docs/testing.md, "Soak", says why);
  - the DPDK heap (rte_malloc bytes and blocks, from the telemetry socket) is the same every time
    the same configuration serves, sampled at rest before each reload;
  - the packet and header pools' in-use counts come back to their baseline: the lowest value over
    the last 10 % of the run is at most one RX burst above the lowest during the warm-up
    (traffic never stops under infinite_rx, so an instantaneous value carries the frames in
    flight; the minimum over many scrapes does not), and no RX mbuf allocation ever failed;
  - after SIGINT: exit code 0, and the exit report balances: rx == unicast + replicated +
    answered + every drop, the per-next-hop frames add up to unicast + copies, every copy of a
    replicated PTB went to every next-hop of its group, nothing was refused by the NIC; and the
    counts by reason match the capture: infinite_rx replays it in order, so after rx frames each
    kind of frame was seen between n * (rx // N) and n * (rx // N + 1) times, for each reason
    that does not depend on rates (the rate-limited and ring_full drops are counted with the
    PTBs they were taken from).

No assertion on throughput (a shared 2-core machine): the rate is printed, not judged.
Exit 0 pass, 1 fail, 77 skip (scapy or the binary missing).

Usage: soak.py --ptbsteer BIN [--seconds 600] [--lcores 1|2] [--reload-every 3]
"""
import argparse
import collections
import os
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lib.checks import SKIP  # noqa: E402
try:
    import scapy.all  # noqa: F401  (python3-scapy)
except ImportError as e:
    print(f"skipped: {e} (apt-get install python3-scapy; run with /usr/bin/python3)")
    sys.exit(SKIP)
from lib import config, pcapfile, prom  # noqa: E402
from lib.config import INVALID  # noqa: E402
from lib.prom import RELOAD_HTTP as WANT_HTTP, reload_counts, sample, total  # noqa: E402
from lib.runner import Ptbsteer, remove_eal_dirs  # noqa: E402
from soak_checks import check_memory, check_report, print_figures  # noqa: E402
from soak_traffic import A, B, config_text, make_capture  # noqa: E402
from soak_watch import Scraper, Telemetry, delivered  # noqa: E402


class Run:
    """What one soak run collected."""

    def __init__(self):
        self.started = self.duration = 0.0
        self.out_lines = []
        self.returncode = None
        self.scraper = None
        self.asked = collections.Counter()   # expected outcome -> reloads
        self.how = collections.Counter()     # SIGHUP | POST -> reloads
        self.reload_ms = []
        self.successes_at = []               # when each successful reload had completed
        self.heap = []                       # (t, config name, alloc bytes, alloc blocks) at rest
        self.telemetry_error = None


def soak(a, tmp, prefix, failures):
    """Runs ptbsteer for a.seconds, reloading and scraping; appends to failures what it sees
    during the run. Always stops the process and removes the EAL runtime dir."""
    run = Run()
    cfg_path = os.path.join(tmp, "ptbsteer.yaml")

    def install(c, variant=None):
        config.write(cfg_path, config_text(tmp, prefix, a.lcores, c, variant))

    install(A)
    p = None
    telemetry = None
    try:
        p = Ptbsteer(a.ptbsteer, cfg_path, timeout=60, follow=True)
        run.out_lines = p.lines
        run.started = time.monotonic()
        run.scraper = Scraper(p.url, p.pid, a.scrape_every)
        run.scraper.start()
        try:
            telemetry = Telemetry(prefix)
        except (OSError, ValueError, KeyError) as e:
            run.telemetry_error = f"{type(e).__name__}: {e}"

        def scrape():
            return prom.scrape(p.url, timeout=10)

        def heap_sample(name):
            if telemetry:
                run.heap.append((time.monotonic(), name) + telemetry.heap())

        serving, generation = A, 1
        i = 0
        next_reload = run.started + a.reload_every
        end = run.started + a.seconds
        while next_reload <= end - 1.0:  # the last second is traffic alone
            time.sleep(max(0.0, next_reload - time.monotonic()))
            next_reload += a.reload_every
            heap_sample(serving["name"])  # at rest: the previous reload freed its old tables
            variant = INVALID[(i // 3) % 3] if i % 3 == 2 else None
            target = serving if variant else (B if serving is A else A)
            want = "success" if not variant else \
                ("restart_required" if variant == "restart" else "failure")
            via = "SIGHUP" if i % 2 == 0 else "POST"
            i += 1
            what = f"reload {i} ({via}, {variant or 'to ' + target['name']})"
            install(target, variant)
            before = reload_counts(scrape())
            t0 = time.monotonic()
            status, body = p.reload(via)
            if status is not None and status != WANT_HTTP[want]:
                failures.append(f"{what}: HTTP {status}, want {WANT_HTTP[want]}: "
                                f"{body.strip()[:300]}")
            run.reload_ms.append((time.monotonic() - t0) * 1000)
            after = reload_counts(scrape())
            run.asked[want] += 1
            run.how[via] += 1
            if after != {r: before[r] + (r == want) for r in WANT_HTTP}:
                failures.append(f"{what}: reload counters {before} -> {after}, "
                                f"want one more {want}")
            if want == "success":
                serving, generation = target, generation + 1
                run.successes_at.append(time.monotonic())
            # Who serves now: only its next-hops may receive PTBs (once the frames decided
            # before the switch have left: TX buffers drain within 100 us), and traffic flows.
            time.sleep(0.1)
            s1 = scrape()
            time.sleep(0.4)
            s2 = scrape()
            if sample(s2, "ptbsteer_config_generation") != generation:
                failures.append(f"after {what}: generation "
                                f"{sample(s2, 'ptbsteer_config_generation')}, "
                                f"want {generation}")
            grew = {n for n, v in delivered(s2).items() if v > delivered(s1).get(n, 0)}
            names = {n for n, _, _ in serving["web"] + serving["rep"]}
            if not grew or not grew <= names:
                failures.append(f"after {what}: next-hops {sorted(grew)} received PTBs, "
                                f"want some of {serving['name']}'s {sorted(names)}")
            rx = "ptbsteer_received_packets_total"
            if total(s2, rx) <= total(s1, rx):
                failures.append(f"after {what}: no frame received in 0.4 s")
        time.sleep(max(0.0, end - time.monotonic()))
        heap_sample(serving["name"])
        run.scraper.stop.set()
        run.scraper.join(timeout=15)
        run.final = scrape()
        if reload_counts(run.final) != {r: run.asked[r] for r in WANT_HTTP}:
            failures.append(f"/metrics reload counts {reload_counts(run.final)}, "
                            f"asked {dict(run.asked)}")
        run.duration = time.monotonic() - run.started
        if telemetry:
            telemetry.close()
            telemetry = None
        # SIGINT (Ctrl-C): the other tests stop ptbsteer with SIGTERM; both must exit cleanly.
        p.stop(signal.SIGINT, timeout=30)
    except Exception as e:  # noqa: BLE001 (reported; the figures so far are still printed)
        failures.append(f"run aborted: {type(e).__name__}: {e}")
        run.duration = time.monotonic() - run.started if run.started else 0.0
    finally:
        if run.scraper:
            run.scraper.stop.set()
        if telemetry:
            telemetry.close()
        if p:
            p.kill()
            run.returncode = p.proc.returncode
        remove_eal_dirs()
    return run

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ptbsteer", required=True)
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--lcores", type=int, choices=(1, 2), default=1)
    ap.add_argument("--reload-every", type=float, default=3.0, help="seconds between reloads")
    ap.add_argument("--scrape-every", type=float, default=0.15, help="seconds between scrapes")
    ap.add_argument("--rss-bound-mib", type=float, default=16.0,
                    help="largest allowed RSS growth after the warm-up (docs/testing.md, Soak)")
    a = ap.parse_args()
    if not os.access(a.ptbsteer, os.X_OK):
        print(f"skipped: {a.ptbsteer} is not an executable (build it first)")
        return SKIP
    if a.seconds < 10:
        ap.error("--seconds: at least 10 (a warm-up of 5 s and samples after it)")

    capture = make_capture()
    failures = []
    with tempfile.TemporaryDirectory(prefix="ptbsteer-soak-") as tmp:
        pcapfile.write(os.path.join(tmp, "in.pcap"), [f for f, _, _ in capture])
        run = soak(a, tmp, f"ptbsteer-soak-{os.getpid()}", failures)
    out = "".join(run.out_lines)
    if run.scraper:
        failures += [f"{t - run.started:.1f} s: {w}" for t, w in run.scraper.failures[:10]]
        if len(run.scraper.failures) > 10:
            failures.append(f"... {len(run.scraper.failures)} scrape failures in all")
    if run.returncode != 0:
        failures.append(f"ptbsteer exited with {run.returncode}")
    if "did not pass a quiescent state" in out:
        failures.append("a reload could not free the old generation (grace period timed out)")
    c = check_report(out, capture, run, failures) if run.started else {}
    fig = check_memory(a, run, failures) if run.scraper else {}
    print_figures(a, capture, run, c, fig, failures)
    if failures:
        print("---- ptbsteer's output (end) ----")
        print(out[-3000:])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
