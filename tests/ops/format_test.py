#!/usr/bin/python3
"""The C++ sources have not drifted from .clang-format, no line passes 100 columns, and no file
in lib/ passes 400 lines (split it by concern: docs/architecture.md).
Every .cpp and .h under app/, lib/ and tests/ is checked with `clang-format --dry-run -Werror`
(the tree was reformatted once; after that a change either keeps the format or runs
`clang-format -i` on what it touched). Columns are counted in characters, not bytes: a '§' is
one column, as clang-format counts it.
The checks are run on made-up drift first, so that they cannot pass by checking nothing.
Usage: format_test.py --root SRCDIR"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

COLUMNS = 100
LIB_LINES = 400
FOLDERS = ("app", "lib", "tests")
SUFFIXES = (".cpp", ".h")


def sources(root):
    out = []
    for folder in FOLDERS:
        for dirpath, _, names in os.walk(os.path.join(root, folder)):
            out += [os.path.join(dirpath, n) for n in names if n.endswith(SUFFIXES)]
    return sorted(out)


def long_lines(path):
    """(path, line number, columns) for every line over COLUMNS characters."""
    with open(path, encoding="utf-8") as f:
        return [(path, i, len(line.rstrip("\n")))
                for i, line in enumerate(f, 1) if len(line.rstrip("\n")) > COLUMNS]


def long_files(root, paths):
    """(path, lines) for every file under lib/ longer than LIB_LINES."""
    lib = os.path.join(root, "lib") + os.sep
    out = []
    for p in paths:
        if p.startswith(lib):
            with open(p, encoding="utf-8") as f:
                n = sum(1 for _ in f)
            if n > LIB_LINES:
                out.append((p, n))
    return out


def drifted(clang_format, root, paths):
    """The paths whose text clang-format would change (style from root/.clang-format)."""
    out = []
    # In batches: one process per file would take a minute on this tree.
    for i in range(0, len(paths), 64):
        batch = paths[i:i + 64]
        r = subprocess.run([clang_format, "--dry-run", "-Werror", "--ferror-limit=1", *batch],
                           cwd=root, capture_output=True, text=True)
        if r.returncode != 0:
            out += [p for p in batch if p + ":" in r.stderr]
            if not any(p + ":" in r.stderr for p in batch):
                sys.exit(f"clang-format failed without naming a file:\n{r.stderr}")
    return out


def self_test(clang_format, root):
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(os.path.join(root, ".clang-format"), tmp)
        good = os.path.join(tmp, "good.cpp")
        bad = os.path.join(tmp, "bad.cpp")
        wide = os.path.join(tmp, "wide.h")
        with open(good, "w") as f:
            f.write("int f(int a) {\n    return a + 1;\n}\n")
        with open(bad, "w") as f:
            f.write("int f( int a ){return a+1;}\n")
        with open(wide, "w", encoding="utf-8") as f:
            f.write("// " + "§" * (COLUMNS - 3) + "\n// " + "x" * (COLUMNS - 2) + "\n")
        assert drifted(clang_format, tmp, [good, bad]) == [bad]
        assert long_lines(wide) == [(wide, 2, COLUMNS + 1)], long_lines(wide)
        os.makedirs(os.path.join(tmp, "lib", "x"))
        big = os.path.join(tmp, "lib", "x", "big.cpp")
        with open(big, "w") as f:
            f.write("\n" * (LIB_LINES + 1))
        assert long_files(tmp, [big, good]) == [(big, LIB_LINES + 1)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    args = ap.parse_args()
    clang_format = shutil.which("clang-format") or shutil.which("clang-format-14")
    if not clang_format:
        sys.exit("clang-format is not installed (Debian package clang-format; scripts/test "
                 "installs it)")
    self_test(clang_format, args.root)
    paths = sources(args.root)
    failures = drifted(clang_format, args.root, paths)
    wide = [w for p in paths for w in long_lines(p)]
    big = long_files(args.root, paths)
    for p in failures:
        print(f"{os.path.relpath(p, args.root)}: differs from .clang-format "
              f"(run: clang-format -i {os.path.relpath(p, args.root)})")
    for p, n, cols in wide:
        print(f"{os.path.relpath(p, args.root)}:{n}: {cols} columns, over {COLUMNS}")
    for p, n in big:
        print(f"{os.path.relpath(p, args.root)}: {n} lines, over {LIB_LINES} (split it by concern)")
    print(f"{len(paths)} files checked: {len(failures)} drifted, {len(wide)} lines too long, "
          f"{len(big)} lib files too long")
    return 1 if failures or wide or big else 0


if __name__ == "__main__":
    sys.exit(main())
