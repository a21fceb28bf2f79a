"""simctl — start and drive smssim, the fake target and the fake agent from Python tests.

    import sys; sys.path.insert(0, "<repo>/tests/sim"); from simctl import Sim, FakeTarget, FakeAgent

    sim = Sim(tmpdir, ak="AK", sk="SK", http=False, tasks=[{...}], tick=0.2, port=0).start()
        (after stop(), start() again listens on the same port, with a fresh model)
    sim.port, sim.url ("https://127.0.0.1:PORT"), sim.domain ("127.0.0.1:PORT"),
    sim.ca_file, sim.wrong_ca_file, sim.tls_dir, sim.task_id (the first task's id)
    sim.requests(since=0) -> [entry]          sim.last_seq() -> int
    sim.actions(op="start", since=0)          signed UpdateTaskStatus requests with that operation
    sim.agent_actions(since=0)                the fake agent's own resumes (AgentAutoStart)
    sim.fault(kind="429", count=3, retry_after=2) / sim.clear_faults()
    sim.set_keys(ak, sk)                      rotate: only this pair is accepted from now on
    sim.set_task(id, **fields) -> raw task    sim.task(id=None) -> raw task   sim.tasks()
    sim.add_task(**definition) -> id          sim.set_source(id, **fields)  sim.source(id)
    sim.publishes() -> [..]                   sim.stats() -> {...}          sim.reset_log()
    sim.api(method, path, body=None, sign=True, ak=None, sk=None, headers=None)
        -> (status, headers, parsed JSON or raw bytes): a signed API call, as a client would
    sim.wait_task(pred_or_state, id=None, timeout=10) -> raw task
    sim.stop()

    tgt = FakeTarget("127.0.0.1", [12022, 18899], netns=None, mode="close").start(); tgt.stop()

    agent = FakeAgent(home_dir, sim, task_id=None, gprop={"auto_start_max_retry_times": 3})
    agent.install()        copy tests/sim/fakeagent to home_dir, write agent/config/sim.cfg
    agent.start()          run startup.sh with "y", AK, SK, domain -> CompletedProcess
    agent.restart(), agent.shutdown(), agent.pid(), agent.alive(), agent.kill(sig=SIGKILL)
    agent.answers()        the startup.sh stdin text ("y\\nAK\\nSK\\n127.0.0.1:PORT\\n")

    wait_for(fn, timeout=10, interval=0.05, what="…") -> fn()'s first truthy value

Every process started here is stopped by stop()/kill() or, at the latest, at interpreter exit.
"""

import atexit
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import sdksign  # noqa: E402

SMSSIM = os.path.join(HERE, "smssim.py")
FAKETARGET = os.path.join(HERE, "faketarget.py")
TEMPLATE = os.path.join(HERE, "fakeagent")
DEFAULT_AK = "SIMTESTAKEXAMPLE0001"
DEFAULT_SK = "SimTestSecretKeyExample0000000000000001"

_live = []
_live_lock = threading.Lock()


def _on_sigterm(signo, frame):
    raise SystemExit(128 + signo)


def _register(obj):
    # A test runner's timeout sends SIGTERM, which would skip atexit: turn it into SystemExit
    # so the cleanup below still runs (only when nobody else handles SIGTERM).
    if (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL):
        signal.signal(signal.SIGTERM, _on_sigterm)
    with _live_lock:
        _live.append(obj)


def _unregister(obj):
    with _live_lock:
        if obj in _live:
            _live.remove(obj)


@atexit.register
def _cleanup():
    with _live_lock:
        objs = list(reversed(_live))
    for o in objs:
        try:
            o.stop()
        except Exception:
            pass


