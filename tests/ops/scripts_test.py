#!/usr/bin/python3
"""scripts/setup-hugepages, scripts/bind-nic and scripts/check-cpu: --help, usage errors,
--dry-run output and every refusal that is safe to exercise. Nothing is ever bound, reserved or
written: every run is a dry run, /etc is redirected to an empty temporary directory (which must
stay empty), and sysfs, /proc/cmdline and /proc/cpuinfo are fake trees built here, except for
bind-nic's default-route refusal, which runs on this machine's real uplink.

The expected lcore choices for the fake topologies are worked out by hand from the rules in
scripts/check-cpu's header (NIC node, CPU 0 for the OS, one lcore per core, isolcpus first),
not taken from the script's output.

Usage: scripts_test.py --root SRCDIR --ptbsteer BIN"""
import argparse
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lib.checks import Checks, run  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--root", required=True)
ap.add_argument("--ptbsteer", required=True)
args = ap.parse_args()
SCRIPTS = os.path.join(args.root, "scripts")
HUGE = os.path.join(SCRIPTS, "setup-hugepages")
BIND = os.path.join(SCRIPTS, "bind-nic")
CPU = os.path.join(SCRIPTS, "check-cpu")
c = Checks("ops-scripts")


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def symlink(target, link):
    os.makedirs(os.path.dirname(link), exist_ok=True)
    os.symlink(target, link)


def env_with(**kv):
    e = dict(os.environ)
    e.update({k: str(v) for k, v in kv.items()})
    return e


def files_under(d):
    return [os.path.join(p, f) for p, _, fs in os.walk(d) for f in fs]


# ---------------------------------------------------------------- common: --help, bad usage
def test_help_and_usage():
    for script in (HUGE, BIND, CPU):
        name = os.path.basename(script)
        rc, out, _ = run([script, "--help"])
        c.check(rc == 0 and out.startswith("Usage:") and "--dry-run" in out, f"{name} --help")
        rc, _, err = run([script, "--no-such-option"])
        c.check(rc == 2, f"{name} rejects an unknown option with exit 2", err)
    rc, _, _ = run([BIND, "--dry-run"])
    c.check(rc == 2, "bind-nic without a port: exit 2")
    for bad in (["--size", "3M"], ["--count", "0"], ["--count", "x"], ["--node", "a"]):
        rc, _, _ = run([HUGE, "--dry-run"] + bad)
        c.check(rc == 2, f"setup-hugepages {' '.join(bad)}: exit 2")
    rc, _, _ = run([CPU, "--lcores", "0"])
    c.check(rc == 2, "check-cpu --lcores 0: exit 2")


# ---------------------------------------------------------------- setup-hugepages
def test_hugepages(tmp):
    etc = os.path.join(tmp, "etc")
    os.makedirs(etc)
    sysfs = os.path.join(tmp, "sys")
    nr2m = os.path.join(sysfs, "kernel/mm/hugepages/hugepages-2048kB/nr_hugepages")
    write(nr2m, "0\n")
    write(os.path.join(sysfs, "devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages"),
          "0\n")
    cmd_plain = os.path.join(tmp, "cmdline-plain")
    write(cmd_plain, "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet\n")
    cmd_1g = os.path.join(tmp, "cmdline-1g")
    write(cmd_1g, "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro hugepagesz=1G hugepages=4 quiet\n")
    cpu_1g = os.path.join(tmp, "cpuinfo-1g")
    write(cpu_1g, "processor\t: 0\nflags\t\t: fpu vme pse pdpe1gb rdtscp lm\n")
    cpu_no = os.path.join(tmp, "cpuinfo-no1g")
    write(cpu_no, "processor\t: 0\nflags\t\t: fpu vme pse rdtscp lm\n")

    def hp(extra, cmdline=cmd_plain, cpuinfo=cpu_1g):
        return run([HUGE, "--dry-run"] + extra, env=env_with(
            PTBSTEER_ETC=etc, PTBSTEER_SYSFS=sysfs, PTBSTEER_CMDLINE_FILE=cmdline,
            PTBSTEER_CPUINFO_FILE=cpuinfo))

    rc, out, err = hp(["--count", "512"])
    c.check(rc == 0, "setup-hugepages 2M dry run: exit 0", err)
    c.check(f"would write 512 to {nr2m}" in out, "2M: would reserve 512 pages now through sysfs",
            out)
    c.check(re.search(r"would write \S+/etc/sysctl\.d/80-ptbsteer-hugepages\.conf:", out) and
            "vm.nr_hugepages = 512" in out, "2M: would persist vm.nr_hugepages = 512 in sysctl.d",
            out)
    rc, out, err = hp(["--count", "256", "--node", "1"])
    node1 = os.path.join(sysfs, "devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages")
    c.check(rc == 0 and f"would write 256 to {node1}" in out, "2M --node 1: reserves on node 1",
            out + err)
    c.check("ptbsteer-hugepages.service" in out and
            "echo 256 > /sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages"
            in out,
            "2M --node 1: persisted by a oneshot unit writing node 1's sysfs file", out)

    rc, out, err = hp(["--size", "1G", "--count", "4"])
    c.check(rc == 3, "1G without hugepagesz=1G on the kernel command line: refused (exit 3)",
            out + err)
    c.check("hugepagesz=1G hugepages=4" in err and "GRUB_CMDLINE_LINUX_DEFAULT" in err and
            "update-grub" in err, "1G refusal prints the exact GRUB line", err)
    c.check("default_hugepagesz" not in err,
            "1G GRUB line leaves the default page size alone (vm.nr_hugepages keeps meaning 2M)",
            err)
    c.check("would" not in out, "1G refusal plans nothing", out)
    rc, out, err = hp(["--size", "1G"], cpuinfo=cpu_no)
    c.check(rc == 3 and "pdpe1gb" in err, "1G on a CPU without pdpe1gb: refused", err)
    rc, out, err = hp(["--size", "1G", "--group", "root"], cmdline=cmd_1g)
    c.check(rc == 0, "1G with hugepagesz=1G hugepages=4 on the command line: exit 0", err)
    c.check("dev-hugepages1G.mount" in out and "Where=/dev/hugepages1G" in out and
            "Options=pagesize=1G,mode=1770,gid=0" in out,
            "1G: a systemd mount unit for /dev/hugepages1G, group-writable with a numeric gid", out)

    c.check(files_under(etc) == [], "dry runs wrote nothing under the redirected /etc",
            str(files_under(etc)))
    with open(nr2m) as f:
        c.check(f.read() == "0\n", "dry runs left the (fake) sysfs page count alone")


