#!/usr/bin/python3
"""Helper roles of the e2e test, each run inside a namespace as `e2e_roles.py _server NAME`,
`_client` or `_send IFACE PCAP GAP_US`."""
import json
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from e2e_topology import SERVICE_PORT, VIP  # noqa: E402
from lib import pcapfile  # noqa: E402


def role_server(argv):
    """TCP server on :80 (v4 + v6): greet every connection with its name and keep it open."""
    import selectors
    name = argv[0].encode()
    sel = selectors.DefaultSelector()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    for fam, addr in ((socket.AF_INET, ("0.0.0.0", SERVICE_PORT)),
                      (socket.AF_INET6, ("::", SERVICE_PORT))):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind(addr)
        s.listen(1024)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, "listen")
    conns = []
    print("READY", flush=True)
    while not stop:
        for key, _ in sel.select(timeout=0.5):
            if key.data == "listen":
                try:
                    c, _ = key.fileobj.accept()
                except BlockingIOError:
                    continue
                c.setblocking(False)
                c.send(b"ptbe " + name + b"\n")   # one small segment: the connection is live
                conns.append(c)
                sel.register(c, selectors.EVENT_READ, "conn")
            else:
                try:
                    data = key.fileobj.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(key.fileobj)
                    key.fileobj.close()
    return 0


def role_client(_argv):
    """Open one connection per (family, source address) from stdin JSON; keep them open."""
    jobs = json.loads(sys.stdin.readline())
    socks = []
    for fam, src in jobs:
        af = socket.AF_INET if fam == 4 else socket.AF_INET6
        s = socket.socket(af, socket.SOCK_STREAM)
        s.settimeout(3)
        res = {"fam": fam, "src": src}
        try:
            s.bind((src, 0))
            s.connect((VIP[fam], SERVICE_PORT))
            res["sport"] = s.getsockname()[1]
            greet = b""
            while not greet.endswith(b"\n") and len(greet) < 64:
                chunk = s.recv(64)
                if not chunk:
                    break
                greet += chunk
            res["greeting"] = greet.decode(errors="replace").strip()
        except OSError as e:
            res["error"] = str(e)
        socks.append(s)
        print(json.dumps(res), flush=True)
    print("READY", flush=True)
    sys.stdin.read()          # hold the connections until the harness closes our stdin
    return 0


def role_send(argv):
    """Send every frame of a pcap file out of IFACE with an AF_PACKET socket."""
    iface, path, gap_us = argv[0], argv[1], int(argv[2])
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    n = 0
    for _, frame in pcapfile.read(path):
        s.send(frame)
        n += 1
        if gap_us:
            time.sleep(gap_us / 1e6)
    print(n, flush=True)
    return 0


if __name__ == "__main__":
    role = {"_server": role_server, "_client": role_client, "_send": role_send}
    sys.exit(role[sys.argv[1]](sys.argv[2:]))
