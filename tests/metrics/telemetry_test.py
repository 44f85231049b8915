#!/usr/bin/python3
"""DPDK telemetry (lib/metrics/telemetry.h) asked by DPDK's own client, `dpdk-telemetry.py`
(Debian dpdk-dev), of the real ptbsteer: after a finite capture (PTBs for a two-next-hop group,
PTBs for no group) has been read, /ptbsteer/counters, /ptbsteer/drops and
/ptbsteer/next_hops,web must equal what the exit report says when ptbsteer stops (nothing
arrives in between); /ptbsteer/groups and /ptbsteer/group,web must name the configuration's
group, prefixes and next-hops; a group that does not exist is an error (null).
Usage: telemetry_test.py --ptbsteer BIN"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lib import config, frames, pcapfile  # noqa: E402
from lib.checks import Checks  # noqa: E402
from lib.prom import total  # noqa: E402
from lib.runner import Ptbsteer, remove_eal_dirs, report  # noqa: E402

from scapy.all import TCP  # noqa: E402

OWNED, STRAY = 40, 7  # PTBs for the group's prefix, and for no group's


def traffic():
    out = []
    for i in range(OWNED + STRAY):
        server = "198.51.100.10" if i < OWNED else "192.0.2.10"
        quoted = frames.quote(server, f"203.0.113.{10 + i}", TCP(sport=443, dport=40000 + i), 1400)
        out.append(bytes(frames.ptb(server, quoted, 1300)))
    return out


def ask(prefix, *commands):
    """dpdk-telemetry.py's answer to each command, parsed: a list of JSON values."""
    r = subprocess.run([shutil.which("dpdk-telemetry.py") or "dpdk-telemetry.py", "-f", prefix],
                       input="".join(c + "\n" for c in commands), capture_output=True, text=True,
                       timeout=30)
    return [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")], r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ptbsteer", required=True)
    args = ap.parse_args()
    c = Checks("metrics-telemetry")
    prefix = config.prefix("tel")
    with tempfile.TemporaryDirectory() as tmp:
        pcapfile.write(f"{tmp}/in.pcap", traffic())
        pcapfile.write(f"{tmp}/empty.pcap")
        web = config.group("web", ["198.51.100.0/24"],
                           [config.hop("w1", "02:00:00:00:01:01"),
                            config.hop("w2", "02:00:00:00:01:02")], policy=1, seed=7)
        cfg = config.write(f"{tmp}/c.yaml", config.eal(prefix, telemetry=True)
                           + config.pcap_ports(tmp) + config.lcores(1) + "groups:\n" + web
                           + config.metrics() + "limits: {per_source: off, global: off}\n")
        p = Ptbsteer(args.ptbsteer, cfg)
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and \
                    total(p.scrape(), "ptbsteer_received_packets_total") < OWNED + STRAY:
                time.sleep(0.2)
            answers, r = ask(prefix, "/ptbsteer/counters", "/ptbsteer/drops", "/ptbsteer/groups",
                             "/ptbsteer/group,web", "/ptbsteer/next_hops,web",
                             "/ptbsteer/group,nosuch")
        finally:
            rc, out = p.stop()
            remove_eal_dirs()
        c.check(len(answers) == 6, f"dpdk-telemetry.py answered the 6 commands ({len(answers)})",
                r.stdout + r.stderr)
        if len(answers) != 6:
            c.finish()
        counters, drops, groups, group, hops, nosuch = (a.popitem()[1] for a in answers)
        final = report(out) or {}
        c.check(rc == 0 and final.get("rx") == OWNED + STRAY, "ptbsteer read the whole capture",
                out[-2000:])
        differ = {k: (v, final.get(k)) for k, v in counters.items() if final.get(k) != v}
        c.check(counters and not differ,
                f"/ptbsteer/counters: {len(counters)} counters, each as the exit report says "
                f"(rx {counters.get('rx')}, unicast {counters.get('unicast')})", str(differ))
        c.check(drops.get("no_group") == STRAY and sum(drops.values()) == STRAY,
                f"/ptbsteer/drops: no_group {drops.get('no_group')}, nothing else", str(drops))
        c.check(groups == ["web"], f"/ptbsteer/groups: {groups}")
        c.check(group.get("source") == "file" and group.get("prefixes") == ["198.51.100.0/24"]
                and group.get("next_hops") == ["w1", "w2"] and group.get("model") == "linux",
                "/ptbsteer/group,web: source, prefixes, next-hops, model", str(group))
        unicast = hops.get("w1/unicast", 0) + hops.get("w2/unicast", 0)
        c.check(unicast == OWNED == counters.get("unicast") and hops.get("w1/unicast", 0) > 0
                and hops.get("w2/unicast", 0) > 0,
                f"/ptbsteer/next_hops,web: w1 {hops.get('w1/unicast')} + w2 "
                f"{hops.get('w2/unicast')} = {OWNED}", str(hops))
        c.check(hops.get("w1/state") == hops.get("w2/state") == "permanent",
                "/ptbsteer/next_hops,web: static MACs read permanent", str(hops))
        c.check(nosuch is None, "/ptbsteer/group,nosuch: an error (null)", str(nosuch))
    c.finish()


if __name__ == "__main__":
    main()
