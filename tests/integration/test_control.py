"""Control socket under a flood (DESIGN.md §5.8): root is answered while
another user holds every connection it can; idle and dripping clients do not
keep a slot; everything is freed afterwards. The real daemon, real sockets and
a real other user (nobody), so root only."""

import grp
import json
import os
import pwd
import resource
import select
import selectors
import signal
import socket
import statistics
import struct
import sys
import time
import traceback

import harness
from harness import Skip, check, scenario, wait_for

REQUEST_DEADLINE = 2.0  # CTL_REQUEST_TIMEOUT_MS
PER_UID = 16            # CTL_MAX_PER_UID


def flood(path, n_idle, n_drip):
    """Runs as the other user. Holds n_idle silent connections and n_drip that
    send a byte a second (never a newline); at each tick reopens whatever the
    daemon closed or refused, as an attacker would. Prints "ready" after the
    first round, and its counts as JSON when its stdin closes."""
    drip = b'{"cmd":"status"'
    sel = selectors.DefaultSelector()
    # Drippers spread among the idle ones, so both kinds get slots.
    every = (n_idle + n_drip) // max(n_drip, 1)
    slots = [{"kind": "drip" if i % every == 0 and i // every < n_drip else "idle", "sock": None}
             for i in range(n_idle + n_drip)]
    st = {"connects": 0, "backlog_full": 0, "refused": 0, "dropped_idle": 0,
          "dropped_drip": 0, "drip_life_max": 0.0, "refusal": None}

    def reopen(slot):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(path)
        except BlockingIOError:  # the backlog is full: next tick
            s.close()
            st["backlog_full"] += 1
            return
        slot.update(sock=s, t0=time.monotonic(), got=b"", sent=0)
        sel.register(s, selectors.EVENT_READ, slot)
        st["connects"] += 1

    def closed(slot):
        if b"too many clients" in slot["got"]:
            st["refused"] += 1
            st["refusal"] = slot["got"].decode(errors="replace").strip()
        elif slot["kind"] == "drip":
            st["dropped_drip"] += 1
            st["drip_life_max"] = max(st["drip_life_max"], time.monotonic() - slot["t0"])
        else:
            st["dropped_idle"] += 1
        sel.unregister(slot["sock"])
        slot["sock"].close()
        slot["sock"] = None

    def tick():
        for slot in slots:
            if slot["sock"] is not None and slot["kind"] == "drip":
                try:
                    slot["sock"].send(drip[slot["sent"] % len(drip):][:1])
                    slot["sent"] += 1
                except OSError:
                    pass  # closed: the read side tells
        for slot in slots:
            if slot["sock"] is None:
                reopen(slot)

    sel.register(0, selectors.EVENT_READ, None)
    tick()
    print("ready", flush=True)
    next_tick = time.monotonic() + 1
    while True:
        for key, _ in sel.select(max(0.0, next_tick - time.monotonic())):
            if key.data is None:
                if not os.read(0, 4096):
                    print(json.dumps(st), flush=True)
                    return
                continue
            slot = key.data
            try:
                data = slot["sock"].recv(4096)
            except ConnectionResetError:
                data = b""
            slot["got"] += data
            if not data:
                closed(slot)
        if time.monotonic() >= next_tick:
            tick()
            next_tick = time.monotonic() + 1


def idle_and_wait(path):
    """Runs as the other user: one idle connection, then a `wait` that outlasts the deadline."""
    out = {}
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(path)
    t0 = time.monotonic()
    out["idle_got"] = s.recv(4096).decode()
    out["idle_closed_after"] = time.monotonic() - t0
    s.close()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(path)
    t0 = time.monotonic()
    s.sendall(b'{"cmd":"wait","args":{"until":"finished","timeout":"4s"}}\n')
    buf = b""
    while b"\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    out["wait_reply"] = buf.decode()
    out["wait_took"] = time.monotonic() - t0
    print(json.dumps(out), flush=True)


def other_user():
    """nobody's uid, gid and group name; Skip where that cannot be used."""
    if not harness.is_root():
        raise Skip("needs root to act as another user")
    try:
        pw = pwd.getpwnam("nobody")
    except KeyError:
        raise Skip("no user nobody")
    return pw.pw_uid, pw.pw_gid, grp.getgrgid(pw.pw_gid).gr_name


class AsUser:
    """fn(*args) in a forked child running as uid/gid (no supplementary groups).

    A fork, not an exec: the interpreter may live where the other user cannot
    read it. The child's stdin and stdout are pipes to us.
    """

    def __init__(self, ctx, uid, gid, fn, *args, nofile=None):
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        self.pid = os.fork()
        if self.pid == 0:
            code = 1
            try:
                os.dup2(in_r, 0)
                os.dup2(out_w, 1)
                for fd in (in_r, in_w, out_r, out_w):
                    os.close(fd)
                sys.stdout = os.fdopen(1, "w")
                if nofile:
                    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
                    if soft < nofile:
                        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, max(hard, nofile)))
                os.setgroups([])
                os.setgid(gid)
                os.setuid(uid)
                fn(*args)
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        os.close(in_r)
        os.close(out_w)
        self.stdin = in_w
        self.stdout = os.fdopen(out_r, "r")
        self.returncode = None
        ctx.cleanups.append(self.kill)

    def readline(self, timeout=30):
        ready, _, _ = select.select([self.stdout], [], [], timeout)
        check(ready, f"no line from the helper within {timeout} s")
        return self.stdout.readline()

    def finish(self, timeout=30):
        """Closes its stdin; returns its last line once it exits 0."""
        if self.stdin is not None:
            os.close(self.stdin)
            self.stdin = None
        lines = []
        while True:
            line = self.readline(timeout)
            if not line:
                break
            lines.append(line)
        _, status = os.waitpid(self.pid, 0)
        self.returncode = os.waitstatus_to_exitcode(status)
        check(self.returncode == 0, f"helper exited {self.returncode}")
        check(lines, "the helper printed nothing")
        return lines[-1]

    def kill(self):
        if self.stdin is not None:
            os.close(self.stdin)
            self.stdin = None
        if self.returncode is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            self.returncode = -9
        self.stdout.close()


