"""Whole-binary benchmark: ptbsteer against dpdk-testpmd --forward-mode=io on the same vdevs
(net_pcap infinite_rx in, net_null out, one forwarding lcore each), alternated, same run.
Prints medians, the ratio, and replicate-mode copies/s with mempool use. Driven by scripts/bench.
"""
import argparse
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
import urllib.request

from scapy.all import ICMP, IP, TCP, UDP, Dot1Q, Ether, ICMPv6PacketTooBig, IPv6, Raw, wrpcap


def capture(path, n=1024, seed=8, quotes="full"):
    """A realistic mix of valid PTBs (some VLAN-tagged), all for group prefixes. quotes="full":
    as much of the packet as routers quote (576-byte IPv4 datagram, RFC 1812 §4.3.2.3; 1280-byte
    IPv6 packet, RFC 4443 §2.4(c)); "minimal": the quoted header + 8 bytes (RFC 792), the most
    PTBs per second a link can carry."""
    rng = random.Random(seed)
    frames = []
    for i in range(n):
        v6 = rng.random() < 0.4
        eth = Ether(src="02:00:00:00:ff:01", dst="02:00:00:00:ff:02")
        if rng.random() < 0.25:
            eth = eth / Dot1Q(vlan=100)
        l4 = TCP(sport=443, dport=rng.randrange(1024, 65536)) if rng.random() < 0.7 else \
            UDP(sport=443, dport=rng.randrange(1024, 65536))
        if v6:
            server = f"2001:db8:100::{rng.randrange(1, 65535):x}"
            q = bytes(IPv6(src=server, dst=f"2001:db8:2::{rng.randrange(1, 65535):x}") / l4 / Raw(b"x" * 1440))[:1232 if quotes == "full" else 48]
            frames.append(eth / IPv6(src="2001:db8:ffff::1", dst=server) / ICMPv6PacketTooBig(mtu=1400) / Raw(q))
        else:
            server = f"198.51.100.{rng.randrange(1, 255)}"
            q = bytes(IP(src=server, dst=f"192.0.2.{rng.randrange(1, 255)}", flags="DF") / l4 / Raw(b"x" * 1460))[:548 if quotes == "full" else 28]
            frames.append(eth / IP(src=f"203.0.113.{rng.randrange(1, 16)}", dst=server) /
                          ICMP(type=3, code=4, nexthopmtu=1400) / Raw(q))
    wrpcap(path, frames)


def eal(prefix):
    return ["--no-huge", "-m", "1024", "--no-pci", "--no-telemetry", "--file-prefix", prefix,
            "-l", "0,1", "--log-level", "lib.eal:error"]


def vdevs(pcap):
    return ["--vdev", f"net_pcap0,rx_pcap={pcap},infinite_rx=1", "--vdev", "net_null0,no-rx=1"]


def run_testpmd(pcap, seconds):
    cmd = ["dpdk-testpmd"] + eal(f"bench-tp-{os.getpid()}") + vdevs(pcap) + \
        ["--", "--forward-mode=io", "--total-num-mbufs=16384", "--nb-cores=1", "--stats-period", "1"]
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(seconds)
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=30)
    # Per-second "Rx-pps" of port 0 (the pcap port); the first two are start-up.
    blocks = re.findall(r"NIC statistics for port 0.*?Rx-pps:\s+(\d+)", out, re.S)
    rates = [int(x) for x in blocks][2:]
    return statistics.median(rates) if rates else 0.0


def config(pcap, hops, mode, checksum=True):
    nh = "\n".join(f'      - {{name: s{i}, port: out, mac: "02:00:00:00:01:{i:02x}"}}' for i in range(1, hops + 1))
    return f"""eal: [{", ".join('"' + a + '"' for a in eal(f"bench-ps-{os.getpid()}"))}]
ports:
  - {{name: in, device: "net_pcap0,rx_pcap={pcap},infinite_rx=1"}}
  - {{name: out, device: "net_null0,no-rx=1"}}
lcores: [{{id: 1, rx: [in, out], tx: true}}]
metrics: {{listen: "127.0.0.1:0"}}
limits: {{per_source: off, global: off, replication: off}}
groups:
  - name: bench
    prefixes: [198.51.100.0/24, "2001:db8:100::/48"]
    hash: {{model: linux, policy: 1, seed: 12345}}
    mode: {mode}
    validate: {{checksum: {"true" if checksum else "false"}}}
    next_hops:
{nh}
"""


