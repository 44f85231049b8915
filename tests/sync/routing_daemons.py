"""Real routing daemons in network namespaces, for tests in which they decide the routes: FRR
(zebra + bgpd, /usr/lib/frr) and BIRD 2, each in the foreground under a Procs (so stopped by its
own pid), every path (configs, sockets, pid files, logs) inside the test's work directory, and
their shells (vtysh, birdc). Configuration text is the caller's."""
import grp
import os
import pwd
import re
import shutil
import struct
import time

from lib.netns import nsexec
from lib.procs import SetupError, run

FRR_DIR = "/usr/lib/frr"
FRR_RUN = "/var/run/frr"     # zebra -N NAME makes FRR_RUN/NAME whatever paths it is given


def remove_frr_run_dirs(pattern):
    """FRR_RUN/NAME of this run's routers and of earlier runs' that were killed: `pattern`
    matches a NAME and captures the pid in it as group 1; those whose process is gone (or is
    us) go."""
    for name in (os.listdir(FRR_RUN) if os.path.isdir(FRR_RUN) else []):
        m = re.fullmatch(pattern, name)
        if m and (int(m.group(1)) == os.getpid() or not os.path.exists(f"/proc/{m.group(1)}")):
            shutil.rmtree(os.path.join(FRR_RUN, name), ignore_errors=True)


def link_bandwidth(asn, mbps):
    """BIRD's literal of the BGP link-bandwidth extended community (draft-ietf-idr-link-
    bandwidth: subtype 0x04, a 2-octet AS, the bandwidth in bytes per second as an IEEE float),
    in its transitive form (type 0x00), which FRR 8.4 takes too: BIRD 2.0.12 leaves the draft's
    non-transitive type 0x40 out of its UPDATEs to an external peer (seen on the wire)."""
    bw = struct.unpack("!I", struct.pack("!f", mbps * 125000.0))[0]
    return f"(generic, 0x{0x00040000 | (asn & 0xFFFF):08x}, 0x{bw:08x})"


def wait_path(path, proc, what, timeout=15):
    """Until `path` exists; SetupError when `proc` exits or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SetupError(f"{what} did not create {path} (exit {proc.poll()})")
        time.sleep(0.05)


class Frr:
    """zebra and bgpd of one router in namespace `ns`, named `name` (-N), under `workdir`/name
    (owned by the frr user, which the daemons drop to)."""

    def __init__(self, procs, ns, workdir, name, bgpd_conf):
        self.name = name
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        uid, gid = pwd.getpwnam("frr").pw_uid, grp.getgrnam("frr").gr_gid
        self.zsock = os.path.join(self.dir, "zserv.api")
        for daemon, text in (("zebra", f"hostname {name}\n"), ("bgpd", bgpd_conf)):
            with open(os.path.join(self.dir, f"{daemon}.conf"), "w") as f:
                f.write(text)
        for entry in [self.dir] + [os.path.join(self.dir, e) for e in os.listdir(self.dir)]:
            os.chown(entry, uid, gid)
        self.zebra = self._start(procs, ns, "zebra")
        wait_path(self.zsock, self.zebra, "zebra")
        self.bgpd = self._start(procs, ns, "bgpd")
        wait_path(os.path.join(self.dir, "bgpd.vty"), self.bgpd, "bgpd")

    def _start(self, procs, ns, daemon):
        d = self.dir
        with open(os.path.join(d, f"{daemon}.out"), "w") as log:
            return procs.start(f"{daemon} {self.name}", nsexec(
                ns, os.path.join(FRR_DIR, daemon), "-N", self.name, "-z", self.zsock,
                "--vty_socket", d, "-i", os.path.join(d, f"{daemon}.pid"),
                "-f", os.path.join(d, f"{daemon}.conf"), "-u", "frr", "-g", "frr",
                "--log", f"file:{d}/{daemon}.log"), stdout=log, stderr=log)

    def vtysh(self, *commands, check=True):
        """vtysh's output for `commands` (each a -c)."""
        argv = ["vtysh", "--vty_socket", self.dir]
        for c in commands:
            argv += ["-c", c]
        return run(argv, check=check, timeout=30).stdout


class Bird:
    """One BIRD 2 in namespace `ns`, its config at `workdir`/`name`.conf; reconfigure() writes
    a new one and tells BIRD to load it."""

    def __init__(self, procs, ns, workdir, name, conf):
        self.name = name
        self.conf = os.path.join(workdir, f"{name}.conf")
        self.sock = os.path.join(workdir, f"{name}.ctl")
        with open(self.conf, "w") as f:
            f.write(conf)
        with open(os.path.join(workdir, f"{name}.out"), "w") as log:
            self.p = procs.start(f"bird {name}", nsexec(
                ns, "bird", "-f", "-c", self.conf, "-s", self.sock,
                "-P", os.path.join(workdir, f"{name}.pid")), stdout=log, stderr=log)
        wait_path(self.sock, self.p, f"bird {name}")

    def birdc(self, *command):
        """birdc's answer to `command`; SetupError when it reports an error."""
        out = run(["birdc", "-s", self.sock, *command], timeout=30).stdout
        if "error" in out.lower():
            raise SetupError(f"birdc {' '.join(command)}: {out.strip()}")
        return out

    def reconfigure(self, conf):
        with open(self.conf, "w") as f:
            f.write(conf)
        return self.birdc("configure")
