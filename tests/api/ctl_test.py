#!/usr/bin/python3
"""ptbsteerctl against the real ptbsteer (replayed PTBs flowing), each answer checked against
what the API itself says:
- groups lists what GET /v1/groups lists; `group set` serves a group from a JSON file (and from
  stdin), `group show` gives it back, `group delete` removes it;
- `decide` says what GET /v1/decide says for the same flow;
- counters print as a table whose rx matches /v1/counters within the traffic between the calls;
- capture start/status/stop name the same file, which exists once stopped;
- reload prints the summary;
- exit codes: 1 for a refusal (with ptbsteer's sentence and field), 2 for a usage error, 3 for a
  wrong or unreadable token, 4 when nothing listens; --json prints the API's JSON;
- the bash completion offers commands, actions and the serving groups' names.
Usage: ctl_test.py --ptbsteer BIN --ctl PTBSTEERCTL --completion FILE"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lib import config, frames, pcapfile  # noqa: E402
from lib import api as api_lib  # noqa: E402
from lib.checks import Checks  # noqa: E402
from lib.runner import remove_eal_dirs  # noqa: E402

from scapy.all import TCP  # noqa: E402


def traffic():
    quoted = frames.quote("198.51.100.10", "203.0.113.7", TCP(sport=443, dport=40000), 1400)
    return [bytes(frames.ptb("198.51.100.10", quoted, 1300))]


def group(hops=3):
    return {"prefixes": ["198.51.100.128/25"], "hash": {"model": "linux", "policy": 1, "seed": 5},
            "next_hops": [{"name": f"s{k}", "port": "out", "mac": f"02:00:00:00:05:{k:02x}"}
                          for k in range(1, hops + 1)]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ptbsteer", required=True)
    ap.add_argument("--ctl", required=True)
    ap.add_argument("--completion", required=True)
    args = ap.parse_args()
    c = Checks("api-ctl")
    with tempfile.TemporaryDirectory() as tmp:
        pcapfile.write(f"{tmp}/in.pcap", traffic())
        pcapfile.write(f"{tmp}/empty.pcap")
        token = api_lib.token_file(tmp)
        web = config.group("web", ["198.51.100.0/25"], [config.hop("w1", "02:00:00:00:01:01")],
                           policy=1, seed=7)
        cfg = config.write(f"{tmp}/c.yaml", config.eal(config.prefix("ctl"))
                           + config.ports(("in", config.pcap_device(0, f"{tmp}/in.pcap",
                                                                    f"{tmp}/in-tx.pcap",
                                                                    infinite=True)),
                                          ("out", config.pcap_device(1, f"{tmp}/empty.pcap",
                                                                     "/dev/null")))
                           + config.lcores(1) + "groups:\n" + web + config.metrics()
                           + "limits: {per_source: off, global: off}\n" + api_lib.control(tmp))
        p, api = api_lib.start(args.ptbsteer, cfg, token)

        def ctl(*argv, stdin=None, token_file=f"{tmp}/token", url=api.base):
            r = subprocess.run([args.ctl, "--url", url, "--token-file", token_file, *argv],
                               input=stdin, capture_output=True, text=True, timeout=60)
            return r.returncode, r.stdout, r.stderr

        try:
            with open(f"{tmp}/g.json", "w") as f:
                json.dump(group(), f)
            rc, out, err = ctl("group", "set", "site", f"{tmp}/g.json")
            c.check(rc == 0 and "site: 3 next-hop(s)" in out, "group set serves a group",
                    out + err)
            rc, out, err = ctl("group", "set", "site2", "-", stdin=json.dumps(
                dict(group(2), prefixes=["203.0.113.0/24"])))
            c.check(rc == 0 and "site2: 2 next-hop(s)" in out, "group set from stdin", out + err)

            listed = api.call("GET", "/v1/groups")[1]
            rc, out, err = ctl("groups")
            rows = [line.split()[0] for line in out.splitlines()[2:]]
            c.check(rc == 0 and rows == [g["name"] for g in listed["groups"]]
                    and f"generation {listed['generation']}" in out,
                    f"groups lists what the API lists: {rows}", out + err)
            rc, out, err = ctl("group", "show", "site")
            c.check(rc == 0 and json.loads(out) == api.call("GET", "/v1/groups/site")[1],
                    "group show gives the group as the API does", out + err)

            for flow in (["203.0.113.9", "198.51.100.200", "tcp", "40001", "443"],
                         ["203.0.113.9", "192.0.2.1", "udp", "53", "53"]):
                q = dict(zip(["src", "dst", "proto", "sport", "dport"], flow))
                want = api.call("GET", "/v1/decide?" + "&".join(f"{k}={v}" for k, v in q.items()))
                rc, out, err = ctl("--json", "decide", *flow)
                got = json.loads(out) if rc == 0 else None
                got_text = ctl("decide", *flow)[1]
                expected = want[1].get("next_hop") or want[1].get("why", "")
                c.check(rc == 0 and got == want[1] and expected and expected in got_text,
                        f"decide {' '.join(flow)}: {got_text.strip()}", f"{want} {out}{err}")

            rc, out, err = ctl("counters")
            cs = api.counters()
            rx = int(re.search(r"^rx\s+(\d+)$", out, re.M).group(1)) if rc == 0 else -1
            c.check(0 < rx <= cs["rx"] and "NEXT-HOP" in out and "web/w1" in out,
                    f"counters: a table, rx {rx} (API a moment later: {cs['rx']})", out + err)

            rc, out, err = ctl("capture", "start", "--file", "ctl.pcapng", "--what", "all",
                               "--max-bytes", "65536")
            started = rc == 0 and "ctl.pcapng: all, copying" in out
            rc2, status, _ = ctl("capture", "status")
            rc3, stopped, err3 = ctl("capture", "stop")
            path = os.path.join(tmp, "captures", "ctl.pcapng")
            c.check(started and rc2 == 0 and "ctl.pcapng" in status and rc3 == 0
                    and "closed" in stopped and os.path.getsize(path) > 0,
                    f"capture start, status, stop: {stopped.strip()}", out + err + status + err3)

            rc, out, err = ctl("reload")
            c.check(rc == 0 and out.startswith("reloaded: generation"), "reload", out + err)

            bad = dict(group(), next_hops=[{"name": "x", "port": "out", "mac": "02:00"}])
            rc, out, err = ctl("group", "set", "site", "-", stdin=json.dumps(bad))
            c.check(rc == 1 and "is not a MAC address" in err and "/next_hops/0/mac" in err,
                    f"a refusal: exit 1 with the sentence and its field ({err.strip()})")
            rc, out, err = ctl("group", "delete", "web")
            c.check(rc == 1 and "owned by the configuration file" in err, "409: exit 1", err)
            rc, out, err = ctl("group", "frobnicate", "x")
            c.check(rc == 2 and "invalid choice" in err, "a usage error: exit 2", err)
            with open(f"{tmp}/wrong", "w") as f:
                f.write("not-the-token\n")
            rc, out, err = ctl("groups", token_file=f"{tmp}/wrong")
            c.check(rc == 3 and "401" in err, "a wrong token: exit 3", err)
            rc, out, err = ctl("groups", token_file=f"{tmp}/missing")
            c.check(rc == 3 and "No such file" in err, "no token file: exit 3", err)
            rc, out, err = ctl("groups", url="http://127.0.0.1:9")
            c.check(rc == 4 and "cannot reach ptbsteer" in err, "nothing listening: exit 4", err)

            script = (f"source {args.completion}; "
                      f"ptbsteerctl() {{ {args.ctl} --url {api.base} "
                      f"--token-file {tmp}/token \"$@\"; }}; "
                      "for line in 'ptbsteerctl gr' 'ptbsteerctl group ' "
                      "'ptbsteerctl group show ' 'ptbsteerctl capture st'; do "
                      "COMP_WORDS=($line); [[ $line == *' ' ]] && COMP_WORDS+=(''); "
                      "COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _ptbsteerctl; "
                      "echo \"${COMPREPLY[*]}\"; done")
            r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
            lines = r.stdout.splitlines()
            c.check(lines[:4] == ["groups group", "show set delete", "web site site2",
                                  "start stop status"],
                    f"bash completion: {lines}", r.stderr)

            rc, out, err = ctl("group", "delete", "site2")
            c.check(rc == 0 and "deleted site2" in out, "group delete", out + err)
        finally:
            p.stop()
            remove_eal_dirs()
    c.finish()


if __name__ == "__main__":
    main()
