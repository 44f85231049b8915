#!/usr/bin/python3
"""The control API (docs/api.md) of the real ptbsteer, driven while it steers replayed PTBs
(net_pcap infinite_rx):
- start-up refuses a token file that is missing, empty or readable by others, with a sentence;
- every request without the bearer token, or with a wrong one, gets 401;
- a PUT group serves: PTBs for its prefix stop counting as no_group and reach its next-hops;
- bad bodies, unknown fields, collisions (a file group's name, an overlapping prefix), oversized
  bodies, wrong methods and paths each get their status, sentence and JSON pointer, and never
  change what serves (generation and group unchanged);
- UPDATES PUTs alternating two group shapes each serve a new generation, with traffic flowing;
- a file reload keeps the API's groups, and refuses a file group that takes an API group's name;
- DELETE stops serving the group; every `sh` example of docs/api.md gets its status;
- POST|DELETE /v1/capture: a capture started and stopped at run time holds exactly the frames
  it counted (read back by scapy): with `what: all` what was delivered, with `what: drops` only
  the PTBs of the deleted group's prefix; a small max_bytes stops it; bad bodies, a second
  capture and an existing file are refused;
- ptbsteer exits 0 with a balanced exit report.
Usage: api_test.py --ptbsteer BIN --doc docs/api.md [--updates N]"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lib import config, frames, pcapfile  # noqa: E402
from lib import api as api_lib  # noqa: E402
from lib.checks import Checks, run  # noqa: E402
from lib.prom import sample  # noqa: E402
from lib.runner import BALANCED, remove_eal_dirs, report  # noqa: E402

from scapy.all import ICMP, IP, TCP, rdpcap  # noqa: E402

FILE_PREFIX, API_PREFIX = "198.51.100.0/25", "198.51.100.128/25"


def file_config(tmp, extra_group=""):
    return (config.eal(config.prefix("api"))
            # Replayed PTBs in; what is delivered goes to /dev/null (infinite_rx is fast).
            + config.ports(("in", config.pcap_device(0, f"{tmp}/in.pcap", f"{tmp}/in-tx.pcap",
                                                     infinite=True)),
                           ("out", config.pcap_device(1, f"{tmp}/empty.pcap", "/dev/null")))
            + config.lcores(1)
            + "addresses:\n  - {port: out, ipv4: 192.0.2.1/24}\n"
            + "groups:\n"
            + config.group("web", [FILE_PREFIX], [config.hop("w1", "02:00:00:00:01:01")],
                           policy=1, seed=7)
            + extra_group
            + config.metrics()
            # No limits: one router sends everything, and a global limit admitting one PTB in
            # N of a replayed loop would see only some of its frames (aliasing).
            + "limits: {per_source: off, global: off}\n"
            + api_lib.control(tmp))


def traffic():
    """PTBs for servers of both prefixes, from many clients (so a group's next-hops all get some)."""
    out = []
    for i in range(64):
        for server in ("198.51.100.10", "198.51.100.200"):
            client = f"203.0.113.{10 + i}"
            quoted = frames.quote(server, client, TCP(sport=443, dport=40000 + i), 1400)
            out.append(bytes(frames.ptb(server, quoted, 1300)))
    return out


def shape(i):
    """Two group shapes the updates alternate between (next-hops, selection and seed differ)."""
    hops = [{"name": f"a{k}", "port": "out", "mac": f"02:00:00:00:02:{k:02x}"}
            for k in range(1, 3 if i % 2 == 0 else 5)]
    return {"prefixes": [API_PREFIX],
            "hash": {"model": "linux", "policy": 1, "seed": 11 + i % 2},
            "select": "hash-threshold" if i % 2 == 0 else "maglev",
            "next_hops": hops}


def start_refusals(c, args, tmp):
    cfg = config.write(f"{tmp}/refuse.yaml", file_config(tmp))
    token = f"{tmp}/token"
    cases = [("missing", None, None, "No such file"),
             ("empty", "\n", 0o600, "is empty"),
             ("readable by others", "secret\n", 0o644, "chmod 600")]
    for what, text, mode, says in cases:
        if os.path.exists(token):
            os.remove(token)
        if text is not None:
            with open(token, "w") as f:
                f.write(text)
            os.chmod(token, mode)
        rc, out, err = run([args.ptbsteer, "--config", cfg], timeout=30)
        c.check(rc == 1 and says in err and "EAL" not in out + err,
                f"a token file {what}: refused before the EAL starts ({says!r})",
                f"rc {rc}\n{out}{err}")
    remove_eal_dirs()


def delta(api, read, wait=0.4):
    before = read(api.counters())
    time.sleep(wait)
    return read(api.counters()) - before


def no_group(cs):
    return cs["drops"]["no_group"]


def api_hops(cs):
    return sum(v["unicast"] for k, v in cs["next_hops"].items() if k.startswith("api/"))


def refusals(c, api):
    """Each bad request: its status, sentence and pointer; nothing changes."""
    before = api.call("GET", "/v1/groups")[1]
    good = shape(0)
    bad_mac = json.loads(json.dumps(good))
    bad_mac["next_hops"][0]["mac"] = "02:00:00"
    bad_key = json.loads(json.dumps(good))
    bad_key["next_hops"][1]["wieght"] = 2
    bad_port = json.loads(json.dumps(good))
    bad_port["next_hops"][0]["port"] = "nowhere"
    overlap = dict(good, prefixes=["198.51.100.0/24"])
    cases = [
        ("malformed JSON", "PUT", "/v1/groups/api", None, b'{"prefixes": [', 400,
         "not JSON", ""),
        ("not an object", "PUT", "/v1/groups/api", ["x"], None, 400, "JSON object", ""),
        ("unknown field", "PUT", "/v1/groups/api", dict(good, colour="blue"), None, 400,
         "unknown key 'colour' in a group", "/colour"),
        ("unknown next-hop field", "PUT", "/v1/groups/api", bad_key, None, 400,
         "unknown key 'wieght' in a next-hop", "/next_hops/1/wieght"),
        ("bad MAC", "PUT", "/v1/groups/api", bad_mac, None, 400, "is not a MAC address",
         "/next_hops/0/mac"),
        ("undefined port", "PUT", "/v1/groups/api", bad_port, None, 400,
         "names port 'nowhere', which is not defined", "/next_hops/0/port"),
        ("missing hash", "PUT", "/v1/groups/api", {k: v for k, v in good.items() if k != "hash"},
         None, 400, "a group needs the key 'hash'", ""),
        ("name differs from the path", "PUT", "/v1/groups/api", dict(good, name="other"), None,
         400, "names group", "/name"),
        ("a file group's name", "PUT", "/v1/groups/web", good, None, 409,
         "owned by the configuration file", ""),
        ("overlapping prefix", "PUT", "/v1/groups/other", overlap, None, 409,
         "overlaps 198.51.100.0/25 of group 'web'", "/prefixes/0"),
        ("oversized body", "PUT", "/v1/groups/api", None, b" " * (5 << 20), 413, "larger than",
         ""),
        ("wrong method", "POST", "/v1/groups/api", good, None, 405, "not allowed", ""),
        ("unknown path", "GET", "/v1/nothing", None, None, 404, "no such resource", ""),
        ("DELETE of a file group", "DELETE", "/v1/groups/web", None, None, 409,
         "owned by the configuration file", ""),
        ("DELETE of no group", "DELETE", "/v1/groups/ghost", None, None, 404, "no group 'ghost'",
         ""),
        ("decide: too many flows", "POST", "/v1/decide", {"flows": [{}] * 10001}, None, 413,
         "at most 10000", "/flows"),
        ("decide: a bad address", "POST", "/v1/decide",
         {"flows": [{"src": "198.51.100.1", "dst": "x", "proto": "tcp", "sport": 1, "dport": 2}]},
         None, 400, "dst must be", "/flows/0/dst"),
        ("decide: no ports for TCP", "GET", "/v1/decide?src=203.0.113.9&dst=198.51.100.9&proto=6",
         None, None, 400, "sport must be a port", "/sport"),
        # Per-router states (docs/configuration.md, "Routers"); this configuration has none.
        ("a router's state of no router", "PUT", "/v1/routers/edge9/groups/api", good, None, 400,
         "no router of that name is under routers:", ""),
        ("router in the body, not the path", "PUT", "/v1/groups/api", dict(good, router="edge1"),
         None, 400, "the body names router", "/router"),
        ("a derived state put back", "PUT", "/v1/groups/api", dict(good, derived=True), None,
         400, "derived is what GET says", "/derived"),
        ("a router path without a router", "PUT", "/v1/routers//groups/api", good, None, 404,
         "no such resource", ""),
        ("decide: an unknown router", "POST", "/v1/decide",
         {"flows": [{"src": "203.0.113.9", "dst": "198.51.100.9", "proto": "tcp", "sport": 1,
                     "dport": 2, "router": "nope"}]},
         None, 400, "router \"nope\" is not one of the routers", "/flows/0/router"),
    ]
    for what, method, path, body, raw, status, says, pointer in cases:
        got, answer, _ = api.call(method, path, body, raw=raw)
        answer = answer or {}
        c.check(got == status and says in answer.get("error", "")
                and answer.get("path") == pointer,
                f"{what}: {status}, {says!r} at {pointer!r}", f"{got} {answer}")
    after = api.call("GET", "/v1/groups")[1]
    c.check(after == before, "no refused request changed what serves (generation, groups)",
            f"{before}\nvs\n{after}")


def updates(c, api, n):
    """n PUTs while the replayed PTBs flow: each serves a new generation, and not one PTB is
    dropped or refused by the NIC meanwhile (every PTB is for a serving group: no drop reason
    applies, so any drop would be a loss across an update)."""
    gen = api.call("GET", "/v1/groups")[1]["generation"]
    before = api.counters()
    wrong, took = [], []
    for i in range(n):
        t0 = time.monotonic()
        status, answer, _ = api.call("PUT", "/v1/groups/api", shape(i))
        took.append(time.monotonic() - t0)
        gen += 1
        hops = (answer or {}).get("group", {}).get("next_hops")
        if status != 200 or answer.get("generation") != gen or hops != len(shape(i)["next_hops"]):
            wrong.append(f"update {i}: {status} {answer}")
            break
    after = api.counters()
    dropped = {k: v - before["drops"][k] for k, v in after["drops"].items()
               if v != before["drops"][k]}
    received = after["rx"] - before["rx"]
    c.check(not dropped and after["tx_failed"] == before["tx_failed"] and received > 0,
            f"across the {n} updates: {received} PTBs received, none dropped or lost",
            f"drops {dropped}, tx_failed +{after['tx_failed'] - before['tx_failed']}")
    took.sort()
    c.check(not wrong, f"{n} updates alternating two shapes each served a new generation "
            f"(round trip p50 {1000 * took[len(took) // 2]:.1f} ms, "
            f"p99 {1000 * took[int(len(took) * 0.99) - 1]:.1f} ms)", "\n".join(wrong))


def churn(c, api, rounds=200, hops=100):
    """Every PUT with next-hops of new names: 20,000 names in all, more than the 16,384 counter
    slots, so this only passes if removed names' slots are reused (no restart needed)."""
    refused = []
    for i in range(rounds):
        group = dict(shape(0), next_hops=[{"name": f"c{i}-{k}", "port": "out",
                                           "mac": f"02:00:00:{i:02x}:{k // 256:02x}:{k % 256:02x}"}
                                          for k in range(hops)])
        status, answer, _ = api.call("PUT", "/v1/groups/api", group)
        if status != 200:
            refused.append(f"round {i}: {status} {answer}")
            break
    c.check(not refused, f"{rounds * hops} next-hop names churned through the API, more than "
            "the counter slots: every PUT served", "\n".join(refused))
    status, answer, _ = api.call("PUT", "/v1/groups/api", shape(0))
    c.check(status == 200, "back to the first shape", str(answer))


def via_group(c, api):
    """A group whose next-hops are given by address: checked like the file's, GET gives the via
    back, and /v1/decide says its owner's neighbour state (nobody answers on the pcap port: it
    is incomplete, then failed, never reachable)."""
    def group(via):
        return {"prefixes": ["203.0.113.128/25"], "hash": {"model": "linux", "policy": 1,
                                                            "seed": 5},
                "next_hops": [{"name": "v1", "port": "out", "via": via},
                              {"name": "v2", "port": "out", "mac": "02:00:00:00:08:02"}]}
    status, answer, _ = api.call("PUT", "/v1/groups/vg", group("198.51.100.99"))
    c.check(status == 400 and "not on port out's segment" in answer.get("error", "")
            and answer.get("path") == "/next_hops/0",
            "PUT with a via off the port's segment: 400 at /next_hops/0", f"{status} {answer}")
    status, answer, _ = api.call("PUT", "/v1/groups/vg", group("192.0.2.50"))
    _, got, _ = api.call("GET", "/v1/groups/vg")
    hops = {h["name"]: h for h in got.get("next_hops", [])}
    c.check(status == 200 and hops.get("v1", {}).get("via") == "192.0.2.50"
            and "mac" not in hops.get("v1", {}) and hops.get("v2", {}).get("mac"),
            "PUT a group with a via next-hop; GET gives the via back", f"{status} {got}")
    tuples = [{"src": f"192.0.2.{1 + i}", "dst": f"203.0.113.{130 + i}", "proto": "tcp",
               "sport": 1024 + i, "dport": 443} for i in range(64)]
    _, answer, _ = api.call("POST", "/v1/decide", {"flows": tuples})
    seen = {(d.get("next_hop"), d.get("neighbor"), d.get("mac")) for d in answer["decisions"]}
    c.check({h for h, _, _ in seen} == {"v1", "v2"}
            and all(s in ("incomplete", "failed") and m is None for h, s, m in seen if h == "v1")
            and ("v2", "permanent", "02:00:00:00:08:02") in seen,
            "decide: v1 unresolved (no MAC), v2 permanent at its MAC", str(seen))
    status, _, _ = api.call("DELETE", "/v1/groups/vg")
    c.check(status == 200, "DELETE the via group")


def maglev_disruption(c, api, n=20, flows=10000):
    """A Maglev group of n next-hops: removing one, or adding one, moves at most 1/n + 1 % of
    flows (Maglev's promise, kept by positions that follow names in a table of stable size)."""
    def group(names):
        return {"prefixes": ["203.0.113.0/25"], "hash": {"model": "linux", "policy": 1, "seed": 5},
                "select": "maglev",
                "next_hops": [{"name": x, "port": "out", "mac": f"02:00:00:00:07:{i:02x}"}
                              for i, x in enumerate(names)]}

    tuples = [{"src": f"192.0.2.{1 + i % 250}", "dst": f"203.0.113.{1 + i % 120}",
               "proto": "tcp", "sport": 1024 + i, "dport": 443} for i in range(flows)]

    def owners(names):
        status, answer, _ = api.call("PUT", "/v1/groups/mg", group(names))
        if status != 200:
            return None
        status, answer, _ = api.call("POST", "/v1/decide", {"flows": tuples})
        return [d.get("next_hop") for d in answer["decisions"]] if status == 200 else None

    names = [f"m{i}" for i in range(n)]
    base = owners(names)
    for what, changed in ((f"m7 removed ({n - 1} left)", names[:7] + names[8:]),
                          (f"m{n} added ({n + 1})", names + [f"m{n}"]),
                          ("m0 replaced by a new name", [f"m{n + 1}"] + names[1:])):
        after = owners(changed)
        if base is None or after is None:
            c.check(False, f"maglev: {what}: PUT and decide")
            continue
        moved = sum(a != b for a, b in zip(base, after)) / flows
        bound = 1 / n + 0.01 if "replaced" not in what else 2 / n + 0.01
        c.check(moved <= bound, f"maglev: {what}: {100 * moved:.1f} % of flows moved "
                f"(bound {100 * bound:.1f} %)")
    api.call("DELETE", "/v1/groups/mg")


def metrics_after_updates(c, p, api, updates):
    """/metrics: the API group's generation is the last PUT's, the file group's the first; the
    requests so far are counted by endpoint and status."""
    groups = api.call("GET", "/v1/groups")[1]
    m = p.scrape()
    gen = sample(m, "ptbsteer_group_generation", group="api", source="api")
    web = sample(m, "ptbsteer_group_generation", group="web", source="file")
    c.check(gen == groups["generation"] and web == 1,
            f"ptbsteer_group_generation: api {gen} (the last PUT's), web {web} (unchanged)",
            str(groups["generation"]))
    age = time.time() - (sample(m, "ptbsteer_group_updated_timestamp_seconds", group="api",
                                source="api") or 0)
    c.check(0 <= age < 60, f"ptbsteer_group_updated_timestamp_seconds: {age:.1f} s ago")
    puts = sample(m, "ptbsteer_api_requests_total", endpoint="group", status="200") or 0
    denied = sample(m, "ptbsteer_api_requests_total", endpoint="groups", status="401") or 0
    c.check(puts >= updates + 2 and denied == 3,
            f"ptbsteer_api_requests_total: {puts:.0f} group 200s (>= {updates + 2}), "
            f"{denied:.0f} groups 401s")


def run_capture(api, body, seconds=0.3):
    """POST, wait, DELETE: (POST answer, DELETE answer, frames read back from the file)."""
    status, started, _ = api.call("POST", "/v1/capture", body)
    if status != 200:
        return started, None, []
    time.sleep(seconds)
    status, stopped, _ = api.call("DELETE", "/v1/capture")
    return started, stopped, rdpcap(stopped["file"]) if status == 200 else []


def capture_refusals(c, api):
    cases = [("a path, not a name", {"file": "../escape.pcapng"}, 400, "plain file name",
              "/file"),
             ("a hidden name", {"file": ".x"}, 400, "plain file name", "/file"),
             ("what", {"what": "some"}, 400, "\"drops\" or \"all\"", "/what"),
             ("max_bytes too small", {"max_bytes": 100}, 400, "from 4096", "/max_bytes"),
             ("an unknown field", {"colour": 1}, 400, "unknown field 'colour'", "/colour")]
    for what, body, status, says, pointer in cases:
        got, answer, _ = api.call("POST", "/v1/capture", body)
        c.check(got == status and says in answer.get("error", "")
                and answer.get("path") == pointer,
                f"POST /v1/capture, {what}: {status}, {says!r} at {pointer!r}", f"{got} {answer}")
    got, answer, _ = api.call("DELETE", "/v1/capture")
    c.check(got == 404 and "no capture runs" in answer.get("error", ""),
            "DELETE /v1/capture with none running: 404", f"{got} {answer}")


def captures(c, p, api):
    """What a run-time capture writes is what it counted, and nothing else."""
    capture_refusals(c, api)
    started, stopped, frames_all = run_capture(
        api, {"file": "all.pcapng", "what": "all", "max_bytes": 1 << 20})
    c.check(started.get("running") and stopped is not None
            and 0 < len(frames_all) == stopped["written_packets"],
            f"what: all: {len(frames_all)} frames in the file, as counted "
            f"({(stopped or {}).get('written_packets')})", f"{started} {stopped}")
    c.check(all(ICMP in f and f[ICMP].type == 3 for f in frames_all),
            "every captured frame is a PTB")
    m = p.scrape()
    copied = sample(m, "ptbsteer_capture_copied_packets_total") or 0
    written = sample(m, "ptbsteer_capture_written_packets_total") or 0
    over = sample(m, "ptbsteer_capture_over_limit_packets_total") or 0
    c.check(copied == written + over and sample(m, "ptbsteer_capture_active") == 0
            and (sample(m, "ptbsteer_mempool_size", pool="capture") or 0) > 0
            and sample(m, "ptbsteer_mempool_in_use", pool="capture") == 0,
            f"after DELETE: copied {copied:.0f} = written {written:.0f} + over the limit "
            f"{over:.0f}; capture_active 0; every copy back in the pool "
            f"(in use {sample(m, 'ptbsteer_mempool_in_use', pool='capture')})")
    got, answer, _ = api.call("POST", "/v1/capture", {"file": "all.pcapng"})
    c.check(got == 409 and "exists" in answer.get("error", ""),
            "a capture never overwrites a file: 409", f"{got} {answer}")

    api.call("POST", "/v1/capture", {"what": "all", "max_bytes": 4096})
    got, answer, _ = api.call("POST", "/v1/capture", {})
    c.check(got == 409 and "already writes" in answer.get("error", ""),
            "a second capture while one runs: 409", f"{got} {answer}")
    time.sleep(0.3)
    status, small, _ = api.call("DELETE", "/v1/capture")
    c.check(status == 200 and small["over_limit_packets"] > 0
            and os.path.getsize(small["file"]) == small["file_bytes"] <= 4096,
            f"max_bytes 4096: the file stopped at {small.get('file_bytes')} bytes, "
            f"{small.get('over_limit_packets')} copies over the limit", str(small))
    # Within the same second as the last: the default name takes a free -N suffix.
    status, again, _ = api.call("POST", "/v1/capture", {"max_bytes": 4096})
    api.call("DELETE", "/v1/capture")
    c.check(status == 200 and again.get("file") not in (None, small.get("file")),
            f"a second default-named capture at once: {again.get('file')}",
            f"{status} {again}")


def drops_capture(c, api):
    """After the API group is deleted its PTBs are no_group drops: what a drops capture holds."""
    _, stopped, frames = run_capture(api, {"what": "drops", "max_bytes": 1 << 20})
    outside = [f for f in frames if IP not in f or not f[IP].dst.startswith("198.51.100.")
               or int(f[IP].dst.split(".")[3]) < 128]
    c.check(frames and not outside and len(frames) == stopped["written_packets"],
            f"what: drops: {len(frames)} frames, all PTBs for the deleted group's prefix",
            f"{stopped} {[f.summary() for f in outside[:3]]}")


def doc_examples(c, api, doc):
    """Runs every ```sh block of the doc with the real address and token; checks the status."""
    blocks = re.findall(r"```sh\n(.*?)```", open(doc).read(), re.S)
    c.check(len(blocks) >= 5, f"{doc}: {len(blocks)} curl examples")
    for i, block in enumerate(blocks, 1):
        want = re.search(r"# answers (\d{3})", block)
        cmd = (block.replace("$(cat /etc/ptbsteer/token)", api.token)
               .replace("http://127.0.0.1:9470", api.base).rstrip()
               + " -o /dev/null -w '%{http_code}'")
        r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=30)
        got = r.stdout.strip()
        ok = got == want.group(1) if want else got.startswith("2")
        c.check(ok, f"docs/api.md example {i}: {got} (expected {want.group(1) if want else '2xx'})",
                block + r.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ptbsteer", required=True)
    ap.add_argument("--doc", required=True)
    ap.add_argument("--updates", type=int, default=1000)
    args = ap.parse_args()
    c = Checks("api")
    with tempfile.TemporaryDirectory() as tmp:
        pcapfile.write(f"{tmp}/in.pcap", traffic())
        pcapfile.write(f"{tmp}/empty.pcap")
        start_refusals(c, args, tmp)
        token = api_lib.token_file(tmp)
        cfg = config.write(f"{tmp}/ptbsteer.yaml", file_config(tmp))
        p, api = api_lib.start(args.ptbsteer, cfg, token, follow=True)
        try:
            for what, kw in (("no Authorization", {"auth": ""}),
                             ("a wrong token", {"token": token[:-1] + "x"}),
                             ("another scheme", {"auth": f"Basic {token}"})):
                status, answer, headers = api.call("GET", "/v1/groups", **kw)
                c.check(status == 401 and "Bearer" in headers.get("WWW-Authenticate", ""),
                        f"{what}: 401 with a Bearer challenge", f"{status} {answer}")
            status, answer, _ = api.call("GET", "/v1/groups")
            c.check(status == 200 and [(g["name"], g["source"]) for g in answer["groups"]]
                    == [("web", "file")], "GET /v1/groups: the file's group", str(answer))
            c.check(delta(api, no_group) > 0, "before the PUT, its prefix counts as no_group")

            status, answer, _ = api.call("PUT", "/v1/groups/api", shape(0))
            c.check(status == 200 and answer["group"]["source"] == "api",
                    "PUT /v1/groups/api serves (source api)", f"{status} {answer}")
            time.sleep(0.2)
            lost, got = delta(api, no_group), delta(api, api_hops)
            c.check(lost == 0 and got > 0,
                    "after the PUT: no more no_group, its next-hops receive PTBs",
                    f"no_group +{lost}, its next-hops +{got}: {api.counters()}")
            status, got, _ = api.call("GET", "/v1/groups/api")
            resent = api.call("PUT", "/v1/groups/api", got)
            c.check(resent[0] == 200, "what GET returns can be PUT back", str(resent[:2]))

            refusals(c, api)
            updates(c, api, args.updates)
            churn(c, api)

            metrics_after_updates(c, p, api, args.updates)
            maglev_disruption(c, api)
            via_group(c, api)
            status, answer, _ = api.call("POST", "/v1/reload")
            names = [(g["name"], g["source"]) for g in api.call("GET", "/v1/groups")[1]["groups"]]
            c.check(status == 200 and names == [("web", "file"), ("api", "api")],
                    "a file reload keeps the API's group", f"{status} {answer} {names}")
            taken = config.group("api", ["203.0.113.0/25"], [config.hop("x", "02:00:00:00:03:01")],
                                 policy=1, seed=7)
            config.write(cfg, file_config(tmp, taken))
            status, answer, _ = api.call("POST", "/v1/reload")
            c.check(status == 400 and any("group 'api' is defined twice" in m
                                          for m in answer.get("messages", [])),
                    "a file group taking an API group's name: reload refused", str(answer))
            config.write(cfg, file_config(tmp))

            captures(c, p, api)
            doc_examples(c, api, args.doc)
            status, answer, _ = api.call("DELETE", "/v1/groups/api")
            c.check(status == 200 and answer.get("deleted") == "api", "DELETE /v1/groups/api",
                    str(answer))
            c.check(api.call("GET", "/v1/groups/api")[0] == 404 and delta(api, no_group) > 0,
                    "after DELETE: 404, and its prefix is no_group again")
            drops_capture(c, api)
        finally:
            rc, out = p.stop()
            remove_eal_dirs()
        r = report(out) or {}
        c.check(rc == 0 and BALANCED in out, "exit 0, exit report balanced", out[-3000:])
        c.check(r.get("tx_failed", -1) == 0, "no frame refused by the NIC", str(r))
    c.finish()


if __name__ == "__main__":
    main()
