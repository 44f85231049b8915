"""The two programs scripts/bench compares, on the same vdevs (net_pcap infinite_rx in,
net_null out, one forwarding lcore each): dpdk-testpmd --forward-mode=io, and ptbsteer with the
configuration a Setup describes. Each run stops its process, whatever happens."""
import dataclasses
import os
import queue
import re
import signal
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request
from typing import Optional

from bench_capture import SRC_MAC

MEMORY_MB = 1024  # each process's EAL -m
SEED, OTHER_SEED = 12345, 54321


@dataclasses.dataclass(frozen=True)
class Setup:
    """What a ptbsteer run is configured with (and huge_dir, where both programs' memory is)."""
    hash: str = "linux1"                # linux0 | linux1 | crc32c
    hops: int = 4
    mode: str = "unicast"
    checksum: bool = True
    simd: Optional[str] = None          # None: no simd: key (auto)
    routers: bool = False               # two routers, the group one state for each
    huge_dir: Optional[str] = None      # a hugetlbfs mount; None: --no-huge


def eal(prefix, huge_dir=None):
    memory = ["--huge-dir", huge_dir, "--huge-unlink"] if huge_dir else ["--no-huge"]
    return memory + ["-m", str(MEMORY_MB), "--no-pci", "--no-telemetry", "--file-prefix", prefix,
                     "-l", "0,1", "--log-level", "lib.eal:error"]


def vdevs(pcap):
    return ["--vdev", f"net_pcap0,rx_pcap={pcap},infinite_rx=1", "--vdev", "net_null0,no-rx=1"]


def huge_pages_in_use():
    info = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, _, rest = line.partition(":")
            info[key] = rest.split()[0] if rest.split() else "0"
    return int(info.get("HugePages_Total", 0)) - int(info.get("HugePages_Free", 0))


def stop(p, sig, timeout=20):
    """Signals the process to stop; kills it if it has not within timeout seconds."""
    if p.poll() is None:
        p.send_signal(sig)
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def run_testpmd(pcap, seconds, huge_dir=None):
    """(median Rx-pps of the pcap port, 2 MB pages in use while it ran)."""
    cmd = ["dpdk-testpmd"] + eal(f"bench-tp-{os.getpid()}", huge_dir) + vdevs(pcap) + \
        ["--", "--forward-mode=io", "--total-num-mbufs=16384", "--nb-cores=1", "--stats-period", "1"]
    with tempfile.TemporaryFile("w+") as out:  # a file: testpmd never blocks on a full pipe
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, text=True)
        try:
            time.sleep(min(2, seconds))
            pages = huge_pages_in_use()
            time.sleep(max(0, seconds - 2))
        finally:
            stop(p, signal.SIGINT, timeout=30)
        out.seek(0)
        text = out.read()
    # Per-second "Rx-pps" of port 0 (the pcap port); the first two are start-up.
    blocks = re.findall(r"NIC statistics for port 0.*?Rx-pps:\s+(\d+)", text, re.S)
    rates = [int(x) for x in blocks][2:]
    return (statistics.median(rates) if rates else 0.0), pages


def hash_yaml(model, seed=None):
    if model == "crc32c":
        return "{model: crc32c}" if seed is None else f"{{model: crc32c, seed: {seed}}}"
    return f"{{model: linux, policy: {model[-1]}, seed: {seed or SEED}}}"


def group_yaml(s, router=None, seed=None, reverse=False):
    hops = list(range(1, s.hops + 1))
    lines = ["  - name: bench"] + ([f"    router: {router}"] if router else []) + [
        '    prefixes: [198.51.100.0/24, "2001:db8:100::/48"]',
        f"    hash: {hash_yaml(s.hash, seed)}",
        f"    mode: {s.mode}",
        f'    validate: {{checksum: {"true" if s.checksum else "false"}}}',
        "    next_hops:"] + [
        f'      - {{name: s{i}, port: out, mac: "02:00:00:00:01:{i:02x}"}}'
        for i in (hops[::-1] if reverse else hops)]
    return "\n".join(lines) + "\n"


