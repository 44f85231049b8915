"""Shared by the metrics tests: a scapy-made traffic mix with its expected counts (worked out
here from what was sent, not from ptbsteer), and the real ptbsteer binary on net_pcap vdevs with
its metrics endpoint on a free loopback port, kept running so it can be scraped."""
import collections
import glob
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request

from scapy.all import ARP, ICMP, IP, TCP, UDP, Ether, ICMPv6PacketTooBig, IPv6, Raw, wrpcap  # noqa: F401

# Upper bounds of the advertised-MTU histogram, as the issue asks for them (each named value is
# a bound), plus 0, 576, 1279, 9000, 65535 (docs/metrics.md explains each).
MTU_BOUNDS = [0, 576, 1279, 1280, 1400, 1420, 1450, 1460, 1480, 1492, 1500, 9000, 65535]

ETH = Ether(src="02:00:00:00:ff:01", dst="02:00:00:00:ff:02")
SOLO_V4, SOLO_V6, REP_V4 = "198.51.100.0/25", "2001:db8:100::/48", "198.51.100.128/25"


def config_text(tmp, tag, capture=None, listen="127.0.0.1:0"):
    cap = ""
    if capture:
        cap = "capture: {" + ", ".join(f"{k}: {v}" for k, v in capture.items()) + "}\n"
    return f"""eal: [--no-huge, -m, "512", --no-pci, --no-telemetry, --file-prefix, ptbsteer-{tag}-{os.getpid()}, -l, "0", --log-level, "lib.eal:error"]
ports:
  - {{name: in, device: "net_pcap0,rx_pcap={tmp}/in.pcap,tx_pcap={tmp}/in-tx.pcap"}}
  - {{name: out, device: "net_pcap1,rx_pcap={tmp}/empty.pcap,tx_pcap={tmp}/out.pcap"}}
lcores:
  - {{id: 0, rx: [in, out], tx: true}}
addresses:
  - {{port: in, ipv4: 203.0.113.2/24}}
groups:
  - name: solo
    prefixes: [{SOLO_V4}, "{SOLO_V6}"]
    hash: {{model: linux, policy: 1, seed: 7}}
    next_hops: [{{name: s1, port: out, mac: "02:00:00:00:01:01"}}]
  - name: rep
    prefixes: [{REP_V4}]
    hash: {{model: linux, policy: 1, seed: 7}}
    mode: replicate
    next_hops:
      - {{name: r1, port: out, mac: "02:00:00:00:02:01"}}
      - {{name: r2, port: out, mac: "02:00:00:00:02:02"}}
metrics: {{listen: "{listen}"}}
{cap}"""


# The quoted packets are 9140 bytes long (a jumbo-frame server), so every MTU below that is a
# believable PTB; the invalid ones below are dropped by validation (docs/security.md) and still
# count in the MTU histogram, which records every parsed PTB.
def ptb4(server, mtu, client="192.0.2.10"):
    quoted = bytes(IP(src=server, dst=client, flags="DF") / TCP(sport=443, dport=40000) / Raw(b"x" * 9100))[:548]
    return Ether(src="02:00:00:00:ff:01", dst="02:00:00:00:ff:02") / IP(src="203.0.113.1", dst=server) / \
        ICMP(type=3, code=4, nexthopmtu=mtu) / Raw(quoted)


def ptb6(server, mtu, client="2001:db8:2::10"):
    quoted = bytes(IPv6(src=server, dst=client) / TCP(sport=443, dport=40000) / Raw(b"x" * 9100))[:1232]
    return Ether(src="02:00:00:00:ff:01", dst="02:00:00:00:ff:02") / IPv6(src="2001:db8:ffff::1", dst=server) / \
        ICMPv6PacketTooBig(mtu=mtu) / Raw(quoted)


class Traffic:
    """Frames to send and what each must do to the counters."""

    def __init__(self):
        self.frames = []
        self.rx = collections.Counter()      # family -> frames (EtherType after VLAN tags)
        self.ptbs = collections.Counter()    # family -> parsed PTBs
        self.mtus = collections.defaultdict(list)
        self.delivered = collections.Counter()  # (group, next_hop, mode) -> frames
        self.replicated = 0
        self.drops = collections.Counter()
        self.dropped_frames = []              # bytes, in the order sent

    def add(self, frame, family, ptb_mtu=None, delivered=(), drop=None):
        self.frames.append(frame)
        self.rx[family] += 1
        if ptb_mtu is not None:
            self.ptbs[family] += 1
            self.mtus[family].append(ptb_mtu)
        for d in delivered:
            self.delivered[d] += 1
        if len(delivered) > 1:
            self.replicated += 1
        if drop:
            self.drops[drop] += 1
            self.dropped_frames.append(bytes(frame))


