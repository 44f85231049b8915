"""Network namespaces: commands inside one, `ip -batch`, sysctls, veth MACs, entering one from
this thread (sockets stay in the namespace they were made in), and cleanup that removes only
what this run created."""
import ctypes
import os
import re
import subprocess

from .procs import run

CLONE_NEWNET = 0x40000000


def nsexec(ns, *cmd):
    """`cmd` in network namespace `ns`. nsenter switches the network namespace only: `ip netns
    exec` and `ip -n` also unshare the mount namespace and remount / as a slave, which fails
    where / is not a mount point (a chroot, as on a freshly debootstrapped machine); nothing
    here needs the remounted /sys."""
    return ["nsenter", f"--net=/run/netns/{ns}", *cmd]


def ip_batch(ns, lines, check=True, timeout=60):
    """One `ip` process for many commands: thousands of route look-ups per second."""
    if not lines:
        return None
    return run(nsexec(ns, "ip", "-batch", "-"), inp="\n".join(lines) + "\n", check=check,
               timeout=timeout)


def sysctl(ns, pairs):
    run(nsexec(ns, "sysctl", "-q", "-w", *[f"{k}={v}" for k, v in pairs]))


def link_mac(ns, dev):
    out = run(nsexec(ns, "ip", "-o", "link", "show", dev)).stdout
    return re.search(r"link/ether ([0-9a-f:]{17})", out).group(1)


def listed(prefix):
    """Names of the existing namespaces that start with `prefix`."""
    out = run(["ip", "netns", "list"], check=False).stdout
    return [ln.split()[0] for ln in out.splitlines()
            if ln.split() and ln.split()[0].startswith(prefix)]


def delete(names):
    for ns in names:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


def delete_orphans(pattern):
    """Namespaces of an earlier run that was killed (SIGKILL skips every cleanup): `pattern`
    matches a name and captures the pid in it as group 1; those whose process is gone go."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        m = re.match(pattern, line.split()[0]) if line.split() else None
        if m and not os.path.exists(f"/proc/{m.group(1)}"):
            delete([m.group(0)])


class Namespaces:
    """The namespaces a topology created; destroy() (from a finally) deletes them, only them."""

    def __init__(self):
        self.created = []

    def add(self, *names):
        for ns in names:
            run(["ip", "netns", "add", ns])
            self.created.append(ns)

    def destroy(self):
        while self.created:
            delete([self.created.pop()])


_libc = ctypes.CDLL(None, use_errno=True)


class InNetns:
    """Runs a block of code inside network namespace `ns` (only this thread moves)."""

    def __init__(self, ns):
        self.ns = ns

    def __enter__(self):
        self.home = os.open("/proc/self/ns/net", os.O_RDONLY)
        fd = os.open(f"/run/netns/{self.ns}", os.O_RDONLY)
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns({self.ns})")
        finally:
            os.close(fd)
        return self

    def __exit__(self, *exc):
        if _libc.setns(self.home, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns(back)")
        os.close(self.home)
        return False
