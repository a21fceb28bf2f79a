#!/usr/bin/env python3
"""smsguardctl as the operator sees it, against canned replies. Prints TAP.

    python3 tests/ctl/test_ctl.py --smsguardctl BUILD/src/ctl/smsguardctl [--only TEXT]

`status` is rendered for the recorded states in states/ (see record.py) on a terminal (a pty,
80 columns) and into a pipe, at a fixed time (SMSGUARD_CTL_NOW, TZ=UTC), and compared with
the reviewed output in expected/. There, colour is written as {green}…{/} (the SGR sequences
the terminal got), stderr follows "[stderr]" when it is not a terminal, and "[exit N]" ends
each file. After a change to the output, SMSGUARD_UPDATE_EXPECTED=1 rewrites the files: read
their diff as the operator would read the screen before committing it.

`events --follow` and `wait` run against tests/integration/fake_ctl_server.py too, whose
request log shows what smsguardctl asked.
"""
import argparse
import fcntl
import json
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("SMSGUARD_SRCDIR") or os.path.join(HERE, "..", "..")
FAKE_SERVER = os.path.join(SRCDIR, "tests", "integration", "fake_ctl_server.py")
STATES = os.path.join(HERE, "states")
EXPECTED = os.path.join(HERE, "expected")
UPDATE = os.environ.get("SMSGUARD_UPDATE_EXPECTED") == "1"
# The recorded states' "now": Tuesday 2024-06-04 03:12:45 UTC (record.py).
FIXED_NOW = 1717470765
# How the socket's directory is shown in expected output.
SHOWN_DIR = "/run/smsguard"
SGR_NAMES = {"0": "/", "1": "bold", "2": "dim", "31": "red", "32": "green", "33": "yellow",
             "36": "cyan"}
TESTS = []
ARGS = None


def test(fn):
    TESTS.append(fn)
    return fn


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def wait_for(pred, timeout=15.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def env(**extra):
    """A clean environment: UTC, the fixed time, a colour terminal type, the sanitizers' options."""
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TZ": "UTC", "LANG": "C.UTF-8",
         "TERM": "xterm-256color", "SMSGUARD_CTL_NOW": str(FIXED_NOW)}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            e[k] = os.environ[k]
    e.update(extra)
    return {k: v for k, v in e.items() if v is not None}


def tags(text):
    """SGR sequences as {name} tags; any other escape stays visible as \\x1b."""
    return re.sub(r"\x1b\[(\d+)m", lambda m: "{" + SGR_NAMES.get(m.group(1), m.group(1)) + "}",
                  text).replace("\x1b", "\\x1b")