def free_ports(n, addr="127.0.0.1"):
    """n distinct ports nothing listens on: all bound at once, then released."""
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    socks = [socket.socket(family) for _ in range(n)]
    try:
        for s in socks:
            s.bind((addr, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_for(fn, timeout=10.0, interval=0.05, what=None):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise TimeoutError("timed out after %.1f s waiting for %s" % (
                timeout, what or getattr(fn, "__name__", "condition")))
        time.sleep(interval)


def _read_ready(proc, timeout, word):
    """Read stdout lines until one starts with word; returns the line."""
    box = {}

    def reader():
        box["line"] = proc.stdout.readline()
    th = threading.Thread(target=reader, daemon=True)
    th.start()
    th.join(timeout)
    line = box.get("line")
    if not line or not line.startswith(word):
        err = ""
        if proc.poll() is not None and proc.stderr is not None:
            err = proc.stderr.read()
        proc.kill()
        raise RuntimeError("%s did not become ready: %r %s" % (proc.args, line, err))
    return line


class _HTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to an address, the certificate checked against tls_name."""

    def __init__(self, *a, tls_name, **kw):
        super().__init__(*a, **kw)
        self.tls_name = tls_name

    def connect(self):
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.tls_name)


class Sim:
    def __init__(self, tmpdir, ak=DEFAULT_AK, sk=DEFAULT_SK, http=False, tasks=None, tick=0.2,
                 tls_dir=None, listen="127.0.0.1", probe_timeout=0.5, verbose=False,
                 hostname=None, port=0):
        self.tmpdir = tmpdir
        self.ak, self.sk, self.http = ak, sk, http
        self.tasks_def = tasks
        self.tick = tick
        self.tls_dir = tls_dir or os.path.join(tmpdir, "tls")
        self.listen = listen
        self.probe_timeout = probe_timeout
        self.verbose = verbose
        self.hostname = hostname
        self.proc = None
        self.port = None
        self.want_port = port
        self._ctx = None
        self._conn_lock = threading.Lock()

    # -- lifecycle --------------------------------------------------------------------------

    def start(self, timeout=30.0):
        os.makedirs(self.tmpdir, exist_ok=True)
        args = [sys.executable, SMSSIM, "--listen", self.listen, "--port",
                str(self.want_port or self.port or 0),
                "--tls-dir", self.tls_dir, "--tick", str(self.tick),
                "--probe-timeout", str(self.probe_timeout), "--exit-with-parent"]
        if self.http:
            args.append("--http")
        if self.verbose:
            args.append("-v")
        if self.hostname:
            args += ["--hostname", self.hostname]
        if self.tasks_def is not None:
            path = os.path.join(self.tmpdir, "tasks.json")
            with open(path, "w") as f:
                json.dump({"tasks": self.tasks_def}, f)
            args += ["--task-file", path]
        env = dict(os.environ, SMSSIM_AK=self.ak, SMSSIM_SK=self.sk)
        self.stderr_path = os.path.join(self.tmpdir, "smssim.stderr")
        errf = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=errf, env=env,
                                     text=True, start_new_session=True)
        errf.close()
        _register(self)
        line = _read_ready(self.proc, timeout, "READY ")
        self.port = int(line.split()[1])
        if not self.http:
            self._ctx = ssl.create_default_context(cafile=self.ca_file)
        self.task_id = self.tasks()[0]["id"]
        return self

    def stop(self):
        _unregister(self)
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def host(self):
        return "[%s]" % self.listen if ":" in self.listen else self.listen

    @property
    def domain(self):
        return "%s:%d" % (self.host, self.port)

    @property
    def url(self):
        return "%s://%s" % ("http" if self.http else "https", self.domain)

    @property
    def ca_file(self):
        return os.path.join(self.tls_dir, "ca.crt")

    @property
    def wrong_ca_file(self):
        return os.path.join(self.tls_dir, "wrong-ca.crt")

    # -- raw HTTP ---------------------------------------------------------------------------

    def _connect(self, timeout):
        host = self.listen
        if self.http:
            return http.client.HTTPConnection(host, self.port, timeout=timeout)
        # The certificate names loopback only: elsewhere (a veth address) check it as localhost.
        name = host if host in ("127.0.0.1", "::1", "localhost") else "localhost"
        return _HTTPSConnection(host, self.port, context=self._ctx, timeout=timeout,
                                tls_name=name)

    def request(self, method, path, body=None, headers=None, timeout=10.0):
        """One HTTP exchange on a fresh connection -> (status, headers dict, raw body)."""
        c = self._connect(timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def control(self, method, path, obj=None):
        body = json.dumps(obj).encode() if obj is not None else None
        st, _, data = self.request(method, "/_sim/" + path, body,
                                   {"Content-Type": "application/json"} if body else None)
        d = json.loads(data)
        if st >= 400:
            raise RuntimeError("smssim %s /_sim/%s: %d %s" % (method, path, st, d))
        return d

    def api(self, method, path, body=None, sign=True, ak=None, sk=None, headers=None,
            sdk_date=None, timeout=10.0):
        """A signed SMS/SMN API call -> (status, headers, parsed JSON or raw bytes)."""
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        hdrs = {"Content-Type": "application/json"}
        hdrs.update(headers or {})
        if sign:
            hdrs = sdksign.sign(method, self.url + path, hdrs, body or b"", ak or self.ak,
                                sk or self.sk, sdk_date=sdk_date)
        st, rh, data = self.request(method, path, body, hdrs, timeout=timeout)
        try:
            return st, rh, json.loads(data)
        except ValueError:
            return st, rh, data

    # -- control API ------------------------------------------------------------------------

    def requests(self, since=0):
        return self.control("GET", "requests?since=%d" % since)["requests"]

    def last_seq(self):
        return self.control("GET", "requests?since=%d" % (1 << 62))["last_seq"]

    def reset_log(self):
        self.control("POST", "reset_log", {})

    def actions(self, op="start", since=0):
        return [e for e in self.requests(since) if e["api"] == "UpdateTaskStatus"
                and e["source"] == "api" and (op is None or e["operation"] == op)]

    def agent_actions(self, since=0):
        return [e for e in self.requests(since) if e["api"] == "AgentAutoStart"]

    def fault(self, kind, **kw):
        kw["kind"] = str(kind)
        self.control("POST", "fault", kw)

    def clear_faults(self):
        self.fault("clear")

    def set_keys(self, ak, sk):
        """Only ak/sk are accepted from now on; sim.api() signs with them too."""
        self.control("POST", "keys", {"ak": ak, "sk": sk})
        self.ak, self.sk = ak, sk

    def faults(self):
        return self.control("GET", "faults")

    def tasks(self):
        return self.control("GET", "tasks")["tasks"]

    def task(self, id=None):
        return self.control("GET", "task/" + urllib.parse.quote(id or self.task_id, safe=""))

    def set_task(self, id=None, **fields):
        return self.control("POST", "task/" + urllib.parse.quote(id or self.task_id, safe=""),
                            fields)

    def add_task(self, **definition):
        return self.control("POST", "tasks", definition)["id"]

    def source(self, id):
        return self.control("GET", "source/" + urllib.parse.quote(id, safe=""))

    def set_source(self, id, **fields):
        return self.control("POST", "source/" + urllib.parse.quote(id, safe=""), fields)

    def publishes(self):
        return self.control("GET", "publishes")["publishes"]

    def stats(self):
        return self.control("GET", "stats")

    def wait_task(self, pred, id=None, timeout=10.0):
        """pred: a state name, or a function of the raw task. Returns the raw task."""
        if isinstance(pred, str):
            state = pred
            pred = lambda t: t["state"] == state  # noqa: E731
        box = {}

        def check():
            box["t"] = self.task(id)
            return pred(box["t"])
        try:
            wait_for(check, timeout, 0.05, "task %s" % (id or self.task_id))
        except TimeoutError as e:
            raise TimeoutError("%s; last: state=%s error=%s progress=%s/%s" % (
                e, box["t"]["state"], box["t"]["error_code"], box["t"]["current_subtask"],
                box["t"]["current_progress"])) from None
        return box["t"]


class FakeTarget:
    """Listeners on addr:ports (accept, then close or hold). netns: run inside `ip netns`."""

    def __init__(self, addr, ports, netns=None, mode="close"):
        self.addr, self.ports, self.netns, self.mode = addr, list(ports), netns, mode
        self.proc = None

    def start(self, timeout=10.0):
        args = [sys.executable, FAKETARGET, "--listen", self.addr, "--ports",
                ",".join(str(p) for p in self.ports), "--mode", self.mode,
                "--exit-with-parent"]
        if self.netns:
            args = ["ip", "netns", "exec", self.netns] + args
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, start_new_session=True)
        _register(self)
        _read_ready(self.proc, timeout, "READY")
        return self

    def stop(self):
        _unregister(self)
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdout, self.proc.stderr):
            if f:
                f.close()
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class FakeAgent:
    """A copy of tests/sim/fakeagent in home_dir, talking to sim."""

    def __init__(self, home_dir, sim, task_id=None, source_id=None, gprop=None,
                 template=TEMPLATE, heartbeat_interval=0.5, orphan_timeout=120):
        self.home = os.path.abspath(home_dir)
        self.sim = sim
        self.task_id, self.source_id = task_id, source_id
        self.gprop = gprop or {}
        self.template = template
        self.heartbeat_interval = heartbeat_interval
        self.orphan_timeout = orphan_timeout
        self.pidfile = os.path.join(self.home, "agent", "linuxmain.pid")
        self.statefile = os.path.join(self.home, "agent", "linuxmain.state")
        _register(self)

    def install(self):
        if os.path.exists(self.home):
            shutil.rmtree(self.home)
        shutil.copytree(self.template, self.home, symlinks=False)
        main = os.path.join(self.home, "agent", "bin", "linuxmain")
        with open(main) as f:
            text = f.read()
        text = "#!%s\n%s" % (os.path.realpath(sys.executable), text.split("\n", 1)[1])
        with open(main, "w") as f:
            f.write(text)
        os.chmod(main, 0o755)
        lines = ["scheme=%s" % ("http" if self.sim.http else "https"),
                 "port=%d" % self.sim.port, "orphan_timeout=%d" % self.orphan_timeout,
                 "heartbeat_interval=%s" % self.heartbeat_interval]
        if not self.sim.http:
            lines.append("ca_file=%s" % self.sim.ca_file)
        if self.task_id:
            lines.append("task_id=%s" % self.task_id)
        if self.source_id:
            lines.append("source_id=%s" % self.source_id)
        with open(os.path.join(self.home, "agent", "config", "sim.cfg"), "w") as f:
            f.write("\n".join(lines) + "\n")
        if self.gprop:
            self.set_gprop(**self.gprop)
        return self

    def set_gprop(self, **kv):
        """Set keys in agent/config/g-property.cfg (read by linuxmain when it starts)."""
        path = os.path.join(self.home, "agent", "config", "g-property.cfg")
        with open(path) as f:
            lines = f.read().split("\n")
        todo = {k: str(v) for k, v in kv.items()}
        for i, line in enumerate(lines):
            k = line.split("=", 1)[0].strip()
            if "=" in line and not line.lstrip().startswith("#") and k in todo:
                lines[i] = "%s=%s" % (k, todo.pop(k))
        first_section = next((i for i, l in enumerate(lines) if l.startswith("[")), len(lines))
        lines[first_section:first_section] = ["%s=%s" % kv for kv in todo.items()]
        with open(path, "w") as f:
            f.write("\n".join(lines))

    def answers(self, ak=None, sk=None, domain=None, confirm="y"):
        return "%s\n%s\n%s\n%s\n" % (confirm, ak or self.sim.ak, sk or self.sim.sk,
                                     domain or self.sim.domain)

    def run_script(self, name, stdin="", timeout=30.0):
        return subprocess.run(["bash", os.path.join(self.home, name)], input=stdin,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout, cwd=self.home)

    def start(self, stdin=None, timeout=30.0):
        return self.run_script("startup.sh", self.answers() if stdin is None else stdin,
                               timeout)

    def restart(self, stdin=None, timeout=30.0):
        return self.run_script("restart.sh", self.answers() if stdin is None else stdin,
                               timeout)

    def shutdown(self, timeout=30.0):
        return self.run_script("shutdown.sh", "", timeout)

    def pid(self):
        """The live linuxmain's pid (from the pid file, checked by comm), else None."""
        try:
            with open(self.pidfile) as f:
                pid = int(f.read().strip())
            with open("/proc/%d/comm" % pid) as f:
                return pid if f.read().strip() == "linuxmain" else None
        except (OSError, ValueError):
            return None

    def alive(self):
        pid = self.pid()
        if pid is None:
            return False
        try:
            with open("/proc/%d/stat" % pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    def state(self):
        try:
            with open(self.statefile) as f:
                return f.read().strip()
        except OSError:
            return None

    def kill(self, sig=signal.SIGKILL):
        pid = self.pid()
        if pid is None:
            return None
        os.kill(pid, sig)
        if sig == signal.SIGKILL:
            wait_for(lambda: not os.path.exists("/proc/%d/comm" % pid) or not self.alive(),
                     5, 0.02, "linuxmain %d to die" % pid)
        return pid

    def stop(self):
        pid = self.pid()
        if pid is not None:
            try:
                os.kill(pid, signal.SIGCONT)
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
