#!/usr/bin/python3
"""shellcheck over the operations scripts (setup-hugepages, bind-nic, check-cpu): no finding at
any severity. Skipped (exit 77) when shellcheck is not installed (Debian package shellcheck).
Usage: shellcheck_test.py --root SRCDIR"""
import argparse
import os
import shutil
import sys

from opslib import SKIP, Checks, run

ap = argparse.ArgumentParser()
ap.add_argument("--root", required=True)
args = ap.parse_args()
if not shutil.which("shellcheck"):
    print("skipped: shellcheck is not installed (apt-get install shellcheck)")
    sys.exit(SKIP)
c = Checks("ops-shellcheck")
for name in ("setup-hugepages", "bind-nic", "check-cpu"):
    path = os.path.join(args.root, "scripts", name)
    with open(path) as f:
        first = f.readline()
    c.check(first.startswith("#!/usr/bin/env bash") and os.access(path, os.X_OK),
            f"{name}: executable bash script")
    with open(path) as f:
        c.check("set -euo pipefail" in f.read(), f"{name}: set -euo pipefail")
    rc, out, err = run(["shellcheck", "--severity=style", path])
    c.check(rc == 0, f"shellcheck {name}", out + err)
c.finish()
