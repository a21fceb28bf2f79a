"""Foundation: flags, config check, the control socket, the state file,
signals, clean shutdown, sd_notify. The real daemon, real sockets."""

import json
import os
import shutil
import signal
import socket
import subprocess
import time

import harness

# A linuxmain of another run on this machine must not be taken for this suite's agent.
harness.isolate_pids(__file__)

from harness import Fail, Skip, check, ctl_raw, scenario, wait_for  # noqa: E402

STATUS_KEYS = {
    "version", "health", "paused", "task", "target", "agent", "cloud", "recovery",
    "ratelimit", "notify", "events",
}


def run_daemon(*args, env=None):
    e = dict(os.environ)
    if env:
        e.update(env)
    return subprocess.run([harness.ARGS.smsguard, *args], capture_output=True, text=True,
                          timeout=30, env=e)


@scenario("-V prints the version and -h the usage")
def _(ctx):
    p = run_daemon("-V")
    check(p.returncode == 0 and p.stdout.startswith("smsguard "), f"-V: {p.stdout!r}")
    p = run_daemon("--help")
    check(p.returncode == 0 and "-f FILE" in p.stdout, f"--help: {p.stdout!r}")
    p = run_daemon("-x")
    check(p.returncode == 1, "an unknown flag must exit 1")


@scenario("-n accepts the installed template and the annotated examples with credentials from "
          "the environment")
def _(ctx):
    for name in ("smsguard.conf", "file-level.conf", "block-level.conf"):
        p = run_daemon("-n", "-f", os.path.join(harness.SRCDIR, "examples", name),
                       env={"HUAWEICLOUD_SDK_AK": harness.TEST_AK,
                            "HUAWEICLOUD_SDK_SK": harness.TEST_SK})
        # They name /etc/smsguard/credentials; where that file exists it is used instead.
        check(p.returncode == 0, f"{name}: exit {p.returncode}: {p.stderr}")
        check(p.stdout.strip() == "configuration OK", f"{name}: stdout {p.stdout!r}")


@scenario("-n rejects a bad config with FILE:LINE: key: reason and exit 1")
def _(ctx):
    d = ctx.daemon()
    d.update({"target": {"interval": "fast"}})
    d.write_config()
    p = run_daemon("-n", "-f", d.conf)
    check(p.returncode == 1, f"exit {p.returncode}")
    lines = open(d.conf).read().splitlines()
    lineno = next(i for i, l in enumerate(lines, 1) if l.startswith("interval"))
    check(p.stderr.startswith(f"{d.conf}:{lineno}: interval:"), f"stderr {p.stderr!r}")
    check(harness.TEST_SK not in p.stderr + p.stdout, "secret in output")


def key_line(conf, sec, key):
    """The line of `key =` in [sec] of the file conf, or None."""
    in_sec = False
    lineno = None
    for i, l in enumerate(open(conf).read().splitlines(), 1):
        if l.startswith("["):
            in_sec = l == f"[{sec}]"
        elif in_sec and l.split("=")[0].strip() == key:
            lineno = i
    return lineno


def check_refused(p, prefix, needle="", what=""):
    """-n failed with exit 1 and one line on stderr: prefix word for word, then needle."""
    check(p.returncode == 1, f"{what}: exit {p.returncode}: {p.stderr!r}")
    check(p.stdout == "", f"{what}: stdout {p.stdout!r}")
    check(p.stderr.count("\n") == 1 and p.stderr.endswith("\n"), f"{what}: {p.stderr!r}")
    check(p.stderr.startswith(prefix), f"{what}: {p.stderr!r} does not start with {prefix!r}")
    check(needle in p.stderr[len(prefix):], f"{what}: {p.stderr!r} does not say {needle!r}")
    check(harness.TEST_SK not in p.stderr, f"{what}: secret in the error")