def scrape(url):
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    vals = {}
    for line in text.splitlines():
        m = re.match(r'^(ptbsteer_[a-z_]+)(\{[^}]*\})? ([0-9.e+]+)$', line)
        if m:
            vals.setdefault(m.group(1), 0.0)
            vals[m.group(1)] += float(m.group(3))
            if m.group(1) == "ptbsteer_mempool_in_use":
                vals[f"mempool{m.group(2)}"] = float(m.group(3))
    return vals


def run_ptbsteer(binary, pcap, seconds, hops=4, mode="unicast", checksum=True):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(config(pcap, hops, mode, checksum))
        cfgpath = f.name
    p = subprocess.Popen([binary, "--config", cfgpath], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = None
        deadline = time.monotonic() + 20
        while url is None and time.monotonic() < deadline:
            line = p.stdout.readline()
            m = re.search(r"(http://[0-9.:]+)/metrics", line)
            if m:
                url = m.group(1) + "/metrics"
            if not line and p.poll() is not None:
                raise RuntimeError("ptbsteer exited at start-up")
        time.sleep(2)  # warm-up
        rx, copies, pools = [], [], []
        last = scrape(url)
        t_last = time.monotonic()
        for _ in range(int(seconds)):
            time.sleep(1)
            now = scrape(url)
            t = time.monotonic()
            rx.append((now["ptbsteer_received_packets_total"] - last["ptbsteer_received_packets_total"]) / (t - t_last))
            copies.append((now.get("ptbsteer_replicated_copies_total", 0) - last.get("ptbsteer_replicated_copies_total", 0)) / (t - t_last))
            pools.append({k: v for k, v in now.items() if k.startswith("mempool{")})
            last, t_last = now, t
        return statistics.median(rx), statistics.median(copies), pools[-1]
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
        os.unlink(cfgpath)


def remove_eal_dirs():
    """The EAL leaves its runtime dir (/var/run/dpdk/PREFIX) behind; ours end in our pid."""
    for name in ("bench-tp", "bench-ps"):
        shutil.rmtree(f"/var/run/dpdk/{name}-{os.getpid()}", ignore_errors=True)


def main():
    try:
        run_all()
    finally:
        remove_eal_dirs()


def run_all():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ptbsteer", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--quotes", choices=["full", "minimal"], default="full",
                    help="PTB size: routers' full quotes, or header + 8 bytes (most PTBs/s)")
    ap.add_argument("--no-replicate", action="store_true", help="skip the replicate-mode runs")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ptbsteer-bench-") as tmp:
        pcap = os.path.join(tmp, "ptbs.pcap")
        capture(pcap, quotes=a.quotes)
        tp, ps, pn = [], [], []
        for r in range(a.rounds):  # alternate: the machine is noisy
            tp.append(run_testpmd(pcap, a.seconds + 2))
            ps.append(run_ptbsteer(a.ptbsteer, pcap, a.seconds)[0])
            pn.append(run_ptbsteer(a.ptbsteer, pcap, a.seconds, checksum=False)[0])
            print(f"round {r + 1}: testpmd io {tp[-1] / 1e6:.2f} Mpps, ptbsteer unicast {ps[-1] / 1e6:.2f} Mpps, "
                  f"without checksum verification {pn[-1] / 1e6:.2f} Mpps", flush=True)
        mt = statistics.median(tp)
        print(f"quotes {a.quotes}; median testpmd io {mt / 1e6:.2f} Mpps")
        for name, xs in (("ptbsteer unicast", ps), ("ptbsteer unicast, checksum: false", pn)):
            mp = statistics.median(xs)
            print(f"median {name}: {mp / 1e6:.2f} Mpps ({1e9 / mp if mp else 0:.0f} ns/packet), "
                  f"ratio {mp / mt if mt else 0:.2f}")
        for hops in () if a.no_replicate else (4, 16):
            rx, copies, pools = run_ptbsteer(a.ptbsteer, pcap, a.seconds, hops=hops, mode="replicate")
            print(f"replicate to {hops}: {rx / 1e6:.2f} Mpps PTBs in, {copies / 1e6:.2f} M copies/s out; "
                  f"mempool in use: " + ", ".join(f"{k[8:-1]} {v:.0f}" for k, v in sorted(pools.items())))


if __name__ == "__main__":
    main()