class Server:
    """fake_ctl_server.py on a socket of its own, serving replies (a command -> what to do)."""

    def __init__(self, replies):
        self.dir = tempfile.mkdtemp(prefix="sgctl-", dir="/tmp")
        self.socket = os.path.join(self.dir, "smsguard.sock")
        self.log = os.path.join(self.dir, "requests.log")
        path = os.path.join(self.dir, "replies.json")
        with open(path, "w") as f:
            json.dump(replies, f)
        self.proc = None
        if replies is not None:
            self.proc = subprocess.Popen([sys.executable, FAKE_SERVER, self.socket, path,
                                          "--log", self.log], stdout=subprocess.PIPE, text=True)
            check(self.proc.stdout.readline().strip() == "listening", "fake server did not start")

    def requests(self, cmd=None):
        try:
            with open(self.log) as f:
                reqs = [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []
        return [r for r in reqs if cmd is None or r.get("cmd") == cmd]

    def stop(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def pty_start(argv, environ, cols=80):
    """Starts argv with stdout and stderr on a new terminal of cols columns: (process, master)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                         env=environ, start_new_session=True)
    os.close(slave)
    return p, master


def pty_read(master, until=None, timeout=30.0):
    """What the terminal shows, as text: until EOF, or until the text contains `until`."""
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.1)
        if not r:
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other side has closed
            break
        if not chunk:
            break
        out += chunk
        if until is not None and until.encode() in out:
            break
    else:
        raise AssertionError(f"the terminal did not show {until!r} within {timeout} s: {out!r}")
    return out.decode(errors="replace").replace("\r\n", "\n")


def run_terminal(args, environ, cols=80, timeout=30):
    p, master = pty_start([ARGS.smsguardctl, *args], environ, cols)
    try:
        text = pty_read(master, timeout=timeout)
        rc = p.wait(timeout=timeout)
    finally:
        os.close(master)
        if p.poll() is None:
            p.kill()
            p.wait()
    return rc, text


def run_pipe(args, environ, timeout=30):
    p = subprocess.run([ARGS.smsguardctl, *args], capture_output=True, text=True, env=environ,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def state_replies(name):
    """The fake server's replies for a recorded state; None for "daemon down" (no server)."""
    if name == "down":
        return None
    with open(os.path.join(STATES, f"{name}.json")) as f:
        return {"status": dict(json.load(f), ok=True)}


def render_status(name, terminal, cols=80, **extra):
    """What an operator sees of `smsguardctl status` in a state, as an expected file holds it."""
    with Server(state_replies(name)) as srv:
        args = ["-s", srv.socket, "status"]
        if terminal:
            rc, text = run_terminal(args, env(**extra), cols)
            shown = tags(text)
        else:
            rc, out, err = run_pipe(args, env(**extra))
            check("\x1b" not in out + err and "\r" not in out + err,
                  f"control characters without a terminal: {out!r} {err!r}")
            shown = out + (f"[stderr]\n{err}" if err else "")
        return shown.replace(srv.dir, SHOWN_DIR) + f"[exit {rc}]\n"


def compare(name, got):
    path = os.path.join(EXPECTED, name)
    if UPDATE:
        os.makedirs(EXPECTED, exist_ok=True)
        with open(path, "w") as f:
            f.write(got)
        print(f"# wrote {path}", flush=True)
        return
    with open(path) as f:
        want = f.read()
    if got != want:
        import difflib
        diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True),
                                            f"expected/{name}", "smsguardctl"))
        raise AssertionError(f"output differs from expected/{name}:\n{diff}")


def status_case(state, terminal):
    kind = "terminal" if terminal else "pipe"

    def fn():
        compare(f"status-{state}-{kind}.txt", render_status(state, terminal))
    fn.__name__ = f"test_status_{state}_on_a_{kind}"
    return fn


for _state in ("healthy", "degraded", "failed", "paused", "down"):
    for _terminal in (True, False):
        test(status_case(_state, _terminal))


@test
def test_status_on_a_wide_terminal_widens_the_bar_and_wraps_less():
    compare("status-healthy-terminal-120.txt", render_status("healthy", True, cols=120))


@test
def test_no_color_and_a_dumb_terminal_get_no_colour_but_the_same_words():
    coloured = render_status("degraded", True)
    plain = re.sub(r"\{[a-z/]+\}", "", coloured)
    check("{yellow}degraded{/}" in coloured, "no colour on a colour terminal")
    for how in ({"NO_COLOR": "1"}, {"NO_COLOR": "yes please"}, {"TERM": "dumb"}):
        got = render_status("degraded", True, **how)
        check(got == plain, f"with {how}:\n{got}")
    # https://no-color.org: an empty NO_COLOR is as if it were not set.
    check(render_status("degraded", True, NO_COLOR="") == coloured, "NO_COLOR= took colour away")


@test
def test_text_from_the_daemon_cannot_drive_the_terminal():
    with open(os.path.join(STATES, "failed.json")) as f:
        st = json.load(f)
    st["task"]["name"] = "db\x1b[2J\x1b]0;owned\x07 \u202eevil\u202c \u009b31m"
    st["recovery"]["reason"] = "a\rb\nc\x7f"
    st["events"][-1]["message"] = "bad \x1b[1;31m"
    with Server({"status": dict(st, ok=True)}) as srv:
        _, text = run_terminal(["-s", srv.socket, "status"], env())
        _, out, _ = run_pipe(["-s", srv.socket, "status"], env())
    for shown in (text, out):
        check(not re.search(r"\x1b(?!\[\d+m)|[\r\x07\x7f\u202e\u009b]", shown),
              f"raw control reached the page: {shown!r}")
    for escaped in ('"db\\x1b[2J\\x1b]0;owned\\x07 \\u202eevil\\u202c \\u009b31m"',
                    "failed: a\\x0db\\x0ac\\x7f", "bad \\x1b[1;31m"):
        check(escaped in out, f"{escaped!r} not shown escaped in:\n{out}")