def config(pcap, s):
    """ptbsteer's YAML for a Setup. With routers: edge1 (the capture's source MAC, so every PTB
    is its) and edge2, and the group one state for each, edge2's in reverse order, its own seed."""
    head = f"""eal: [{", ".join('"' + a + '"' for a in eal(f"bench-ps-{os.getpid()}", s.huge_dir))}]
ports:
  - {{name: in, device: "net_pcap0,rx_pcap={pcap},infinite_rx=1"}}
  - {{name: out, device: "net_null0,no-rx=1"}}
lcores: [{{id: 1, rx: [in, out], tx: true}}]
metrics: {{listen: "127.0.0.1:0"}}
limits: {{per_source: off, global: off, replication: off}}
"""
    if s.simd:
        head += f"simd: {s.simd}\n"
    if not s.routers:
        return head + "groups:\n" + group_yaml(s)
    return head + f"""routers:
  - {{name: edge1, mac: "{SRC_MAC}"}}
  - {{name: edge2, mac: "02:00:00:00:aa:02"}}
groups:
{group_yaml(s, router="edge1")}{group_yaml(s, router="edge2", seed=OTHER_SEED, reverse=True)}"""


def scrape(url):
    """{(name, ((label, value), ...)): value} for every ptbsteer_ series of /metrics."""
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    series = {}
    for line in text.splitlines():
        m = re.match(r'^(ptbsteer_[a-z_]+)(\{[^}]*\})? (\S+)$', line)
        if m:
            labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', m.group(2) or "")))
            series[(m.group(1), labels)] = float(m.group(3))
    return series


def total(series, name, **labels):
    """The sum of a metric's series whose labels include these."""
    return sum(v for (n, ls), v in series.items()
               if n == name and all(dict(ls).get(k) == w for k, w in labels.items()))


def exit_report(text):
    """The exit report's `ptbsteer-counters` and `ptbsteer-routers` lines, as {key: int}."""
    counters = {}
    for line in text.splitlines():
        if line.startswith(("ptbsteer-counters ", "ptbsteer-routers ")):
            for word in line.split()[1:]:
                key, _, value = word.partition("=")
                counters[key] = value if "/" in value else int(value)
    return counters


class Ptbsteer:
    """A running ptbsteer; a thread collects its output (so no line is ever lost)."""

    def __init__(self, binary, cfgpath):
        self.p = subprocess.Popen([binary, "--config", cfgpath], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines, self.fresh = [], queue.Queue()
        self.reader = threading.Thread(target=self.pump, daemon=True)
        self.reader.start()

    def pump(self):
        for line in self.p.stdout:
            self.lines.append(line)
            self.fresh.put(line)
        self.fresh.put(None)

    def metrics_url(self, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.fresh.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                raise RuntimeError("ptbsteer exited at start-up:\n" + "".join(self.lines[-20:]))
            m = re.search(r"(http://[0-9.:]+)/metrics", line)
            if m:
                return m.group(1) + "/metrics"
        raise RuntimeError("ptbsteer did not say where its metrics are:\n" + "".join(self.lines[-20:]))

    def stop(self):
        stop(self.p, signal.SIGTERM)
        self.reader.join(timeout=10)  # to the last line of the exit report
        return "".join(self.lines)


@dataclasses.dataclass
class Run:
    rx: float          # median frames/s received
    unicast: float     # median frames/s delivered unicast
    copies: float      # median replicated copies/s
    pools: dict        # mempool in use at the end, by pool
    pages: int         # 2 MB pages in use while it ran
    counters: dict     # the exit report (exact: read once the lcores stopped)
    simd: str          # the start-up line's SIMD paths


RX, COPIES, UNICAST = ("ptbsteer_received_packets_total", {}), \
    ("ptbsteer_replicated_copies_total", {}), ("ptbsteer_delivered_packets_total", {"mode": "unicast"})


def rates(before, after, dt):
    """{metric: per second} of RX, COPIES and UNICAST between two scrapes."""
    return {name: (total(after, name, **ls) - total(before, name, **ls)) / dt
            for name, ls in (RX, COPIES, UNICAST)}


def run_ptbsteer(binary, pcap, seconds, setup):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(config(pcap, setup))
        cfgpath = f.name
    proc = Ptbsteer(binary, cfgpath)
    try:
        url = proc.metrics_url()
        time.sleep(2)  # warm-up
        samples = []
        last, t_last = scrape(url), time.monotonic()
        for _ in range(int(seconds)):
            time.sleep(1)
            now, t = scrape(url), time.monotonic()
            samples.append(rates(last, now, t - t_last))
            last, t_last = now, t
        pools = {dict(ls)["pool"]: v for (n, ls), v in last.items() if n == "ptbsteer_mempool_in_use"}
        pages = huge_pages_in_use()
    finally:
        out = proc.stop()
        os.unlink(cfgpath)

    def median(metric):
        return statistics.median(s[metric[0]] for s in samples)
    simd = re.search(r"SIMD: (.*)", out)
    return Run(rx=median(RX), unicast=median(UNICAST), copies=median(COPIES), pools=pools,
               pages=pages, counters=exit_report(out), simd=simd.group(1) if simd else "?")
