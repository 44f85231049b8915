#!/usr/bin/python3
"""The Debian package as an operator meets it: built from the tracked files with
`DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b` (the suite itself already ran), then
installed with `apt-get install ./ptbsteer_VERSION_amd64.deb` (dependencies from Debian):
- ptbsteer, ptbsteer-decode, ptbsteerctl and ptbsteer-sync are on the PATH; `ptbsteer --version`
  names the package's version and DPDK's;
- `ptbsteer --check /etc/ptbsteer/ptbsteer.yaml` accepts the installed example (its presets
  from /usr/share/ptbsteer/drivers-config), readable by the ptbsteer group the package made;
- `ptbsteer-sync --check` accepts the installed /etc/ptbsteer/sync.yaml;
- `systemd-analyze verify` accepts the installed units, neither enabled nor started;
- the man pages and the bash completion are where man and bash look;
then purged in a `finally`, and nothing of it is left (binaries, unit, user).
Usage: package_test.py --root SRCDIR"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lib.checks import Checks, run  # noqa: E402

UNIT = "/lib/systemd/system/ptbsteer.service"
SYNC_UNIT = "/lib/systemd/system/ptbsteer-sync.service"


def tracked_copy(root, dest):
    files = subprocess.run(["git", "-C", root, "ls-files", "-z"], capture_output=True,
                           check=True).stdout.decode().split("\0")
    for f in filter(None, files):
        os.makedirs(os.path.join(dest, os.path.dirname(f)), exist_ok=True)
        shutil.copy2(os.path.join(root, f), os.path.join(dest, f))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    args = ap.parse_args()
    c = Checks("package")
    version = re.search(r"version: '([^']+)'", open(os.path.join(args.root, "meson.build"))
                        .read()).group(1)
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "ptbsteer")
        tracked_copy(args.root, src)
        r = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src,
                           env=dict(os.environ, DEB_BUILD_OPTIONS="nocheck"),
                           capture_output=True, text=True, timeout=1200)
        debs = glob.glob(os.path.join(tmp, f"ptbsteer_{version}_amd64.deb"))
        c.check(r.returncode == 0 and len(debs) == 1,
                f"dpkg-buildpackage built ptbsteer_{version}_amd64.deb",
                (r.stdout + r.stderr)[-3000:])
        if not debs:
            c.finish()
        installed = False
        try:
            r = run(["apt-get", "install", "-y", "-q", debs[0]], timeout=600,
                    env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
            installed = r[0] == 0
            c.check(installed, "apt-get install ./ptbsteer_*.deb", (r[1] + r[2])[-3000:])
            for b in ("ptbsteer", "ptbsteer-decode", "ptbsteerctl", "ptbsteer-sync"):
                c.check(shutil.which(b) == f"/usr/bin/{b}", f"/usr/bin/{b} installed")
            rc, out, err = run(["/usr/bin/ptbsteer", "--version"])
            c.check(rc == 0 and out.startswith(f"ptbsteer {version} (DPDK 22.11"),
                    f"ptbsteer --version: {out.strip()}", err)
            env = {k: v for k, v in os.environ.items() if k != "PTBSTEER_PRESETS_DIR"}
            rc, out, err = run(["/usr/bin/ptbsteer", "--check", "/etc/ptbsteer/ptbsteer.yaml"],
                               env=env)
            c.check(rc == 0 and "valid" in out,
                    "ptbsteer --check accepts the installed /etc/ptbsteer/ptbsteer.yaml",
                    out + err)
            st = os.stat("/etc/ptbsteer/ptbsteer.yaml")
            rc, group, _ = run(["getent", "group", "ptbsteer"])
            c.check(rc == 0 and st.st_gid == int(group.split(":")[2]) and st.st_mode & 0o777
                    == 0o640, "the example is mode 0640, group ptbsteer (the unit's user)")
            rc, out, err = run(["systemd-analyze", "verify", UNIT])
            c.check(rc == 0, f"systemd-analyze verify {UNIT}", out + err)
            unit = open(UNIT).read()
            c.check("ExecStart=/usr/bin/ptbsteer --config /etc/ptbsteer/ptbsteer.yaml" in unit,
                    "the unit runs /usr/bin/ptbsteer")
            c.check(not glob.glob("/etc/systemd/system/*.wants/ptbsteer.service"),
                    "the unit is not enabled")
            rc, out, err = run(["/usr/bin/ptbsteer-sync", "--check", "--config",
                                "/etc/ptbsteer/sync.yaml"])
            c.check(rc == 0 and "valid" in out,
                    "ptbsteer-sync --check accepts the installed /etc/ptbsteer/sync.yaml",
                    out + err)
            rc, out, err = run(["systemd-analyze", "verify", SYNC_UNIT])
            c.check(rc == 0 and "ExecStart=/usr/bin/ptbsteer-sync --config /etc/ptbsteer/sync.yaml"
                    in open(SYNC_UNIT).read(), f"systemd-analyze verify {SYNC_UNIT}; it runs "
                    "/usr/bin/ptbsteer-sync", out + err)
            c.check(not glob.glob("/etc/systemd/system/*.wants/ptbsteer-sync.service"),
                    "the ptbsteer-sync unit is not enabled")
            for page in ("ptbsteer.8", "ptbsteer.yaml.5", "ptbsteerctl.1", "ptbsteer-decode.1",
                         "ptbsteer-sync.8"):
                name, section = page.rsplit(".", 1)
                rc, out, err = run(["man", "-w", section, name])
                c.check(rc == 0 and out.strip().endswith(f"{page}.gz"), f"man {section} {name}",
                        out + err)
            c.check(os.path.exists("/usr/share/bash-completion/completions/ptbsteerctl"),
                    "bash completion for ptbsteerctl installed")
            rc, out, err = run(["/usr/bin/ptbsteerctl", "--help"])
            c.check(rc == 0 and "Exit codes" in out, "ptbsteerctl --help", out + err)
        finally:
            r = run(["apt-get", "purge", "-y", "-q", "ptbsteer"], timeout=300,
                    env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        c.check(r[0] == 0 and not os.path.exists("/usr/bin/ptbsteer")
                and not os.path.exists(UNIT) and not os.path.exists(SYNC_UNIT)
                and run(["getent", "passwd", "ptbsteer"])[0] != 0,
                "purged: no binary, no unit, no user left", (r[1] + r[2])[-2000:])
    c.finish()


if __name__ == "__main__":
    main()
