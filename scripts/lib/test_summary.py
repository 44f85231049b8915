"""Prints the closing "N passed, N failed" line from meson testlog.json files.

Counts meson tests and, for Catch2 executables, the test cases they report, so the line says how
much was actually checked. Exits 1 when anything failed or nothing ran.
"""
import json
import re
import sys

passed = failed = 0
cases_passed = cases_failed = 0
for path in sys.argv[1:]:
    build = path.split("/")[0]
    with open(path) as f:
        for line in f:
            t = json.loads(line)
            ok = t["result"] in ("OK", "EXPECTEDFAIL")
            skipped = t["result"] == "SKIP"
            if skipped:
                print(f"  SKIP {build}: {t['name']}")
                continue
            passed += ok
            failed += not ok
            out = t.get("stdout") or ""
            m = re.search(r"Passed all (\d+) test cases? with (\d+) assertions", out)
            if m:
                cases_passed += int(m.group(1))
            m = re.search(r"Failed (\d+) test cases?, failed (\d+) assertions", out)
            if m:
                cases_failed += int(m.group(1))
            print(f"  {'PASS' if ok else 'FAIL'} {build}: {t['name']} ({t['duration']:.1f}s)")
print(f"(Catch2 test cases: {cases_passed} passed, {cases_failed} failed)")
print(f"{passed} passed, {failed} failed")
sys.exit(0 if failed == 0 and passed > 0 else 1)
