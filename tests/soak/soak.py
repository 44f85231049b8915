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
import json
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "metrics"))
SKIP = 77
try:
    from scapy.all import (ARP, ICMP, IP, TCP, UDP, Dot1Q, Ether, ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr,  # noqa: E402
                           ICMPv6PacketTooBig, IPv6, Raw)
    from ptbsteer_run import http, parse_metrics, remove_eal_dirs, sample  # noqa: E402
except ImportError as e:
    print(f"skipped: {e} (apt-get install python3-scapy; run with /usr/bin/python3)")
    sys.exit(SKIP)

OUR_V4, OUR_V6 = "203.0.113.2", "2001:db8:ffff::2"
WEB4, WEB6, REP4 = "198.51.100.0/25", "2001:db8:100::/48", "198.51.100.128/25"
# Two configurations that serve the same prefixes with disjoint next-hop names, so the growing
# ptbsteer_delivered_packets_total series say which one serves. B's limits are far below the
# replay rate: its rate-limit drops are non-zero, and each A <-> B reload rebuilds the limiters
# (a fresh per-source table each time: the allocation a leak would show in).
A = dict(name="A", seed=1111, policy=1, select="hash-threshold",
         web=[(f"a{i}", f"02:00:00:00:0a:{i:02x}", 1) for i in range(1, 5)],
         rep=[(f"ra{i}", f"02:00:00:00:0c:{i:02x}", 1) for i in range(1, 4)],
         limits="{per_source: off, global: off, replication: off}")
B = dict(name="B", seed=2222, policy=0, select="maglev",
         web=[(f"b{i}", f"02:00:00:00:0b:{i:02x}", w) for i, w in enumerate([3, 1, 2], 1)],
         rep=[(f"rb{i}", f"02:00:00:00:0d:{i:02x}", 1) for i in range(1, 3)],
         limits="{per_source: {rate: 50000, burst: 500}, global: {rate: 300000, burst: 20000}, "
                "replication: {rate: 60000, burst: 1024}}")
INVALID = ("syntax", "semantic", "restart")
WANT_HTTP = {"success": 200, "failure": 400, "restart_required": 409}
# Drops that depend on how fast the frames come (or on the ring to the TX lcore), not on the frame.
RATE_DROPS = ("rate_limited_source", "rate_limited_global", "replication_budget", "ring_full")
# A scrape may catch one RX burst (32 frames) on its way: the end may sit that far above the
# floor seen in the warm-up (docs/testing.md, "Soak").
MEMPOOL_SLACK = 32


def config_text(tmp, prefix, lcores, c, variant=None):
    """The file for configuration c; variant makes it invalid: "syntax" (YAML), "semantic" (a
    next-hop on a port that does not exist), "restart" (metrics.listen changes). DPDK telemetry
    stays on (no --no-telemetry): the heap figures come from its socket."""
    hops = lambda hs: "\n".join(f'      - {{name: {n}, port: out, mac: "{m}", weight: {w}}}'  # noqa: E731
                                for n, m, w in hs)
    lc = ("  - {id: 0, rx: [in, out], tx: true}\n" if lcores == 1 else
          "  - {id: 0, rx: [in, out]}\n  - {id: 1, tx: true}\n")
    listen = "127.0.0.1:9" if variant == "restart" else "127.0.0.1:0"
    web_port = "nowhere" if variant == "semantic" else "out"
    text = f"""eal: [--no-huge, -m, "512", --no-pci, --file-prefix, {prefix}, -l, "{'0' if lcores == 1 else '0,1'}", --log-level, "lib.eal:error"]
ports:
  - {{name: in, device: "net_pcap0,rx_pcap={tmp}/in.pcap,infinite_rx=1"}}
  - {{name: out, device: "net_null0,no-rx=1"}}
lcores:
{lc}addresses:
  - {{port: in, ipv4: {OUR_V4}/24, ipv6: "{OUR_V6}/64"}}
limits: {c['limits']}
groups:
  - name: web
    prefixes: [{WEB4}, "{WEB6}"]
    hash: {{model: linux, policy: {c['policy']}, seed: {c['seed']}}}
    select: {c['select']}
    next_hops:
{hops(c['web']).replace("port: out", f"port: {web_port}", 1)}
  - name: rep
    prefixes: [{REP4}]
    hash: {{model: linux, policy: 1, seed: 7}}
    mode: replicate
    next_hops:
{hops(c['rep'])}
metrics: {{listen: "{listen}"}}
"""
    if variant == "syntax":
        text = text.replace(f"prefixes: [{REP4}]", f"prefixes: [{REP4}")
    return text