# (section, key, bad value, what the reason must say)
BAD_CONFIGS = [
    ("target", "interval", "fast", 'bad duration "fast"'),
    ("target", "ports", "22,99999", 'bad port "99999"'),
    ("target", "ports", "22,22", "port 22 listed twice"),
    ("target", "fall", "0", "from 1 to 100"),
    ("target", "rise", "-1", "from 1 to 100"),
    ("target", "timeout", "2 parsecs", 'bad duration "2 parsecs"'),
    ("cloud", "endpoint", "http://sms.example.com", "must be https://"),
    ("cloud", "endpoint", "https://h/path", "must not have a path"),
    ("cloud", "timeout", "soon", 'bad duration "soon"'),
    ("cloud", "proxy", "gopher://proxy:70", "scheme must be http, https, socks5"),
    ("task", "id", "x" * 40, "task id too long (40 characters, at most 36)"),
    ("task", "poll", "0s", "out of range (1s to"),
    ("recovery", "budget", "six", "not N/PERIOD"),
    ("recovery", "backoff", "15m..30s", "minimum 15m is above maximum 30s"),
    ("recovery", "resume", "perhaps", "not a boolean"),
    ("ratelimit", "schedule", "Mon-Fri 25:00-08:00 50", "bad time window"),
    ("ratelimit", "timezone", "Mars/Olympus", 'unknown time zone "Mars/Olympus"'),
    ("ratelimit", "schedule", "Mon 01:00-02:00 1, Mon 03:00-04:00 2, Mon 05:00-06:00 3, "
     "Mon 07:00-08:00 4, Mon 09:00-10:00 5, Mon 11:00-12:00 6",
     "needs 6 periods; SMS keeps at most 5 a day"),
    ("ratelimit", "over_speed_threshold", "5", '"5" is not a percentage from 10 to 100'),
    ("ratelimit", "over_speed_threshold", "ten", '"ten" is not a percentage from 10 to 100'),
    ("notify", "smn_topic", "urn:sns:x", "not an SMN topic URN"),
    ("notify", "events", "task_failed,world_ended", 'unknown event "world_ended"'),
    ("notify", "exec", "relative/hook", "must be an absolute path"),
    ("control", "socket", "relative.sock", "not an absolute path"),
    ("control", "group", "no-such-group-here", 'unknown group "no-such-group-here"'),
    ("daemon", "log_level", "chatty", 'unknown log level "chatty"'),
    ("agent", "restart", "sometimes", "not when-dead or never"),
    ("agent", "restart_answers", "{ak}\\n{password}", "unknown placeholder {password}"),
    ("metrics", "frobnicate", "1", "unknown key in [metrics]"),
    # A key that means something only beside another is refused alone, never ignored.
    ("notify", "smn_endpoint", "https://smn.example.com", "not used: there is no smn_topic"),
    ("notify", "events", "all", "not used: no sink is set (smn_topic, webhook or exec)"),
    ("notify", "queue", "100", "not used: no sink is set"),
    ("notify", "exec_timeout", "5s", "not used: there is no exec hook to run"),
    ("notify", "webhook_events", "task_failed", "not used: there is no webhook to post to"),
]
UNUSED = sum(1 for c in BAD_CONFIGS if c[3].startswith("not used"))


@scenario("-n rejects each of 34 bad configs (5 of them keys without what they go with) with "
          "exit 1 and FILE:LINE: key: naming the key")
def _(ctx):
    check(len(BAD_CONFIGS) == 34 and UNUSED == 5, f"{len(BAD_CONFIGS)} bad configs, {UNUSED} unused")
    for sec, key, value, reason in BAD_CONFIGS:
        d = ctx.daemon()
        d.update({sec: {key: value}})
        d.write_config()
        lineno = key_line(d.conf, sec, key)
        check(lineno is not None, f"{sec}.{key} not written to {d.conf}")
        p = run_daemon("-n", "-f", d.conf)
        check_refused(p, f"{d.conf}:{lineno}: {key}: ", reason, f"{sec}.{key}={value!r}")


@scenario("-n refuses a two-key mistake at the line of the later key")
def _(ctx):
    d = ctx.daemon()
    # poll_idle first, then a poll that is longer: the second line is the mistake.
    d.sections["task"] = {"id": d.sections["task"]["id"], "poll_idle": "5s", "poll": "10s"}
    d.write_config()
    p = run_daemon("-n", "-f", d.conf)
    check_refused(p, f"{d.conf}:{key_line(d.conf, 'task', 'poll')}: poll: ",
                  "poll_idle (5s) is shorter than poll (10s)", "poll after poll_idle")