def ctl_fds(pid, path):
    """Descriptors of the daemon that are the control socket: its listener and its clients.

    An accepted unix socket carries its listener's path in /proc/net/unix.
    """
    inodes = set()
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            parts = line.split()
            if len(parts) >= 8 and parts[7] == path:
                inodes.add(f"socket:[{parts[6]}]")
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                n += 1
        except OSError:
            pass  # closed meanwhile
    return n


def all_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def timed_status(path):
    """Seconds from connect to the whole reply line of a status request, and the reply.

    As smsguardctl does: a blocking connect bounded by SO_SNDTIMEO, which waits
    in the kernel while a flood fills the backlog (a non-blocking one fails).
    """
    tv = struct.pack("ll", 10, 0)
    t0 = time.perf_counter()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
        s.connect(path)
        s.sendall(b'{"cmd":"status"}\n')
        buf = b""
        while b"\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    finally:
        s.close()
    took = time.perf_counter() - t0
    return took, json.loads(buf.split(b"\n", 1)[0]) if b"\n" in buf else buf


@scenario("root's status is answered in under 100 ms while another user floods; all is freed after")
def _(ctx):
    uid, gid, group = other_user()
    d = ctx.daemon(config={"control": {"group": group}}).start()
    pid = d.proc.pid
    wait_for(lambda: ctl_fds(pid, d.socket) == 1, what="only the listener open")
    baseline = all_fds(pid)
    helper = AsUser(ctx, uid, gid, flood, d.socket, 1000, 100, nofile=4096)
    check(helper.readline().strip() == "ready", "the flood helper did not start")
    # nobody holds as many slots as it may.
    wait_for(lambda: ctl_fds(pid, d.socket) >= 1 + PER_UID, timeout=10,
             what=f"{PER_UID} connections of the other user held")

    took, held = [], []
    for _ in range(20):
        t, reply = timed_status(d.socket)
        check(isinstance(reply, dict) and reply.get("ok"),
              f"root's status under the flood: {reply!r}")
        took.append(t)
        held.append(ctl_fds(pid, d.socket))
        time.sleep(0.1)  # pacing: the samples spread over the flood's ticks
    median, worst = statistics.median(took), max(took)
    print(f"# root's status under the flood: median {median * 1000:.1f} ms, "
          f"max {worst * 1000:.1f} ms", flush=True)
    check(median < 0.100, f"median {median * 1000:.1f} ms (all: {[round(t * 1000) for t in took]})")
    # The listener, nobody's PER_UID, root's own one; a refused one may be caught mid-close.
    check(max(held) <= 1 + PER_UID + 2, f"control socket descriptors during the flood: {held}")
    rc, out, err = d.ctl("status")
    check(rc in (0, 1, 2) and out.strip(), f"smsguardctl status under the flood: {rc} {err!r}")

    # Both kinds lose their slots at the deadline, and the flood takes them again.
    d.wait_log(f"uid {uid} pid {helper.pid} did not complete its request in time", timeout=15)
    d.wait_log(f"uid {uid} pid {helper.pid} idle", timeout=15)
    st = json.loads(helper.finish())
    print(f"# flood: {json.dumps(st)}", flush=True)
    check(st["refused"] > 0 and "too many clients" in (st["refusal"] or ""),
          f"the other user's excess was not refused: {st}")
    check(st["dropped_drip"] > 0 and st["dropped_idle"] > 0,
          f"nothing dropped at the deadline: {st}")
    # Closed at the deadline, whatever they had sent by then.
    check(st["drip_life_max"] < REQUEST_DEADLINE + 1.5,
          f"a dripper lived {st['drip_life_max']:.1f} s")

    wait_for(lambda: ctl_fds(pid, d.socket) == 1, timeout=10, what="every client freed")
    # The probes and the cloud client open and close a socket or two at any time.
    wait_for(lambda: all_fds(pid) <= baseline + 2, timeout=10,
             what=f"the daemon's descriptors back to {baseline}")
    rc, out, err = d.ctl("status", user="nobody")
    check(rc in (0, 1, 2), f"nobody's status after the flood: {rc} {err!r}")
    d.stop()


