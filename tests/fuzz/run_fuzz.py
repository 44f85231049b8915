#!/usr/bin/python3
"""Runs one libFuzzer harness for a bounded time; used by the `fuzz` meson tests and scripts/fuzz.

  run_fuzz.py --harness BIN --work DIR [--seeds DIR] --artifacts DIR [--seconds N] [--name NAME]

New coverage goes to --work (the meson tests use a directory in the build tree, so the committed
seeds are only read; scripts/fuzz passes tests/fuzz/corpus/<target> itself). A crash, a leak, a
UBSan report, a broken FUZZ_CHECK invariant, a timeout (-timeout, seconds per input) or an
out-of-memory (-rss_limit_mb) makes libFuzzer exit non-zero and write the input under
--artifacts; this script then fails and prints where the reproducer is and how to replay it.
The full libFuzzer log is kept next to the artifacts. Exit status: libFuzzer's, or 1.

PTBSTEER_FUZZ_SECONDS in the environment overrides --seconds (e.g. 5 for a quick check).
"""
import argparse
import os
import re
import subprocess
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--harness", required=True)
ap.add_argument("--work", required=True)
ap.add_argument("--seeds")
ap.add_argument("--artifacts", required=True)
ap.add_argument("--seconds", type=int, default=20)
ap.add_argument("--name")
ap.add_argument("--per-input-timeout", type=int, default=10)
a = ap.parse_args()

name = a.name or os.path.basename(a.harness)
seconds = int(os.environ.get("PTBSTEER_FUZZ_SECONDS", a.seconds))
os.makedirs(a.work, exist_ok=True)
os.makedirs(a.artifacts, exist_ok=True)
before = set(os.listdir(a.artifacts))

env = dict(os.environ)
# halt_on_error: a UBSan report is a failure, not a line in a log; libFuzzer saves the input.
env.setdefault("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")
env.setdefault("ASAN_OPTIONS", "detect_leaks=1:allocator_may_return_null=1")

cmd = [a.harness, f"-max_total_time={seconds}", f"-timeout={a.per_input_timeout}",
       "-rss_limit_mb=2048", "-print_final_stats=1",
       "-artifact_prefix=" + os.path.join(a.artifacts, ""), a.work]
if a.seeds:
    cmd.append(a.seeds)
log_path = os.path.join(a.artifacts, "last-run.log")
print("$ " + " ".join(cmd), flush=True)
t0 = time.monotonic()
with open(log_path, "w") as log:
    try:
        # libFuzzer stops itself at -max_total_time; the margin covers start-up and the final
        # corpus pass, and bounds a harness that hangs outside an input (e.g. in EAL set-up).
        rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                            timeout=seconds + 120).returncode
    except subprocess.TimeoutExpired:
        rc = 124
elapsed = time.monotonic() - t0
text = open(log_path, errors="replace").read()


def stat(key):
    m = re.search(rf"stat::{key}:\s+(\d+)", text)
    return int(m.group(1)) if m else None


execs = stat("number_of_executed_units")
cov = re.findall(r"cov: (\d+) ft: (\d+) corp: (\d+)", text)
corpus_files = len(os.listdir(a.work))
summary = f"{name}: {execs if execs is not None else '?'} executions in {elapsed:.0f} s"
if execs and elapsed > 0:
    summary += f" ({execs / elapsed:.0f}/s)"
if cov:
    summary += f", coverage {cov[-1][0]} edges / {cov[-1][1]} features, corpus {cov[-1][2]} inputs"
print(summary)
print(f"working corpus: {a.work} ({corpus_files} files); log: {log_path}")

if rc == 0:
    sys.exit(0)

# A failure: show what libFuzzer said and where the input is.
print(f"FAILED: libFuzzer exited with {rc}", file=sys.stderr)
tail = text.splitlines()[-60:]
print("\n".join(tail), file=sys.stderr)
new = sorted(set(os.listdir(a.artifacts)) - before - {"last-run.log"})
for f in new:
    path = os.path.join(a.artifacts, f)
    print(f"REPRODUCER: {path}", file=sys.stderr)
    print(f"  replay: {a.harness} {path}", file=sys.stderr)
if new:
    print("Add it to tests/fuzz/corpus/<target>/ and as a unit test in "
          "tests/unit/fuzz_regressions/ once fixed (docs/testing.md).", file=sys.stderr)
elif rc == 124:
    print(f"the harness did not stop within {seconds + 120} s", file=sys.stderr)
sys.exit(rc if rc else 1)