# ---------------------------------------------------------------- bind-nic
def default_route_interfaces():
    names = set()
    for fam in ("-4", "-6"):
        rc, out, _ = run(["ip", fam, "route", "show", "default"])
        names.update(re.findall(r"\bdev (\S+)", out))
    return sorted(names)


def real_pci_of(iface):
    dev = f"/sys/class/net/{iface}/device"
    if not os.path.exists(dev):
        return None
    real = os.path.realpath(dev)
    if os.path.basename(os.path.realpath(os.path.join(real, "subsystem"))) == "virtio":
        real = os.path.dirname(real)
    if os.path.basename(os.path.realpath(os.path.join(real, "subsystem"))) == "pci":
        return os.path.basename(real)
    return None


def test_bind_default_route():
    ifaces = default_route_interfaces()
    if not ifaces:
        print("note  this machine has no default route: the real-uplink refusal is not exercised")
        return
    for iface in ifaces:
        rc, out, err = run([BIND, "--dry-run", iface])
        c.check(rc == 3 and "default route" in err and "would run" not in out,
                f"bind-nic refuses {iface}, which carries this machine's default route", out + err)
        pci = real_pci_of(iface)
        if pci:
            rc, out, err = run([BIND, "--dry-run", pci])
            c.check(rc == 3 and "default route" in err and "would run" not in out,
                    f"bind-nic refuses {pci} (the PCI function behind {iface}) too", out + err)


def fake_pci(sysfs, addr, cls, driver=None, group=None, iface=None, numa=0):
    """A PCI function in a fake sysfs, wired the way the kernel links it."""
    real = os.path.join(sysfs, "devices/pci0000:80", addr)
    write(os.path.join(real, "class"), cls + "\n")
    write(os.path.join(real, "numa_node"), f"{numa}\n")
    os.makedirs(os.path.join(sysfs, "bus/pci/drivers"), exist_ok=True)
    symlink(os.path.join(sysfs, "bus/pci"), os.path.join(real, "subsystem"))
    symlink(real, os.path.join(sysfs, "bus/pci/devices", addr))
    if driver:
        os.makedirs(os.path.join(sysfs, "bus/pci/drivers", driver), exist_ok=True)
        symlink(os.path.join(sysfs, "bus/pci/drivers", driver), os.path.join(real, "driver"))
    if group is not None:
        gdir = os.path.join(sysfs, "kernel/iommu_groups", str(group))
        os.makedirs(os.path.join(gdir, "devices"), exist_ok=True)
        symlink(gdir, os.path.join(real, "iommu_group"))
        symlink(real, os.path.join(gdir, "devices", addr))
    if iface:
        os.makedirs(os.path.join(real, "net", iface))
        symlink(real, os.path.join(sysfs, "class/net", iface, "device"))


