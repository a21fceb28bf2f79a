#!/usr/bin/env python3
"""faketarget — stands in for the migration target server's ports in smsguard's tests.

    python3 tests/sim/faketarget.py --listen ADDR --ports 12022,18899,18900 [--mode close|hold]
        [--exit-with-parent]

Listens on ADDR (IPv4 or IPv6) at each port; `close` (default) accepts each connection and
closes it at once, `hold` keeps it open until the peer closes it (or 10 minutes pass).
Prints `READY` on stdout once every port listens; SIGTERM or SIGINT stops it (exit 0).
Works inside a network namespace (`ip netns exec NS python3 faketarget.py …`). Stdlib only.
"""

import argparse
import os
import selectors
import signal
import socket
import sys
import time


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--listen", default="127.0.0.1")
    ap.add_argument("--ports", required=True, help="comma-separated list")
    ap.add_argument("--mode", choices=("close", "hold"), default="close")
    ap.add_argument("--exit-with-parent", action="store_true",
                    help="exit when the parent process goes away (used by simctl)")
    a = ap.parse_args(argv)
    try:
        ports = [int(p) for p in a.ports.split(",") if p.strip()]
    except ValueError:
        ap.error("--ports must be a comma-separated list of numbers")
    if not ports or any(not 0 < p < 65536 for p in ports):
        ap.error("--ports must name ports 1..65535")

    def on_signal(signo, frame):
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    fam = socket.AF_INET6 if ":" in a.listen else socket.AF_INET
    sel = selectors.DefaultSelector()
    for p in ports:
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((a.listen, p))
        except OSError as e:
            sys.stderr.write("faketarget: bind %s:%d: %s\n" % (a.listen, p, e))
            return 1
        s.listen(128)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, "listen")
    sys.stdout.write("READY\n")
    sys.stdout.flush()

    held = {}
    parent = os.getppid()
    while True:
        if a.exit_with_parent and os.getppid() != parent:
            return 0
        for key, _ in sel.select(timeout=1.0):
            if key.data == "listen":
                try:
                    c, _ = key.fileobj.accept()
                except OSError:
                    continue
                if a.mode == "close":
                    c.close()
                else:
                    c.setblocking(False)
                    held[c] = time.monotonic()
                    sel.register(c, selectors.EVENT_READ, "held")
            else:
                try:
                    data = key.fileobj.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(key.fileobj)
                    held.pop(key.fileobj, None)
                    key.fileobj.close()
        now = time.monotonic()
        for c, t in list(held.items()):
            if now - t > 600:
                sel.unregister(c)
                del held[c]
                c.close()


if __name__ == "__main__":
    sys.exit(main())
