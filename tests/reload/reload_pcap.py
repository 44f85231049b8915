#!/usr/bin/python3
"""Hot reload under traffic: the real ptbsteer on net_pcap vdevs, its input a capture streamed
through a named pipe (a bounded stream, paced by this script, so that every frame is sent
exactly once and the reloads happen while it flows), reloaded 50 times in turn with config B,
an invalid or restart-requiring config, and config A, by SIGHUP and POST /reload alternately.

A and B steer the same PTBs differently (other hash seed and policy, other weights, other
next-hops) and their next-hop MAC sets are disjoint, so every output frame says which config
decided it. Checked:
  - every output frame went to the owner of its flow under the config its MAC belongs to
    (independent Python model of the Linux hash, tests/kernel), and replicated PTBs to every
    next-hop of that config's group: nothing lost, nothing duplicated, nothing misdelivered;
  - the output switches between A and B at most once per successful reload (in TX order: no
    frame decided with an old generation after a newer one's);
  - received == delivered + dropped (and nothing dropped, nothing the NIC refused);
  - the reload outcomes (success / failure / restart_required) and the generation, in the HTTP
    answers, /metrics and the exit report, match what was asked;
  - the packet and header mempools' in-use counts are back to their baseline at the end.

Usage: reload_pcap.py --ptbsteer BIN [--lcores 1|2] [--reloads 50]
"""
import argparse
import collections
import os
import re
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "kernel"))
sys.path.insert(0, os.path.join(HERE, "..", "metrics"))
from kernel_agreement import Flow, py_model_hash, py_select  # noqa: E402
from ptbsteer_run import http, parse_metrics, remove_eal_dirs, sample  # noqa: E402

from scapy.all import ICMP, IP, TCP, UDP, Ether, ICMPv6PacketTooBig, IPv6, Raw  # noqa: E402

WEB4, WEB6, REP4 = "198.51.100.0/25", "2001:db8:100::/48", "198.51.100.128/25"
# name, MAC, weight. The MAC's fifth byte says the config: 0a/0c = A, 0b/0d = B.
A = dict(seed=1111, policy=1, fields=0x37,
         web=[(f"a{i}", f"02:00:00:00:0a:0{i}", w) for i, w in enumerate([1, 1, 1, 1], 1)],
         rep=[(f"ra{i}", f"02:00:00:00:0c:0{i}", 1) for i in range(1, 4)],
         limits="{per_source: off, global: off, replication: off}")
B = dict(seed=2222, policy=3, fields=0x37,
         web=[(f"b{i}", f"02:00:00:00:0b:0{i}", w) for i, w in enumerate([3, 1, 2], 1)],
         rep=[(f"rb{i}", f"02:00:00:00:0d:0{i}", 1) for i in range(1, 3)],
         # On, but far above this test's rate: the limiters are rebuilt by the reload, never hit.
         limits="{per_source: {rate: 100000000, burst: 100000000}, "
                "global: {rate: 100000000, burst: 100000000}, "
                "replication: {rate: 100000000, burst: 100000000}}")


