#!/usr/bin/python3
"""The way every real deployment runs: on 2 MB hugepages. Reserves pages (vm.nr_hugepages),
mounts a private hugetlbfs, and runs two tests of the suite with the EAL on them instead of
--no-huge (tests/lib/config.py reads the mount from PTBSTEER_TEST_HUGE_DIR):
- the e2e unicast case (tests/e2e/e2e_truth.py --policy 0 --mode unicast: real TCP through a
  Linux ECMP router, each server's kernel judging), and
- the soak's short version (tests/soak/soak.py --seconds 30: memory, mempools, counters).
Each must pass, and ptbsteer must really have used the pages: while each runs, at least
`memory` MB of them (the EAL's -m) are taken. The pages and the mount are given back in a
`finally`, whatever happens (the previous vm.nr_hugepages restored).
Usage: hugepages_test.py --ptbsteer BIN --e2e E2E_TRUTH --soak SOAK"""
import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lib import config  # noqa: E402
from lib.checks import Checks  # noqa: E402

NR = "/proc/sys/vm/nr_hugepages"
MEMORY_MB = 512  # tests/lib/config.py eal()'s default -m
PAGES = MEMORY_MB // 2 + 64  # one ptbsteer at a time, with room for the EAL's own


def meminfo(key):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


class PeakUse(threading.Thread):
    """The most 2 MB pages in use at once while it runs (sampled every 50 ms)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak, self.done = 0, threading.Event()

    def run(self):
        while not self.done.is_set():
            self.peak = max(self.peak, meminfo("HugePages_Total") - meminfo("HugePages_Free"))
            time.sleep(0.05)

    def stop(self):
        self.done.set()
        self.join()
        return self.peak


def run_on_hugepages(c, what, argv, env, timeout):
    peak = PeakUse()
    peak.start()
    try:
        r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        peak.stop()
        c.check(False, f"{what}: finished within {timeout} s", str(e))
        return
    used = peak.stop()
    tail = "\n".join((r.stdout + r.stderr).splitlines()[-25:])
    c.check(r.returncode == 0, f"{what} on hugepages: passed", tail)
    c.check(used * 2 >= MEMORY_MB,
            f"{what}: {used} pages of 2 MB in use at the peak (-m {MEMORY_MB})", tail)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ptbsteer", required=True)
    ap.add_argument("--e2e", required=True)
    ap.add_argument("--soak", required=True)
    args = ap.parse_args()
    c = Checks("hugepages")
    before = int(open(NR).read())
    mount = tempfile.mkdtemp(prefix="ptbsteer-huge-")
    mounted = False
    try:
        with open(NR, "w") as f:
            f.write(str(before + PAGES))
        got = int(open(NR).read()) - before
        c.check(got >= PAGES, f"{got} pages of 2 MB reserved (vm.nr_hugepages {before} -> "
                f"{before + got})")
        r = subprocess.run(["mount", "-t", "hugetlbfs", "-o", "pagesize=2M", "nodev", mount],
                           capture_output=True, text=True)
        mounted = r.returncode == 0
        c.check(mounted, f"hugetlbfs mounted on {mount}", r.stderr)
        if got < PAGES or not mounted:
            c.finish()
        env = dict(os.environ, **{config.HUGE_DIR_ENV: mount})
        run_on_hugepages(c, "e2e unicast (policy 0)",
                         [sys.executable, args.e2e, "--policy", "0", "--mode", "unicast",
                          "--deliver", "ptbsteer", "--ptbsteer", args.ptbsteer,
                          "--config-out", os.path.join(mount + "-e2e.yaml")], env, 180)
        run_on_hugepages(c, "soak, 30 s",
                         [sys.executable, args.soak, "--ptbsteer", args.ptbsteer, "--seconds",
                          "30"], env, 180)
        left = os.listdir(mount)
        c.check(not left, "nothing left in the hugetlbfs mount", str(left))
    finally:
        if mounted:
            subprocess.run(["umount", mount], check=False)
        os.rmdir(mount)
        if os.path.exists(mount + "-e2e.yaml"):
            os.remove(mount + "-e2e.yaml")
        with open(NR, "w") as f:
            f.write(str(before))
    c.check(int(open(NR).read()) == before, f"vm.nr_hugepages back to {before}")
    c.finish()


if __name__ == "__main__":
    main()
