#!/usr/bin/python3
"""The real ptbsteer on net_pcap vdevs, scraped while it runs.

Proves: `promtool check metrics` accepts a live scrape; every counter shows exactly what the
scapy-made input implies (received per port and family, PTBs per family, delivered per group,
next-hop and mode, replication, drops per reason with every reason present, the advertised-MTU
histogram's buckets, port statistics); rate-limit families exist at 0; /healthz answers 200;
every scraped family is documented in docs/metrics.md, with the label names its row gives, and
every documented one is scraped; the capture file (pcapng, read by scapy) holds exactly the
dropped frames, in order; a capture with a small max_bytes stays within it and says so; a busy
metrics port refuses to start (exit 1).

Usage: metrics_live.py --ptbsteer BIN --doc docs/metrics.md
"""
import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lib.checks import verdict  # noqa: E402
from lib.mix import config_text, histogram, make_traffic, write_inputs  # noqa: E402
from lib.prom import (documented_labels, documented_metrics, parse_metrics, sample,  # noqa: E402
                      wait_received)
from lib.runner import Ptbsteer, remove_eal_dirs  # noqa: E402

from scapy.all import rdpcap  # noqa: E402

DROP_REASONS_NOT_IN_METRICS = {"ptb"}  # the parser's success status is never a drop

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
    return cond


def expect(samples, want, name, **labels):
    got = sample(samples, name, **labels)
    check(got == want, f"{name}{labels} = {got}, expected {want}")


def check_counters(samples, t):
    for fam in ("ipv4", "ipv6", "other"):
        expect(samples, t.rx[fam], "ptbsteer_received_packets_total", port="in", family=fam)
        expect(samples, 0, "ptbsteer_received_packets_total", port="out", family=fam)
    for fam in ("ipv4", "ipv6"):
        expect(samples, t.ptbs[fam], "ptbsteer_ptbs_total", family=fam)
    for g, hops in (("solo", ["s1"]), ("rep", ["r1", "r2"])):
        for h in hops:
            for mode in ("unicast", "replicate"):
                expect(samples, t.delivered[(g, h, mode)], "ptbsteer_delivered_packets_total",
                       group=g, next_hop=h, mode=mode)
    expect(samples, t.replicated, "ptbsteer_replicated_ptbs_total")
    expect(samples, 2 * t.replicated, "ptbsteer_replicated_copies_total")
    expect(samples, 0, "ptbsteer_tx_failed_packets_total")
    reasons = {dict(lbl)["reason"] for (n, lbl) in samples if n == "ptbsteer_dropped_packets_total"}
    check(reasons >= set(t.drops),
          f"drop reasons scraped {sorted(reasons)} lack {set(t.drops) - reasons}")
    check(len(reasons) >= 25,
          f"only {len(reasons)} drop reasons exposed; every named reason must be")
    for r in reasons:
        expect(samples, t.drops.get(r, 0), "ptbsteer_dropped_packets_total", reason=r)
    for limiter in ("per_source", "global", "replication_budget"):
        expect(samples, 0, "ptbsteer_rate_limited_packets_total", limiter=limiter)
    for fam in ("ipv4", "ipv6"):
        for le, n in histogram(t.mtus[fam]).items():
            expect(samples, n, "ptbsteer_advertised_mtu_bytes_bucket", family=fam, le=le)
        expect(samples, len(t.mtus[fam]), "ptbsteer_advertised_mtu_bytes_count", family=fam)
        expect(samples, sum(t.mtus[fam]), "ptbsteer_advertised_mtu_bytes_sum", family=fam)
    # DPDK's own port statistics: what the PMD read and wrote.
    expect(samples, len(t.frames), "ptbsteer_port_rx_packets_total", port="in")
    expect(samples, sum(t.delivered.values()), "ptbsteer_port_tx_packets_total", port="out")
    for port in ("in", "out"):
        expect(samples, 0, "ptbsteer_port_rx_missed_packets_total", port=port)
        expect(samples, 1, "ptbsteer_port_link_up", port=port)
    expect(samples, 1, "ptbsteer_config_generation")
    check(any(n == "ptbsteer_build_info" for n, _ in samples), "ptbsteer_build_info missing")
    # The SIMD paths (auto here): the burst hash's and the checksum's, each a real path's name.
    simd = [dict(labels) for n, labels in samples if n == "ptbsteer_simd_info"]
    paths = {"scalar", "avx2", "avx512"}
    check(len(simd) == 1 and simd[0].get("hash") in paths and simd[0].get("checksum") in paths,
          f"ptbsteer_simd_info wrong: {simd}")
    check((sample(samples, "process_start_time_seconds") or 0) > 1.5e9,
          "process_start_time_seconds missing")


def check_labels(samples, doc_labels, doc):
    """Every sample carries exactly the label names its family's row documents (histogram
    buckets add `le`, summaries `quantile`)."""
    wrong = set()
    for name, labels in samples:
        family = name
        if family not in doc_labels:
            family = re.sub(r"_(bucket|sum|count)$", "", name)
        got = {k for k, _ in labels} - {"le", "quantile"}
        if family in doc_labels and got != doc_labels[family]:
            wrong.add(f"{name}: labels {sorted(got)}, documented {sorted(doc_labels[family])}")
    check(not wrong, f"labels differ from {doc}: {sorted(wrong)}")
    check(len(doc_labels) > 30, f"{doc}: only {len(doc_labels)} rows with labels read")


