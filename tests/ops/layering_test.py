#!/usr/bin/python3
"""The libraries' layering holds (docs/architecture.md, "Layout"):
- lib/datapath, what runs per packet, includes nothing from lib/config, lib/control or
  lib/metrics: it sees compiled tables only, never a YAML option or the appliance's lifecycle;
- every other library includes only the libraries below it in LAYERS (no cycles), and
  lib/datapath's meson.build links no higher library either.
The checker is run on made-up violations first, so that it cannot pass by matching nothing.
Usage: layering_test.py --root SRCDIR"""
import argparse
import os
import re
import sys

# Bottom to top: a library may include its own headers and those of libraries before it.
LAYERS = ["util", "packet", "hash", "steer", "guard", "config", "datapath", "control", "metrics",
          "api", "sync"]
# Below in LAYERS, yet forbidden: the fast path never sees the configuration's types.
FORBIDDEN = {"datapath": {"config"}}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/[^"]+"', re.M)
MESON_DEP = re.compile(r"\b([a-z_]+)_dep\b")


def allowed(lib, target):
    if target == lib:
        return True
    if target in FORBIDDEN.get(lib, ()):
        return False
    if lib not in LAYERS or target not in LAYERS:
        return False  # a new library must be placed in LAYERS first
    return LAYERS.index(target) < LAYERS.index(lib)


def violations(lib, name, text):
    """(file, line, included library) for every include `lib` may not have."""
    out = []
    for m in INCLUDE.finditer(text):
        target = m.group(1)
        if not allowed(lib, target):
            out.append((name, text.count("\n", 0, m.start()) + 1, target))
    return out


def self_test():
    bad = violations("datapath", "x.h", '#include <vector>\n#include "config/config.h"\n')
    assert bad == [("x.h", 2, "config")], bad
    assert violations("datapath", "x.h", '#include "control/publish.h"\n')
    assert violations("steer", "x.h", '  #  include "datapath/tables.h"\n')
    assert not violations("control", "x.h", '#include "datapath/tables.h"\n#include "config/x.h"')
    assert not allowed("datapath", "newlib")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    args = ap.parse_args()
    self_test()
    lib_dir = os.path.join(args.root, "lib")
    failures, files, includes = [], 0, 0
    for lib in sorted(os.listdir(lib_dir)):
        path = os.path.join(lib_dir, lib)
        if not os.path.isdir(path):
            continue
        for name in sorted(os.listdir(path)):
            if not name.endswith((".h", ".cpp")):
                continue
            with open(os.path.join(path, name)) as f:
                text = f.read()
            files += 1
            includes += len(INCLUDE.findall(text))
            for file, line, target in violations(lib, name, text):
                failures.append(f"lib/{lib}/{file}:{line}: includes {target}/, which lib/{lib} "
                                f"may not (layers: {' < '.join(LAYERS)}; "
                                f"forbidden: {FORBIDDEN})")
    with open(os.path.join(lib_dir, "datapath", "meson.build")) as f:
        for dep in MESON_DEP.findall(f.read()):
            if dep in LAYERS and not allowed("datapath", dep):
                failures.append(f"lib/datapath/meson.build: depends on {dep}_dep")
    if files < 20 or includes < 50:
        failures.append(f"read only {files} files with {includes} project includes: wrong --root?")
    for f in failures:
        print("FAIL", f)
    print(f"layering: {files} files, {includes} project includes, {len(failures)} violation(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
