"""ptbsteer YAML configurations as the tests write them: the pieces (EAL line, pcap ports,
lcores, next-hops, groups) and an atomic write (a reload never reads a half-written file)."""
import os

INVALID = ("syntax", "semantic", "restart")  # the ways spoil() breaks a configuration


def prefix(tag):
    """The EAL file prefix of this process's ptbsteer (runner.remove_eal_dirs finds it)."""
    return f"ptbsteer-{tag}-{os.getpid()}"


# Set by tests/hugepages/hugepages_test.py for the tests it runs: a hugetlbfs mount with 2 MB
# pages reserved for them. Unset (every other run): no hugepages.
HUGE_DIR_ENV = "PTBSTEER_TEST_HUGE_DIR"


def eal(file_prefix, cores="0", memory=512, telemetry=False, quiet=True, vdevs=()):
    """The eal: line: no PCI (never the machine's own NIC); no hugepages unless the environment
    names a hugetlbfs mount (HUGE_DIR_ENV), then `memory` MB of them, files unlinked once
    mapped (nothing left in the mount)."""
    huge_dir = os.environ.get(HUGE_DIR_ENV)
    memory_args = (["--huge-dir", f'"{huge_dir}"', "--huge-unlink"] if huge_dir
                   else ["--no-huge"])
    args = memory_args + ["-m", f'"{memory}"', "--no-pci"]
    if not telemetry:
        args.append("--no-telemetry")
    args += ["--file-prefix", file_prefix]
    for v in vdevs:
        args += ["--vdev", f'"{v}"']
    args += ["-l", f'"{cores}"']
    if quiet:
        args += ["--log-level", '"lib.eal:error"']
    return "eal: [" + ", ".join(args) + "]\n"


def cores(lcores):
    """The -l list of 1 or 2 lcores."""
    return "0" if lcores == 1 else "0,1"


def pcap_device(n, rx, tx=None, infinite=False):
    return (f"net_pcap{n},rx_pcap={rx}" + (",infinite_rx=1" if infinite else "")
            + (f",tx_pcap={tx}" if tx else ""))


def ports(*devices):
    """ports: from (name, device string) pairs."""
    return "ports:\n" + "".join(f'  - {{name: {n}, device: "{d}"}}\n' for n, d in devices)


def pcap_ports(tmp, rx="in.pcap", infinite=False):
    """`in` reads tmp/rx (replies to tmp/in-tx.pcap), `out` writes tmp/out.pcap (and reads
    tmp/empty.pcap: pcapfile.write it)."""
    return ports(("in", pcap_device(0, f"{tmp}/{rx}", f"{tmp}/in-tx.pcap", infinite)),
                 ("out", pcap_device(1, f"{tmp}/empty.pcap", f"{tmp}/out.pcap")))


def lcores(n):
    """One lcore polling in and out and transmitting, or an RX lcore and a TX lcore."""
    body = ("  - {id: 0, rx: [in, out], tx: true}\n" if n == 1 else
            "  - {id: 0, rx: [in, out]}\n  - {id: 1, tx: true}\n")
    return "lcores:\n" + body


def hop(name, mac=None, port="out", weight=None, vlan=None, via=None, **more):
    """One next-hop in flow style, reached at a static `mac` or at `via` (an address ptbsteer
    resolves by ARP / Neighbor Discovery): exactly one of the two; `more` adds fields as given
    (deliver, address)."""
    if (mac is None) == (via is None):
        raise ValueError(f"next-hop {name}: give mac or via, exactly one")
    target = f'mac: "{mac}"' if mac is not None else f'via: "{via}"'
    text = f"{{name: {name}, port: {port}, {target}"
    if weight is not None:
        text += f", weight: {weight}"
    if vlan:
        text += f", vlan: {vlan}"
    for k, v in more.items():
        text += f', {k}: "{v}"' if ":" in str(v) or "." in str(v) else f", {k}: {v}"
    return text + "}"


def hops(items, port="out"):
    """Next-hops from (name, MAC[, weight]) tuples, all on `port`."""
    return [hop(h[0], h[1], port, *h[2:3]) for h in items]


def group(name, prefixes, next_hops, policy, seed, fields=None, mode=None, select=None,
          transition=None):
    """One group (Linux hash model); IPv6 prefixes quoted; fields only matter under policy 3;
    transition: the group's key (None: ptbsteer's default, 60 s)."""
    pfx = ", ".join(f'"{p}"' if ":" in p else p for p in prefixes)
    hsh = f"{{model: linux, policy: {policy}, seed: {seed}"
    hsh += f", fields: 0x{fields:x}}}" if policy == 3 and fields is not None else "}"
    text = f"  - name: {name}\n    prefixes: [{pfx}]\n    hash: {hsh}\n"
    if select:
        text += f"    select: {select}\n"
    if mode:
        text += f"    mode: {mode}\n"
    if transition is not None:
        text += f"    transition: {transition}\n"
    return text + "    next_hops:\n" + "".join(f"      - {h}\n" for h in next_hops)


def addresses(*entries):
    """addresses: from (port, IPv4/len or None, IPv6/len or None) tuples."""
    text = "addresses:\n"
    for port, v4, v6 in entries:
        text += f"  - {{port: {port}" + (f", ipv4: {v4}" if v4 else "") + \
            (f', ipv6: "{v6}"' if v6 else "") + "}\n"
    return text


def neighbors(reachable_time=None, unres_qlen=None):
    """neighbors: (how next-hops given by via are kept resolved); empty when both default."""
    fields = [f"{k}: {v}" for k, v in (("reachable_time", reachable_time),
                                       ("unres_qlen", unres_qlen)) if v is not None]
    return f"neighbors: {{{', '.join(fields)}}}\n" if fields else ""


def metrics(listen="127.0.0.1:0"):
    """Any free port by default: never clash with a running ptbsteer."""
    return f'metrics: {{listen: "{listen}"}}\n'


def spoil(text, variant):
    """The configuration made invalid: "syntax" (a YAML error: the last prefix list loses its
    bracket), "semantic" (the first next-hop on a port that does not exist), "restart"
    (metrics.listen changes, which only a restart can apply)."""
    if variant == "syntax":
        i = text.rindex("prefixes: [")
        j = text.index("]", i)
        return text[:j] + text[j + 1:]
    if variant == "semantic":
        return text.replace("port: out,", "port: nowhere,", 1)
    if variant == "restart":
        return text.replace(metrics(), metrics("127.0.0.1:9"))
    return text


def write(path, text):
    """Writes atomically (a new file renamed over the old); returns path."""
    with open(path + ".new", "w") as f:
        f.write(text)
    os.replace(path + ".new", path)
    return path
