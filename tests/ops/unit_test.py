#!/usr/bin/python3
"""scripts/systemd/ptbsteer.service: the keys the deployment depends on (restart on failure,
unlimited locked memory, capabilities instead of root, the configuration path), read with a
small parser of systemd's unit syntax; then `systemd-analyze verify` on a copy whose
ExecStart/ExecStartPre name the ptbsteer binary just built (verify insists that the program
exists). Any warning about the unit fails the test (verify exits 0 on unknown keys).
Usage: unit_test.py --root SRCDIR --ptbsteer BIN"""
import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lib.checks import Checks, run  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--root", required=True)
ap.add_argument("--ptbsteer", required=True)
args = ap.parse_args()
UNIT = os.path.join(args.root, "scripts", "systemd", "ptbsteer.service")
CONFIG = "/etc/ptbsteer/ptbsteer.yaml"
c = Checks("ops-systemd-unit")


def parse_unit(text):
    """{section: {key: [values...]}}; comments, blank lines and continuations as systemd."""
    units, section, pending = {}, None, ""
    for raw in text.splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            units.setdefault(section, {})
            continue
        key, _, value = line.partition("=")
        units[section].setdefault(key.strip(), []).append(value.strip())
    return units


with open(UNIT) as f:
    text = f.read()
u = parse_unit(text)
svc = u.get("Service", {})


def one(key):
    return (svc.get(key) or [""])[-1]


c.check(one("Restart") == "on-failure", "Restart=on-failure", one("Restart"))
c.check(one("LimitMEMLOCK") == "infinity", "LimitMEMLOCK=infinity", one("LimitMEMLOCK"))
c.check(one("User") not in ("", "root", "0"), f"runs as a user, not root (User={one('User')})")
ambient = set(one("AmbientCapabilities").split())
bounding = set(one("CapabilityBoundingSet").split())
c.check({"CAP_IPC_LOCK", "CAP_NET_ADMIN", "CAP_NET_RAW"} <= ambient,
        "AmbientCapabilities grants CAP_IPC_LOCK, CAP_NET_ADMIN, CAP_NET_RAW", str(ambient))
c.check(bounding == ambient, "CapabilityBoundingSet is exactly the ambient set",
        f"{bounding} vs {ambient}")
c.check("CAP_SYS_ADMIN" not in bounding, "no CAP_SYS_ADMIN (vfio-pci needs no physical addresses)")
c.check(one("NoNewPrivileges") == "yes", "NoNewPrivileges=yes")
c.check(f"--config {CONFIG}" in one("ExecStart") and "--check" not in one("ExecStart"),
        f"ExecStart runs ptbsteer --config {CONFIG}", one("ExecStart"))
c.check(f"--check --config {CONFIG}" in one("ExecStartPre"),
        "ExecStartPre validates the configuration first (--check)", one("ExecStartPre"))
c.check(u.get("Install", {}).get("WantedBy") == ["multi-user.target"], "WantedBy=multi-user.target")

if not shutil.which("systemd-analyze"):
    print("note  systemd-analyze is not installed: the unit was checked by the parser above only")
else:
    exe = os.path.realpath(args.ptbsteer)
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "ptbsteer.service")
        with open(copy, "w") as f:
            f.write(text.replace("/usr/local/bin/ptbsteer", exe))
        rc, out, err = run(["systemd-analyze", "verify", copy])
        warnings = [l for l in (out + err).splitlines() if "ptbsteer.service" in l]
        c.check(rc == 0 and not warnings, "systemd-analyze verify: no error, no warning", out + err)
        # The test must be able to fail: a misspelt key has to be reported.
        with open(copy, "w") as f:
            f.write(text.replace("/usr/local/bin/ptbsteer", exe)
                    .replace("Restart=on-failure", "Restart=on-failure\nRestartt=x"))
        rc, out, err = run(["systemd-analyze", "verify", copy])
        c.check("Restartt" in out + err, "systemd-analyze verify reports a misspelt key (control)",
                out + err)
c.finish()
