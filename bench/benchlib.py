"""Shared pieces of `make bench` and `make soak` (bench/README.md).

The processes under test are the integration harness's (tests/integration/harness.py: Daemon,
NetNS) and the simulator's (tests/sim/simctl.py: Sim, FakeTarget, FakeAgent); this adds what
only the benchmarks need: a process's memory, CPU and descriptors from /proc, monit, the
machine line, statistics, and the generated sections of bench/RESULTS.md.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRCDIR, "tests", "sim"))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "integration"))
import harness  # noqa: E402
import simctl  # noqa: E402

AK, SK = harness.TEST_AK, harness.TEST_SK
NETWORK_CODES = ("SMS.0807", "SMS.1807", "SMS.2802", "SMS.3802", "SMS.3805", "SMS.3806",
                 "SMS.2805", "SMS.2806")
# DESIGN.md §4's example schedule: a realistic [ratelimit] for the steady-state request count.
SCHEDULE = "Mon-Fri 08:00-18:00 50, Mon-Fri 18:00-08:00 0, Sat-Sun 00:00-24:00 0"


def log(msg):
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


def common_args(ap):
    ap.add_argument("--smsguard", required=True)
    ap.add_argument("--smsguardctl", required=True)
    ap.add_argument("--json", help="write the result here as JSON")
    return ap


def setup(args):
    """The harness reads the binaries from its ARGS."""
    harness.ARGS = argparse.Namespace(smsguard=os.path.abspath(args.smsguard),
                                      smsguardctl=os.path.abspath(args.smsguardctl))


def emit(args, result):
    text = json.dumps(result, indent=1)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    else:
        print(text)


def is_root():
    return os.geteuid() == 0


def other_agents():
    """pids of processes named linuxmain visible here (another suite's fake agent)."""
    found = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/comm") as f:
                    if f.read().strip() == "linuxmain":
                        found.append(int(d))
            except OSError:
                pass
    return found


# -- one process, from /proc -------------------------------------------------------------------

def _kib(v):
    return int(v.split()[0])


def memory(pid):
    """KiB: rss, anon (RssAnon), hwm (peak RSS); pss and uss (private) from smaps_rollup."""
    m = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k == "VmRSS":
                m["rss"] = _kib(v)
            elif k == "RssAnon":
                m["anon"] = _kib(v)
            elif k == "VmHWM":
                m["hwm"] = _kib(v)
            elif k == "Threads":
                m["threads"] = int(v)
    m["pss"] = m["uss"] = None
    try:
        # smsguard makes itself non-dumpable (no secrets in core dumps), which leaves its
        # smaps_rollup to root alone.
        with open(f"/proc/{pid}/smaps_rollup") as f:
            m["uss"] = 0
            for line in f:
                k, _, v = line.partition(":")
                if k == "Pss":
                    m["pss"] = _kib(v)
                elif k in ("Private_Clean", "Private_Dirty", "Private_Hugetlb"):
                    m["uss"] += _kib(v)
    except PermissionError:
        pass
    return m


def cpu_seconds(pid):
    """CPU time of pid itself (not of its children), in seconds.

    The scheduler's own count (schedstat, nanoseconds, summed over the live threads) where
    the kernel has it: utime + stime in clock ticks are too coarse for a daemon that uses a
    few milliseconds a minute.
    """
    try:
        ns = 0
        for t in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                ns += int(f.read().split()[0])
        return ns / 1e9
    except (OSError, ValueError, IndexError):  # no schedstat, or not ours to read
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descriptors(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


# -- statistics ----------------------------------------------------------------------------------

def percentile(values, p):
    """Nearest rank; None for no values."""
    if not values:
        return None
    v = sorted(values)
    k = max(1, -(-len(v) * p // 100))
    return v[int(k) - 1]


def median(values):
    return percentile(values, 50)


def slope(xs, ys):
    """Least-squares slope of ys over xs (0 for fewer than two points)."""
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx


def fmt_s(v):
    return "—" if v is None else f"{v:.2f} s"


def fmt_ms(v):
    return "—" if v is None else f"{v:.2f} ms"


def min_med_max(values, fmt=fmt_s):
    if not values:
        return "—"
    return f"{fmt(min(values))} / {fmt(median(values))} / {fmt(max(values))}"


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        out.append("| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |")
    return "\n".join(out)


# -- the machine and RESULTS.md -----------------------------------------------------------------

def machine():
    u = os.uname()
    try:
        commit = subprocess.run(["git", "-C", SRCDIR, "rev-parse", "--short=12", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", SRCDIR, "diff", "--quiet", "HEAD", "--"],
                               capture_output=True).returncode != 0
        commit += " (with uncommitted changes)" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown (not a git checkout)"
    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "uname": f"{u.sysname} {u.release} {u.machine}",
            "nproc": len(os.sched_getaffinity(0)),
            "cpu": _cpu_model(), "commit": commit, "python": platform.python_version()}


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_line(m):
    return (f"{m['date']} · `{m['uname']}` · nproc {m['nproc']} · {m['cpu']} · "
            f"commit {m['commit']}")


SECTIONS = (
    ("bench", "Benchmarks", "Generated by `make bench` (bench/run.py).", None),
    ("soak", "Soak", "Generated by `make soak` (bench/soak.py).", None),
    ("faults", "Fault matrix",
     "Pasted from the fault-matrix suite (tests/integration) as it runs in `make check`.",
     "**Placeholder:** the fault-matrix table goes here — one row per scenario (the issue's "
     "list), pass / fail / skipped (with why), the date and the machine."),
    ("fuzz", "Fuzzing", "Pasted from `make fuzz`.",
     "**Placeholder:** the fuzz table goes here — one row per libFuzzer target: executions, "
     "coverage (edges / features), crashes (0 expected in ≥ 1,000,000 executions), the date "
     "and the machine."),
)
PENDING = "**Placeholder:** not generated yet."


def _marks(name):
    return f"<!-- {name}: begin -->", f"<!-- {name}: end -->"


def results_skeleton():
    out = ["# smsguard: results", "",
           "Evidence for issue 14, rerunnable by anyone. `make bench` and `make soak` rewrite "
           "their own sections below, each with its date, machine and commit (bench/README.md); "
           "the fault matrix and the fuzz counts are pasted from their suites between their "
           "markers. Text outside the marked sections is kept.", ""]
    for name, title, how, placeholder in SECTIONS:
        begin, end = _marks(name)
        out += [f"## {title}", "", f"_{how}_", "", begin, placeholder or PENDING, end, ""]
    return "\n".join(out)


def update_results(path, name, body):
    """Replaces section name's text between its markers (adding the section when missing)."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        text = results_skeleton()
    begin, end = _marks(name)
    if begin not in text or end not in text:
        title = next((t for n, t, _, _ in SECTIONS if n == name), name)
        text = text.rstrip("\n") + f"\n\n## {title}\n\n{begin}\n{PENDING}\n{end}\n"
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    text = f"{head}{begin}\n{body.strip()}\n{end}{tail}"
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


# -- monit --------------------------------------------------------------------------------------

class Monit:
    """Debian's monit in the foreground (-I) with its own control file, state and socket.

    checks: monitrc text after the `set` lines. `monit summary` and the other commands reach
    it over a unix socket (httpd unixsocket), as they do on a host.
    """

    USER, PASSWORD = "bench", "bench-monit-pw"

    def __init__(self, tmpdir, cycle, checks):
        self.dir = os.path.join(tmpdir, "monit")
        os.makedirs(self.dir, exist_ok=True)
        self.rc = os.path.join(self.dir, "monitrc")
        self.socket = os.path.join(self.dir, "monit.sock")
        with open(self.rc, "w") as f:
            f.write(f"set daemon {cycle}\n"
                    f"set logfile {self.dir}/monit.log\n"
                    f"set idfile {self.dir}/monit.id\n"
                    f"set statefile {self.dir}/monit.state\n"
                    f"set pidfile {self.dir}/monit.pid\n"
                    f"set httpd unixsocket {self.socket}\n"
                    f"  allow {self.USER}:{self.PASSWORD}\n"
                    f"{checks}")
        os.chmod(self.rc, 0o600)
        self.proc = None

    @staticmethod
    def binary():
        return shutil.which("monit")

    @staticmethod
    def version():
        p = subprocess.run(["monit", "-V"], capture_output=True, text=True)
        m = re.search(r"version ([0-9.]+)", p.stdout)
        return m.group(1) if m else "unknown"

    def start(self):
        self.proc = subprocess.Popen(["monit", "-I", "-c", self.rc], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        harness.wait_for(lambda: os.path.exists(self.socket) and self.cli("summary")[0] == 0,
                         timeout=20, what="monit's socket")
        return self

    def cli(self, *args):
        p = subprocess.run(["monit", "-c", self.rc, *args], capture_output=True, text=True,
                           timeout=30)
        return p.returncode, p.stdout + p.stderr

    def summary_request(self):
        """What `monit summary` sends (a POST with its CSRF token in a cookie and the body)."""
        import base64
        auth = base64.b64encode(f"{self.USER}:{self.PASSWORD}".encode()).decode()
        body = "format=text&securitytoken=b3e1f0c2d4a59687a1b2c3d4e5f60718"
        return ("POST /_summary HTTP/1.0\\r\\n"
                "Content-Type: application/x-www-form-urlencoded\\r\\n"
                "Cookie: securitytoken=b3e1f0c2d4a59687a1b2c3d4e5f60718\\r\\n"
                f"Content-Length: {len(body)}\\r\\nAuthorization: Basic {auth}\\r\\n\\r\\n{body}")

    def log(self):
        try:
            with open(os.path.join(self.dir, "monit.log")) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def marker_script(tmpdir, name, exec_after=None):
    """A script that appends "<label> <unix time>" to a file, then execs a command if given.

    Both smsguard's restart command and monit's start program / exec action go through one,
    so each side's reaction is timed at the same point: the moment its command starts.
    """
    path = os.path.join(tmpdir, f"{name}.sh")
    out = os.path.join(tmpdir, f"{name}.times")
    tail = f'exec {exec_after}\n' if exec_after else ""
    with open(path, "w") as f:
        f.write(f'#!/bin/sh\necho "${{1:-mark}} $(/bin/date +%s.%N)" >> {out}\n{tail}')
    os.chmod(path, 0o755)
    return path, out


def read_marks(path, label=None, since=0.0):
    """Times from a marker file, with that label, at or after since."""
    try:
        with open(path) as f:
            lines = f.read().split("\n")
    except OSError:
        return []
    out = []
    for line in lines:
        parts = line.split()
        if len(parts) == 2 and (label is None or parts[0] == label):
            t = float(parts[1])
            if t >= since:
                out.append(t)
    return out


def run_ctlload(binary, socket_path, request, clients, rounds, oktext, to_eof=False, out=None):
    cmd = [binary, "-s", socket_path, "-r", request, "-c", str(clients), "-n", str(rounds),
           "-k", oktext] + (["-e"] if to_eof else []) + (["-o", out] if out else [])
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise RuntimeError(f"ctlload failed: {p.stderr.strip()}")
    return {k: float(v) for k, v in (kv.split("=") for kv in p.stdout.split())}