@test
def test_wide_characters_take_two_columns_when_lines_wrap():
    import unicodedata

    def cols(line):
        line = re.sub(r"\x1b\[\d+m", "", line)
        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)
    st = recorded("degraded")
    st["task"]["name"] = "华为云主机迁移服务数据库服务器第一批次迁移任务" * 2
    with Server({"status": st}) as srv:
        _, text = run_terminal(["-s", srv.socket, "status"], env())
    lines = text.splitlines()
    check(all(cols(ln) <= 80 for ln in lines), "a line past 80 columns:\n" + "\n".join(
        f"{cols(ln):3d} {ln}" for ln in lines if cols(ln) > 80))
    # The name has no space to break at: it is cut at the edge, a wide character never split.
    name = lines[[i for i, ln in enumerate(lines) if ln.startswith("task:")][0] + 1]
    check(name.startswith(" " * 14 + '"华为') and cols(name) in (79, 80), f"{name!r}")


# -------------------------------------------------------------- events --follow

def event(seq, etype, message):
    return {"time": FIXED_NOW - 100 + seq, "time_ms": (FIXED_NOW - 100 + seq) * 1000,
            "seq": seq, "type": etype, "message": message}


def events_reply(events, last_seq):
    return {"ok": True, "events": events, "last_seq": last_seq}


E1 = event(1, "target_down", "target port 8899 down for 0 s while the task is RUNNING")
E2 = event(2, "task_failed", "task MIGRATE_FAIL with SMS.2802: will resume once the link is back")
E3 = event(3, "target_up", "target up again after 40 s down")
E4 = event(4, "task_resumed", "task resumed after the link was up for 10 s")


def follow(srv, *extra, stdout=subprocess.PIPE):
    return subprocess.Popen([ARGS.smsguardctl, "-s", srv.socket, "events", "--follow", *extra],
                            stdout=stdout, stderr=subprocess.PIPE, text=True, env=env())


@test
def test_follow_prints_new_events_and_ends_with_3_when_the_daemon_goes():
    seq = [events_reply([E1, E2], 2), events_reply([], 2), events_reply([E3, E4], 4),
           {"close": True}]
    with Server({"events": {"sequence": seq}}) as srv:
        p = follow(srv)
        out, err = p.communicate(timeout=30)
        reqs = srv.requests("events")
    check(p.returncode == 3, f"exit {p.returncode}: {err}")
    lines = out.splitlines()
    check([ln.split()[2] for ln in lines] == ["target_down", "task_failed", "target_up",
                                              "task_resumed"], f"stdout:\n{out}")
    check(lines[0].startswith("2024-06-04 03:11:06  target_down "), lines[0])
    check("smsguard went away" in err and "\x1b" not in out, f"stderr: {err!r}")
    check([r.get("args") for r in reqs[:4]] == [{"n": 10}, {"since": 2}, {"since": 2},
                                                {"since": 4}], f"requests: {reqs}")


@test
def test_follow_json_prints_one_event_object_per_line():
    seq = [events_reply([E1], 1), events_reply([E2, E3], 3), {"close": True}]
    with Server({"events": {"sequence": seq}}) as srv:
        p = follow(srv, "--json", "-n", "5")
        out, err = p.communicate(timeout=30)
        first = srv.requests("events")[0]
    check(p.returncode == 3, f"exit {p.returncode}: {err}")
    check([json.loads(ln) for ln in out.splitlines()] == [E1, E2, E3], f"stdout:\n{out}")
    check(first.get("args") == {"n": 5}, f"first request {first}")