def test_bind_fake(tmp):
    sysfs = os.path.join(tmp, "bindsys")
    fake_pci(sysfs, "0000:81:00.0", "0x020000", "ixgbe", 42, "ptbfake0")
    fake_pci(sysfs, "0000:81:00.1", "0x020000", "ixgbe", 42, "ptbfake1")
    fake_pci(sysfs, "0000:82:00.0", "0x020000", "mlx5_core", 43, "ptbfake2")
    fake_pci(sysfs, "0000:83:00.0", "0x020000", "ixgbe", None, "ptbfake3")
    fake_pci(sysfs, "0000:84:00.0", "0x010802", "nvme", 44)
    fake_pci(sysfs, "0000:85:00.0", "0x020000", "vfio-pci", 45)
    e = env_with(PTBSTEER_SYSFS=sysfs)

    for target in ("ptbfake0", "0000:81:00.0", "81:00.0"):
        rc, out, err = run([BIND, "--dry-run", target], env=e)
        c.check(rc == 0, f"bind-nic --dry-run {target} (ixgbe, IOMMU group 42): exit 0", out + err)
        c.check("would run: modprobe vfio-pci" in out and
                "would run: ip link set dev ptbfake0 down" in out and
                re.search(r"would run: \S*dpdk-devbind\.py --bind=vfio-pci 0000:81:00\.0", out),
                f"{target}: plans modprobe, link down, dpdk-devbind.py --bind=vfio-pci", out)
    c.check("0000:81:00.1 shares IOMMU group 42" in out,
            "names the other device of the IOMMU group", out)
    c.check("driverctl set-override 0000:81:00.0 vfio-pci" in out,
            "says how to make it persistent", out)

    rc, out, err = run([BIND, "--dry-run", "ptbfake2"], env=e)
    c.check(rc == 0 and "do NOT unbind" in out and "would run" not in out and
            'device: "0000:82:00.0", preset: mlx5' in out,
            "mlx5: no unbinding, the PCI address to use in ptbsteer.yaml", out + err)
    rc, out, err = run([BIND, "--dry-run", "0000:83:00.0"], env=e)
    c.check(rc == 3 and "IOMMU" in err and "intel_iommu=on" in err and "would run" not in out,
            "vfio-pci without an IOMMU group: refused with the kernel parameters to add", out + err)
    rc, out, err = run([BIND, "--dry-run", "--driver", "uio_pci_generic", "0000:83:00.0"], env=e)
    c.check(rc == 0 and "--bind=uio_pci_generic 0000:83:00.0" in out,
            "uio_pci_generic needs no IOMMU (asked for explicitly)", out + err)
    rc, out, err = run([BIND, "--dry-run", "0000:84:00.0"], env=e)
    c.check(rc == 3 and "not a network controller" in err and "would run" not in out,
            "a non-network PCI device (NVMe class 0x0108) is refused", out + err)
    rc, out, err = run([BIND, "--dry-run", "0000:85:00.0"], env=e)
    c.check(rc == 0 and "already bound to vfio-pci" in out and "would run" not in out,
            "a device already on vfio-pci: nothing to do", out + err)
    rc, out, err = run([BIND, "--dry-run", "0000:99:00.0"], env=e)
    c.check(rc == 1 and "no PCI device" in err, "an absent PCI address: exit 1", out + err)
    rc, out, err = run([BIND, "--dry-run", "ptbnosuch9"], env=e)
    c.check(rc == 1 and "no interface" in err, "an absent interface: exit 1", out + err)


# ---------------------------------------------------------------- check-cpu
def yaml_suggestion(out):
    """The eal:/lcores: lines check-cpu prints after 'In ptbsteer.yaml:'."""
    lines = out.split("In ptbsteer.yaml:\n", 1)[1].split("\n\n", 1)[0]
    return "\n".join(l for l in lines.splitlines() if not l.startswith("#"))


def l_list(out):
    m = re.search(r"^Suggested EAL core list:  -l (\S+)", out, re.M)
    return m.group(1) if m else None


def check_suggestion_loads(out, ports, queues, what):
    """The suggested eal:/lcores: text, completed with null ports, passes ptbsteer --check."""
    sugg = yaml_suggestion(out)
    port_lines = "".join(f"  - {{name: {p}, device: net_null{i}, rx_queues: {queues}, "
                         f"tx_queues: {queues}}}\n"
                         for i, p in enumerate(ports))
    text = (sugg + "\nports:\n" + port_lines +
            "groups:\n  - name: g\n    prefixes: 192.0.2.0/24\n    hash: {model: linux, seed: 1}\n"
            f"    next_hops: [{{name: n, port: {ports[0]}, mac: \"02:00:00:00:00:01\"}}]\n")
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(text)
    try:
        rc, o, e = run([args.ptbsteer, "--check", "--config", f.name])
    finally:
        os.unlink(f.name)
    c.check(rc == 0, f"{what}: the suggested eal:/lcores: pass ptbsteer --check", text + o + e)
    ids = sorted(int(x) for x in re.findall(r"\{id: (\d+),", sugg))
    listed = sorted(int(x) for x in l_list(out).split(","))
    c.check(ids == listed, f"{what}: lcores ids {ids} are exactly the -l list {listed}", sugg)


