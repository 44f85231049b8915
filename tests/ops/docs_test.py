#!/usr/bin/python3
"""docs/metrics.md, docs/troubleshooting.md and docs/deployment.md stay true:
- metrics.md's family tables say, row for row and in order, what lib/metrics/families.h says
  (name, type, labels, meaning = the HELP text); its drop-reason table gives every reason of
  lib/datapath/drop_reason.h's one list with its meaning, and its exit-report table every key of
  lib/datapath/counters.h. The lists are read from `metrics-facts` (tests/ops/metrics_facts.cpp),
  which prints what the appliance itself uses;
- the drop-reason table of troubleshooting.md names every reason but `ptb`, in order, and
  nothing else;
- every ptbsteer_* metric either page names is described in docs/metrics.md;
- every ```yaml block of deployment.md passes `ptbsteer --check`;
- configuration.md and metrics.md spell each enum's values as its name table does (the
  util::name_table<...>(...) beside the enum, which the loader and the metric labels use);
- the router configurations use documentation addresses only (RFC 5737, RFC 3849).
The comparison is run on made-up differences first, so that it cannot pass by comparing nothing.
Usage: docs_test.py --root SRCDIR --ptbsteer BIN --facts METRICS_FACTS_BIN"""
import argparse
import ipaddress
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lib.checks import Checks, run  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--root", required=True)
ap.add_argument("--ptbsteer", required=True)
ap.add_argument("--facts", required=True)
args = ap.parse_args()
c = Checks("ops-docs")


def read(rel):
    with open(os.path.join(args.root, rel)) as f:
        return f.read()


