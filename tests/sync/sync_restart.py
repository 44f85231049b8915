#!/usr/bin/python3
"""ptbsteer-sync across restarts and an unreachable appliance (issue 21): two appliances, A and
B, each a ptbsteer with its control API on a fixed port, one router namespace (tests/kernel's
topology) with a multipath route, and ptbsteer-sync pushing to both.
  1. B is not running when sync starts: A serves the route's group, sync reports A in sync and
     B not (ptbsteer_sync_in_sync), and counts B's failed pushes, retried with backoff.
  2. B starts: within the backoff's 5 s at most, B serves the group too.
  3. A restarts (API groups live in memory only): sync notices the lost group (it lists each
     appliance's groups every second) and A serves it again.
  4. ptbsteer-sync stops, and the route changes: A and B keep serving the last group they were
     given (the last good state), and its age grows (ptbsteer_group_updated_timestamp_seconds
     does not move). sync starts again: its first full push brings both to the kernel's route.
After each step the serving appliances answer 1,000 flows as the kernel forwards them
(`ip -batch route get ... iif` against POST /v1/decide); after step 4's route change, before
sync returns, they must NOT (the negative control: a stale group misdelivers).
Usage: sync_restart.py --ptbsteer BIN --sync BIN"""
import argparse
import os
import random
import socket
import tempfile
import time

from sync_e2e import (Sync, app_config, kernel_choices, ptbsteer_choices, route_cmd,
                      sync_config, wait_applied)
from kernel_topology import Topology, nh_gateway, random_flows  # noqa: E402
from lib import api as api_lib  # noqa: E402
from lib import config, pcapfile, prom  # noqa: E402
from lib.checks import Checks  # noqa: E402
from lib.netns import delete_orphans, ip_batch, sysctl  # noqa: E402
from lib.procs import Procs  # noqa: E402
from lib.runner import remove_eal_dirs  # noqa: E402

FLOWS = 1000


def free_port():
    """A TCP port nothing listens on now (the appliance binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Appliance:
    """One ptbsteer with its own directory, EAL prefix and fixed control port."""

    def __init__(self, binary, root, name, token):
        self.binary, self.name, self.token = binary, name, token
        self.tmp = os.path.join(root, name)
        os.makedirs(self.tmp)
        pcapfile.write(f"{self.tmp}/in.pcap")
        pcapfile.write(f"{self.tmp}/empty.pcap")
        with open(f"{self.tmp}/token", "w") as f:
            f.write(token + "\n")
        os.chmod(f"{self.tmp}/token", 0o600)
        self.listen = f"127.0.0.1:{free_port()}"
        self.base = f"http://{self.listen}/v1/"
        self.cfg = config.write(f"{self.tmp}/ptbsteer.yaml",
                                app_config(self.tmp, tag=f"sr{name}", control_listen=self.listen))
        self.p = self.api = None

    def start(self):
        self.p, self.api = api_lib.start(self.binary, self.cfg, self.token)

    def stop(self):
        if self.p:
            self.p.stop()
            self.p = None

    def updated(self, group):
        """ptbsteer_group_updated_timestamp_seconds of `group` (None without one)."""
        return prom.sample(prom.scrape(self.p.url), "ptbsteer_group_updated_timestamp_seconds",
                           group=group, source="api")


def agree(api, topo, flows):
    """How many of `flows` the appliance decides as the router's kernel forwards them."""
    kernel = kernel_choices(topo.rt, flows)
    return sum(k == o for k, o in zip(kernel, ptbsteer_choices(api, flows)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ptbsteer", required=True)
    ap.add_argument("--sync", required=True)
    ap.add_argument("--seed", type=int, default=20261207)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    c = Checks("sync-restart")
    delete_orphans(r"ptbsr-(\d+)-(?:cl|rt|sk)$")
    topo = Topology(f"ptbsr-{os.getpid()}")
    procs = Procs()
    token = "t0ken-" + os.urandom(16).hex()
    with tempfile.TemporaryDirectory() as tmp:
        a = Appliance(args.ptbsteer, tmp, "a", token)
        b = Appliance(args.ptbsteer, tmp, "b", token)
        with open(f"{tmp}/token", "w") as f:
            f.write(token + "\n")
        os.chmod(f"{tmp}/token", 0o600)
        scfg = sync_config(f"{tmp}/sync.yaml", topo.rt, f"{tmp}/token", a.base, b.base)
        try:
            topo.create()
            sysctl(topo.rt, [("net.ipv4.fib_multipath_hash_seed", rng.randrange(1, 1 << 32)),
                             ("net.ipv4.fib_multipath_hash_policy", 0)])
            v4 = [(0, 1), (1, 2), (2, 1), (3, 1)]
            ip_batch(topo.rt, [route_cmd(4, v4)])
            want = [nh_gateway(4, i) for i, _ in v4]
            flows = random_flows(rng, 4, FLOWS)
            a.start()
            sync = Sync(procs, args.sync, scfg, f"{tmp}/sync.log")

            def serves(app, hops, title, timeout=10):
                lag = wait_applied(app.api, "site4", hops, "unicast", 0, "hash-threshold", [],
                                   time.monotonic(), timeout=timeout)
                c.check(lag is not None, f"{title}: appliance {app.name} serves site4"
                        + (f" after {lag:.2f} s" if lag is not None else ""))
                if lag is not None:
                    n = agree(app.api, topo, flows)
                    c.check(n == FLOWS, f"{title}: {n}/{FLOWS} flows on {app.name} as the "
                            "kernel forwards them")

            # 1. B unreachable.
            serves(a, want, "B down")
            time.sleep(0.5)
            c.check(sync.sample("ptbsteer_sync_in_sync", appliance=a.listen) == 1 and
                    sync.sample("ptbsteer_sync_in_sync", appliance=b.listen) == 0,
                    "B down: ptbsteer_sync_in_sync is 1 for A, 0 for B")
            failed = sync.sample("ptbsteer_sync_pushes_total", appliance=b.listen,
                                 result="failed") or 0
            c.check(failed >= 2, f"B down: {failed:.0f} failed pushes to B, retried")
            # 2. B starts.
            b.start()
            serves(b, want, "B started", timeout=12)
            # 3. A restarts with no groups from the API.
            a.stop()
            a.start()
            serves(a, want, "A restarted", timeout=12)
            # 4. sync stops; the route changes; the appliances keep the last good group.
            sync.p.terminate()
            sync.p.wait(timeout=10)
            before = a.updated("site4")
            v4b = [(1, 2), (4, 1), (0, 1), (3, 3)]
            ip_batch(topo.rt, [route_cmd(4, v4b)])
            time.sleep(1.5)
            stale = agree(a.api, topo, flows)
            c.check(stale < FLOWS, f"sync stopped, route changed: A still serves the last group "
                    f"it was given ({FLOWS - stale} of {FLOWS} flows now decided otherwise than "
                    "the kernel: the negative control)")
            c.check(before is not None and a.updated("site4") == before,
                    "sync stopped: site4's update time on A stays, so its age grows")
            sync = Sync(procs, args.sync, scfg, f"{tmp}/sync2.log")
            new = [nh_gateway(4, i) for i, _ in v4b]
            serves(a, new, "sync restarted")
            serves(b, new, "sync restarted")
        finally:
            procs.stop_all()
            a.stop()
            b.stop()
            remove_eal_dirs()
            topo.destroy()
    c.finish()


if __name__ == "__main__":
    main()
