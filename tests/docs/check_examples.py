#!/usr/bin/python3
"""Every ```yaml block of docs/configuration.md must pass `ptbsteer --check`. A `token_file:`
(the control API's) is pointed at a real owner-only token file, as an installation has one.
Usage: check_examples.py --ptbsteer BIN DOC.md"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

ap = argparse.ArgumentParser()
ap.add_argument("--ptbsteer", required=True)
ap.add_argument("doc")
a = ap.parse_args()
blocks = re.findall(r"```yaml\n(.*?)```", open(a.doc).read(), re.S)
bad = 0
with tempfile.TemporaryDirectory() as tmp:
    token = os.path.join(tmp, "token")
    with open(token, "w") as f:
        f.write("example-token\n")
    os.chmod(token, 0o600)
    for i, text in enumerate(blocks, 1):
        text = re.sub(r"token_file: [^,}\s]+", f"token_file: {token}", text)
        path = os.path.join(tmp, f"example{i}.yaml")
        open(path, "w").write(text)
        r = subprocess.run([a.ptbsteer, "--check", "--config", path], capture_output=True, text=True)
        print(f"example {i}: {'valid' if r.returncode == 0 else 'REFUSED'} {r.stdout.strip()} {r.stderr.strip()}")
        bad += r.returncode != 0
print(f"{len(blocks) - bad}/{len(blocks)} examples of {os.path.basename(a.doc)} are valid")
sys.exit(1 if bad or not blocks else 0)