def table_rows(text):
    """Cells of every markdown table row but header and rule, backticks removed."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("|") or re.match(r"^\|[-|]+\|$", line):
            continue
        cells = [x.strip().replace("`", "") for x in line.strip().strip("|").split("|")]
        rows.append(cells)
    return [r for r in rows if r[0] not in ("metric", "reason", "key")]  # headers


def differences(doc_rows, fact_rows):
    """Human lines for every row the doc lacks, has extra, or says otherwise; and order."""
    doc, facts = {r[0]: r for r in doc_rows}, {r[0]: r for r in fact_rows}
    out = [f"missing: {r}" for k, r in facts.items() if k not in doc]
    out += [f"not in the list: {r}" for k, r in doc.items() if k not in facts]
    out += [f"differs:\n  doc:  {doc[k]}\n  list: {r}" for k, r in facts.items()
            if k in doc and doc[k] != r]
    if not out and [r[0] for r in doc_rows] != [r[0] for r in fact_rows]:
        out.append("same rows, another order")
    return out


def self_test():
    facts = [["a", "counter", "", "one"], ["b", "gauge", "port", "two"]]
    doc = table_rows("| metric | type | labels | meaning |\n|---|---|---|---|\n"
                     "| `a` | counter | | one |\n| `b` | gauge | port | two |\n")
    assert doc == facts, doc
    assert not differences(doc, facts)
    assert differences(doc[:1], facts) == [f"missing: {facts[1]}"]
    assert differences(doc + [["c", "gauge", "", "x"]], facts)
    assert differences([doc[0], ["b", "gauge", "port", "Two"]], facts)
    assert differences(doc[::-1], facts) == ["same rows, another order"]


self_test()
rc, out, err = run([args.facts])
c.check(rc == 0, "metrics-facts prints the lists", err)
facts = [line.split("\t") for line in out.splitlines()]
families = [f[1:] for f in facts if f[0] == "family"]
drops = [f[1:] for f in facts if f[0] == "drop"]
counters = [[f[1], f[2].strip()] for f in facts if f[0] == "counter"]
c.check(len(families) > 30 and len(drops) > 30 and len(counters) >= 10,
        f"{len(families)} families, {len(drops)} drop reasons, {len(counters)} counters listed")

metrics_doc = read("docs/metrics.md")
section = metrics_doc.split("## Metric families", 1)[1].split("prometheus-cpp adds", 1)[0]
family_part = section.split("Drop reasons (", 1)[0] + section.split("MTU buckets", 1)[1]
diff = differences(table_rows(family_part), families)
c.check(not diff, f"metrics.md's family tables match lib/metrics/families.h ({len(families)})",
        "\n".join(diff))
drop_part = section.split("Drop reasons (", 1)[1].split("MTU buckets", 1)[0]
reasons = [d for d in drops if d[0] != "ptb"]  # a PTB is never a drop
diff = differences(table_rows(drop_part), reasons)
c.check(not diff, f"metrics.md's drop reasons match lib/datapath/drop_reason.h ({len(reasons)})",
        "\n".join(diff))
report_part = metrics_doc.split("## The exit report", 1)[1].split("\n## ", 1)[0]
diff = differences(table_rows(report_part), counters)
c.check(not diff, f"metrics.md's exit report keys match lib/datapath/counters.h ({len(counters)})",
        "\n".join(diff))
reasons = [d[0] for d in reasons]

trouble = read("docs/troubleshooting.md")
table = trouble.split("## Drop reasons", 1)[1]
rows = re.findall(r"^\| `(\w+)` \|", table, re.M)
missing = [r for r in reasons if r not in rows]
stale = [r for r in rows if r not in reasons]
c.check(not missing, "troubleshooting.md's table names every drop reason", f"missing: {missing}")
c.check(not stale, "troubleshooting.md's table names no reason that does not exist",
        f"stale: {stale}")
c.check(rows == reasons, "the table follows the order of the list", f"{rows}\nvs\n{reasons}")

known = set(re.findall(r"`(ptbsteer_\w+)`", metrics_doc))
for page in ("docs/troubleshooting.md", "docs/deployment.md"):
    used = set(re.findall(r"\b(ptbsteer_[a-z_]+)", read(page)))
    # histogram series carry suffixes
    unknown = sorted(m for m in used
                     if m not in known and re.sub(r"_(bucket|sum|count)$", "", m) not in known)
    c.check(used and not unknown,
            f"{page}: every metric it names is in docs/metrics.md ({len(used)})",
            f"unknown: {unknown}")

def name_tables():
    """{variable: [names]} of every `inline constexpr auto x = util::name_table<E>(...)` in lib/."""
    tables = {}
    for lib in sorted(os.listdir(os.path.join(args.root, "lib"))):
        folder = os.path.join("lib", lib)
        if not os.path.isdir(os.path.join(args.root, folder)):
            continue
        for name in sorted(os.listdir(os.path.join(args.root, folder))):
            if name.endswith(".h"):
                for var, body in re.findall(r"inline constexpr auto (\w+)\s*=\s*"
                                            r"util::name_table<[\w:]+>\(([^)]*)\)",
                                            read(os.path.join(folder, name))):
                    tables[var] = re.findall(r'"([^"]+)"', body)
    return tables


tables = name_tables()
config_doc = read("docs/configuration.md")
# The table of each key's row in configuration.md: the row names every value in backquotes.
for key, var in (("select", "select_kind_names"), ("mode", "mode_names"),
                 ("fallback", "fallback_names"), ("model", "model_kind_names"),
                 ("deliver", "deliver_names"), ("what", "capture_what_names")):
    rows = re.findall(rf"^\| `{key}` \|.*$", config_doc, re.M)
    names = tables.get(var, [])
    missing = [n for n in names if rows and f"`{n}`" not in rows[0]]
    c.check(len(rows) == 1 and names and not missing,
            f"configuration.md's `{key}` row names {var}: {', '.join(names)}",
            f"rows: {rows}; missing: {missing}")
reload_names = tables.get("reload_access_names", [])
spelled = "reload: " + " \\| ".join(reload_names)
c.check(reload_names and spelled in config_doc,
        f"configuration.md's `metrics` row spells reload_access_names: {spelled}")
modes = tables.get("mode_names", [])
delivered = re.findall(r"^\| `ptbsteer_delivered_packets_total` \|.*$", metrics_doc, re.M)
c.check(modes and delivered and all(f'`mode="{m}"`' in delivered[0] for m in modes),
        "metrics.md's delivered-packets row names every mode label (mode_names)", str(delivered))

deploy = read("docs/deployment.md")
blocks = re.findall(r"```yaml\n(.*?)```", deploy, re.S)
c.check(len(blocks) >= 1, f"deployment.md has {len(blocks)} complete YAML example(s)")
with tempfile.TemporaryDirectory() as tmp:
    for i, text in enumerate(blocks, 1):
        path = os.path.join(tmp, f"deployment{i}.yaml")
        with open(path, "w") as f:
            f.write(text)
        rc, out, err = run([args.ptbsteer, "--check", "--config", path])
        c.check(rc == 0, f"deployment.md YAML example {i} passes ptbsteer --check", out + err)

doc_nets = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24",
                                               "2001:db8::/32", "0.0.0.0/0", "::/0", "127.0.0.0/8")]
for page, text in (("docs/deployment.md", deploy), ("docs/troubleshooting.md", trouble)):
    found, bad = 0, []
    for a in re.findall(r"(?<![\w.:])(\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,2})?"
                        r"|2001:db8[0-9a-f:]*(?:/\d+)?|::/0)(?![\w.])", text):
        try:
            net = ipaddress.ip_network(a, strict=False)
        except ValueError:
            continue
        found += 1
        if net.prefixlen == 0:
            ok = True
        else:
            ok = any(net.version == n.version and n.prefixlen > 0 and net.subnet_of(n)
                     for n in doc_nets)
        if not ok:
            bad.append(a)
    c.check(not bad, f"{page}: only documentation addresses ({found} checked)", str(bad))
c.finish()
