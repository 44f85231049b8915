"""The kernel-agreement test plan: the cases, ptbsteer-hashcalc's answers, and the comparison
of its choices with the kernel's (and the Python model's)."""
import tempfile

from kernel_packets import data_frame, flow_id_for_parse, ptb_frame, scapy, send_and_observe
from kernel_topology import ROUTER_IN4, kernel_route_get, random_flows
from lib import pcapfile
from lib.linux_hash import Flow, py_model_hash, py_select
from lib.procs import run


def hashcalc(args, seed, policy, fields, weights, flows=None, pcap=None):
    cmd = [args.hashcalc, "--seed", str(seed), "--policy", str(policy), "--fields", hex(fields),
           "--weights", ",".join(map(str, weights))]
    if pcap:
        cmd += ["--pcap", pcap]
        inp = None
    else:
        cmd += ["-"]
        inp = "\n".join(f.line() for f in flows) + "\n"
    p = run(cmd, inp=inp, timeout=120)
    vals = [ln.split()[0] for ln in p.stdout.splitlines() if ln.strip()]
    return [int(v) if v.lstrip("-").isdigit() else v for v in vals]


def describe(family, policy, fields, seed, weights):
    pol = f"policy {policy}" + (f" fields 0x{fields:02x}" if policy == 3 else "")
    return (f"IPv{family} {pol} seed {seed}, {len(weights)} next-hops "
            f"(weights {','.join(map(str, weights))})")


class Report:
    def __init__(self):
        self.failures = 0
        self.lines = []

    def compare(self, title, flows, kernel, ours, pymodel=None, limit=5):
        agree = sum(1 for k, o in zip(kernel, ours) if k == o)
        extra = ""
        if pymodel is not None:
            extra = f" (python model {sum(1 for k, p in zip(kernel, pymodel) if k == p)}" \
                    f"/{len(kernel)})"
        line = f"{title}: {agree}/{len(flows)} agree{extra}"
        print(line, flush=True)
        self.lines.append(line)
        # The python model is also the oracle of tests/pcap/appliance_pcap.py: hold it to the
        # kernel too, so that oracle is itself checked on every run.
        py_ok = pymodel is None or all(k == p for k, p in zip(kernel, pymodel))
        if not py_ok:
            self.failures += 1
            print("    the python model (the pcap test's oracle) disagrees with the kernel",
                  flush=True)
        if agree != len(flows) or len(kernel) != len(ours):
            self.failures += 1
            shown = 0
            for f, k, o in zip(flows, kernel, ours):
                if k != o and shown < limit:
                    print(f"    DISAGREE {f}: kernel {k}, ptbsteer {o}", flush=True)
                    shown += 1
            if len(kernel) != len(ours):
                print(f"    ptbsteer answered {len(ours)} lines for {len(kernel)} flows")


WEIGHT_SETS = [
    [1, 1],
    [1, 2, 1],
    [3, 1, 1, 2, 1],
    [1, 1, 1, 1, 1, 1, 1, 1],
    [2, 1, 1, 3, 1, 1, 1, 5, 1, 1],
    [1, 1, 2, 1, 1, 1, 1, 1, 4, 1, 1, 1, 1, 1, 1, 7],
    [1] * 16,
    [5, 1, 3],
]
SEEDS = [12345, 0x9E3779B9, 1]


def route_get_cases(args):
    """(family, policy, fields) cases `ip route get ... iif` reproduces on the forwarding path."""
    cases = []
    for fam in (4, 6):
        cases += [(fam, 0, 0), (fam, 1, 0)]
    for fields in (0x37, 0x07, 0x33, 0x03):
        cases.append((4, 3, fields))
    return cases


