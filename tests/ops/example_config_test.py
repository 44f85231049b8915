#!/usr/bin/python3
"""scripts/ptbsteer.example.yaml, the example /etc/ptbsteer/ptbsteer.yaml: it passes
`ptbsteer --check` although its PCI devices do not exist on this machine (--check reads the
file only; it never starts the EAL nor touches a device), its lcores are all in its EAL -l list
(--check does not compare them), its ports are PCI devices with NIC presets, and it uses only
documentation addresses.
Usage: example_config_test.py --root SRCDIR --ptbsteer BIN"""
import argparse
import ipaddress
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lib.checks import Checks, run  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--root", required=True)
ap.add_argument("--ptbsteer", required=True)
args = ap.parse_args()
EXAMPLE = os.path.join(args.root, "scripts", "ptbsteer.example.yaml")
c = Checks("ops-example-config")

env = dict(os.environ, PTBSTEER_PRESETS_DIR=os.path.join(args.root, "drivers-config"))
rc, out, err = run([args.ptbsteer, "--check", "--config", EXAMPLE], env=env)
c.check(rc == 0 and "valid" in out, "ptbsteer --check accepts the example", out + err)
rc, short, err = run([args.ptbsteer, "--check", EXAMPLE], env=env)
c.check(rc == 0 and short == out, "ptbsteer --check FILE, as users type it, says the same",
        short + err)
rc, out, err = run([args.ptbsteer, "--version"])
c.check(rc == 0 and re.fullmatch(r"ptbsteer \S+ \(DPDK 22\.11\.\d+\)\n", out) is not None,
        f"ptbsteer --version names its version and DPDK's: {out.strip()}", out + err)

# Read with regular expressions: python3-yaml is not among the project's Debian packages.
text = open(EXAMPLE).read()
devices = re.findall(r'^\s+device: "([^"]+)"\n\s+preset: (\S+)', text, re.M)
c.check(len(devices) >= 1, f"{len(devices)} port(s) found", text)
pci = re.compile(r"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$")
for device, preset in devices:
    c.check(bool(pci.match(device)) and preset in ("ixgbe", "i40e", "ice", "mlx5", "virtio"),
            f"port {device}: a PCI device with a NIC preset ({preset})")
    c.check(not os.path.exists(f"/sys/bus/pci/devices/{device}"),
            f"{device} does not exist here, so --check cannot have touched it")
eal = re.search(r"^eal: \[(.*)\]", text, re.M).group(1)
listed = re.search(r'-l, "([0-9,-]+)"', eal).group(1)
lcores_listed = set()
for part in listed.split(","):
    a, _, b = part.partition("-")
    lcores_listed.update(range(int(a), int(b or a) + 1))
ids = {int(i) for i in re.findall(r"\{id: (\d+),", text)}
c.check(ids and ids <= lcores_listed,
        f"every lcore id {sorted(ids)} is in the EAL -l list {sorted(lcores_listed)}")
c.check(0 not in ids, "lcore 0 is left to the OS")

doc_nets = [ipaddress.ip_network(n) for n in
            ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")]
addrs = re.findall(r"\b(?:\d{1,3}\.){3}\d{1,3}(?:/\d+)?|\b2001:db8[0-9a-f:]*(?:/\d+)?", text)
bad = [a for a in addrs if not any(ipaddress.ip_network(a, strict=False).subnet_of(n)
                                   for n in doc_nets
                                   if n.version == ipaddress.ip_network(a, strict=False).version)
       and not a.startswith("127.")]
c.check(addrs and not bad, f"only documentation addresses ({len(addrs)} found)", str(bad))
c.check(text.startswith("# /etc/ptbsteer/ptbsteer.yaml"),
        "says where it goes: /etc/ptbsteer/ptbsteer.yaml")
c.finish()
