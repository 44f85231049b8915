"""Whole-binary benchmark: ptbsteer against dpdk-testpmd --forward-mode=io on the same vdevs
(net_pcap infinite_rx in, net_null out, one forwarding lcore each), alternated, same run.
Prints medians, the ratio and the added cost per packet, and replicate-mode copies/s with
mempool use. Driven by scripts/bench. The capture: bench_capture.py; the two programs and
ptbsteer's configuration: bench_procs.py; --hugepages: bench_hugepages.py.

With forged frames in the capture (--forged, --mix issue23, --compare-forged) every ptbsteer run
is checked against its exit report: every frame received is delivered unicast or dropped, and
exactly the forged ones are dropped, each for its own reason.
"""
import argparse
import dataclasses
import os
import shutil
import signal
import statistics
import sys
import tempfile

from bench_capture import MIXES, Capture, capture, expected_fates
from bench_hugepages import Unavailable, hugepages
from bench_procs import MEMORY_MB, Setup, run_ptbsteer, run_testpmd

COMPARED_FORGED = (0.0, 90.0)  # --compare-forged: the claim, 90 % no slower than 0 %


@dataclasses.dataclass
class Variant:
    """One ptbsteer configuration and capture, run once per round."""
    short: str      # its name in the round lines
    name: str       # in the summary
    pcap: str
    made: Capture
    setup: Setup
    runs: list = dataclasses.field(default_factory=list)
    failures: list = dataclasses.field(default_factory=list)


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ptbsteer", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--quotes", choices=["full", "minimal"], default="full",
                    help="PTB size: routers' full quotes, or header + 8 bytes (most PTBs/s)")
    ap.add_argument("--no-replicate", action="store_true", help="skip the replicate-mode runs")
    ap.add_argument("--mix", choices=sorted(MIXES), default="default",
                    help="the capture: default (60 %% IPv4, a quarter VLAN-tagged, all valid); "
                    "issue23 (60 %% IPv4, a third VLAN-tagged, 25 %% forged, 8 next-hops)")
    ap.add_argument("--forged", type=float, metavar="PERCENT",
                    help="share of forged or invalid frames (default: the mix's, 0 or 25)")
    ap.add_argument("--compare-forged", action="store_true",
                    help=f"rounds of ptbsteer on {COMPARED_FORGED[0]:g} %% and "
                    f"{COMPARED_FORGED[1]:g} %% forged frames (and testpmd)")
    ap.add_argument("--hash", choices=["linux0", "linux1", "crc32c"], default="linux1",
                    help="the group's hash: linux policy 0 or 1 (seed 12345), or crc32c")
    ap.add_argument("--hops", type=int, help="next-hops of the unicast group (default: the mix's, 4 or 8)")
    ap.add_argument("--simd", choices=["auto", "scalar", "avx2", "avx512"],
                    help="ptbsteer's top-level simd: (default: none written, auto)")
    ap.add_argument("--routers", action="store_true",
                    help="two routers, the group one state per router (all PTBs edge1's)")
    ap.add_argument("--hugepages", action="store_true",
                    help="both programs on 2 MB hugepages (reserved and given back) instead of --no-huge")
    a = ap.parse_args()
    if a.forged is not None and a.compare_forged:
        ap.error("--compare-forged sets the forged shares itself: leave out --forged")
    if a.forged is not None and not 0 <= a.forged <= 100:
        ap.error("--forged: a percentage, 0 to 100")
    if a.hops is not None and a.hops < 1 or a.rounds < 1 or a.seconds < 1:
        ap.error("--hops, --rounds and --seconds: at least 1")
    return a


