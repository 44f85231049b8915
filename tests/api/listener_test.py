#!/usr/bin/python3
"""The listeners hold: with CONNS connections from 127.0.0.2 held open on each of the metrics
port and the control API port, half of them idle and half with a request half sent, a client on
127.0.0.1 still gets /healthz, /metrics and GET /v1/groups within 1 s each; afterwards the held
connections are let go and ptbsteer exits 0.
Usage: listener_test.py --ptbsteer BIN [--conns N]"""
import argparse
import os
import resource
import socket
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lib import api as api_lib  # noqa: E402
from lib import config, pcapfile  # noqa: E402
from lib.checks import Checks  # noqa: E402
from lib.prom import http  # noqa: E402
from lib.runner import remove_eal_dirs  # noqa: E402


def hold(url, n):
    """n connections from 127.0.0.2 to url's port: even ones idle, odd ones with half a request
    (headers never finished)."""
    u = urllib.parse.urlparse(url)
    held = []
    for i in range(n):
        s = socket.socket()
        try:
            s.bind(("127.0.0.2", 0))
            s.settimeout(2)
            s.connect((u.hostname, u.port))
            if i % 2:
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        except OSError:
            s.close()  # the listener stopped accepting: that is the failure this test is about
            break
        held.append(s)
    return held


def timed(what, call):
    t0 = time.monotonic()
    try:
        status = call()
    except OSError as e:
        status = f"{type(e).__name__}: {e}"
    return what, status, time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ptbsteer", required=True)
    ap.add_argument("--conns", type=int, default=1000, help="held per listener")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * args.conns + 256)), hard))
    c = Checks("api-listeners")
    with tempfile.TemporaryDirectory() as tmp:
        pcapfile.write(f"{tmp}/in.pcap")
        pcapfile.write(f"{tmp}/empty.pcap")
        token = api_lib.token_file(tmp)
        cfg = config.write(f"{tmp}/c.yaml", config.eal(config.prefix("ls"))
                           + config.pcap_ports(tmp) + config.lcores(1) + "groups:\n"
                           + config.group("web", ["203.0.113.0/24"],
                                          [config.hop("w1", "02:00:00:00:01:01")], policy=1,
                                          seed=7)
                           + config.metrics() + api_lib.control(tmp))
        p, api = api_lib.start(args.ptbsteer, cfg, token)
        held = []
        try:
            held = hold(p.url, args.conns) + hold(api.base, args.conns)
            c.check(len(held) == 2 * args.conns,
                    f"{args.conns} connections from 127.0.0.2 held on each listener, half idle, "
                    "half with a request half sent")
            time.sleep(0.5)  # let the listeners take them all
            for what, status, took in (
                    timed("/healthz", lambda: http(p.url + "/healthz", timeout=5)[0]),
                    timed("/metrics", lambda: http(p.url + "/metrics", timeout=5)[0]),
                    timed("GET /v1/groups", lambda: api.call("GET", "/v1/groups")[0])):
                c.check(status == 200 and took < 1.0,
                        f"{what} from 127.0.0.1: {status} in {1000 * took:.0f} ms (< 1 s)")
        finally:
            for s in held:
                s.close()
            rc, out = p.stop()
            remove_eal_dirs()
        c.check(rc == 0, "ptbsteer exits 0 afterwards", out[-2000:])
    c.finish()


if __name__ == "__main__":
    main()