@scenario("a dripping client is closed at the request deadline, whatever it sent")
def _(ctx):
    d = ctx.daemon().start()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(0.25)
    s.connect(d.socket)
    ctx.cleanups.append(s.close)
    t0 = time.monotonic()
    got = b""
    closed = None
    for i in range(40):  # a byte every 250 ms, 10 s at most
        try:
            s.send(b'{"cmd":"status"'[i % 15:][:1])
        except OSError:
            closed = time.monotonic() - t0
            break
        try:
            chunk = s.recv(4096)
        except socket.timeout:
            continue
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            closed = time.monotonic() - t0
            break
        got += chunk
    check(got == b"", f"a dripper got a reply: {got!r}")
    check(closed is not None and REQUEST_DEADLINE - 0.3 <= closed <= REQUEST_DEADLINE + 2,
          f"closed after {closed} s")
    d.wait_log("did not complete its request in time")
    d.stop()


@scenario("another user's idle connection is closed after 2 s, but its wait keeps the slot")
def _(ctx):
    uid, gid, group = other_user()
    d = ctx.daemon(config={"control": {"group": group}}).start()
    r = json.loads(AsUser(ctx, uid, gid, idle_and_wait, d.socket).finish())
    check(r["idle_got"] == "", f"an idle client got {r['idle_got']!r}")
    check(REQUEST_DEADLINE - 0.3 <= r["idle_closed_after"] <= REQUEST_DEADLINE + 2,
          f"idle closed after {r['idle_closed_after']:.1f} s")
    check(json.loads(r["wait_reply"]) == {"ok": False, "error": "timeout"},
          f"wait: {r['wait_reply']!r}")
    check(3.5 <= r["wait_took"] <= 10, f"the wait ended after {r['wait_took']:.1f} s")
    d.stop()


harness.main()