def make_variants(a, tmp, setup):
    mix = MIXES[a.mix]
    if a.forged is not None:
        mix = dataclasses.replace(mix, forged=a.forged)
    variants = []
    if a.compare_forged:
        for share in COMPARED_FORGED:
            pcap = os.path.join(tmp, f"ptbs-{share:g}.pcap")
            made = capture(pcap, dataclasses.replace(mix, forged=share), quotes=a.quotes)
            variants.append(Variant(f"{share:g} % forged", f"ptbsteer unicast, {share:g} % forged",
                                    pcap, made, setup))
        return variants
    pcap = os.path.join(tmp, "ptbs.pcap")
    made = capture(pcap, mix, quotes=a.quotes)
    return [Variant("ptbsteer unicast", "ptbsteer unicast", pcap, made, setup),
            Variant("without checksum verification", "ptbsteer unicast, checksum: false", pcap, made,
                    dataclasses.replace(setup, checksum=False))]


def check(v, run):
    """Against the exit report: every frame received is delivered unicast or dropped, and the
    drops are exactly the capture's forged frames among those received, each for its reason.
    Returns (drops by reason, what is wrong or None)."""
    c = run.counters
    drops = {k[5:]: n for k, n in c.items() if k.startswith("drop.")}
    if "rx" not in c:
        return drops, "no exit report"
    want = expected_fates(v.made.fates, c["rx"], v.setup.checksum)
    wrong = []
    if c["unicast"] != c["rx"] - c["dropped"]:
        wrong.append(f"unicast {c['unicast']} != received {c['rx']} - dropped {c['dropped']}")
    if c["unicast"] != want["unicast"]:
        wrong.append(f"unicast {c['unicast']}, the capture's legitimate PTBs {want['unicast']}")
    want_drops = {k: n for k, n in want.items() if k != "unicast" and n}
    if drops != want_drops:
        wrong.append(f"drops {drops}, the capture's forged frames {want_drops}")
    return drops, "; ".join(wrong) or None


def run_rounds(a, variants, huge_dir):
    tp = []
    forged = any(f != "unicast" for v in variants for f in v.made.fates)
    for r in range(a.rounds):  # alternate: the machine is noisy
        rate, tp_pages = run_testpmd(variants[0].pcap, a.seconds + 2, huge_dir)
        tp.append(rate)
        for v in variants:
            v.runs.append(run_ptbsteer(a.ptbsteer, v.pcap, a.seconds, v.setup))
        print(f"round {r + 1}: testpmd io {tp[-1] / 1e6:.2f} Mpps, " +
              ", ".join(f"{v.short} {v.runs[-1].rx / 1e6:.2f} Mpps" for v in variants), flush=True)
        if huge_dir:
            print(f"  2 MB pages in use: testpmd {tp_pages}, ptbsteer " +
                  ", ".join(str(v.runs[-1].pages) for v in variants), flush=True)
        for v in variants if forged else ():
            drops, wrong = check(v, v.runs[-1])
            c = v.runs[-1].counters
            if wrong:
                v.failures.append(wrong)
            print(f"  {v.short}: received {c.get('rx')}, unicast {c.get('unicast')}, dropped "
                  f"{c.get('dropped')} ({reasons(drops)}): " +
                  (f"WRONG: {wrong}" if wrong else "as the capture says"), flush=True)
    return tp


def reasons(drops):
    return ", ".join(f"{k} {n}" for k, n in sorted(drops.items())) or "none"


def per_packet(mp, mt):
    """'N ns/packet), ratio R, added N ns/packet' of a median rate against testpmd's."""
    ns = 1e9 / mp if mp else 0
    added = ns - 1e9 / mt if mp and mt else 0
    return f"({ns:.0f} ns/packet), ratio {mp / mt if mt else 0:.2f}, added {added:.0f} ns/packet"


def summarise(a, tp, variants):
    mt = statistics.median(tp)
    print(f"quotes {a.quotes}; median testpmd io {mt / 1e6:.2f} Mpps")
    for v in variants:
        mp = statistics.median(r.rx for r in v.runs)
        print(f"median {v.name}: {mp / 1e6:.2f} Mpps {per_packet(mp, mt)}")
    print(f"SIMD paths (ptbsteer's start-up line): {variants[0].runs[-1].simd}")
    if any(f != "unicast" for v in variants for f in v.made.fates):
        summarise_forged(variants)
    if a.routers:
        r = {k: v for k, v in variants[0].runs[-1].counters.items() if k.startswith("edge")}
        print("routers (last run's exit report, PTBs/steered by own state/by shared state): " +
              ", ".join(f"{k} {v}" for k, v in r.items()))
    if a.compare_forged:
        m0, m90 = (statistics.median(r.rx for r in v.runs) for v in variants)
        ratio = m90 / m0 if m0 else 0
        print(f"{COMPARED_FORGED[1]:g} % forged against {COMPARED_FORGED[0]:g} %: {ratio:.2f} x the "
              f"frames/s; at least as many frames/s with {COMPARED_FORGED[1]:g} % forged: "
              f"{'yes' if ratio >= 1 else 'NO'}")