def config_text(tmp, lcores, c, variant=None):
    hops = lambda hs: "\n".join(f'      - {{name: {n}, port: out, mac: "{m}", weight: {w}}}'  # noqa: E731
                                for n, m, w in hs)
    fields = f", fields: 0x{c['fields']:x}" if c["policy"] == 3 else ""
    lc = ("  - {id: 0, rx: [in, out], tx: true}\n" if lcores == 1 else
          "  - {id: 0, rx: [in, out]}\n  - {id: 1, tx: true}\n")
    listen = "127.0.0.1:9" if variant == "restart" else "127.0.0.1:0"
    web_port = "nowhere" if variant == "semantic" else "out"
    text = f"""eal: [--no-huge, -m, "1024", --no-pci, --no-telemetry, --file-prefix, ptbsteer-reload-{os.getpid()}, -l, "{'0' if lcores == 1 else '0,1'}", --log-level, "lib.eal:error"]
ports:
  - {{name: in, device: "net_pcap0,rx_pcap={tmp}/in.fifo,tx_pcap={tmp}/in-tx.pcap"}}
  - {{name: out, device: "net_pcap1,rx_pcap={tmp}/empty.pcap,tx_pcap={tmp}/out.pcap"}}
lcores:
{lc}addresses:
  - {{port: in, ipv4: 203.0.113.2/24}}
limits: {c['limits']}
groups:
  - name: web
    prefixes: [{WEB4}, "{WEB6}"]
    hash: {{model: linux, policy: {c['policy']}, seed: {c['seed']}{fields}}}
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
        text = text.replace("prefixes: [198.51.100.128/25]", "prefixes: [198.51.100.128/25")
    return text


def owner_mac(c, flow):
    weights = [w for _, _, w in c["web"]]
    return c["web"][py_select(weights, py_model_hash(c["seed"], c["policy"], c["fields"], flow))][1]


def make_frames(count):
    """Unique PTBs (short quotes: small frames), each with its expected outcome under A and B."""
    frames = []  # (bytes, kind, expectation) kind: "web" -> {A: mac, B: mac}; "rep"
    for i in range(count):
        fam = 4 if i % 3 else 6
        proto = 6 if i % 2 else 17
        sport, dport = (443 if i % 4 < 2 else 80), 1024 + i
        l4 = TCP(sport=sport, dport=dport) if proto == 6 else UDP(sport=sport, dport=dport)
        eth = Ether(src="02:00:00:00:ff:01", dst="02:00:00:00:ff:02")
        if fam == 4 and i % 5 == 0:
            server, client, kind = f"198.51.100.{129 + i % 120}", f"192.0.2.{1 + i % 250}", "rep"
        elif fam == 4:
            server, client, kind = f"198.51.100.{1 + i % 120}", f"192.0.2.{1 + i % 250}", "web"
        else:
            server, client, kind = f"2001:db8:100::{i:x}", f"2001:db8:2::{i:x}", "web"
        if fam == 4:
            quoted = bytes(IP(src=server, dst=client, flags="DF") / l4 / Raw(b"d" * 1452))[:96]
            f = eth / IP(src="203.0.113.1", dst=server) / ICMP(type=3, code=4, nexthopmtu=1400) / Raw(quoted)
        else:
            quoted = bytes(IPv6(src=server, dst=client) / l4 / Raw(b"d" * 1432))[:96]
            f = eth / IPv6(src="2001:db8:ffff::1", dst=server) / ICMPv6PacketTooBig(mtu=1400) / Raw(quoted)
        flow = Flow(fam, client, server, proto, dport, sport)  # client -> server
        exp = {"A": owner_mac(A, flow), "B": owner_mac(B, flow)} if kind == "web" else None
        frames.append((bytes(f), kind, exp))
    return frames


def read_pcap(path):
    """[(dst_mac, ip_bytes)] in file order; plain struct parsing (scapy is too slow here)."""
    out = []
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return out
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack_from("<I", data, off + 8)[0]
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        l3 = 14
        while frame[l3 - 2:l3] in (b"\x81\x00", b"\x88\xa8"):
            l3 += 4
        out.append((frame[0:6].hex(":"), frame[l3:]))
    return out


class Feeder(threading.Thread):
    """Writes the pcap stream into the FIFO: the header at once (net_pcap reads it while the EAL
    probes the port), then the frames, round after round, paced, until told to stop."""

    def __init__(self, fifo, frames, rate):
        super().__init__(daemon=True)
        self.fifo, self.frames, self.rate = fifo, frames, rate
        self.go, self.stop = threading.Event(), threading.Event()
        self.sent = collections.Counter()  # frame index -> times written
        self.error = None

    def run(self):
        try:
            with open(self.fifo, "wb") as f:
                f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
                f.flush()
                self.go.wait()
                chunk, i, t0, n = 32, 0, time.monotonic(), 0
                while not self.stop.is_set():
                    buf = bytearray()
                    for _ in range(chunk):
                        fr = self.frames[i][0]
                        buf += struct.pack("<IIII", 0, 0, len(fr), len(fr)) + fr
                        self.sent[i] += 1
                        i = (i + 1) % len(self.frames)
                    f.write(buf)
                    f.flush()
                    n += chunk
                    ahead = n / self.rate - (time.monotonic() - t0)
                    if ahead > 0:
                        time.sleep(ahead)
        except Exception as e:  # reported by the main thread
            self.error = e


def scrape(url):
    status, body = http(url + "/metrics")
    if status != 200:
        raise RuntimeError(f"/metrics answered {status}")
    return parse_metrics(body)


def reload_counts(s):
    return {r: int(sample(s, "ptbsteer_config_reloads_total", result=r) or 0)
            for r in ("success", "failure", "restart_required")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ptbsteer", required=True)
    ap.add_argument("--lcores", type=int, default=1)
    ap.add_argument("--reloads", type=int, default=50)
    ap.add_argument("--frames", type=int, default=1500)
    ap.add_argument("--rate", type=float, default=8000, help="frames per second into the pipe")
    a = ap.parse_args()
    started = time.monotonic()
    frames = make_frames(a.frames)
    failures = []
    with tempfile.TemporaryDirectory(prefix="ptbsteer-reload-") as tmp:
        cfg_path = os.path.join(tmp, "ptbsteer.yaml")
        with open(os.path.join(tmp, "empty.pcap"), "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        os.mkfifo(os.path.join(tmp, "in.fifo"))

        def install(c, variant=None):
            new = cfg_path + ".new"
            with open(new, "w") as f:
                f.write(config_text(tmp, a.lcores, c, variant))
            os.replace(new, cfg_path)  # never a half-written file

        install(A)
        feeder = Feeder(os.path.join(tmp, "in.fifo"), frames, a.rate)
        feeder.start()
        proc = subprocess.Popen([a.ptbsteer, "--config", cfg_path], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        out_lines = []
        try:
            url = None
            while url is None:
                line = proc.stdout.readline()
                if not line:
                    raise RuntimeError("ptbsteer exited before running:\n" + "".join(out_lines))
                out_lines.append(line)
                m = re.search(r"metrics on (http://\S+)/metrics", line)
                url = m.group(1) if m else None
            reader = threading.Thread(target=lambda: out_lines.extend(proc.stdout), daemon=True)
            reader.start()
            s0 = scrape(url)
            baseline = {p: sample(s0, "ptbsteer_mempool_in_use", pool=p) for p in ("packets", "headers")}
            if http(url + "/reload")[0] != 405:
                failures.append("GET /reload is not refused with 405")

            feeder.go.set()
            expected = collections.Counter()
            successes = 0
            generation = 1
            reload_times = []
            for i in range(a.reloads):
                kind = ("B", "invalid", "A")[i % 3]
                variant = ("semantic", "syntax", "restart")[(i // 3) % 3] if kind == "invalid" else None
                install(B if kind == "B" else A, variant)
                want = "success" if kind != "invalid" else ("restart_required" if variant == "restart" else "failure")
                expected[want] += 1
                before = sum(reload_counts(scrape(url)).values())
                t0 = time.monotonic()
                if i % 2 == 0:
                    proc.send_signal(signal.SIGHUP)
                    deadline = time.monotonic() + 15
                    while sum(reload_counts(scrape(url)).values()) == before:
                        if time.monotonic() > deadline:
                            raise RuntimeError(f"reload {i + 1} (SIGHUP) never completed")
                        time.sleep(0.005)
                else:
                    status, body = http(url + "/reload", "POST")
                    code = {"success": 200, "failure": 400, "restart_required": 409}[want]
                    if status != code:
                        failures.append(f"reload {i + 1} ({kind} {variant}): HTTP {status}, want {code}: {body}")
                    if want == "success" and f"generation {generation + 1} serves" not in body:
                        failures.append(f"reload {i + 1}: answer does not name generation {generation + 1}: {body}")
                    if want == "failure" and not re.search(r"ptbsteer\.yaml:\d+:\d+: ", body):
                        failures.append(f"reload {i + 1}: errors without file:line:col: {body}")
                    if want == "restart_required" and "metrics.listen changed" not in body:
                        failures.append(f"reload {i + 1}: restart_required does not say what changed: {body}")
                reload_times.append(time.monotonic() - t0)
                if want == "success":
                    successes += 1
                    generation += 1
                s = scrape(url)
                got_gen = sample(s, "ptbsteer_config_generation")
                if got_gen != generation:
                    failures.append(f"after reload {i + 1}: generation {got_gen}, want {generation}")
                time.sleep(0.02)  # let some traffic through under this generation

            feeder.stop.set()
            feeder.join(timeout=10)
            if feeder.error:
                raise RuntimeError(f"feeder: {feeder.error}")
            total = sum(feeder.sent.values())
            deadline = time.monotonic() + 20
            while True:
                s = scrape(url)
                rx = sum(v for (n, _), v in s.items() if n == "ptbsteer_received_packets_total")
                if rx >= total or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            time.sleep(0.3)  # TX buffers drain within 100 us
            s = scrape(url)
            counts = reload_counts(s)
            if counts != dict(expected):
                failures.append(f"/metrics reload counts {counts}, want {dict(expected)}")
            for p, base in baseline.items():
                now = sample(s, "ptbsteer_mempool_in_use", pool=p)
                if now != base:
                    failures.append(f"mempool {p}: {now} mbufs in use after the run, {base} before")
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
            reader.join(timeout=5)
        finally:
            feeder.stop.set()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            remove_eal_dirs()
        out = "".join(out_lines)
        outputs = read_pcap(os.path.join(tmp, "out.pcap"))

    # Every output frame, by the input it carries and the config its MAC names.
    by_ip = {f[14:]: i for i, (f, _, _) in enumerate(frames)}
    mac_config = {m: "A" for _, m, _ in A["web"] + A["rep"]}
    mac_config.update({m: "B" for _, m, _ in B["web"] + B["rep"]})
    got = collections.defaultdict(collections.Counter)  # frame index -> (config, mac) -> n
    runs, last, bad = 0, None, 0
    for mac, ip in outputs:
        i = by_ip.get(ip)
        c = mac_config.get(mac)
        if i is None or c is None:
            bad += 1
            continue
        got[i][(c, mac)] += 1
        if c != last:
            runs, last = runs + 1, c
    if bad:
        failures.append(f"{bad} output frames match no input or carry a MAC of neither config")
    # A PTB may be missing only if it was counted as dropped because the RX -> TX ring was full
    # (2 lcores on a busy 2-core machine: the TX lcore can be descheduled): checked below.
    m = re.search(r"^ptbsteer-counters (.*)$", out, re.M)
    c = dict(kv.split("=", 1) for kv in m.group(1).split()) if m else {}
    ring_full = int(c.get("drop.ring_full", 0))
    wrong = 0
    missing = collections.Counter()  # kind -> PTBs not delivered
    for i, (f, kind, exp) in enumerate(frames):
        n = feeder.sent[i]
        g = got.pop(i, collections.Counter())
        if kind == "web":
            ptbs = sum(g.values())
            ok = all(mac == exp[c] for c, mac in g)
        else:
            ptbs = 0
            ok = True
            for conf_name, conf in (("A", A), ("B", B)):
                per = [g[(conf_name, mac)] for _, mac, _ in conf["rep"]]
                ok &= len(set(per)) == 1  # every next-hop of the group got each PTB
                ptbs += per[0]
        ok &= ptbs <= n
        missing[kind] += max(n - ptbs, 0)
        if not ok:
            wrong += 1
            if wrong <= 5:
                failures.append(f"frame {i} ({kind}) sent {n}x: got {dict(g)}, expected {exp or 'all of a group'}")
    if wrong:
        failures.append(f"{wrong} of {len(frames)} distinct PTBs duplicated or misdelivered")
    if sum(missing.values()) != ring_full:
        failures.append(f"{sum(missing.values())} PTBs never came out, but {ring_full} were dropped (ring_full)")
    # In TX order, A and B alternate at most once per successful reload.
    if runs > successes + 1:
        failures.append(f"the output switches config {runs - 1} times, more than the {successes} reloads")
    if runs < min(successes, 10):
        failures.append(f"only {runs} runs of A/B output: the reloads did not happen under traffic")

    total = sum(feeder.sent.values())
    n_rep = sum(feeder.sent[i] for i, fr in enumerate(frames) if fr[1] == "rep")
    copies = sum(1 for mac, _ in outputs if mac[12:14] in ("0c", "0d"))
    for k, v in {"rx": total, "unicast": total - n_rep - missing["web"], "replicated": n_rep - missing["rep"],
                 "dropped": ring_full, "tx_failed": 0, "copies": copies}.items():
        if int(c.get(k, -1)) != v:
            failures.append(f"exit counter {k} = {c.get(k)}, expected {v}")
    if "received == unicast + replicated + answered + dropped: yes" not in out:
        failures.append("ptbsteer reports unbalanced counters")
    m = re.search(r"^ptbsteer-reloads (.*)$", out, re.M)
    r = dict(kv.split("=", 1) for kv in m.group(1).split()) if m else {}
    want_r = {"generation": str(1 + successes), **{k: str(v) for k, v in expected.items()}}
    if any(r.get(k) != v for k, v in want_r.items()):
        failures.append(f"exit report reloads {r}, want {want_r}")
    if proc.returncode != 0:
        failures.append(f"ptbsteer exited with {proc.returncode}")

    for f in failures[:12]:
        print("FAIL", f)
    rt = sorted(reload_times)
    print(f"reload under traffic ({a.lcores} lcore{'s' if a.lcores > 1 else ''}): {a.reloads} reloads "
          f"({dict(expected)}), reload latency median {rt[len(rt) // 2] * 1000:.0f} ms, max {rt[-1] * 1000:.0f} ms; "
          f"{total} PTBs in ({len(frames)} distinct), {len(outputs)} frames out in {runs} A/B runs, "
          f"{ring_full} dropped as ring_full; "
          f"{time.monotonic() - started:.1f} s: {'all as expected' if not failures else f'{len(failures)} failures'}")
    if failures:
        print(out[-4000:])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