# ---- the capture: every frame with what it must become --------------------------------------

ETH = dict(src="02:00:00:00:ff:01", dst="02:00:00:00:ff:02")


def ptb(rng, fam, server, mtu=1400, client=None, vlan=None, outer_dst=None, chksum=None, src_i=None):
    """A PTB quoting server -> client (1500-byte packet, quote cut at 548 / 1232 bytes)."""
    l4 = TCP(sport=443, dport=rng.randrange(1024, 65536)) if rng.random() < 0.7 else \
        UDP(sport=443, dport=rng.randrange(1024, 65536))
    eth = Ether(**ETH)
    if vlan:
        eth = eth / Dot1Q(vlan=vlan)
    s = src_i if src_i is not None else rng.randrange(1, 33)
    if fam == 4:
        client = client or f"192.0.2.{rng.randrange(1, 255)}"
        quoted = bytes(IP(src=server, dst=client, flags="DF") / l4 / Raw(b"x" * (1480 - len(l4))))[:548]
        icmp = ICMP(type=3, code=4, nexthopmtu=mtu) if chksum is None else \
            ICMP(type=3, code=4, nexthopmtu=mtu, chksum=chksum)
        return eth / IP(src=f"203.0.113.{100 + s}", dst=outer_dst or server) / icmp / Raw(quoted)
    client = client or f"2001:db8:2::{rng.randrange(1, 65535):x}"
    quoted = bytes(IPv6(src=server, dst=client) / l4 / Raw(b"x" * (1460 - len(l4))))[:1232]
    icmp = ICMPv6PacketTooBig(mtu=mtu) if chksum is None else ICMPv6PacketTooBig(mtu=mtu, cksum=chksum)
    return eth / IPv6(src=f"2001:db8:ffff::{100 + s:x}", dst=outer_dst or server) / icmp / Raw(quoted)


