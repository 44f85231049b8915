#!/usr/bin/python3
"""A real Prometheus server scrapes the real ptbsteer: PTBs go in through a net_pcap vdev, and
Prometheus' HTTP query API must show exactly the numbers sent (PTBs per family, deliveries per
next-hop and mode, drops per reason, the MTU histogram's count) within 60 s. Both processes are
always stopped. Prometheus listens on a free loopback port with a temporary TSDB.

Usage: prometheus_e2e.py --ptbsteer BIN [--prometheus /usr/bin/prometheus]
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lib.mix import config_text, make_traffic, write_inputs  # noqa: E402
from lib.prom import wait_received  # noqa: E402
from lib.runner import Ptbsteer, remove_eal_dirs  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def query(base, expr):
    """{frozenset(labels.items()): value} of an instant query."""
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as r:
        data = json.load(r)
    if data.get("status") != "success":
        raise RuntimeError(f"{expr}: {data}")
    return {frozenset((k, v) for k, v in s["metric"].items() if k not in ("job", "instance")):
            float(s["value"][1]) for s in data["data"]["result"]}


def expectations(t):
    """(PromQL, {labels: value}) pairs the Prometheus server must eventually answer."""
    want = [
        ("sum by (family) (ptbsteer_ptbs_total)",
         {frozenset({("family", f)}): float(t.ptbs[f]) for f in ("ipv4", "ipv6")}),
        ('sum by (group, next_hop, mode) (ptbsteer_delivered_packets_total) > 0',
         {frozenset({("group", g), ("next_hop", h), ("mode", m)}): float(n)
          for (g, h, m), n in t.delivered.items()}),
        ("sum by (reason) (ptbsteer_dropped_packets_total) > 0",
         {frozenset({("reason", r)}): float(n) for r, n in t.drops.items()}),
        ("sum by (family) (ptbsteer_advertised_mtu_bytes_count)",
         {frozenset({("family", f)}): float(len(t.mtus[f])) for f in ("ipv4", "ipv6")}),
        ('ptbsteer_advertised_mtu_bytes_bucket{family="ipv4",le="1500"} - ignoring(le) '
         'ptbsteer_advertised_mtu_bytes_bucket{family="ipv4",le="1492"}',
         {frozenset({("family", "ipv4")}):
          float(sum(1 for m in t.mtus["ipv4"] if 1492 < m <= 1500))}),
    ]
    return want


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ptbsteer", required=True)
    ap.add_argument("--prometheus", default="/usr/bin/prometheus")
    ap.add_argument("--timeout", type=float, default=60)
    a = ap.parse_args()
    t = make_traffic(scale=3)
    with tempfile.TemporaryDirectory(prefix="ptbsteer-prom-") as tmp:
        write_inputs(tmp, t)
        cfg = os.path.join(tmp, "ptbsteer.yaml")
        open(cfg, "w").write(config_text(tmp, "prom"))
        steer = Ptbsteer(a.ptbsteer, cfg)
        prom = None
        try:
            wait_received(steer.url, len(t.frames))
            target = steer.url.removeprefix("http://")
            prom_cfg = os.path.join(tmp, "prometheus.yml")
            open(prom_cfg, "w").write(
                "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                "scrape_configs:\n"
                f"  - job_name: ptbsteer\n    static_configs: [{{targets: ['{target}']}}]\n")
            web = f"127.0.0.1:{free_port()}"
            prom_log = open(os.path.join(tmp, "prometheus.log"), "w")
            prom = subprocess.Popen([a.prometheus, f"--config.file={prom_cfg}",
                                     f"--storage.tsdb.path={tmp}/tsdb",
                                     f"--web.listen-address={web}"],
                                    stdout=prom_log, stderr=subprocess.STDOUT)
            base = f"http://{web}"
            want = expectations(t)
            deadline = time.monotonic() + a.timeout
            last = {}
            while time.monotonic() < deadline:
                if prom.poll() is not None:
                    break
                try:
                    last = {expr: query(base, expr) for expr, _ in want}
                except (OSError, RuntimeError, ValueError):
                    last = {}
                if last and all(last[expr] == exp for expr, exp in want):
                    break
                time.sleep(1)
            ok = bool(last) and all(last[expr] == exp for expr, exp in want)
            for expr, exp in want:
                got = last.get(expr)
                print(f"{'ok  ' if got == exp else 'FAIL'} {expr}")
                if got != exp:
                    print(f"     expected {sorted((sorted(k), v) for k, v in exp.items())}")
                    print(f"     got      {sorted((sorted(k), v) for k, v in (got or {}).items())}")
            if not ok:
                prom_log.flush()
                print(open(os.path.join(tmp, "prometheus.log")).read()[-3000:])
            print(f"prometheus e2e: {len(t.frames)} frames sent; Prometheus at {base} "
                  f"scraping {target}: "
                  f"{'exact counts seen' if ok else 'counts NOT seen'} "
                  f"within {a.timeout - max(0, deadline - time.monotonic()):.0f} s")
        finally:
            if prom is not None and prom.poll() is None:
                prom.terminate()
                try:
                    prom.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    prom.kill()
                    prom.wait()
            rc, out = steer.stop()
            if rc != 0:
                print(out)
                ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        remove_eal_dirs()
