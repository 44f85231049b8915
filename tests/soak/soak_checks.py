"""The soak's verdicts once ptbsteer has exited: the exit report against the run and the
capture, memory (RSS, DPDK heap, mempools) against its warm-up; and the figures printed."""
import collections

from lib.prom import total
from lib.prom import RELOAD_HTTP as WANT_HTTP
from lib.runner import BALANCED, report
from soak_traffic import A, B
from soak_watch import num

# Drops that depend on how fast the frames come (or on the ring to the TX lcore), not on the
# frame.
RATE_DROPS = ("rate_limited_source", "rate_limited_global", "replication_budget", "ring_full")
# A scrape may catch one RX burst (32 frames) on its way: the end may sit that far above the
# floor seen in the warm-up (docs/testing.md, "Soak").
MEMPOOL_SLACK = 32


def check_report(out, capture, run, failures):
    """The exit report: balanced, consistent with itself, with /metrics and with the capture."""
    c = report(out)
    r = report(out, "ptbsteer-reloads")
    if c is None or r is None:
        failures.append("no exit report (ptbsteer-counters / ptbsteer-reloads lines)")
        return {}
    asked = run.asked
    want_r = {"generation": 1 + asked["success"], **{k: asked[k] for k in WANT_HTTP}}
    if r != want_r:
        failures.append(f"exit report reloads {r}, want {want_r}")
    drops = {k[5:]: v for k, v in c.items() if k.startswith("drop.")}
    nh = {k[3:]: v for k, v in c.items() if k.startswith("nh.")}
    rx = c["rx"]
    if rx != (c["unicast"] + c["replicated"] + c["answered"] + c["neighbor_updates"]
              + c["dropped"]):
        failures.append(f"rx {rx} != unicast + replicated + answered + neighbor_updates + dropped")
    if BALANCED not in out:
        failures.append("ptbsteer reports unbalanced counters")
    if c["dropped"] != sum(drops.values()):
        failures.append(f"dropped {c['dropped']} != the sum of the reasons {sum(drops.values())}")
    # Transition copies (docs/configuration.md, "Transitions"): every reload changes owners, so
    # the earlier configuration's next-hops get copies for its window.
    sent = c["unicast"] + c["copies"] + c["transition_copies"]
    if sum(nh.values()) != sent:
        failures.append(f"per next-hop frames {sum(nh.values())} != unicast + copies + "
                        f"transition copies {sent}")
    if c["tx_failed"]:
        failures.append(f"{c['tx_failed']} frames not taken by the NIC (tx_failed)")
    for conf in (A, B):  # every replicated PTB reached every next-hop of its group
        per = {nh.get(f"rep/{n}", 0) for n, _, _ in conf["rep"]}
        if len(per) != 1:
            failures.append(f"{conf['name']}: replicate copies differ across next-hops: "
                            f"{sorted(per)}")
    orig = sum(nh.get(f"rep/{conf['rep'][0][0]}", 0) for conf in (A, B))
    if orig != c["replicated"]:
        failures.append(f"replicated {c['replicated']}, but each rep next-hop got {orig}")
    final = getattr(run, "final", None)
    if final:
        for k, name in (("rx", "ptbsteer_received_packets_total"),
                        ("unicast", "ptbsteer_delivered_packets_total"),
                        ("dropped", "ptbsteer_dropped_packets_total")):
            m = total(final, name)
            if k == "unicast":
                m = sum(v for (n, lb), v in final.items()
                        if n == name and ("mode", "unicast") in lb)
            if c[k] < m:
                failures.append(f"exit report {k} {c[k]} below the last scrape's {m:.0f}")
    # Against the capture: after rx frames, infinite_rx has replayed it rx // N whole times and
    # then a prefix of it, so a kind of frame with n copies in it was seen n * (rx // N) to
    # n * (rx // N + 1) times. Valid PTBs are delivered or dropped by a rate limit: counted
    # together. With an RX -> TX ring, a full ring also takes ARP/ND answers: then valid PTBs
    # and answers are counted together.
    n, rounds = len(capture), rx // len(capture)
    kinds = collections.Counter(k for _, k, _ in capture)
    fams = collections.Counter(f for _, _, f in capture if f)
    got = {k: v for k, v in drops.items() if k not in RATE_DROPS}
    got.update(answered=c["answered"], ptb_v4=c["ptb_v4"], ptb_v6=c["ptb_v6"],
               valid=c["unicast"] + c["replicated"] + sum(drops.get(d, 0) for d in RATE_DROPS))
    want = {k: v for k, v in kinds.items() if k not in ("web", "rep")}
    want.update(ptb_v4=fams[4], ptb_v6=fams[6], valid=kinds["web"] + kinds["rep"])
    if drops.get("ring_full"):
        got["valid"] += got.pop("answered")
        want["valid"] += want.pop("answered")
    for k in sorted(set(want) | set(got)):
        per = want.get(k, 0)
        if not per * rounds <= got.get(k, 0) <= per * (rounds + 1):
            failures.append(f"{k}: {got.get(k, 0)} after {rx} frames, want {per} per replay of the "
                            f"{n}-frame capture ({per * rounds}..{per * (rounds + 1)})")
    for d in ("rate_limited_source", "rate_limited_global", "replication_budget"):
        if not drops.get(d) and asked["success"]:
            failures.append(f"no {d} drop although config B's limits are below the replay rate")
    return c


