"""What the soak watches while ptbsteer runs: /metrics and /healthz scraped continuously
(counters never go down), RSS and where it lives, and the DPDK heap (telemetry socket)."""
import collections
import json
import re
import socket
import threading
import time

from lib.prom import http, metric_types, monotonic_series, parse_metrics, sample, total


def delivered(s):
    """{next_hop name: frames} from ptbsteer_delivered_packets_total (names are unique across
    groups and configurations here), the serving configuration's deliveries only: after a
    reload the other configuration's next-hops still get transition copies (mode="transition",
    docs/configuration.md "Transitions") for the flows they owned."""
    out = collections.Counter()
    for (n, labels), v in s.items():
        if n == "ptbsteer_delivered_packets_total" and dict(labels)["mode"] != "transition":
            out[dict(labels)["next_hop"]] += v
    return out


def memory_split(pid):
    """(KiB resident in DPDK's memory, KiB resident elsewhere) from /proc/PID/smaps. With
    --no-huge, DPDK's memory is one shared mapping of the -m size (`memfd:nohuge`) plus its
    fbarray; everything else is the process's own: malloc arenas, stacks, libraries."""
    dpdk = other = 0
    name = ""
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                    parts = line.split(None, 5)
                    name = parts[5].strip() if len(parts) > 5 else ""
                elif line.startswith("Rss:"):
                    kib = int(line.split()[1])
                    if "nohuge" in name or "/dpdk/" in name:
                        dpdk += kib
                    else:
                        other += kib
    except OSError:
        return None
    return dpdk, other


class Telemetry:
    """DPDK's telemetry socket (/var/run/dpdk/PREFIX/dpdk_telemetry.v2): JSON answers to
    commands such as /eal/heap_info,0 (bytes and blocks allocated with rte_malloc)."""

    def __init__(self, prefix):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.settimeout(5)
        self.sock.connect(f"/var/run/dpdk/{prefix}/dpdk_telemetry.v2")
        self.max_len = json.loads(self.sock.recv(1024))["max_output_len"]

    def query(self, cmd):
        self.sock.send(cmd.encode())
        return json.loads(self.sock.recv(self.max_len))[cmd.split(",")[0]]

    def heap(self):
        h = self.query("/eal/heap_info,0")
        return int(h["Alloc_size"]), int(h["Alloc_count"])

    def close(self):
        self.sock.close()


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            m = re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M)
        return int(m.group(1)) if m else None
    except OSError:
        return None


class Scraper(threading.Thread):
    """GET /metrics and /healthz every `period` seconds until stopped; every answer must be 200
    and parse; counters must never decrease or vanish. Keeps the series the checks need."""

    def __init__(self, url, pid, period):
        super().__init__(daemon=True)
        self.url, self.pid, self.period = url, pid, period
        self.stop = threading.Event()
        self.scrapes = self.health_checks = 0
        self.failures = []           # (time, what)
        self.series = []             # (t, rx, {pool: in_use}, rss_kib, rx_nombuf)
        self.split = []              # (t, dpdk_kib, other_kib), about once a second
        self.latency_max = 0.0
        self.prev = None
        self.lock = threading.Lock()

    def fail(self, what):
        with self.lock:
            self.failures.append((time.monotonic(), what))

    def run(self):
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                status, body = http(self.url + "/metrics", timeout=10)
                if status != 200:
                    raise RuntimeError(f"/metrics answered {status}: {body[:200]}")
                s = parse_metrics(body)
                self.latency_max = max(self.latency_max, time.monotonic() - t0)
                self.scrapes += 1
                self.check_monotonic(s, metric_types(body))
                pools = {p: sample(s, "ptbsteer_mempool_in_use", pool=p)
                         for p in ("packets", "headers")}
                self.series.append((t0, total(s, "ptbsteer_received_packets_total"), pools,
                                    rss_kib(self.pid),
                                    total(s, "ptbsteer_port_rx_nombuf_total")))
                if not self.split or t0 - self.split[-1][0] >= 1.0:
                    m = memory_split(self.pid)
                    if m:
                        self.split.append((t0,) + m)
                status, body = http(self.url + "/healthz", timeout=10)
                self.health_checks += 1
                if status != 200 or body.strip() != "ok":
                    raise RuntimeError(f"/healthz answered {status}: {body.strip()[:200]}")
            except Exception as e:  # noqa: BLE001 (any failure of a scrape is a finding)
                self.fail(f"scrape {self.scrapes + 1}: {type(e).__name__}: {e}")
            self.stop.wait(max(0.0, self.period - (time.monotonic() - t0)))

    def check_monotonic(self, s, types):
        mono = monotonic_series(types)
        cur = {k: v for k, v in s.items() if k[0] in mono}
        if self.prev is not None:
            for k, old in self.prev.items():
                new = cur.get(k)
                if new is None:
                    self.fail(f"counter {k[0]}{dict(k[1])} disappeared (was {old:g})")
                elif new < old:
                    self.fail(f"counter {k[0]}{dict(k[1])} went down from {old:g} to {new:g}")
        self.prev = cur

def num(x):
    return "?" if x is None else f"{x:.0f}"