@scenario("-n refuses a credentials file readable by others at the credentials = line")
def _(ctx):
    for mode in (0o644, 0o640):
        d = ctx.daemon()
        d.write_config()
        os.chmod(d.creds, mode)
        line = key_line(d.conf, "cloud", "credentials")
        p = run_daemon("-n", "-f", d.conf)
        check_refused(p, f"{d.conf}:{line}: credentials: {d.creds}: permissions 0{mode:o} are "
                      "too open", f"run chmod 600 {d.creds}", f"mode 0{mode:o}")


@scenario("-n refuses a missing credentials file or a missing sk at the credentials = line")
def _(ctx):
    d = ctx.daemon()
    missing = os.path.join(d.dir, "no-such-credentials")
    d.update({"cloud": {"credentials": missing}})
    d.write_config()
    line = key_line(d.conf, "cloud", "credentials")
    # A path set on purpose never falls back to the SDK's variables.
    p = run_daemon("-n", "-f", d.conf, env={"HUAWEICLOUD_SDK_AK": harness.TEST_AK,
                                            "HUAWEICLOUD_SDK_SK": harness.TEST_SK})
    check_refused(p, f"{d.conf}:{line}: credentials: {missing}: No such file", what="missing")
    d = ctx.daemon()
    with open(d.creds, "w") as f:
        f.write(f"ak={harness.TEST_AK}\n")
    d.write_config()
    line = key_line(d.conf, "cloud", "credentials")
    p = run_daemon("-n", "-f", d.conf)
    check_refused(p, f"{d.conf}:{line}: credentials: {d.creds}: missing sk", what="no sk")


@scenario("-n names the line of the credentials file for a bad line in it")
def _(ctx):
    d = ctx.daemon()
    with open(d.creds, "w") as f:
        f.write(f"# the migration key\nak={harness.TEST_AK}\n\npassword={harness.TEST_SK}\n")
    d.write_config()
    p = run_daemon("-n", "-f", d.conf)
    check_refused(p, f"{d.creds}:4: password: unknown key", what="bad line")


@scenario("the daemon refuses to start on a bad config or without credentials, says why and "
          "exits 78 (EX_CONFIG: systemd does not restart it)")
def _(ctx):
    d = ctx.daemon()
    d.update({"bogus": {"x": 1}})
    d.start(wait=False)
    rc = d.proc.wait(timeout=20)
    check(rc == 78, f"exit {rc}")
    check("unknown section" in d.log(), d.log())
    d = ctx.daemon()
    with open(d.creds, "w") as f:
        f.write("# ak=\n# sk=\n")
    d.start(wait=False)
    rc = d.proc.wait(timeout=20)
    check(rc == 78, f"exit {rc}")
    check(f"credentials: {d.creds}: missing ak" in d.log(), d.log())


@scenario("status --json has every documented key")
def _(ctx):
    d = ctx.daemon().start()
    rc, st = d.ctl_json("status")
    missing = STATUS_KEYS - set(st)
    check(not missing, f"missing keys {missing} in {st}")
    check(st["health"] in ("ok", "degraded", "failed"), st["health"])
    check(rc == {"ok": 0, "degraded": 1, "failed": 2}[st["health"]], f"exit {rc} for {st['health']}")
    for sec, keys in {"task": {"id", "state"}, "target": {"address", "state", "ports"},
                      "agent": {"state", "pid", "restarts"}, "cloud": {"state"},
                      "recovery": {"actions_in_window", "budget", "next_allowed", "last_action"},
                      "ratelimit": {"applied"}, "notify": {"dropped", "sinks"}}.items():
        check(keys <= set(st[sec]), f"{sec} lacks {keys - set(st[sec])}: {st[sec]}")
    check("ok" not in st, "status --json must print the status object only")
    d.stop()