def check_memory(a, run, failures):
    """RSS flat after the warm-up, DPDK heap back to its size, mempools back to their floor.
    Returns the figures to print."""
    series, fig = run.scraper.series, {}
    # Warm-up: 20 % of the run, at least 5 s, and two successful reloads (until then the heap
    # pages of a second generation of tables are touched for the first time).
    warmup = max(5.0, 0.2 * a.seconds)
    if len(run.successes_at) >= 2:
        warmup = max(warmup, run.successes_at[1] + 0.5 - run.started)
    fig["warmup"] = warmup
    series = [x for x in series if x[3]]  # VmRSS read (the process was alive)
    warm = [x for x in series if x[0] - run.started <= warmup]
    after = [x for x in series if x[0] - run.started > warmup]
    if len(warm) < 5 or len(after) < 5:
        failures.append(f"too few samples: {len(warm)} in the warm-up, {len(after)} after")
        return fig
    rss = [x[3] for x in series]
    fig["rss"] = (rss[0], warm[-1][3], max(x[3] for x in after), rss[-1], min(rss), max(rss))
    growth = fig["rss"][2] - fig["rss"][1]
    if growth >= a.rss_bound_mib * 1024:
        failures.append(f"RSS grew by {growth / 1024:.1f} MiB after the warm-up "
                        f"({fig['rss'][1]} -> {fig['rss'][2]} KiB), bound {a.rss_bound_mib:g} MiB")
    fig["deciles"] = [([rss[0]] + [x[3] for x in series
                                   if x[0] - run.started <= run.duration * d / 10])[-1]
                      for d in range(1, 11)]
    split = run.scraper.split
    sw = [x for x in split if x[0] - run.started <= warmup]
    if sw and split:
        fig["split"] = (sw[-1][1], max(x[1] for x in split), sw[-1][2],
                        max(x[2] for x in split), split[-1][2])
    # rte_malloc'd bytes: the same whenever the same configuration serves (tables of the old
    # generation freed by the reload that retired it).
    by_conf = collections.defaultdict(set)
    for _, name, size, count in run.heap:
        by_conf[name].add((size, count))
    fig["heap"] = {k: sorted(v) for k, v in by_conf.items()}
    for name, v in by_conf.items():
        if len(v) > 1:
            failures.append(f"DPDK heap while config {name} serves is not constant "
                            f"(bytes, blocks): {sorted(v)}")
    # Mempools: under infinite_rx traffic never stops, so an instantaneous in-use count carries
    # the frames in flight (a burst being decided, TX buffers, the RX -> TX ring); the lowest
    # count over many scrapes is the floor that a leak would raise.
    tail_s = max(3.0, 0.1 * a.seconds)
    tail = [x for x in series if x[0] > series[-1][0] - tail_s]
    fig["pools"] = {}
    for p in ("packets", "headers"):
        vals = lambda xs: [x[2][p] for x in xs if x[2][p] is not None]  # noqa: E731
        base, end = min(vals(warm), default=None), min(vals(tail), default=None)
        peak = max(vals(series), default=None)
        fig["pools"][p] = (base, end, peak)
        if base is None or end is None or end > base + MEMPOOL_SLACK:
            failures.append(f"mempool {p}: {num(end)} in use at the end (lowest of the last "
                            f"{tail_s:.0f} s), "
                            f"baseline {num(base)} (lowest in the warm-up), slack {MEMPOOL_SLACK}")
    if series[-1][4]:
        failures.append(f"{series[-1][4]:.0f} RX mbuf allocation failures: the packet pool ran dry")
    return fig