def scraped_families(text):
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}


def run_main(a, tmp):
    t = make_traffic()
    write_inputs(tmp, t)
    cap = os.path.join(tmp, "drops.pcapng")
    cfg = os.path.join(tmp, "main.yaml")
    open(cfg, "w").write(config_text(tmp, "metrics", capture={"file": cap, "what": "drops"}))
    p = Ptbsteer(a.ptbsteer, cfg)
    try:
        body, samples = wait_received(p.url, len(t.frames))
        promtool = subprocess.run(["promtool", "check", "metrics"], input=body,
                                  capture_output=True, text=True)
        check(promtool.returncode == 0 and not promtool.stdout.strip()
              and not promtool.stderr.strip(),
              f"promtool check metrics: rc {promtool.returncode}: "
              f"{promtool.stdout}{promtool.stderr}")
        check_counters(samples, t)
        status, health = p.get("/healthz")
        check(status == 200 and health.strip() == "ok", f"/healthz: {status} {health!r}")
        documented = documented_metrics(a.doc)
        scraped = scraped_families(body)
        check(scraped <= documented, f"scraped but not in {a.doc}: {sorted(scraped - documented)}")
        check(documented <= scraped, f"in {a.doc} but not scraped: {sorted(documented - scraped)}")
        check_labels(samples, documented_labels(a.doc), a.doc)
        expect(samples, 1, "ptbsteer_capture_active")
    finally:
        rc, out = p.stop()
    check(rc == 0, f"ptbsteer exited {rc}:\n{out}")
    frames = [bytes(f) for f in rdpcap(cap)]
    check(frames == t.dropped_frames,
          f"capture holds {len(frames)} frames; expected exactly the "
          f"{len(t.dropped_frames)} dropped ones")
    print(f"main run: {len(t.frames)} frames in; {len(samples)} samples in {len(scraped)} "
          f"families; promtool rc {promtool.returncode}; /healthz {status}; capture holds "
          f"{len(frames)} frames")


def run_capture_bound(a, tmp):
    """Many drops, a small file: the file stops at max_bytes and the metrics say so."""
    t = make_traffic(scale=20)
    write_inputs(tmp, t)
    cap = os.path.join(tmp, "bounded.pcapng")
    cfg = os.path.join(tmp, "bounded.yaml")
    limit = 8192
    open(cfg, "w").write(config_text(tmp, "capbound",
                                     capture={"file": cap, "what": "all", "max_bytes": limit}))
    p = Ptbsteer(a.ptbsteer, cfg)
    try:
        _, samples = wait_received(p.url, len(t.frames))
        # The writer drains the lcores' rings on its own thread: wait until every queued copy is
        # accounted for (written, or discarded over the limit).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            samples = parse_metrics(p.get("/metrics")[1])
            if sample(samples, "ptbsteer_capture_copied_packets_total") == \
                    sample(samples, "ptbsteer_capture_written_packets_total") + \
                    sample(samples, "ptbsteer_capture_over_limit_packets_total"):
                break
            time.sleep(0.2)
    finally:
        rc, out = p.stop()
    check(rc == 0, f"ptbsteer (bounded capture) exited {rc}:\n{out}")
    size = os.path.getsize(cap)
    written = sample(samples, "ptbsteer_capture_written_packets_total")
    copied = sample(samples, "ptbsteer_capture_copied_packets_total")
    over = sample(samples, "ptbsteer_capture_over_limit_packets_total")
    frames = rdpcap(cap)
    check(size <= limit, f"capture file is {size} bytes, above max_bytes {limit}")
    check(sample(samples, "ptbsteer_capture_active") == 0, "capture still active after max_bytes")
    check(over and over > 0, f"ptbsteer_capture_over_limit_packets_total = {over}")
    check(written == len(frames),
          f"ptbsteer_capture_written_packets_total {written}, file has {len(frames)}")
    check(copied == written + over, f"copied {copied} != written {written} + over the limit {over}")
    print(f"bounded capture: max_bytes {limit}: file {size} bytes, {len(frames)} frames written, "
          f"{over:.0f} copies over the limit")


def run_port_busy(a, tmp):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    port = s.getsockname()[1]
    cfg = os.path.join(tmp, "busy.yaml")
    open(cfg, "w").write(config_text(tmp, "busy", listen=f"127.0.0.1:{port}"))
    try:
        r = subprocess.run([a.ptbsteer, "--config", cfg], capture_output=True, text=True,
                           timeout=60)
    finally:
        s.close()
    check(r.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in r.stderr,
          f"busy metrics port: rc {r.returncode}, stderr {r.stderr!r}")
    print(f"busy metrics port: exit {r.returncode}: {r.stderr.strip()}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ptbsteer", required=True)
    ap.add_argument("--doc", required=True)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ptbsteer-metrics-") as tmp:
        run_main(a, tmp)
        run_capture_bound(a, tmp)
        run_port_busy(a, tmp)
    return verdict(failures, "metrics live: "
                   + ("all as expected" if not failures else f"{len(failures)} failures"),
                   limit=30)


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        remove_eal_dirs()
