"""2 MB hugepages for scripts/bench --hugepages, as tests/hugepages/hugepages_test.py reserves
them: vm.nr_hugepages raised by enough for one process's -m (testpmd and ptbsteer take turns,
and the EAL's --huge-unlink gives each one's pages back when it exits), a private hugetlbfs
mounted in a temporary directory; in a `finally`, whatever happens, the mount is taken down, the
directory removed and the previous vm.nr_hugepages restored."""
import contextlib
import os
import subprocess
import sys
import tempfile

NR = "/proc/sys/vm/nr_hugepages"


class Unavailable(Exception):
    """No hugepages for the benchmark: nothing was left reserved or mounted."""


def read_nr():
    with open(NR) as f:
        return int(f.read())


def write_nr(value):
    with open(NR, "w") as f:
        f.write(str(value))


@contextlib.contextmanager
def hugepages(memory_mb):
    """Yields the hugetlbfs mount; says on stdout what it reserved and gave back."""
    pages = memory_mb // 2 + 64  # one process at a time, with room for the EAL's own
    try:
        before = read_nr()
    except OSError as e:
        raise Unavailable(f"cannot read {NR}: {e}")
    mount = tempfile.mkdtemp(prefix="ptbsteer-bench-huge-")
    mounted = False
    try:
        try:
            write_nr(before + pages)
        except OSError as e:
            raise Unavailable(f"cannot write {NR} (root needed): {e}")
        got = read_nr() - before
        if got < pages:
            raise Unavailable(f"only {got} of {pages} pages of 2 MB could be reserved "
                              f"(vm.nr_hugepages {before}; memory too fragmented or too small?)")
        r = subprocess.run(["mount", "-t", "hugetlbfs", "-o", "pagesize=2M", "nodev", mount],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise Unavailable(f"cannot mount hugetlbfs on {mount}: {r.stderr.strip()}")
        mounted = True
        print(f"hugepages: {got} pages of 2 MB reserved (vm.nr_hugepages {before} -> "
              f"{before + got}), hugetlbfs on {mount}", flush=True)
        yield mount
        left = os.listdir(mount)
        if left:
            print(f"hugepages: left in the mount (removed with it): {left}", flush=True)
    finally:
        give_back(mount, mounted, before)


def give_back(mount, mounted, before):
    if mounted:
        r = subprocess.run(["umount", mount], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"hugepages: umount {mount} failed: {r.stderr.strip()}", file=sys.stderr)
    try:
        os.rmdir(mount)
    except OSError as e:
        print(f"hugepages: cannot remove {mount}: {e}", file=sys.stderr)
    try:
        write_nr(before)
        now = read_nr()
    except OSError as e:
        print(f"hugepages: cannot restore vm.nr_hugepages {before}: {e}", file=sys.stderr)
        return
    print(f"hugepages: {'unmounted' if mounted else 'nothing mounted'}, vm.nr_hugepages back to {now}"
          + ("" if now == before else f" (NOT {before}: pages still in use)"), flush=True)
