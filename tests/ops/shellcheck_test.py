#!/usr/bin/python3
"""shellcheck over every bash script in scripts/ (following `source`, so scripts/lib/common.sh is
checked through its users): no finding at any severity. Skipped (exit 77) when shellcheck is not
installed (Debian package shellcheck).
Usage: shellcheck_test.py --root SRCDIR"""
import argparse
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lib.checks import SKIP, Checks, run  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--root", required=True)
args = ap.parse_args()
if not shutil.which("shellcheck"):
    print("skipped: shellcheck is not installed (apt-get install shellcheck)")
    sys.exit(SKIP)
scripts = os.path.join(args.root, "scripts")
names = []
for name in sorted(os.listdir(scripts)):
    path = os.path.join(scripts, name)
    if os.path.isfile(path):
        with open(path, errors="replace") as f:
            first = f.readline()
        if first.startswith("#!") and "bash" in first:
            names.append(name)
# The scripts a user runs; a script that stops being bash (or disappears) must fail here.
expected = {"bench", "bind-nic", "check-cpu", "demo", "fuzz", "setup-hugepages", "soak", "test"}
c = Checks("ops-shellcheck")
c.check(expected <= set(names), f"bash scripts found: {names}")
for name in names:
    path = os.path.join(scripts, name)
    with open(path) as f:
        first = f.readline()
    c.check(first.startswith("#!/usr/bin/env bash") and os.access(path, os.X_OK),
            f"{name}: executable bash script")
    with open(path) as f:
        c.check("set -euo pipefail" in f.read(), f"{name}: set -euo pipefail")
    rc, out, err = run(["shellcheck", "-x", "--severity=style", path])
    c.check(rc == 0, f"shellcheck {name}", out + err)
c.finish()