def fake_topology(root, ncpu, nodes, isolcpus="", nic_node=None):
    """ncpu CPUs; nodes: list of cpulists; SMT pairs (i, i+2) within each 4-CPU package."""
    sysfs = os.path.join(root, "sys")
    write(os.path.join(sysfs, "devices/system/cpu/online"),
          f"0-{ncpu - 1}\n" if ncpu > 1 else "0\n")
    for i in range(ncpu):
        topo = os.path.join(sysfs, f"devices/system/cpu/cpu{i}/topology")
        write(os.path.join(topo, "physical_package_id"), f"{i // 4}\n")
        write(os.path.join(topo, "core_id"), f"{(i // 4) * 2 + i % 2}\n")
    for n, cpus in enumerate(nodes):
        write(os.path.join(sysfs, f"devices/system/node/node{n}/cpulist"), cpus + "\n")
    if nic_node is not None:
        write(os.path.join(sysfs, "bus/pci/devices/0000:81:00.0/numa_node"), f"{nic_node}\n")
    cmdline = os.path.join(root, "cmdline")
    write(cmdline,
          "BOOT_IMAGE=/vmlinuz ro quiet" + (f" isolcpus={isolcpus}" if isolcpus else "") + "\n")
    return env_with(PTBSTEER_SYSFS=sysfs, PTBSTEER_CMDLINE_FILE=cmdline)


def test_check_cpu_real():
    rc, out, err = run([CPU, "--port", "uplink=lo"])
    c.check(rc == 0 and l_list(out), "check-cpu on this machine: exit 0 and an -l list", out + err)
    if rc != 0:
        return
    ncpu = len(re.findall(r"^processor\s*:", open("/proc/cpuinfo").read(), re.M))
    if ncpu > 1:
        c.check("0" not in l_list(out).split(","),
                f"this machine ({ncpu} CPUs): CPU 0 left to the OS", out)
    check_suggestion_loads(out, ["uplink"], 1, "this machine")
    rc, out, err = run([CPU, "--dry-run", "--port", "uplink=lo"])
    c.check(rc == 0, "check-cpu accepts --dry-run (it never changes anything)", err)


def test_check_cpu_fake(tmp):
    cases = [
        # (what, ncpu, nodes, isolcpus, nic node, --lcores, expected -l, expected text)
        ("2 nodes, NIC on node 1, isolcpus=domain,managed_irq,6-7, 2 lcores",
         8, ["0-3", "4-7"], "domain,managed_irq,6-7", 1, 2, "6,7", "isolated (isolcpus=): 6,7"),
        ("2 nodes, NIC on node 1, 2 lcores: one per core on node 1",
         8, ["0-3", "4-7"], "", 1, 2, "4,5", "SMT siblings (one core): CPUs 4,6"),
        ("2 nodes, NIC on node 1, 3 lcores: the third from node 0, not CPU 0 nor its sibling 2",
         8, ["0-3", "4-7"], "", 1, 3, "1,4,5", "some lcores are on another node"),
        ("2 nodes, NIC on node 0, 2 lcores: node 0 has one core besides CPU 0's",
         8, ["0-3", "4-7"], "", 0, 2, "1,4", "some lcores are on another node"),
        ("NIC node unknown, 1 lcore", 8, ["0-3", "4-7"], "", -1, 1, "1", "CPU 0 is left to the OS"),
        ("one CPU", 1, ["0"], "", None, 1, "0", "one CPU only"),
    ]
    for k, (what, ncpu, nodes, iso, nic, want, expect, text) in enumerate(cases):
        e = fake_topology(os.path.join(tmp, f"cpu{k}"), ncpu, nodes, iso, nic)
        port = "uplink=0000:81:00.0" if nic is not None else "uplink="
        rc, out, err = run([CPU, "--port", port, "--lcores", str(want)], env=e)
        c.check(rc == 0 and l_list(out) == expect and text in out,
                f"check-cpu, {what}: -l {expect}", f"got -l {l_list(out)}\n{out}{err}")
        if rc == 0:
            check_suggestion_loads(out, ["uplink"], want if want > 1 else 1, what)


with tempfile.TemporaryDirectory(prefix="ptbsteer-ops-") as tmp:
    test_help_and_usage()
    test_hugepages(tmp)
    test_bind_default_route()
    test_bind_fake(tmp)
    test_check_cpu_real()
    test_check_cpu_fake(tmp)
c.finish()
