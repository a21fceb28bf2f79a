"""Integration test harness: the real smsguard and smsguardctl, real sockets.

Each suite is a file test_<suite>.py that declares scenarios with @scenario
and ends with harness.main(). Output is TAP: one line per scenario.

    from harness import scenario, main, Daemon
    @scenario("status answers with every documented key")
    def _(ctx):
        d = ctx.daemon()           # a Daemon with a temp dir, config, credentials
        d.start()
        st = d.status()
        ...
    main()

Nothing here sleeps for a fixed time to wait for a result: wait_for() polls
an observable condition until a deadline.
"""

import argparse
import json
import os
import random
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.abspath(os.environ.get("SMSGUARD_SRCDIR", os.path.join(HERE, "..", "..")))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "sim"))
from simctl import free_ports  # noqa: E402

TEST_AK = "HPUATESTAK0123456789"
TEST_SK = "testSecretKey0123456789abcdefghijklmnopq"

_scenarios = []
ARGS = None


class Skip(Exception):
    """Raised by a scenario that cannot run here (reported as TAP SKIP)."""


class Fail(AssertionError):
    pass


def scenario(name):
    def deco(fn):
        _scenarios.append((name, fn))
        return fn
    return deco


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def wait_for(pred, timeout=10.0, interval=0.05, what="condition"):
    """Polls pred() until it returns a true value; returns that value."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:  # the daemon may be mid-restart
            last_exc = e
        if time.monotonic() > deadline:
            extra = f" (last error: {last_exc!r})" if last_exc else ""
            raise Fail(f"timed out after {timeout} s waiting for {what}{extra}")
        time.sleep(interval)


def is_root():
    return os.geteuid() == 0


def isolate_pids(script):
    """Re-runs the calling suite in a private PID namespace (root only).

    Another suite's linuxmain elsewhere on the machine must not look like this
    suite's agent. bash is the namespace's init: it reaps orphans, so a killed
    linuxmain does not stay a zombie that startup.sh takes for a running agent
    (`; exit` keeps bash from exec'ing the suite in its place). Call it first,
    before the suite starts anything.
    """
    if not is_root() or os.environ.get("SMSGUARD_PIDNS") == "1" or not shutil.which("unshare"):
        return
    os.environ["SMSGUARD_PIDNS"] = "1"
    sys.stdout.flush()
    try:
        os.execvp("unshare", ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child",
                              "bash", "-c", '"$0" "$@"; exit $?', sys.executable,
                              os.path.abspath(script), *sys.argv[1:]])
    except OSError:
        pass  # no namespaces here: run as is


def pids_isolated():
    """True inside the private PID namespace of isolate_pids()."""
    return os.environ.get("SMSGUARD_PIDNS") == "1"


def free_port(addr="127.0.0.1"):
    """A port nothing listens on (bound, then released)."""
    return free_ports(1, addr)[0]


def ini(sections):
    """{"cloud": {"endpoint": "…"}} -> INI text. None values are left out."""
    out = []
    for sec, kv in sections.items():
        out.append(f"[{sec}]")
        for k, v in kv.items():
            if v is None:
                continue
            out.append(f"{k} = {v}")
        out.append("")
    return "\n".join(out)


def ctl_raw(path, payload, timeout=5.0, read=True):
    """Sends bytes on the control socket, returns the first reply line (decoded JSON or text)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall(payload)
        if not read:
            return None
        buf = b""
        while b"\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        line = buf.split(b"\n", 1)[0]
        try:
            return json.loads(line)
        except ValueError:
            return line
    finally:
        s.close()


class Daemon:
    """One smsguard process with its own config, credentials, state dir and socket."""

    def __init__(self, ctx, name="d", config=None, env=None):
        self.ctx = ctx
        self.dir = tempfile.mkdtemp(prefix=f"sg{name}-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.socket = os.path.join(self.dir, "ctl.sock")
        self.state_dir = os.path.join(self.dir, "state")
        self.conf = os.path.join(self.dir, "smsguard.conf")
        self.creds = os.path.join(self.dir, "credentials")
        self.log_path = os.path.join(self.dir, "smsguard.log")
        self.proc = None
        # Put before the daemon's command line, e.g. ["ip", "netns", "exec", NAME].
        self.prefix = []
        self.env = dict(os.environ)
        self.env.pop("HUAWEICLOUD_SDK_AK", None)
        self.env.pop("HUAWEICLOUD_SDK_SK", None)
        if env:
            self.env.update(env)
        with open(self.creds, "w") as f:
            f.write(f"ak={TEST_AK}\nsk={TEST_SK}\n")
        os.chmod(self.creds, 0o600)
        self.sections = {
            "daemon": {"state_dir": self.state_dir, "log_level": "debug"},
            # Nothing listens on port 9: the cloud simply stays unreachable
            # unless a suite points this at the simulator.
            "cloud": {"endpoint": "http://127.0.0.1:9", "credentials": self.creds,
                      "timeout": "2s"},
            "task": {"id": "ef3b9722-2d05-4b7f-9b1c-5c5b7d2a0f11", "poll": "1s", "poll_idle": "5s"},
            "target": {"address": "127.0.0.1", "ports": "1", "interval": "100ms",
                       "timeout": "100ms", "fall": 3, "rise": 2},
            "agent": {"restart": "never"},
            "recovery": {"settle": "1s", "backoff": "1s..10s", "confirm": "10s"},
            "ratelimit": {"apply": "off"},
            "control": {"socket": self.socket},
        }
        if config:
            self.update(config)
        ctx.cleanups.append(self.cleanup)

    def update(self, config):
        for sec, kv in config.items():
            if kv is None:
                self.sections.pop(sec, None)
                continue
            self.sections.setdefault(sec, {}).update(kv)

    def write_config(self, text=None):
        with open(self.conf, "w") as f:
            f.write(text if text is not None else ini(self.sections))

    def start(self, wait=True, extra_args=()):
        self.write_config()
        self.logf = open(self.log_path, "ab")
        # SMSGUARD_WRAPPER="valgrind --error-exitcode=99 …" runs the daemon under a checker.
        wrapper = shlex.split(os.environ.get("SMSGUARD_WRAPPER", ""))
        self.proc = subprocess.Popen([*self.prefix, *wrapper, ARGS.smsguard, "-f", self.conf,
                                      *extra_args],
                                     stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT, env=self.env)
        if wait:
            wait_for(lambda: self.alive_or_raise() and os.path.exists(self.socket)
                     and self.try_status() is not None, timeout=15, what="the daemon's socket")
        return self

    def alive_or_raise(self):
        if self.proc.poll() is not None:
            raise Fail(f"smsguard exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
        return True

    def try_status(self):
        try:
            r = ctl_raw(self.socket, b'{"cmd":"status"}\n', timeout=2)
        except OSError:
            return None
        return r if isinstance(r, dict) and r.get("ok") else None

    def request(self, obj, timeout=5.0):
        return ctl_raw(self.socket, (json.dumps(obj) + "\n").encode(), timeout=timeout)

    def status(self):
        r = self.request({"cmd": "status"})
        check(isinstance(r, dict) and r.get("ok"), f"status failed: {r!r}")
        return r

    def ctl(self, *args, timeout=30, user=None):
        cmd = [ARGS.smsguardctl, "-s", self.socket, *args]
        if user is not None:
            import pwd
            pw = pwd.getpwnam(user)
            cmd = ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--init-groups", *cmd]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=self.env)
        return p.returncode, p.stdout, p.stderr

    def ctl_json(self, *args):
        rc, out, err = self.ctl(*args, "--json")
        check(out.strip() != "", f"smsguardctl {' '.join(args)} printed nothing (rc {rc}): {err}")
        return rc, json.loads(out)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def wait_log(self, text, timeout=10):
        return wait_for(lambda: text in self.log(), timeout=timeout, what=f"log line {text!r}")

    def events(self):
        r = self.request({"cmd": "events"})
        check(isinstance(r, dict) and r.get("ok"), f"events failed: {r!r}")
        return r["events"]

    def wait_event(self, etype, timeout=10, since_seq=0):
        return wait_for(lambda: [e for e in self.events()
                                 if e["type"] == etype and e.get("seq", 0) > since_seq],
                        timeout=timeout, what=f"event {etype}")

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=20, expect=0):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Fail(f"smsguard did not stop within {timeout} s:\n{self.log()[-3000:]}")
        self.logf.close()
        if expect is not None:
            check(rc == expect, f"smsguard exited {rc}, expected {expect}:\n{self.log()[-3000:]}")
        self.assert_clean_log()
        return rc

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.logf.close()

    def assert_clean_log(self):
        log = self.log()
        for bad in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                    "still open at exit", "event loop not empty"):
            check(bad not in log, f"smsguard log has {bad!r}:\n{log[-4000:]}")
        for secret in (TEST_SK,):
            check(secret not in log, "a secret reached the log")

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        # SMSGUARD_KEEP=1 keeps the daemon's directory (config, state, log) for a post-mortem.
        if os.environ.get("SMSGUARD_KEEP") == "1":
            print(f"# kept {self.dir}", flush=True)
            return
        shutil.rmtree(self.dir, ignore_errors=True)


class Context:
    def __init__(self):
        self.cleanups = []

    def daemon(self, **kw):
        return Daemon(self, **kw)

    def close(self):
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception:
                traceback.print_exc(file=sys.stderr)
        self.cleanups.clear()


def run_cmd(*cmd, check_rc=True):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if check_rc and p.returncode != 0:
        raise Fail(f"{' '.join(cmd)} failed: {p.stderr.strip()}")
    return p


class NetNS:
    """A target host in its own network namespace, reached over a veth pair.

    The host side gets HOST_IP, the namespace TARGET_IP, both in SUBNET.
    An `unreachable` route for SUBNET (metric 4000) stays on the host for the
    whole test, so nothing can leak out of the machine once the namespace is gone.
    Root only.
    """

    def __init__(self, ctx, name="sgt", subnet_prefix="10.213.77"):
        if not is_root() or shutil.which("ip") is None:
            raise Skip("needs root and iproute2 for a network namespace")
        # Not the pid: inside the suite's own PID namespace every run is pid 2, and a
        # namespace left by a killed run would make the next one fail.
        self.name = f"{name}{random.randrange(1000, 10000)}"
        self.veth_host = f"v{self.name}h"[:15]
        self.veth_ns = f"v{self.name}n"[:15]
        self.subnet = f"{subnet_prefix}.0/30"
        self.host_ip = f"{subnet_prefix}.1"
        self.target_ip = f"{subnet_prefix}.2"
        self.procs = []
        self.nft_table = None
        ctx.cleanups.append(self.cleanup)
        run_cmd("ip", "route", "replace", "unreachable", self.subnet, "metric", "4000")
        run_cmd("ip", "netns", "add", self.name)
        run_cmd("ip", "link", "add", self.veth_host, "type", "veth", "peer", "name", self.veth_ns)
        run_cmd("ip", "link", "set", self.veth_ns, "netns", self.name)
        run_cmd("ip", "addr", "add", f"{self.host_ip}/30", "dev", self.veth_host)
        run_cmd("ip", "link", "set", self.veth_host, "up")
        self.exec("ip", "addr", "add", f"{self.target_ip}/30", "dev", self.veth_ns)
        self.exec("ip", "link", "set", self.veth_ns, "up")
        self.exec("ip", "link", "set", "lo", "up")

    def exec(self, *cmd, check_rc=True):
        return run_cmd("ip", "netns", "exec", self.name, *cmd, check_rc=check_rc)

    def popen(self, *cmd, **kw):
        p = subprocess.Popen(["ip", "netns", "exec", self.name, *cmd], **kw)
        self.procs.append(p)
        return p

    def _load(self, ruleset):
        """nft takes a multi-line ruleset on stdin (the one-line form needs ';' everywhere)."""
        p = subprocess.run(["ip", "netns", "exec", self.name, "nft", "-f", "-"], input=ruleset,
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise Fail(f"nft: {p.stderr.strip()}")
        self.nft_table = "sgtest"

    def drop(self, ports=None):
        """Silently drops (no RST) traffic to the target's ports, inside the namespace."""
        self.clear_rules()
        match = (f"tcp dport {{ {', '.join(str(p) for p in ports)} }}" if ports
                 else f"ip saddr {self.host_ip}")
        self._load(f"table inet sgtest {{\n chain input {{\n  type filter hook input priority 0;\n"
                   f"  {match} drop\n }}\n}}\n")

    def reject(self, ports):
        self.clear_rules()
        plist = ", ".join(str(p) for p in ports)
        self._load(f"table inet sgtest {{\n chain input {{\n  type filter hook input priority 0;\n"
                   f"  tcp dport {{ {plist} }} reject with tcp reset\n }}\n}}\n")

    def clear_rules(self):
        if self.nft_table:
            self.exec("nft", "delete", "table", "inet", self.nft_table, check_rc=False)
            self.nft_table = None

    def cleanup(self):
        # Clients first: once the namespace is gone its addresses would route out.
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        run_cmd("ip", "netns", "del", self.name, check_rc=False)
        run_cmd("ip", "link", "del", self.veth_host, check_rc=False)
        # The unreachable route stays until the namespace is surely gone.
        run_cmd("ip", "route", "del", "unreachable", self.subnet, "metric", "4000", check_rc=False)


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--smsguard", required=True)
    ap.add_argument("--smsguardctl", required=True)
    ap.add_argument("--only", help="run only scenarios whose name contains this")
    ARGS = ap.parse_args()
    chosen = [(n, f) for n, f in _scenarios if not ARGS.only or ARGS.only in n]
    print(f"1..{len(chosen)}", flush=True)
    failed = 0
    for i, (name, fn) in enumerate(chosen, 1):
        ctx = Context()
        t0 = time.monotonic()
        try:
            fn(ctx)
            print(f"ok {i} - {name} ({time.monotonic() - t0:.1f} s)", flush=True)
        except Skip as e:
            print(f"ok {i} - {name} # SKIP {e}", flush=True)
        except Exception as e:
            failed += 1
            print(f"not ok {i} - {name}", flush=True)
            for line in (f"{type(e).__name__}: {e}\n" + traceback.format_exc()).splitlines():
                print(f"# {line}", flush=True)
        finally:
            ctx.close()
    sys.exit(1 if failed else 0)