def make_capture(seed=9):
    """[(frame, kind, ptb_family)]: kind is "web" / "rep" (a valid PTB of that group), "answered",
    or the drop reason; ptb_family is 4 / 6 for frames that parse as a PTB (counted in
    ptbsteer_ptbs_total whatever happens next), else None. Shuffled, fixed seed."""
    rng = random.Random(seed)
    out = []
    web4 = lambda: f"198.51.100.{rng.randrange(1, 127)}"  # noqa: E731
    web6 = lambda: f"2001:db8:100::{rng.randrange(1, 65535):x}"  # noqa: E731
    for i in range(120):
        out.append((ptb(rng, 4, web4(), vlan=100 if i % 4 == 0 else None), "web", 4))
    for i in range(70):
        out.append((ptb(rng, 6, web6(), mtu=rng.choice([1280, 1400, 1420]),
                        vlan=200 if i % 5 == 0 else None), "web", 6))
    for _ in range(24):
        out.append((ptb(rng, 4, f"198.51.100.{rng.randrange(129, 255)}"), "rep", 4))
    # Answered: ARP and NS for our own addresses.
    for i in range(3):
        out.append((Ether(src=f"02:00:00:00:fe:{i:02x}", dst="ff:ff:ff:ff:ff:ff") /
                    ARP(op=1, hwsrc=f"02:00:00:00:fe:{i:02x}", psrc=f"203.0.113.{10 + i}", pdst=OUR_V4),
                    "answered", None))
    for i in range(3):
        out.append((Ether(src=f"02:00:00:00:fe:{i:02x}", dst="33:33:ff:00:00:02") /
                    IPv6(src=f"2001:db8:ffff::{10 + i:x}", dst="ff02::1:ff00:2", hlim=255) /
                    ICMPv6ND_NS(tgt=OUR_V6) / ICMPv6NDOptSrcLLAddr(lladdr=f"02:00:00:00:fe:{i:02x}"),
                    "answered", None))
    # Dropped, each under its reason. PTBs that fail validation still parsed as PTBs.
    drops = [
        (ptb(rng, 4, "192.0.2.200"), "no_group", 4),
        (ptb(rng, 6, "2001:db8:999::1"), "no_group", 6),
        (ptb(rng, 4, web4(), chksum=0x1234), "bad_checksum", 4),
        (ptb(rng, 6, web6(), chksum=0x1234), "bad_checksum", 6),
        (ptb(rng, 4, "198.51.100.7", outer_dst="198.51.100.8"), "dst_not_quoted_source", 4),
        (ptb(rng, 6, "2001:db8:100::7", outer_dst="2001:db8:100::8"), "dst_not_quoted_source", 6),
        (ptb(rng, 4, web4(), mtu=0), "mtu_unspecified", 4),
        (ptb(rng, 4, web4(), mtu=68), "mtu_below_floor", 4),
        (ptb(rng, 6, web6(), mtu=1200), "mtu_below_floor", 6),
        (ptb(rng, 6, web6(), mtu=70000), "mtu_above_ceiling", 6),
        (ptb(rng, 4, web4(), mtu=1500), "mtu_not_smaller", 4),
        (ptb(rng, 6, web6(), mtu=1500), "mtu_not_smaller", 6),
        (Ether(**ETH) / IP(src="203.0.113.1", dst="198.51.100.1") / ICMP(type=8) / Raw(b"ping"),
         "icmp_other", None),
        (Ether(**ETH) / IP(src="203.0.113.1", dst="198.51.100.1") / UDP(sport=1, dport=2), "not_icmp", None),
        (Ether(**ETH) / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=1, dport=2), "not_icmp", None),
        (Ether(src=ETH["src"], dst="01:80:c2:00:00:0e", type=0x88cc) / Raw(b"\x02\x07\x04" + b"\0" * 40),
         "ethertype_other", None),
        (Ether(src=ETH["src"], dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, psrc="203.0.113.1", pdst="203.0.113.9"),
         "arp_not_ours", None),
        (Ether(src=ETH["src"], dst="33:33:ff:00:00:09") / IPv6(src="2001:db8:ffff::1", dst="ff02::1:ff00:9", hlim=255) /
         ICMPv6ND_NS(tgt="2001:db8:ffff::9"), "nd_not_ours", None),
        (Ether(**ETH) / IP(src="203.0.113.1", dst="198.51.100.1") / ICMP(type=3, code=4) / Raw(b"\x45" + b"\0" * 5),
         "inner_truncated", None),
        (Raw(b"\x02\x00\x00\x00\xff\x02\x02\x00\x00\x00"), "truncated_l2", None),
    ]
    out += drops * 2
    rng.shuffle(out)
    return [(bytes(f), kind, fam) for f, kind, fam in out]


def write_pcap(path, frames):
    """Classic pcap, Ethernet link type (scapy's wrpcap warns about the 10-byte frame)."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for fr in frames:
            f.write(struct.pack("<IIII", 0, 0, len(fr), len(fr)) + fr)


# ---- talking to the appliance ---------------------------------------------------------------

def metric_types(text):
    """{family: type} from the # TYPE lines."""
    return dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))


def monotonic_series(types):
    """Sample names that only go up: counters, and the buckets, counts and sums of histograms
    and summaries (every observation here is >= 0)."""
    names = set()
    for fam, t in types.items():
        if t == "counter":
            names.add(fam)
        elif t in ("histogram", "summary"):
            names.update({fam + "_bucket", fam + "_count", fam + "_sum"} if t == "histogram"
                         else {fam + "_count", fam + "_sum"})
    return names


def total(s, name):
    return sum(v for (n, _), v in s.items() if n == name)


def reload_counts(s):
    return {r: int(sample(s, "ptbsteer_config_reloads_total", result=r) or 0) for r in WANT_HTTP}