def check_route_get(args, topo, rep, rng):
    s = scapy() if not args.no_ptb else None
    case_no = 0
    for seed in SEEDS:
        for fam, policy, fields in route_get_cases(args):
            weights = WEIGHT_SETS[case_no % len(WEIGHT_SETS)]
            case_no += 1
            topo.configure(fam, seed, policy, fields, weights)
            flows = random_flows(rng, fam, args.flows)
            kernel = kernel_route_get(topo, flows, weights)
            title = describe(fam, policy, fields, seed, weights)
            py = [py_select(weights, py_model_hash(seed, policy, fields, f)) for f in flows] \
                if args.pymodel else None
            if args.kernel_only:
                hist = [kernel.count(i) for i in range(len(weights))]
                print(f"{title}: kernel choices per next-hop {hist}"
                      + (f", python model agrees {sum(a == b for a, b in zip(kernel, py))}"
                         f"/{len(flows)}" if py else ""), flush=True)
                continue
            ours = hashcalc(args, seed, policy, fields, weights, flows=flows)
            rep.compare(f"{title} [ip route get iif]", flows, kernel, ours, py)
            if s is not None:
                sub = list(range(0, len(flows), max(1, len(flows) // args.ptb_flows)))
                frames = [ptb_frame(s, topo, flows[i]) for i in sub]
                with tempfile.NamedTemporaryFile(suffix=".pcap", dir=args.tmp) as tf:
                    pcapfile.write(tf.name, frames)
                    ours_ptb = hashcalc(args, seed, policy, fields, weights, pcap=tf.name)
                rep.compare(f"{title} [PTB pcap vs route get]", [flows[i] for i in sub],
                            [kernel[i] for i in sub], ours_ptb)


def packet_cases():
    cases = []
    for fam in (4, 6):
        cases += [(fam, 0, 0), (fam, 1, 0), (fam, 3, 0x37), (fam, 3, 0x03)]
    cases += [(6, 3, 0x3F), (6, 3, 0x0F)]  # flow label under policy 3: host order
    return cases


def check_packets(args, topo, rep, rng):
    s = scapy()
    case_no = 0
    for seed in SEEDS[:2] if not args.quick else SEEDS[:1]:
        for fam, policy, fields in packet_cases():
            weights = WEIGHT_SETS[(case_no * 3 + 2) % len(WEIGHT_SETS)]
            case_no += 1
            topo.configure(fam, seed, policy, fields, weights)
            flows = random_flows(rng, fam, args.packet_flows, with_label=True)
            frames = [data_frame(s, topo, f) for f in flows]
            # Under policy 0 the router hashes an ICMP error on its quote: send real PTBs too.
            send_ptbs = policy == 0
            if send_ptbs:
                frames += [ptb_frame(s, topo, f) for f in flows]
            seen = send_and_observe(topo, frames, len(weights))
            kernel, lost, multi = [], 0, 0
            for f in flows:
                got = seen.get(("data", flow_id_for_parse(f)), [])
                lost += not got
                multi += len(set(got)) > 1
                kernel.append(got[0] if got else "lost")
            title = describe(fam, policy, fields, seed, weights)
            if lost or multi:
                print(f"{title} [real packets]: {lost} flows not seen, {multi} seen on several "
                      "egresses", flush=True)
                rep.failures += 1
            py = [py_select(weights, py_model_hash(seed, policy, fields, f)) for f in flows] \
                if args.pymodel else None
            if args.kernel_only:
                agree = sum(a == b for a, b in zip(kernel, py)) if py else None
                print(f"{title} [real packets]: per next-hop "
                      f"{[kernel.count(i) for i in range(len(weights))]}"
                      + (f", python model {agree}/{len(flows)}" if py else ""), flush=True)
            else:
                ours = hashcalc(args, seed, policy, fields, weights, flows=flows)
                rep.compare(f"{title} [real packets]", flows, kernel, ours, py)
            if send_ptbs:
                kptb = [(seen.get(("ptb", flow_id_for_parse(f))) or ["lost"])[0] for f in flows]
                rep.compare(f"{title} [real PTBs: router's ICMP-error hash vs flow]", flows,
                            kernel, kptb)
                if not args.kernel_only:
                    with tempfile.NamedTemporaryFile(suffix=".pcap", dir=args.tmp) as tf:
                        pcapfile.write(tf.name, frames[len(flows):])
                        ours_ptb = hashcalc(args, seed, policy, fields, weights, pcap=tf.name)
                    rep.compare(f"{title} [real PTBs: ptbsteer --pcap vs router]", flows, kptb,
                                ours_ptb)


def explore_forms(args, topo, rng):
    """Which `ip route get` form reproduces forwarding? Compares the iif form, the form without
    iif, and real forwarded packets, per family and policy; the Python model with and without
    the policy-3 jhash step tells which hash each form used (report material, not pass/fail)."""
    s = scapy()
    for fam in (4, 6):
        for policy, fields in ((0, 0), (1, 0), (3, 0x37), (3, 0x03)):
            weights = [1] * 8
            topo.configure(fam, 777, policy, fields, weights)
            flows = random_flows(rng, fam, 300, allow_icmp=False)
            seen = send_and_observe(topo, [data_frame(s, topo, f) for f in flows], len(weights))
            real = [(seen.get(("data", flow_id_for_parse(f))) or ["lost"])[0] for f in flows]
            iif = kernel_route_get(topo, flows, weights, with_iif=True)
            fwd = [py_select(weights, py_model_hash(777, policy, fields, f)) for f in flows]
            nsk = [py_select(weights, py_model_hash(777, policy, fields, f, False)) for f in flows]

            def agree(a, b):
                return f"{sum(x == y for x, y in zip(a, b))}/{len(flows)}"
            line = (f"IPv{fam} policy {policy} fields 0x{fields:02x}: real packets vs "
                    f"'route get iif' {agree(real, iif)}; model(fwd) vs real {agree(fwd, real)}, "
                    f"vs iif {agree(fwd, iif)}; model(no jhash) vs iif {agree(nsk, iif)}")
            # Without iif: IPv4 needs a local source (else ENETUNREACH), so use the router's own
            # address as the source; IPv6 accepts the client's.
            if fam == 4:
                loc = [Flow(4, ROUTER_IN4, f.dst, f.proto, f.sport, f.dport) for f in flows]
            else:
                loc = flows
            out = kernel_route_get(topo, loc, weights, with_iif=False)
            fwd_l = [py_select(weights, py_model_hash(777, policy, fields, f)) for f in loc]
            nsk_l = [py_select(weights, py_model_hash(777, policy, fields, f, False))
                     for f in loc]
            line += (f"; no-iif form (src {'router' if fam == 4 else 'client'}): "
                     f"model(fwd) {agree(fwd_l, out)}, model(no jhash) {agree(nsk_l, out)}")
            print(line, flush=True)
