"""Child processes: a bounded command runner, background processes stopped by their own pid
(never by name), and bounded reads from a child's pipe."""
import os
import select
import signal
import subprocess
import time


class SetupError(RuntimeError):
    """The test could not build what it needs (exit 2), as opposed to a failed check."""


def run(cmd, inp=None, check=True, timeout=30):
    p = subprocess.run(cmd, input=inp, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise SetupError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()[:500]}")
    return p


def stop(p, sig=signal.SIGTERM, timeout=5):
    """Signals the process `p` started (by its pid), waits, kills it after `timeout`."""
    if p.poll() is None:
        try:
            p.send_signal(sig)
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)
    return p.returncode


class Procs:
    """Background processes we started; stopped by their own pid only, last first."""

    def __init__(self):
        self.procs = []

    def start(self, name, cmd, **kw):
        p = subprocess.Popen(cmd, **kw)
        self.procs.append((name, p))
        return p

    stop = staticmethod(stop)

    def stop_all(self):
        for _, p in reversed(self.procs):
            try:
                stop(p, timeout=3)
            except Exception:   # noqa: BLE001 - cleanup must go on
                pass
        self.procs = []


def read_line(pipe, deadline, what):
    """One line from a child's pipe, or SetupError at the deadline."""
    buf = b""
    fd = pipe.fileno()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise SetupError(f"timeout waiting for {what}")
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        ch = os.read(fd, 1)
        if not ch:
            raise SetupError(f"{what}: process closed its output ({buf!r})")
        if ch == b"\n":
            return buf.decode(errors="replace")
        buf += ch