def delivered(s):
    """{next_hop name: frames} from ptbsteer_delivered_packets_total (names are unique across
    groups and configurations here)."""
    out = collections.Counter()
    for (n, labels), v in s.items():
        if n == "ptbsteer_delivered_packets_total":
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
                pools = {p: sample(s, "ptbsteer_mempool_in_use", pool=p) for p in ("packets", "headers")}
                self.series.append((t0, total(s, "ptbsteer_received_packets_total"), pools, rss_kib(self.pid),
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


def parse_kv(out, tag):
    m = re.search(rf"^{tag} (.*)$", out, re.M)
    return {k: int(v) for k, v in (kv.split("=", 1) for kv in m.group(1).split())} if m else None


# ---- the run ----------------------------------------------------------------------------------

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
        with open(cfg_path + ".new", "w") as f:
            f.write(config_text(tmp, prefix, a.lcores, c, variant))
        os.replace(cfg_path + ".new", cfg_path)  # never a half-written file

    install(A)
    proc = subprocess.Popen([a.ptbsteer, "--config", cfg_path], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    telemetry = None
    try:
        url = None
        deadline = time.monotonic() + 60
        while url is None:
            line = proc.stdout.readline()
            if not line or time.monotonic() > deadline:
                raise RuntimeError("ptbsteer did not start:\n" + "".join(run.out_lines))
            run.out_lines.append(line)
            m = re.search(r"metrics on (http://\S+)/metrics", line)
            url = m.group(1) if m else None
        threading.Thread(target=lambda: run.out_lines.extend(proc.stdout), daemon=True).start()
        run.started = time.monotonic()
        run.scraper = Scraper(url, proc.pid, a.scrape_every)
        run.scraper.start()
        try:
            telemetry = Telemetry(prefix)
        except (OSError, ValueError, KeyError) as e:
            run.telemetry_error = f"{type(e).__name__}: {e}"

        def scrape():
            status, body = http(url + "/metrics", timeout=10)
            if status != 200:
                raise RuntimeError(f"/metrics answered {status}")
            return parse_metrics(body)

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
            want = "success" if not variant else ("restart_required" if variant == "restart" else "failure")
            via = "SIGHUP" if i % 2 == 0 else "POST"
            i += 1
            what = f"reload {i} ({via}, {variant or 'to ' + target['name']})"
            install(target, variant)
            before = reload_counts(scrape())
            t0 = time.monotonic()
            if via == "SIGHUP":
                proc.send_signal(signal.SIGHUP)
                while sum(reload_counts(scrape()).values()) == sum(before.values()):
                    if time.monotonic() > t0 + 15:
                        raise RuntimeError(f"{what} never completed")
                    time.sleep(0.005)
            else:
                status, body = http(url + "/reload", "POST", timeout=30)
                if status != WANT_HTTP[want]:
                    failures.append(f"{what}: HTTP {status}, want {WANT_HTTP[want]}: {body.strip()[:300]}")
            run.reload_ms.append((time.monotonic() - t0) * 1000)
            after = reload_counts(scrape())
            run.asked[want] += 1
            run.how[via] += 1
            if after != {r: before[r] + (r == want) for r in WANT_HTTP}:
                failures.append(f"{what}: reload counters {before} -> {after}, want one more {want}")
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
                failures.append(f"after {what}: generation {sample(s2, 'ptbsteer_config_generation')}, "
                                f"want {generation}")
            grew = {n for n, v in delivered(s2).items() if v > delivered(s1).get(n, 0)}
            names = {n for n, _, _ in serving["web"] + serving["rep"]}
            if not grew or not grew <= names:
                failures.append(f"after {what}: next-hops {sorted(grew)} received PTBs, "
                                f"want some of {serving['name']}'s {sorted(names)}")
            if total(s2, "ptbsteer_received_packets_total") <= total(s1, "ptbsteer_received_packets_total"):
                failures.append(f"after {what}: no frame received in 0.4 s")
        time.sleep(max(0.0, end - time.monotonic()))
        heap_sample(serving["name"])
        run.scraper.stop.set()
        run.scraper.join(timeout=15)
        run.final = scrape()
        if reload_counts(run.final) != {r: run.asked[r] for r in WANT_HTTP}:
            failures.append(f"/metrics reload counts {reload_counts(run.final)}, asked {dict(run.asked)}")
        run.duration = time.monotonic() - run.started
        if telemetry:
            telemetry.close()
            telemetry = None
        # SIGINT (Ctrl-C): the other tests stop ptbsteer with SIGTERM; both must exit cleanly.
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        time.sleep(0.2)  # the reader thread takes the last lines
    except Exception as e:  # noqa: BLE001 (reported; the figures so far are still printed)
        failures.append(f"run aborted: {type(e).__name__}: {e}")
        run.duration = time.monotonic() - run.started if run.started else 0.0
    finally:
        if run.scraper:
            run.scraper.stop.set()
        if telemetry:
            telemetry.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        run.returncode = proc.returncode
        remove_eal_dirs()
    return run


def check_report(out, capture, run, failures):
    """The exit report: balanced, consistent with itself, with /metrics and with the capture."""
    c = parse_kv(out, "ptbsteer-counters")
    r = parse_kv(out, "ptbsteer-reloads")
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
    if rx != c["unicast"] + c["replicated"] + c["answered"] + c["dropped"]:
        failures.append(f"rx {rx} != unicast + replicated + answered + dropped")
    if "received == unicast + replicated + answered + dropped: yes" not in out:
        failures.append("ptbsteer reports unbalanced counters")
    if c["dropped"] != sum(drops.values()):
        failures.append(f"dropped {c['dropped']} != the sum of the reasons {sum(drops.values())}")
    if sum(nh.values()) != c["unicast"] + c["copies"]:
        failures.append(f"per next-hop frames {sum(nh.values())} != unicast + copies {c['unicast'] + c['copies']}")
    if c["tx_failed"]:
        failures.append(f"{c['tx_failed']} frames not taken by the NIC (tx_failed)")
    for conf in (A, B):  # every replicated PTB reached every next-hop of its group
        per = {nh.get(f"rep/{n}", 0) for n, _, _ in conf["rep"]}
        if len(per) != 1:
            failures.append(f"{conf['name']}: replicate copies differ across next-hops: {sorted(per)}")
    orig = sum(nh.get(f"rep/{conf['rep'][0][0]}", 0) for conf in (A, B))
    if orig != c["replicated"]:
        failures.append(f"replicated {c['replicated']}, but each rep next-hop got {orig}")
    final = getattr(run, "final", None)
    if final:
        for k, name in (("rx", "ptbsteer_received_packets_total"), ("unicast", "ptbsteer_delivered_packets_total"),
                        ("dropped", "ptbsteer_dropped_packets_total")):
            m = total(final, name)
            if k == "unicast":
                m = sum(v for (n, lb), v in final.items() if n == name and ("mode", "unicast") in lb)
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
    fig["deciles"] = [([rss[0]] + [x[3] for x in series if x[0] - run.started <= run.duration * d / 10])[-1]
                      for d in range(1, 11)]
    split = run.scraper.split
    sw = [x for x in split if x[0] - run.started <= warmup]
    if sw and split:
        fig["split"] = (sw[-1][1], max(x[1] for x in split), sw[-1][2], max(x[2] for x in split), split[-1][2])
    # rte_malloc'd bytes: the same whenever the same configuration serves (tables of the old
    # generation freed by the reload that retired it).
    by_conf = collections.defaultdict(set)
    for _, name, size, count in run.heap:
        by_conf[name].add((size, count))
    fig["heap"] = {k: sorted(v) for k, v in by_conf.items()}
    for name, v in by_conf.items():
        if len(v) > 1:
            failures.append(f"DPDK heap while config {name} serves is not constant (bytes, blocks): {sorted(v)}")
    # Mempools: under infinite_rx traffic never stops, so an instantaneous in-use count carries
    # the frames in flight (a burst being decided, TX buffers, the RX -> TX ring); the lowest
    # count over many scrapes is the floor that a leak would raise.
    tail_s = max(3.0, 0.1 * a.seconds)
    tail = [x for x in series if x[0] > series[-1][0] - tail_s]
    fig["pools"] = {}
    for p in ("packets", "headers"):
        vals = lambda xs: [x[2][p] for x in xs if x[2][p] is not None]  # noqa: E731
        base, end, peak = min(vals(warm), default=None), min(vals(tail), default=None), max(vals(series), default=None)
        fig["pools"][p] = (base, end, peak)
        if base is None or end is None or end > base + MEMPOOL_SLACK:
            failures.append(f"mempool {p}: {num(end)} in use at the end (lowest of the last {tail_s:.0f} s), "
                            f"baseline {num(base)} (lowest in the warm-up), slack {MEMPOOL_SLACK}")
    if series[-1][4]:
        failures.append(f"{series[-1][4]:.0f} RX mbuf allocation failures: the packet pool ran dry")
    return fig


def print_figures(a, capture, run, c, fig, failures):
    row = lambda k, v: print(f"  {k:<40}{v}")  # noqa: E731
    mib = lambda kib: f"{kib / 1024:.1f}"  # noqa: E731
    sc = run.scraper
    print(f"soak: {a.lcores} lcore{'s' if a.lcores > 1 else ''}, net_pcap infinite_rx ({len(capture)}-frame "
          f"capture) -> net_null, reload every {a.reload_every:g} s, scrape every {a.scrape_every:g} s")
    row("duration", f"{run.duration:.1f} s (warm-up {fig.get('warmup', 0):.1f} s)")
    rx = c.get("rx", 0)
    row("packets received", f"{rx:,} ({rx / max(run.duration, 1e-9) / 1e6:.2f} Mpps; not judged)")
    row("delivered unicast / replicated (copies)", f"{c.get('unicast', 0):,} / {c.get('replicated', 0):,} "
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
        row("scrapes /metrics + /healthz (failed)", f"{sc.scrapes} + {sc.health_checks} ({len(sc.failures)}), "
            f"slowest /metrics {sc.latency_max * 1000:.0f} ms")
    if "rss" in fig:
        r = fig["rss"]
        row("RSS start / warm-up end / peak / end", f"{mib(r[0])} / {mib(r[1])} / {mib(r[2])} / {mib(r[3])} MiB "
            f"(min {mib(r[4])}, max {mib(r[5])}; bound +{a.rss_bound_mib:g} MiB)")
        row("RSS at each tenth of the run", " ".join(f"{x / 1024:.0f}" for x in fig["deciles"]) + " MiB")
    if "split" in fig:
        s = fig["split"]
        row("  DPDK memory: warm-up / peak", f"{mib(s[0])} / {mib(s[1])} MiB (-m 512)")
        row("  the rest: warm-up / peak / end", f"{mib(s[2])} / {mib(s[3])} / {mib(s[4])} MiB")
    if fig.get("heap"):
        row("DPDK heap at rest (bytes, blocks)", "; ".join(
            f"{k}: " + ", ".join(f"{b:,} B {n}" for b, n in v) for k, v in sorted(fig["heap"].items())))
    elif run.telemetry_error:
        row("DPDK heap", f"not checked: telemetry {run.telemetry_error}")
    for p, (base, end, peak) in fig.get("pools", {}).items():
        row(f"mempool {p} baseline / end / peak", f"{num(base)} / {num(end)} / {num(peak)} in use")
    row("dropped", f"{c.get('dropped', 0):,}")
    for k, v in sorted(((k[5:], v) for k, v in c.items() if k.startswith("drop.")), key=lambda kv: -kv[1]):
        row(f"  {k}", f"{v:,}")
    for f in failures[:25]:
        print("FAIL", f)
    if len(failures) > 25:
        print(f"FAIL ... {len(failures) - 25} more")
    print(f"soak: {'PASS' if not failures else f'FAIL ({len(failures)} findings)'}")


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
        write_pcap(os.path.join(tmp, "in.pcap"), [f for f, _, _ in capture])
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