@scenario("human status prints a table and the same exit code")
def _(ctx):
    d = ctx.daemon().start()
    rc, out, err = d.ctl("status")
    check(rc in (0, 1, 2), f"exit {rc}: {err}")
    for word in ("task", "target", "agent", "cloud"):
        check(word in out.lower(), f"no {word} in:\n{out}")
    d.stop()


@scenario("smsguardctl says clearly when the daemon is not running and exits 3")
def _(ctx):
    d = ctx.daemon()
    rc, out, err = d.ctl("status")
    check(rc == 3, f"exit {rc}")
    check(d.socket in err, f"stderr {err!r}")


@scenario("malformed, unknown and oversized requests get errors and hurt nothing")
def _(ctx):
    d = ctx.daemon().start()
    r = ctl_raw(d.socket, b"{not json\n")
    check(r.get("ok") is False and r.get("error"), f"malformed: {r}")
    r = ctl_raw(d.socket, b'{"cmd":"selfdestruct"}\n')
    check(r.get("ok") is False and "unknown" in r.get("error", ""), f"unknown: {r}")
    r = ctl_raw(d.socket, b"[1,2,3]\n")
    check(r.get("ok") is False, f"array: {r}")
    big = b'{"cmd":"status","pad":"' + b"x" * (70 * 1024) + b'"}\n'
    try:
        r = ctl_raw(d.socket, big)
        check(isinstance(r, dict) and r.get("ok") is False, f"oversized: {r!r}")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the daemon may drop the client before it has sent everything
    r = ctl_raw(d.socket, b'{"cmd":"status"}\n{"cmd":"events"}\n')
    check(r.get("ok") is True, "a valid request after bad ones must still work")
    d.stop()


@scenario("several requests on one connection are answered in order")
def _(ctx):
    d = ctx.daemon().start()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(d.socket)
    s.sendall(b'{"cmd":"status"}\n{"cmd":"events","args":{"n":3}}\n{"cmd":"nope"}\n')
    buf = b""
    while buf.count(b"\n") < 3:
        chunk = s.recv(65536)
        check(chunk, "connection closed early")
        buf += chunk
    s.close()
    replies = [json.loads(l) for l in buf.splitlines()[:3]]
    check("health" in replies[0], replies[0])
    check("events" in replies[1], replies[1])
    check(replies[2]["ok"] is False, replies[2])
    d.stop()


def agent_process(d, name):
    """A process called name (a copy of sleep) that the daemon watches as its agent."""
    exe = os.path.join(d.dir, name)
    shutil.copy("/bin/sleep", exe)
    proc = subprocess.Popen([exe, "600"])
    d.ctx.cleanups.append(lambda: (proc.kill(), proc.wait()))
    return proc


@scenario("events since a seq answers only the later events, and last_seq says where the ring is")
def _(ctx):
    d = ctx.daemon(config={"agent": {"process": "sgsince"}})
    agent = agent_process(d, "sgsince")
    d.start()
    wait_for(lambda: d.status()["agent"]["state"] == "running", what="the agent running")
    d.wait_preflight()  # its start-up run raises preflight_failed here (no cloud, no target)
    before = d.request({"cmd": "events"})
    last = before["last_seq"]
    check(last == max([e["seq"] for e in before["events"]], default=0), f"{before}")
    check(d.request({"cmd": "events", "args": {"since": last}})["events"] == [], "not empty")
    agent.kill()
    agent.wait()
    got = wait_for(lambda: d.request({"cmd": "events", "args": {"since": last}})["events"],
                   what="an event after the agent died")
    check([e["type"] for e in got] == ["agent_down"] and got[0]["seq"] == last + 1, f"{got}")
    r = d.request({"cmd": "events", "args": {"since": last + 1}})
    check(r["events"] == [] and r["last_seq"] == last + 1, f"{r}")
    r = d.request({"cmd": "events", "args": {"since": -1}})
    check(r.get("ok") is False and "since" in r.get("error", ""), f"{r}")
    d.stop()