@test
def test_follow_ends_with_0_on_sigint_and_sigterm():
    for sig in (signal.SIGINT, signal.SIGTERM):
        with Server({"events": {"sequence": [events_reply([E1], 1), events_reply([], 1)]}}) as srv:
            p = follow(srv)
            line = p.stdout.readline()
            check("target_down" in line, f"first line {line!r}")
            wait_for(lambda: len(srv.requests("events")) >= 2, what="a second look")
            p.send_signal(sig)
            out, err = p.communicate(timeout=10)
        check(p.returncode == 0 and err == "" and out == "", f"{sig!r}: exit {p.returncode}, "
              f"stdout {out!r}, stderr {err!r}")


@test
def test_follow_ends_quietly_when_its_reader_goes():
    with Server({"events": {"sequence": [events_reply([E1], 1), events_reply([], 1)]}}) as srv:
        p = follow(srv)
        check("target_down" in p.stdout.readline(), "first line")
        p.stdout.close()  # as `| head -1` does
        t0 = time.monotonic()
        rc = p.wait(timeout=10)
        err = p.stderr.read()
    # Found between two looks (1 s apart), not at the next event, which may be hours away.
    check(rc == 0 and err == "", f"exit {rc}, stderr {err!r}")
    check(time.monotonic() - t0 < 5, f"took {time.monotonic() - t0:.1f} s to notice")


@test
def test_follow_shows_everything_again_when_the_numbers_start_over():
    seq = [events_reply([E3, E4], 4), events_reply([], 2), events_reply([E1, E2], 2),
           {"close": True}]
    with Server({"events": {"sequence": seq}}) as srv:
        p = follow(srv)
        out, err = p.communicate(timeout=30)
        reqs = srv.requests("events")
    check([ln.split()[2] for ln in out.splitlines()] == ["target_up", "task_resumed",
                                                        "target_down", "task_failed"], out)
    check("start over" in err, f"stderr {err!r}")
    check([r.get("args") for r in reqs[:3]] == [{"n": 10}, {"since": 4}, None], f"{reqs}")


@test
def test_follow_says_so_when_events_came_and_went_between_two_looks():
    seq = [events_reply([E1], 1), events_reply([E4], 4), {"close": True}]
    with Server({"events": {"sequence": seq}}) as srv:
        p = follow(srv)
        out, err = p.communicate(timeout=30)
    check(len(out.splitlines()) == 2, out)
    check("2 events came and went between two looks" in err, f"stderr {err!r}")


# ---------------------------------------------------------------------- wait

def recorded(name):
    with open(os.path.join(STATES, f"{name}.json")) as f:
        return dict(json.load(f), ok=True)


def task_at(state, progress, health="ok"):
    st = recorded("healthy")
    st["task"] = dict(st["task"], state=state, progress=progress)
    st["health"] = health
    if health != "ok":
        st["recovery"] = dict(st["recovery"], reason="target port 8899 down for 3 s")
    return st


# What the task does while a wait is owed: every status asked gets the next one.
STORY = [task_at("RUNNING", 38), task_at("RUNNING", 38), task_at("RUNNING", 39),
         task_at("MIGRATE_FAIL", 39, "degraded"), task_at("RUNNING", 39),
         task_at("RUNNING", 40), task_at("MIGRATE_SUCCESS", 100)]
FINISHED = {"ok": True, "state": "MIGRATE_SUCCESS"}


def story_lines(n):
    """The plain lines due for the first n statuses of STORY: one per change."""
    keys, lines = None, []
    for st in STORY[:n]:
        k = (st["task"]["state"], st["task"]["progress"], st["health"])
        if k != keys:
            lines.append(k)
        keys = k
    return lines


@test
def test_wait_without_a_terminal_prints_a_plain_line_per_change():
    replies = {"status": {"sequence": STORY}, "wait": {"delay": 7, "reply": FINISHED}}
    with Server(replies) as srv:
        rc, out, err = run_pipe(["-s", srv.socket, "wait"], env(), timeout=60)
        n = len(srv.requests("status"))
    check(rc == 0 and err == "", f"exit {rc}: {err}")
    check(n >= 1, "no status asked while waiting")
    check(not re.search(r"[\x00-\x09\x0b-\x1f\x7f]", out), f"control characters: {out!r}")
    lines = out.splitlines()
    check(lines[-1] == "task finished (MIGRATE_SUCCESS)", f"last line {lines[-1]!r}")
    want = story_lines(n)
    check(len(lines) - 1 == len(want), f"{n} statuses, lines:\n{out}")
    for line, (state, progress, health) in zip(lines, want):
        check(re.match(rf"\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d  {state} {progress}%", line), line)
        check((health == "ok") == ("degraded" not in line), line)
    check(lines[0].endswith("RUNNING 38%, 95.5 Mbit/s, ETA 04:42:43 (in 1h29m)"), lines[0])