def make_traffic(scale=1):
    t = Traffic()
    v4_mtus = [0, 68, 576, 1280, 1300, 1400, 1400, 1420, 1450, 1460, 1480, 1492, 1500, 1500, 9000]
    v6_mtus = [1280, 1280, 1400, 1420, 1480, 1500, 1500, 9000, 70000]
    for _ in range(scale):
        invalid = {("ipv4", 0): "mtu_unspecified", ("ipv4", 68): "mtu_below_floor",
                   ("ipv6", 70000): "mtu_above_ceiling"}
        for i, mtu in enumerate(v4_mtus):
            bad = invalid.get(("ipv4", mtu))
            t.add(ptb4(f"198.51.100.{i + 1}", mtu), "ipv4", mtu,
                  [] if bad else [("solo", "s1", "unicast")], drop=bad)
        for i, mtu in enumerate(v6_mtus):
            bad = invalid.get(("ipv6", mtu))
            t.add(ptb6(f"2001:db8:100::{i + 1:x}", mtu), "ipv6", mtu,
                  [] if bad else [("solo", "s1", "unicast")], drop=bad)
        for i in range(4):
            t.add(ptb4(f"198.51.100.{130 + i}", 1400), "ipv4", 1400,
                  [("rep", "r1", "replicate"), ("rep", "r2", "replicate")])
        # Dropped: each under its own reason.
        t.add(ptb4("192.0.2.200", 1400), "ipv4", 1400, drop="no_group")
        t.add(ptb6("2001:db8:999::1", 1280), "ipv6", 1280, drop="no_group")
        t.add(ETH / IP(src="203.0.113.1", dst="198.51.100.1") / ICMP(type=8), "ipv4", drop="icmp_other")
        t.add(ETH / IP(src="203.0.113.1", dst="198.51.100.1") / UDP(sport=1, dport=2), "ipv4", drop="not_icmp")
        t.add(ETH / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=1, dport=2), "ipv6", drop="not_icmp")
        t.add(Ether(src="02:00:00:00:ff:01", dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, psrc="203.0.113.1", pdst="203.0.113.9"), "other",
              drop="arp_not_ours")
        t.add(Ether(src="02:00:00:00:ff:01", dst="01:80:c2:00:00:0e", type=0x88cc) / Raw(b"\x02\x07\x04" + b"\0" * 40), "other", drop="ethertype_other")
        t.add(ETH / IP(src="203.0.113.1", dst="198.51.100.1") / ICMP(type=3, code=4) / Raw(b"\x45" + b"\0" * 5),
              "ipv4", drop="inner_truncated")
    return t


def histogram(mtus):
    """Cumulative bucket counts {le: n} for a list of MTUs, '+Inf' included."""
    out = {}
    for b in MTU_BOUNDS:
        out[str(b)] = sum(1 for m in mtus if m <= b)
    out["+Inf"] = len(mtus)
    return out


def write_inputs(tmp, traffic):
    wrpcap(os.path.join(tmp, "in.pcap"), traffic.frames)
    wrpcap(os.path.join(tmp, "empty.pcap"), [])


class Ptbsteer:
    """ptbsteer running on a config; .url is its metrics base URL. Always stopped by stop()."""

    def __init__(self, binary, cfg_path, timeout=30):
        self.proc = subprocess.Popen([binary, "--config", cfg_path], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.head = ""
        self.url = None
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                line = self.proc.stdout.readline()
                if not line:
                    raise RuntimeError(f"ptbsteer exited before running:\n{self.head}")
                self.head += line
                m = re.search(r"metrics on (http://\S+)/metrics", line)
                if m:
                    self.url = m.group(1)
                    return
            raise RuntimeError(f"ptbsteer did not announce its metrics:\n{self.head}")
        except BaseException:
            self.kill()
            raise

    def get(self, path, timeout=5):
        """(status, body) of GET path."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def stop(self, timeout=20):
        """SIGTERM; returns (exit code, everything it printed)."""
        try:
            self.proc.send_signal(signal.SIGTERM)
            out, _ = self.proc.communicate(timeout=timeout)
            return self.proc.returncode, self.head + out
        finally:
            self.kill()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def parse_metrics(text):
    """{(name, frozenset(labels.items())): value} from the Prometheus text format."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
        if not m:
            raise ValueError(f"unparsable sample line: {line!r}")
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        out[(m.group(1), frozenset(labels.items()))] = float(m.group(4))
    return out


def sample(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


def wait_received(p, total, timeout=20):
    """Scrapes until ptbsteer has taken `total` frames from its RX queues; returns the samples."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = p.get("/metrics")
        samples = parse_metrics(body) if status == 200 else {}
        got = sum(v for (n, _), v in samples.items() if n == "ptbsteer_received_packets_total")
        if got >= total or time.monotonic() > deadline:
            return body, samples
        time.sleep(0.2)


def documented_metrics(doc_path):
    """Metric names in docs/metrics.md: first column of the table rows whose second is a type."""
    names = set()
    for line in open(doc_path):
        m = re.match(r"^\|\s*`([a-z_:][a-z0-9_:]*)`\s*\|\s*(?:counter|gauge|histogram|summary)\s*\|", line)
        if m:
            names.add(m.group(1))
    return names


def http(url, method="GET", timeout=30):
    """(status, body) of one request; an HTTP error status is an answer, not an exception. POST
    carries an empty body (POST /reload)."""
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def remove_eal_dirs():
    """The EAL leaves its runtime dir (/var/run/dpdk/PREFIX) behind; ours end in our pid."""
    for d in glob.glob(f"/var/run/dpdk/ptbsteer-*-{os.getpid()}"):
        shutil.rmtree(d, ignore_errors=True)
