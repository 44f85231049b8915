#!/usr/bin/python3
"""docs/grafana-dashboard.json is a Grafana dashboard (the JSON model Grafana imports: title,
schemaVersion, panels with unique ids, a gridPos, a Prometheus datasource and targets), it has
the panels the issue asks for (PTB rate by next-hop, drops by reason, an MTU heatmap, port loss),
and every metric its queries name is a metric docs/metrics.md documents (which the live test
holds to a real scrape).

Usage: check_dashboard.py DASHBOARD.json METRICS.md
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lib.prom import documented_metrics as documented  # noqa: E402


def main():
    dash_path, doc = sys.argv[1], sys.argv[2]
    d = json.load(open(dash_path))
    names = documented(doc)
    bad = []
    for k in ("title", "uid", "schemaVersion", "panels"):
        if k not in d:
            bad.append(f"dashboard lacks '{k}'")
    ids = [p.get("id") for p in d.get("panels", [])]
    if len(set(ids)) != len(ids):
        bad.append(f"panel ids are not unique: {ids}")
    used = set()
    for p in d.get("panels", []):
        where = f"panel '{p.get('title')}'"
        if not {"x", "y", "w", "h"} <= set(p.get("gridPos", {})):
            bad.append(f"{where}: gridPos needs x, y, w, h")
        if p.get("datasource", {}).get("type") != "prometheus":
            bad.append(f"{where}: datasource is not Prometheus")
        if not p.get("targets"):
            bad.append(f"{where}: no targets")
        for t in p.get("targets", []):
            expr = t.get("expr", "")
            metrics = set(re.findall(r"\b((?:ptbsteer|process)_[a-z0-9_]+)\b", expr))
            if not metrics:
                bad.append(f"{where}: expr names no metric: {expr}")
            for m in metrics:
                base = re.sub(r"_(bucket|sum|count)$", "", m)
                used.add(m)
                if m not in names and base not in names:
                    bad.append(f"{where}: {m} is not a documented metric")
    titles = " | ".join(p.get("title", "").lower() for p in d.get("panels", []))
    for want in ("next-hop", "drops by reason", "mtu", "port loss"):
        if want not in titles:
            bad.append(f"no panel about '{want}'")
    if not any(p.get("type") == "heatmap" for p in d.get("panels", [])):
        bad.append("no heatmap panel (the MTU histogram)")
    for b in bad:
        print("FAIL", b)
    print(f"{dash_path}: {len(d.get('panels', []))} panels, {len(used)} metrics queried, "
          f"{'all documented' if not bad else f'{len(bad)} problems'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