@test
def test_wait_on_a_terminal_rewrites_one_live_line():
    replies = {"status": {"sequence": STORY}, "wait": {"delay": 5, "reply": FINISHED}}
    with Server(replies) as srv:
        rc, text = run_terminal(["-s", srv.socket, "wait"], env(), timeout=60)
        n = len(srv.requests("status"))
    shown = tags(text)
    check(rc == 0, f"exit {rc}: {shown}")
    check(n >= 1, "no status asked in 5 s")
    check("\n" not in shown[:-1] and shown.endswith("\rtask finished ({green}MIGRATE_SUCCESS{/})\n"),
          f"not one rewritten line: {shown!r}")
    check("\\x1b" not in shown, f"an escape other than colour: {shown!r}")
    live = shown[:-1].split("\r")[1:-1]
    check(live[0].startswith("{green}RUNNING{/} [{green}########{/}{dim}------------{/}]  38%, "
                             "95.5 Mbit/s, ETA 04:42:43 (in 1h29m)"), f"first live line {live[0]!r}")
    for seg in live:
        check(len(re.sub(r"\{[a-z/]+\}", "", seg)) <= 79, f"a live line reaches column 80: {seg!r}")
    # The last rewrite blanks the live line before the result goes over it.
    check(live[-1].strip() == "", f"the live line was not cleared: {live[-1]!r}")


@test
def test_wait_interrupted_on_a_terminal_keeps_its_line_and_dies_of_the_signal():
    replies = {"status": {"sequence": STORY}, "wait": {"hang": True}}
    with Server(replies) as srv:
        p, master = pty_start([ARGS.smsguardctl, "-s", srv.socket, "wait"], env())
        try:
            before = pty_read(master, until="ETA", timeout=30)
            os.killpg(p.pid, signal.SIGINT)
            rest = pty_read(master, timeout=30)
            rc = p.wait(timeout=10)
        finally:
            os.close(master)
    check(rc == -signal.SIGINT, f"exit {rc}")
    check((before + rest).endswith("\n") and "RUNNING" in before, f"{(before + rest)!r}")


@test
def test_a_wait_answered_at_once_prints_only_its_result():
    with Server({"status": recorded("healthy"), "wait": FINISHED}) as srv:
        rc, out, err = run_pipe(["-s", srv.socket, "wait", "--until", "finished"], env())
        rc2, text = run_terminal(["-s", srv.socket, "wait"], env())
        asked = srv.requests("status")
    check((rc, out, err) == (0, "task finished (MIGRATE_SUCCESS)\n", ""), f"{rc} {out!r} {err!r}")
    check((rc2, tags(text)) == (0, "task finished ({green}MIGRATE_SUCCESS{/})\n"), repr(text))
    check(asked == [], f"status asked: {asked}")


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--smsguardctl", required=True)
    ap.add_argument("--only", help="run only tests whose name contains this")
    ARGS = ap.parse_args()
    ARGS.smsguardctl = os.path.abspath(ARGS.smsguardctl)
    chosen = [fn for fn in TESTS if not ARGS.only or ARGS.only in fn.__name__]
    print(f"1..{len(chosen)}", flush=True)
    failed = 0
    for i, fn in enumerate(chosen, 1):
        t0 = time.monotonic()
        try:
            fn()
            print(f"ok {i} - {fn.__name__} ({time.monotonic() - t0:.1f} s)", flush=True)
        except Exception:
            failed += 1
            print(f"not ok {i} - {fn.__name__}", flush=True)
            for line in traceback.format_exc().splitlines():
                print(f"# {line}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