def summarise_forged(variants):
    for v in variants:
        rx = statistics.median(r.rx for r in v.runs)
        delivered = statistics.median(r.unicast for r in v.runs)
        drops = {}
        for run in v.runs:
            for k, n in check(v, run)[0].items():
                drops[k] = drops.get(k, 0) + n
        verdict = (f"NO, in {len(v.failures)} of {len(v.runs)} runs" if v.failures
                   else f"yes, in all {len(v.runs)} runs")
        print(f"{v.name}: received {rx / 1e6:.2f} M frames/s, delivered unicast "
              f"{delivered / 1e6:.2f} M/s (/metrics, medians)\n"
              f"  every legitimate PTB taken delivered (exit report: unicast == received - dropped, "
              f"drops only the forged frames' reasons): {verdict}\n"
              f"  drop reasons seen (all runs): {reasons(drops)}"
              + ("" if v.setup.checksum else " (checksum: false delivers the bad checksums)"))


def replicate(a, v):
    for hops in () if a.no_replicate else (4, 16):
        run = run_ptbsteer(a.ptbsteer, v.pcap, a.seconds,
                           dataclasses.replace(v.setup, hops=hops, mode="replicate"))
        print(f"replicate to {hops}: {run.rx / 1e6:.2f} Mpps PTBs in, {run.copies / 1e6:.2f} M copies/s out; "
              f"mempool in use: " + ", ".join(f'pool="{k}" {n:.0f}' for k, n in sorted(run.pools.items())))


def bench(a, huge_dir):
    """Runs everything; False when a run's exit report disagreed with its capture."""
    mix = MIXES[a.mix]
    setup = Setup(hash=a.hash, hops=a.hops or mix.hops, simd=a.simd, routers=a.routers,
                  huge_dir=huge_dir)
    with tempfile.TemporaryDirectory(prefix="ptbsteer-bench-") as tmp:
        variants = make_variants(a, tmp, setup)
        captures = variants if a.compare_forged else variants[:1]  # else one, shared
        print(f"capture ({a.mix} mix, quotes {a.quotes}): " +
              "; ".join(f"{v.short}: {v.made.describe()}" for v in captures) +
              f"\nptbsteer: hash {a.hash}, {setup.hops} next-hops, simd {a.simd or '(none: auto)'}, "
              f"{'two routers, a state each' if a.routers else 'no routers'}, "
              f"{'2 MB hugepages' if huge_dir else '--no-huge'}", flush=True)
        tp = run_rounds(a, variants, huge_dir)
        summarise(a, tp, variants)
        replicate(a, variants[0])
    failed = [v for v in variants if v.failures]
    for v in failed:
        print(f"{v.name}: exit report against the capture WRONG in {len(v.failures)} runs",
              file=sys.stderr)
    return not failed


def remove_eal_dirs():
    """The EAL leaves its runtime dir (/var/run/dpdk/PREFIX) behind; ours end in our pid."""
    for name in ("bench-tp", "bench-ps"):
        shutil.rmtree(f"/var/run/dpdk/{name}-{os.getpid()}", ignore_errors=True)


def main():
    a = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so every `finally` runs
    try:
        if not a.hugepages:
            ok = bench(a, None)
        else:
            with hugepages(MEMORY_MB) as mount:
                ok = bench(a, mount)
    except Unavailable as e:
        print(f"--hugepages: {e}", file=sys.stderr)
        sys.exit(1)
    finally:
        remove_eal_dirs()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