def print_figures(a, capture, run, c, fig, failures):
    row = lambda k, v: print(f"  {k:<40}{v}")  # noqa: E731
    mib = lambda kib: f"{kib / 1024:.1f}"  # noqa: E731
    sc = run.scraper
    print(f"soak: {a.lcores} lcore{'s' if a.lcores > 1 else ''}, net_pcap infinite_rx "
          f"({len(capture)}-frame capture) -> net_null, reload every {a.reload_every:g} s, "
          f"scrape every {a.scrape_every:g} s")
    row("duration", f"{run.duration:.1f} s (warm-up {fig.get('warmup', 0):.1f} s)")
    rx = c.get("rx", 0)
    row("packets received", f"{rx:,} ({rx / max(run.duration, 1e-9) / 1e6:.2f} Mpps; not judged)")
    row("delivered unicast / replicated (copies)",
        f"{c.get('unicast', 0):,} / {c.get('replicated', 0):,} "
        f"({c.get('copies', 0):,})")
    row("ARP/ND answered", f"{c.get('answered', 0):,}")
    asked = run.asked
    row("reloads ok / refused (failure, restart)",
        f"{asked['success']} / {asked['failure'] + asked['restart_required']} ({asked['failure']}, "
        f"{asked['restart_required']}); by SIGHUP {run.how['SIGHUP']}, by POST {run.how['POST']}")
    if run.reload_ms:
        rs = sorted(run.reload_ms)
        row("reload time median / max", f"{rs[len(rs) // 2]:.0f} / {rs[-1]:.0f} ms")
    if sc:
        row("scrapes /metrics + /healthz (failed)",
            f"{sc.scrapes} + {sc.health_checks} ({len(sc.failures)}), "
            f"slowest /metrics {sc.latency_max * 1000:.0f} ms")
    if "rss" in fig:
        r = fig["rss"]
        row("RSS start / warm-up end / peak / end",
            f"{mib(r[0])} / {mib(r[1])} / {mib(r[2])} / {mib(r[3])} MiB "
            f"(min {mib(r[4])}, max {mib(r[5])}; bound +{a.rss_bound_mib:g} MiB)")
        row("RSS at each tenth of the run",
            " ".join(f"{x / 1024:.0f}" for x in fig["deciles"]) + " MiB")
    if "split" in fig:
        s = fig["split"]
        row("  DPDK memory: warm-up / peak", f"{mib(s[0])} / {mib(s[1])} MiB (-m 512)")
        row("  the rest: warm-up / peak / end", f"{mib(s[2])} / {mib(s[3])} / {mib(s[4])} MiB")
    if fig.get("heap"):
        row("DPDK heap at rest (bytes, blocks)", "; ".join(
            f"{k}: " + ", ".join(f"{b:,} B {n}" for b, n in v)
            for k, v in sorted(fig["heap"].items())))
    elif run.telemetry_error:
        row("DPDK heap", f"not checked: telemetry {run.telemetry_error}")
    for p, (base, end, peak) in fig.get("pools", {}).items():
        row(f"mempool {p} baseline / end / peak", f"{num(base)} / {num(end)} / {num(peak)} in use")
    row("dropped", f"{c.get('dropped', 0):,}")
    for k, v in sorted(((k[5:], v) for k, v in c.items() if k.startswith("drop.")),
                       key=lambda kv: -kv[1]):
        row(f"  {k}", f"{v:,}")
    for f in failures[:25]:
        print("FAIL", f)
    if len(failures) > 25:
        print(f"FAIL ... {len(failures) - 25} more")
    print(f"soak: {'PASS' if not failures else f'FAIL ({len(failures)} findings)'}")
