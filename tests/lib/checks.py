"""A named pass/fail tally for scripts made of many small checks, and a plain command runner."""
import subprocess
import sys

SKIP = 77  # meson: the test was skipped


class Checks:
    """Collects named pass/fail results; finish() prints a summary and exits."""

    def __init__(self, name):
        self.name = name
        self.failed = 0
        self.passed = 0

    def check(self, ok, what, detail=""):
        if ok:
            self.passed += 1
            print(f"ok    {what}")
        else:
            self.failed += 1
            print(f"FAIL  {what}")
            if detail:
                print("      " + detail.replace("\n", "\n      "))
        return ok

    def finish(self):
        print(f"{self.name}: {self.passed} passed, {self.failed} failed")
        if self.passed == 0 and self.failed == 0:
            sys.exit(SKIP)
        sys.exit(1 if self.failed else 0)


def verdict(failures, summary, output="", limit=10):
    """Prints the first `limit` failures, the summary line and, after a failure, `output` (what
    ptbsteer printed); returns the exit status."""
    for f in failures[:limit]:
        print("FAIL", f)
    print(summary)
    if failures and output:
        print(output)
    return 1 if failures else 0


def run(cmd, env=None, timeout=30):
    """Runs cmd; returns (exit code, stdout, stderr)."""
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    return r.returncode, r.stdout, r.stderr