@scenario("smsguardctl events --follow shows an event as it happens and ends with 3 when the daemon stops")
def _(ctx):
    d = ctx.daemon(config={"agent": {"process": "sgfollow"}})
    agent = agent_process(d, "sgfollow")
    d.start()
    wait_for(lambda: d.status()["agent"]["state"] == "running", what="the agent running")
    d.wait_preflight()  # its start-up run raises preflight_failed here (no cloud, no target)
    f = subprocess.Popen([harness.ARGS.smsguardctl, "-s", d.socket, "events", "--follow",
                          "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)  # pacing: the follower's first look sees the ring before the death
        agent.kill()
        agent.wait()
        # The ring's last events come first (the start-up preflight_failed among them).
        for _ in range(12):
            line = f.stdout.readline()
            ev = json.loads(line)
            if ev["type"] == "agent_down":
                break
        check(ev["type"] == "agent_down" and "sgfollow" in ev["message"], line)
        d.stop()
        out, err = f.communicate(timeout=15)
    finally:
        if f.poll() is None:
            f.kill()
            f.wait()
    check(f.returncode == 3, f"exit {f.returncode}: {err}")
    check("smsguard went away" in err and out == "", f"stdout {out!r}, stderr {err!r}")


@scenario("an unprivileged user may read status via the group but not pause")
def _(ctx):
    if not harness.is_root():
        raise Skip("needs root to switch users")
    d = ctx.daemon()
    d.update({"control": {"group": "nogroup"}})
    d.start()
    st = os.stat(d.socket)
    check(oct(st.st_mode & 0o777) == "0o660", f"socket mode {oct(st.st_mode)}")
    rc, out, err = d.ctl("status", user="nobody")
    check(rc in (0, 1, 2), f"nobody (in nogroup) should read status: {rc} {err}")
    rc, out, err = d.ctl("pause", user="nobody")
    check(rc == 2 and "permission denied" in err, f"pause by nobody: {rc} {err!r}")
    check(d.status()["paused"] is False, "pause by nobody must not take effect")
    d.stop()


@scenario("a user outside the group cannot use the socket at all")
def _(ctx):
    if not harness.is_root():
        raise Skip("needs root to switch users")
    d = ctx.daemon().start()  # no group: root only
    rc, out, err = d.ctl("status", user="nobody")
    check(rc == 3 or (rc == 2 and "permission" in err), f"nobody: {rc} {err!r}")
    d.stop()


@scenario("pause and resume are kept across a restart")
def _(ctx):
    d = ctx.daemon().start()
    rc, out, err = d.ctl("pause")
    check(rc == 0, f"pause: {rc} {err}")
    check(d.status()["paused"] is True, "not paused")
    d.stop()
    d.start()
    check(d.status()["paused"] is True, "pause forgotten across restart")
    rc, out, err = d.ctl("resume")
    check(rc == 0 and d.status()["paused"] is False, f"resume: {rc} {err}")
    d.stop()


@scenario("pause with a duration ends by itself")
def _(ctx):
    d = ctx.daemon().start()
    rc, out, err = d.ctl("pause", "1s")
    check(rc == 0, f"pause 1s: {rc} {err}")
    check(d.status()["paused"] is True, "not paused")
    wait_for(lambda: d.status()["paused"] is False, timeout=5, what="the pause to end")
    d.stop()


@scenario("SIGHUP with a good config applies it")
def _(ctx):
    d = ctx.daemon().start()
    check(d.status()["recovery"]["budget"] == 6, "default budget")
    d.update({"recovery": {"budget": "9/1h"}})
    d.write_config()
    d.send_signal(signal.SIGHUP)
    wait_for(lambda: d.status()["recovery"]["budget"] == 9, what="the new budget")
    d.stop()


@scenario("SIGHUP with a bad config keeps the old one and the daemon running")
def _(ctx):
    d = ctx.daemon().start()
    d.update({"recovery": {"budget": "9/1h", "frobnicate": "yes"}})
    d.write_config()
    d.send_signal(signal.SIGHUP)
    d.wait_log("reload failed")
    check("frobnicate" in d.log(), "the reason should name the key")
    check(d.status()["recovery"]["budget"] == 6, "the old config must stay")
    d.stop()


@scenario("reload over the socket reports a bad config to the caller")
def _(ctx):
    d = ctx.daemon().start()
    d.update({"target": {"fall": 0}})
    d.write_config()
    rc, out, err = d.ctl("reload")
    check(rc == 2 and "fall" in err, f"reload: {rc} {err!r}")
    d.update({"target": {"fall": 4}})
    d.write_config()
    rc, out, err = d.ctl("reload")
    check(rc == 0, f"good reload: {rc} {err!r}")
    d.stop()


@scenario("a corrupt state file is reported, kept aside and replaced")
def _(ctx):
    d = ctx.daemon()
    os.makedirs(d.state_dir, exist_ok=True)
    with open(os.path.join(d.state_dir, "state.json"), "w") as f:
        f.write('{"events": [tru')
    d.start()
    d.wait_log("not valid JSON")
    check(os.path.exists(os.path.join(d.state_dir, "state.json.corrupt")), "not kept aside")
    d.ctl("pause")
    with open(os.path.join(d.state_dir, "state.json")) as f:
        json.load(f)
    d.stop()


@scenario("the state file is always whole: many writes, no temp file left")
def _(ctx):
    d = ctx.daemon().start()
    path = os.path.join(d.state_dir, "state.json")
    for i in range(60):
        d.ctl("pause" if i % 2 == 0 else "resume")
        with open(path) as f:
            doc = json.load(f)  # never a half-written file
        check(doc["recovery"]["paused"] == (i % 2 == 0), f"write {i} not persisted")
    d.stop()
    check(not [n for n in os.listdir(d.state_dir) if n.startswith(".")], "temp file left")


@scenario("kill -9 and restart keeps what was persisted")
def _(ctx):
    d = ctx.daemon().start()
    d.ctl("pause")
    d.kill9()
    check(os.path.exists(d.socket), "a killed daemon leaves its socket")
    d.start()  # must replace the stale socket
    check(d.status()["paused"] is True, "pause lost")
    d.stop()


@scenario("a second daemon on the same socket refuses to start")
def _(ctx):
    d = ctx.daemon().start()
    p = run_daemon("-f", d.conf)
    check(p.returncode == 1 and "another smsguard" in p.stderr, f"{p.returncode} {p.stderr!r}")
    check(d.status()["ok"], "the first daemon must be unharmed")
    d.stop()


@scenario("SIGTERM and SIGINT stop cleanly: exit 0, socket removed, no leak")
def _(ctx):
    for sig in (signal.SIGTERM, signal.SIGINT):
        d = ctx.daemon()
        d.start()
        d.stop(sig=sig)
        check(not os.path.exists(d.socket), "socket left behind")


@scenario("stopping with clients connected and a wait in progress is clean")
def _(ctx):
    d = ctx.daemon().start()
    idle = []
    for _ in range(5):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(d.socket)
        idle.append(s)
    waiter = subprocess.Popen([harness.ARGS.smsguardctl, "-s", d.socket, "wait", "--until",
                               "finished", "--timeout", "60s"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    time.sleep(0.3)  # let the wait reach the daemon; nothing to poll for from outside
    d.stop()
    out, err = waiter.communicate(timeout=10)
    check(waiter.returncode != 0, "wait must not report success on shutdown")
    for s in idle:
        s.close()


@scenario("at most 64 clients; the rest are told and dropped; the daemon keeps serving")
def _(ctx):
    d = ctx.daemon().start()
    conns = []
    for _ in range(64):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(d.socket)
        conns.append(s)
    # Unix sockets queue connections in order: the 65th is accepted last.
    extra = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    extra.connect(d.socket)  # blocking: waits its turn in the backlog
    extra.settimeout(5)
    data = b""
    try:
        while b"\n" not in data:
            c = extra.recv(4096)
            if not c:
                break
            data += c
    except socket.timeout:
        pass
    check(b"too many clients" in data, f"65th client got {data!r}")
    for s in conns:
        s.close()
    wait_for(lambda: d.try_status() is not None, what="service after the crowd left")
    d.stop()


@scenario("a flood of requests from many clients leaves the daemon healthy")
def _(ctx):
    d = ctx.daemon().start()
    for i in range(300):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(d.socket)
        s.sendall(b'{"cmd":"status"}\n' * 5 + b"garbage\n")
        s.close()
    wait_for(lambda: d.try_status() is not None, what="status after the flood")
    d.stop()


@scenario("idle clients are dropped after 30 s")
def _(ctx):
    d = ctx.daemon().start()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(45)
    s.connect(d.socket)
    t0 = time.monotonic()
    data = s.recv(10)  # returns b"" when the daemon closes the connection
    took = time.monotonic() - t0
    check(data == b"" and 28 <= took <= 40, f"closed after {took:.1f} s with {data!r}")
    s.close()
    d.stop()


@scenario("READY=1, STATUS= and STOPPING=1 reach $NOTIFY_SOCKET; WATCHDOG=1 when asked")
def _(ctx):
    path = os.path.join("/tmp", f"sgnotify-{os.getpid()}.sock")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(path)
    ctx.cleanups.append(lambda: (ns.close(), os.unlink(path)))
    ns.settimeout(10)
    d = ctx.daemon(env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"})
    d.start()
    got = set()
    raw = []
    deadline = time.monotonic() + 10
    while not {"READY=1", "WATCHDOG=1"} <= got and time.monotonic() < deadline:
        msg = ns.recv(4096).decode()
        raw.append(msg)
        got.add(msg)
    msgs = set()
    d.stop()
    try:
        while True:
            ns.settimeout(1)
            msgs.add(ns.recv(4096).decode())
    except socket.timeout:
        pass
    check("READY=1" in got, f"got {got}")
    check("WATCHDOG=1" in got, f"got {got}")
    check("STOPPING=1" in msgs, f"after stop got {msgs}")
    check(any(m.startswith("STATUS=watching task ") for m in raw), f"no STATUS= in {raw}")


@scenario("metrics: smsguardctl metrics and the textfile carry every documented family")
def _(ctx):
    d = ctx.daemon()
    textfile = os.path.join(d.dir, "smsguard.prom")
    d.update({"metrics": {"textfile": textfile}})
    d.start()
    rc, out, err = d.ctl("metrics")
    check(rc == 0, f"metrics: {rc} {err}")
    for family in ("smsguard_up 1", "smsguard_target_port_up{port=\"1\"}",
                   "smsguard_agent_up", 'smsguard_task_state{state="RUNNING"} 0',
                   'smsguard_task_state{state="unknown"} 1', "smsguard_task_progress_ratio",
                   "smsguard_actions_total{action=", "smsguard_cloud_requests_total{api=",
                   "smsguard_ratelimit_mbps", "smsguard_last_action_timestamp_seconds",
                   'smsguard_build_info{version="'):
        check(family in out, f"no {family!r} in:\n{out}")
    wait_for(lambda: os.path.exists(textfile) and "smsguard_up 1" in open(textfile).read(),
             what="the textfile")
    d.stop()


@scenario("a wait and a reload sent together are answered in order; the daemon survives")
def _(ctx):
    d = ctx.daemon().start()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(d.socket)
    s.sendall(b'{"cmd":"wait","args":{"until":"running","timeout":"1s"}}\n{"cmd":"reload"}\n'
              b'{"cmd":"status"}\n')
    buf = b""
    while buf.count(b"\n") < 3:
        chunk = s.recv(65536)
        check(chunk, f"connection closed after {buf!r}")
        buf += chunk
    s.close()
    replies = [json.loads(l) for l in buf.splitlines()[:3]]
    check(replies[0] == {"ok": False, "error": "timeout"}, f"wait: {replies[0]}")
    check(replies[1].get("ok") is True, f"reload: {replies[1]}")
    check("health" in replies[2], f"status: {replies[2]}")
    d.stop()


@scenario("clients that give up on a wait free their slot at once")
def _(ctx):
    d = ctx.daemon().start()
    for _ in range(80):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(d.socket)
        s.sendall(b'{"cmd":"wait","args":{"until":"finished"}}\n')
        s.close()
    wait_for(lambda: d.try_status() is not None, timeout=5, what="a free slot for status")
    rc, out, err = d.ctl("status")
    check(rc in (0, 1, 2) and "too many" not in err, f"status after abandoned waits: {rc} {err}")
    d.stop()


@scenario("the metrics textfile is never written through a planted symlink")
def _(ctx):
    d = ctx.daemon()
    textfile = os.path.join(d.dir, "smsguard.prom")
    victim = os.path.join(d.dir, "victim")
    with open(victim, "w") as f:
        f.write("precious\n")
    os.symlink(victim, textfile + ".tmp")
    d.update({"metrics": {"textfile": textfile}})
    d.start()
    wait_for(lambda: os.path.exists(textfile) and "smsguard_up" in open(textfile).read(),
             what="the textfile")
    check(open(victim).read() == "precious\n", "the symlink's target was overwritten")
    check(not os.path.islink(textfile), "the textfile is a symlink")
    d.stop()


@scenario("a state file with absurd values is read without harm")
def _(ctx):
    d = ctx.daemon()
    os.makedirs(d.state_dir, exist_ok=True)
    with open(os.path.join(d.state_dir, "state.json"), "w") as f:
        json.dump({"events": [{"type": "target_up", "message": "m", "time_ms": 1e300, "seq": -5},
                              {"type": "target_down", "message": "ok", "time_ms": 1.7e12,
                               "seq": 3, "port": 22}],
                   "recovery": {"paused": "yes", "budget": {"history": [{"t": 1e300}]}},
                   "cloud": {"task_id": "x" * 5000}, "agent_home": "relative/path"}, f)
    d.start()
    ev = d.events()
    check(ev[0]["message"] == "ok" and ev[0]["port"] == 22, f"events restored: {ev}")
    check(not [e for e in ev if e["message"] == "m"], f"the absurd event was kept: {ev}")
    check(d.status()["paused"] is False, "a non-boolean paused must not pause")
    d.stop()


@scenario("without an apply key the schedule loads; status shows its current limit, window and "
          "next change, and apply cloud (the default)")
def _(ctx):
    d = ctx.daemon()
    d.update({"ratelimit": {"schedule": "daily 00:00-24:00 40", "timezone": "UTC", "apply": None}})
    d.start()
    check("apply" not in open(d.conf).read(), "the config still names apply")
    rl = d.status()["ratelimit"]
    check(rl["current_mbps"] == 40 and rl["window"] == "00:00-24:00", f"ratelimit {rl}")
    check(rl["apply"] == "cloud", f"cloud is the default: {rl}")
    check(rl["next_change"] is None, f"a constant limit never changes: {rl}")
    rc, out, err = d.ctl("metrics")
    check("smsguard_ratelimit_mbps 40" in out, "metrics ratelimit")
    d.stop()


@scenario("with no [target] address the probes follow the task's migration_ip and ports = auto")
def _(ctx):
    import tempfile
    from simctl import Sim
    tmp = tempfile.mkdtemp(prefix="sgfol-", dir="/tmp")
    ctx.cleanups.append(lambda: __import__("shutil").rmtree(tmp, ignore_errors=True))
    sim = Sim(os.path.join(tmp, "sim"), ak=harness.TEST_AK, sk=harness.TEST_SK, tasks=[
        {"id": "9a0c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d", "type": "MIGRATE_BLOCK",
         "os_type": "LINUX", "migration_ip": "127.0.0.3", "simulate": False}]).start()
    ctx.cleanups.append(sim.stop)
    d = ctx.daemon()
    d.update({"cloud": {"endpoint": sim.url, "ca_file": sim.ca_file},
              "task": {"id": sim.task_id},
              "target": {"address": None, "ports": "auto"}})
    d.sections["target"].pop("address", None)
    d.start()
    st = wait_for(lambda: (lambda s: s if s["target"].get("address") == "127.0.0.3"
                           and s["target"]["ports"] else None)(d.status()),
                  what="the target taken from the task")
    ports = [p["port"] for p in st["target"]["ports"]]
    check(ports == [22, 8900], f"Linux block-level needs 22 and 8900, got {ports}")
    sim.set_task(sim.task_id, os_type="WINDOWS")
    d.ctl("check")
    wait_for(lambda: [p["port"] for p in d.status()["target"]["ports"]] == [22, 8899, 8900],
             what="Windows ports after the task changed")
    d.stop()


harness.main()
