#!/usr/bin/env python3
"""A stand-in for smsguard's control socket, to exercise smsguardctl alone.

    fake_ctl_server.py SOCKET REPLIES.json [--log FILE]

REPLIES.json maps a command name to what the server does with that request:
  {"status": {"ok": true, "health": "ok", ...}}   reply with this object
  {"status": {"raw": "not json"}}                   reply with this line as is
  {"status": {"hang": true}}                        read the request, never answer
  {"status": {"close": true}}                       hang up without a reply
  {"status": {"delay": 1.5, "reply": {...}}}        answer after a delay
  {"status": {"huge": 5000000}}                     a reply line of this many bytes
  {"status": {"sequence": [A, B, C]}}               the first request gets A, the next B,
                                                    then C, and C again from then on
Each request line is appended to the --log file (one JSON line), so a test can
check what the client sent. Runs until killed. Python 3 stdlib only.
"""
import argparse
import json
import os
import socket
import sys
import threading
import time


_turns = {}
_turns_lock = threading.Lock()


def pick(cmd, how):
    """The reply for this request of cmd: a sequence hands out its items in turn."""
    if "sequence" not in how:
        return how
    with _turns_lock:
        n = _turns.get(cmd, 0)
        _turns[cmd] = n + 1
    return how["sequence"][min(n, len(how["sequence"]) - 1)]


def serve(conn, replies, log):
    with conn:
        buf = b""
        while b"\n" not in buf:
            chunk = conn.recv(65536)
            if not chunk:
                return
            buf += chunk
        line = buf.split(b"\n", 1)[0]
        if log:
            with open(log, "ab") as f:
                f.write(line + b"\n")
        try:
            cmd = json.loads(line).get("cmd")
        except ValueError:
            cmd = None
        how = pick(cmd, replies.get(cmd, {"ok": False, "error": "unknown command"}))
        if "delay" in how:
            time.sleep(how["delay"])
            how = how.get("reply", {"ok": True})
        if how.get("hang"):
            time.sleep(3600)
            return
        if how.get("close"):
            return
        if "huge" in how:
            out = b'{"ok":true,"x":"' + b"a" * int(how["huge"]) + b'"}\n'
        elif "raw" in how:
            out = how["raw"].encode() + b"\n"
        else:
            out = json.dumps(how).encode() + b"\n"
        try:
            conn.sendall(out)
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("socket")
    ap.add_argument("replies")
    ap.add_argument("--log")
    a = ap.parse_args()
    with open(a.replies) as f:
        replies = json.load(f)
    try:
        os.unlink(a.socket)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(a.socket)
    s.listen(16)
    print("listening", flush=True)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=serve, args=(conn, replies, a.log), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
