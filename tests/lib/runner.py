"""The ptbsteer binary as the tests run it: started on a config, ready once it announced itself
on stdout, reloaded, stopped with a signal; its output and the exit report it prints. Every
config here names its EAL file prefix ptbsteer-TAG-PID (config.prefix), so the runtime dirs
the EAL leaves behind are found and removed."""
import glob
import os
import re
import shutil
import signal
import subprocess
import threading
import time

from .prom import http, reload_counts, scrape

METRICS_LINE = r"metrics on (http://\S+)/metrics"
# The exit report's own balance line (app/ptbsteer prints it after the counters).
BALANCED = "received == unicast + replicated + answered + learned + dropped: yes"


class Ptbsteer:
    """ptbsteer running on a config; .url is its metrics base URL (once announced). Ready when a
    line matches `ready` (default: the metrics line). follow=True keeps reading its output in a
    thread (a long run must not fill the pipe). Always stopped by stop() or kill()."""

    def __init__(self, binary, cfg_path, timeout=30, ready=METRICS_LINE, follow=False,
                 cmd=()):
        self.proc = subprocess.Popen([*cmd, binary, "--config", cfg_path],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self.url = None
        self.reader = None
        deadline = time.monotonic() + timeout
        try:
            while True:
                line = self.proc.stdout.readline()
                if not line:
                    raise RuntimeError(f"ptbsteer exited before running:\n{self.output}")
                self.lines.append(line)
                m = re.search(METRICS_LINE, line)
                if m:
                    self.url = m.group(1)
                if re.search(ready, line):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"ptbsteer did not announce itself:\n{self.output}")
            if follow:
                self.reader = threading.Thread(target=lambda: self.lines.extend(self.proc.stdout),
                                               daemon=True)
                self.reader.start()
        except BaseException:
            self.kill()
            raise

    @property
    def pid(self):
        return self.proc.pid

    @property
    def output(self):
        return "".join(self.lines)

    def get(self, path, timeout=5):
        """(status, body) of GET path."""
        return http(self.url + path, timeout=timeout)

    def scrape(self):
        return scrape(self.url)

    def reload(self, via, timeout=15):
        """One reload by SIGHUP (returns (None, None) once a reload counter moved) or by POST
        /reload (returns the answer's (status, body))."""
        if via == "POST":
            return http(self.url + "/reload", "POST", timeout=30)
        before = sum(reload_counts(self.scrape()).values())
        deadline = time.monotonic() + timeout
        self.proc.send_signal(signal.SIGHUP)
        while sum(reload_counts(self.scrape()).values()) == before:
            if time.monotonic() > deadline:
                raise RuntimeError("a reload by SIGHUP never completed")
            time.sleep(0.005)
        return None, None

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Signals it (by its pid); returns (exit code, everything it printed)."""
        try:
            self.proc.send_signal(sig)
            if self.reader:
                self.proc.wait(timeout=timeout)
                self.reader.join(timeout=5)
            else:
                # Read through the same buffered file as __init__'s readline(): communicate()
                # reads the descriptor itself and would lose the lines already buffered here
                # (those printed just after the ready line).
                rest = []
                reader = threading.Thread(target=lambda: rest.append(self.proc.stdout.read()),
                                          daemon=True)
                reader.start()
                self.proc.wait(timeout=timeout)
                reader.join(timeout=5)
                if reader.is_alive() or not rest:
                    raise RuntimeError("ptbsteer exited but its output never ended (does a "
                                       "child hold its stdout?): the lines after the ready "
                                       "line are missing")
                self.lines.extend(rest)
            return self.proc.returncode, self.output
        finally:
            self.kill()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def run_ptbsteer(binary, cfg, timeout=20, settle=1.5):
    """Starts the binary, waits for its `running` line, lets it work `settle` seconds, stops it
    with SIGTERM; returns (exit code, all output). It is always gone afterwards, and so is its
    EAL runtime directory."""
    deadline = time.monotonic() + timeout
    try:
        p = Ptbsteer(binary, cfg, timeout=timeout, ready="running")
        time.sleep(settle)  # a small capture is delivered by pcap rx within milliseconds
        return p.stop(timeout=max(10, deadline - time.monotonic()))
    finally:
        remove_eal_dirs()


def report(out, tag="ptbsteer-counters"):
    """{key: int} of the exit report's line `TAG k=v k=v ...` (ptbsteer-counters,
    ptbsteer-reloads), or None without one."""
    m = re.search(rf"^{tag} (.*)$", out, re.M)
    return {k: int(v) for k, v in (kv.split("=", 1) for kv in m.group(1).split())} if m else None


def remove_eal_dirs(prefix=None):
    """The EAL leaves its runtime dir (/var/run/dpdk/PREFIX) behind; ours end in our pid."""
    pattern = prefix or f"ptbsteer-*-{os.getpid()}"
    for d in glob.glob(f"/var/run/dpdk/{pattern}"):
        shutil.rmtree(d, ignore_errors=True)
