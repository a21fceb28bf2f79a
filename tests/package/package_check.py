#!/usr/bin/env python3
"""make package-check: the .deb on a real systemd, TAP.

    package_check.py --dist DIR [--srcdir DIR] [--timeout SECONDS]

Boots the host's own systemd with systemd-nspawn in a container whose root is
a throwaway overlay of / (nspawn --volatile=overlay over a bind mount of /,
the upper layer in memory; up to basic.target, so that the host's own enabled
services stay off), installs the package there and drives it as a person
would: the unconfigured unit refuses to start and says why; with a
configuration pointing at smssim (tests/sim, run inside the container on its
own loopback) it starts, smsguard restarts the fake SMS-Agent, and
smsguardctl answers over the socket, for root and for a member of the
[control] group (who may not pause); reload, restart, an upgrade that keeps
the changed configuration, stop and purge follow.

Nothing reaches the host: everything runs in private mount and PID
namespaces (the container's /tmp, /run and share directory are tmpfs there),
the container has its own network namespace, and the cgroups nspawn makes
live in a box of their own that is removed at the end. The last case checks
that the host's mounts, cgroups and /run are as they were. Killing this
script kills the whole tree (the namespaces die with it); the empty cgroup
box a SIGKILL leaves is removed by the next run.

Needs root, systemd-nspawn (systemd-container), unshare and nsenter
(util-linux), dpkg and lintian. Without root or nspawn it prints a TAP skip.
"""

import argparse
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
TAG = "smsguard-pkgcheck"
SHARE = "/pkgcheck"  # the share directory, inside the container
TASK_ID = "3c1f6a2e-9b7d-4e5a-8c0f-2d4b6e8a1c3f"
AK = "HPUAPKGCHECKAK0123456"
SK = "pkgcheckSecretKey0123456789abcdefghijklm"
SIM_PORT = 8443  # on the container's own loopback
TARGET_PORT = 2222
GROUP, MEMBER, OTHER = "sgread", "sgreader", "sgother"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

CASES = [
    "lintian reports no error and no warning for the package and its source",
    "systemd boots in a container over a throwaway overlay of /",
    "dpkg installs the package: 0600 credentials, the unit neither enabled nor started",
    "systemd-analyze verify prints nothing for the installed unit",
    "the unconfigured unit refuses to start, says why, and is not restarted (exit 78)",
    "configured for smssim, the unit is active once READY=1 arrived, and smsguard starts "
    "the dead SMS-Agent inside it",
    "smsguardctl status over the socket: the task from smssim, the target up, the agent "
    "running, exit 0",
    "a member of the [control] group reads the status but may not pause; others cannot "
    "connect",
    "systemctl reload applies a changed configuration in the same process; a broken one "
    "fails the reload and is not applied",
    "systemctl restart gives a new daemon and leaves the agent it started running "
    "(KillMode=process)",
    "an upgrade keeps the changed configuration and credentials and restarts the daemon",
    "systemctl stop ends the daemon and removes its socket; the agent keeps running",
    "dpkg --purge stops the daemon and removes the package, its configuration, its state "
    "and its unit",
    "the host is as it was: no mount, cgroup or runtime file left behind",
]


class Fail(AssertionError):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def log(msg):
    for line in str(msg).rstrip().splitlines():
        print(f"# {line}", flush=True)


# ------------------------------------------------------------------ the host side


def cgroup_boxes():
    """The hierarchies nspawn makes cgroups in (name=systemd and unified, or a pure v2 tree),
    each as the directory of this process's cgroup there."""
    mounts, out = {}, []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            fstype, opts = fields[sep + 1], fields[-1]
            if fstype == "cgroup2":
                mounts[""] = fields[4]
            elif fstype == "cgroup" and "name=systemd" in opts.split(","):
                mounts["name=systemd"] = fields[4]
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctrl, path = line.rstrip("\n").split(":", 2)
            if ctrl in mounts:
                out.append(os.path.normpath(mounts[ctrl] + "/" + path))
    return out


def rm_cgroup(path, timeout=10):
    """rmdir a cgroup and its children, deepest first; True when it is gone. Processes of a
    namespace that was just killed may still be leaving it: try again for a while."""
    deadline = time.monotonic() + timeout
    while os.path.isdir(path):
        for root, dirs, _ in os.walk(path, topdown=False):
            for d in dirs:
                try:
                    os.rmdir(os.path.join(root, d))
                except OSError:
                    pass
        try:
            os.rmdir(path)
        except OSError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)
    return True


def host_snapshot():
    """What a run could leave on the host. Other tests may mount and unmount (network
    namespaces) meanwhile: only what names this check or nspawn is looked at."""
    with open("/proc/self/mountinfo") as f:
        mounts = sorted(l.strip() for l in f if TAG in l or "pkgcheck" in l or "nspawn" in l)
    cgroups = []
    for base in cgroup_boxes():
        for name in os.listdir(base):
            if name.startswith(TAG) or name in ("payload", "supervisor"):
                cgroups.append(os.path.join(base, name))
    return {
        "mounts": mounts,
        "cgroups": sorted(cgroups),
        "/run/systemd/nspawn": os.path.exists("/run/systemd/nspawn"),
        "/tmp/nspawn-volatile-*": sorted(glob.glob("/tmp/nspawn-volatile-*")),
        "/etc/smsguard": os.path.exists("/etc/smsguard"),
        "dpkg smsguard": subprocess.run(["dpkg-query", "-W", "-f=${Status}", "smsguard"],
                                        capture_output=True, text=True).stdout,
    }


def find_debs(dist):
    debs = sorted(glob.glob(os.path.join(dist, "smsguard_*.deb")), key=os.path.getmtime)
    return debs[-1] if debs else None


def outer(args):
    missing = [t for t in ("systemd-nspawn", "unshare", "nsenter", "dpkg-deb", "lintian")
               if shutil.which(t) is None]
    if os.geteuid() != 0:
        print("1..0 # SKIP package-check needs root (systemd-nspawn, namespaces)")
        return 0
    if missing:
        print(f"1..0 # SKIP not installed: {', '.join(missing)} (make deps installs them)")
        return 0
    deb = find_debs(args.dist)
    print(f"1..{len(CASES)}", flush=True)
    if deb is None:
        print(f"not ok 1 - {CASES[0]}")
        log(f"no smsguard_*.deb in {args.dist}: run make deb (make package-check does)")
        for i in range(2, len(CASES) + 1):
            print(f"not ok {i} - {CASES[i - 1]} # not run: no package")
        return 1
    log(f"package: {deb}")

    # Leftovers of an earlier run that was killed: its empty boxes, nothing else.
    for base in cgroup_boxes():
        for old in glob.glob(os.path.join(base, TAG + "-*")):
            if not os.path.exists("/proc/" + old.rsplit("-", 1)[1]):
                rm_cgroup(old)
    before = host_snapshot()
    boxes = [os.path.join(base, f"{TAG}-{os.getpid()}") for base in cgroup_boxes()]
    for b in boxes:
        os.mkdir(b)

    # A TERM or an INT (make interrupted) cleans up as an ending does.
    for signo in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signo, lambda signo, frame: sys.exit(128 + signo))
    seen, failed = set(), False
    try:
        failed = run_inner(args, deb, boxes, seen)
    finally:
        # The namespaces are gone with their processes; their cgroups may take a moment.
        problems = [f"cgroup {b} could not be removed" for b in boxes if not rm_cgroup(b)]
    for i in range(1, len(CASES)):
        if i not in seen:
            failed = True
            print(f"not ok {i} - {CASES[i - 1]} # not run (the check stopped early)")
    after = host_snapshot()
    for key in before:
        if before[key] != after[key]:
            problems.append(f"{key}: {before[key]!r} -> {after[key]!r}")
    n = len(CASES)
    if problems:
        print(f"not ok {n} - {CASES[n - 1]}")
        for p in problems:
            log(p)
        return 1
    print(f"ok {n} - {CASES[n - 1]}")
    return 1 if failed else 0


def run_inner(args, deb, boxes, seen):
    """Runs the container part in new mount and PID namespaces, relaying its TAP lines;
    True when a case failed. Killing unshare (--kill-child) takes the namespaces down."""
    failed = False
    cmd = ["unshare", "--mount", "--propagation", "private", "--pid", "--fork",
           "--kill-child", "--mount-proc",
           # bash is the namespace's init: it reaps what nsenter leaves behind.
           "bash", "-c", '"$0" "$@"; exit $?', sys.executable, os.path.abspath(__file__),
           "--inner", "--dist", args.dist, "--srcdir", args.srcdir, "--deb", deb,
           "--boxes", ",".join(boxes)]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, bufsize=1)
    expired = []

    def on_alarm(signo, frame):
        expired.append(True)
        proc.kill()
    try:
        signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(args.timeout)
        for line in proc.stdout:
            m = re.match(r"(not )?ok (\d+) ", line)
            if m:
                seen.add(int(m.group(2)))
                failed |= bool(m.group(1))
            sys.stdout.write(line)
            sys.stdout.flush()
        proc.wait()
    finally:
        signal.alarm(0)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if expired:
        log(f"timed out after {args.timeout} s: the container was killed")
    log(f"the container part took {time.monotonic() - start:.0f} s")
    return failed


# ------------------------------------------------------------------ inside the namespaces


class Container:
    """A booted systemd in a container; commands run in it through nsenter."""

    def __init__(self, root, share, boxes, console):
        self.root, self.share, self.boxes, self.console = root, share, boxes, console
        self.nspawn = None
        self.leader = None

    def boot(self, timeout=120):
        # The wrapper puts nspawn (and so the container) into the boxes first.
        enter = "".join(f'echo $$ > "{b}/cgroup.procs" && ' for b in self.boxes)
        argv = ["systemd-nspawn", "--quiet", "--directory", self.root, "--volatile=overlay",
                "--register=no", "--keep-unit", "--link-journal=no", "--private-network",
                "--machine", f"{TAG}-{os.getpid()}", "--console=read-only",
                "--bind", f"{self.share}:{SHARE}",
                "--boot", "--",
                # The host's own enabled services stay off: basic.target is enough.
                "systemd.unit=basic.target", "systemd.show_status=false"]
        out = open(self.console, "w")
        self.nspawn = subprocess.Popen(["sh", "-c", enter + 'exec "$@"', "sh", *argv],
                                       stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        deadline = time.monotonic() + timeout
        while self.leader is None:
            check(self.nspawn.poll() is None, f"systemd-nspawn exited {self.nspawn.returncode}: "
                  + self.console_tail())
            check(time.monotonic() < deadline, "no container init appeared")
            self.leader = self._child("systemd")
            time.sleep(0.1)
        while True:
            p = self.run(["systemctl", "is-system-running", "--wait"], timeout=timeout, ok=None)
            state = p.stdout.strip()
            if state in ("running", "degraded"):
                return state
            check(time.monotonic() < deadline, f"system state {state!r}: "
                  + self.console_tail())
            time.sleep(0.2)

    def _child(self, comm):
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            name = stat[stat.index("(") + 1:stat.rindex(")")]
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            if ppid == self.nspawn.pid and name == comm:
                return int(d)
        return None

    def console_tail(self, n=30):
        try:
            with open(self.console, errors="replace") as f:
                return "\n".join(f.read().splitlines()[-n:])
        except OSError:
            return ""

    def run(self, argv, input=None, timeout=60, ok=True, user=None):
        """Runs argv in the container as root (or user); ok=True: it must exit 0."""
        if user is not None:
            argv = ["runuser", "-u", user, "--"] + argv
        cmd = ["nsenter", "-t", str(self.leader), "-a", "-r", "-w",
               "env", "-i", f"PATH={PATH}", "LANG=C.UTF-8", "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0"]
        p = subprocess.run(cmd + argv, input=input, capture_output=True, text=True,
                           timeout=timeout)
        if ok and p.returncode != 0:
            raise Fail(f"{' '.join(argv)}: exit {p.returncode}\n{p.stdout}{p.stderr}")
        return p

    def sh(self, script, **kw):
        return self.run(["sh", "-ec", script], **kw)

    def show(self, unit, *props):
        p = self.run(["systemctl", "show", unit] + [f"--property={x}" for x in props])
        return dict(l.split("=", 1) for l in p.stdout.splitlines() if "=" in l)

    def poweroff(self):
        if self.nspawn is None or self.nspawn.poll() is not None:
            return
        self.nspawn.terminate()  # nspawn asks the container's systemd to halt
        try:
            self.nspawn.wait(60)
        except subprocess.TimeoutExpired:
            self.nspawn.kill()
            self.nspawn.wait()


def wait_for(pred, timeout, what, interval=0.2):
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:  # the daemon may be between two states
            last = e
        if time.monotonic() > deadline:
            raise Fail(f"timed out after {timeout} s waiting for {what}"
                       + (f" (last: {last})" if last else ""))
        time.sleep(interval)


class Check:
    def __init__(self, args):
        self.args = args
        self.work = "/run/pkgcheck"
        self.share = os.path.join(self.work, "share")
        self.dist = os.path.join(self.work, "dist")
        self.deb = None
        self.c = None
        self.version = None
        self.agent_pid = None

    # -- preparation, in the private mount namespace

    def prepare(self):
        # Private tmpfs over /run, then over /tmp: nspawn's own scratch files go there. What
        # the container needs is copied first, as the package or the tree may be under /tmp.
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", TAG, "/run"], check=True)
        os.makedirs(self.share)
        os.makedirs(self.dist)
        self.version = subprocess.run(
            ["dpkg-deb", "-f", self.args.deb, "Version"], capture_output=True, text=True,
            check=True).stdout.strip()
        # The package and what lintian reads with its .changes.
        for f in glob.glob(os.path.join(self.args.dist, f"smsguard*_{self.version}*")) + \
                glob.glob(os.path.join(self.args.dist, "smsguard_*.orig.tar.*")):
            shutil.copy(f, self.dist)
        self.deb = shutil.copy(self.args.deb, self.dist)
        shutil.copy(self.deb, os.path.join(self.share, "smsguard.deb"))
        self.make_upgrade()
        shutil.copytree(os.path.join(self.args.srcdir, "tests", "sim"),
                        os.path.join(self.share, "sim"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        subprocess.run([sys.executable, os.path.join(self.share, "sim", "smssim.py"),
                        "--gen-certs", "--tls-dir", os.path.join(self.share, "tls")],
                       check=True, capture_output=True)
        self.write_files()
        # The tree may be under /tmp (a clone there): leave it before it is hidden, so that
        # nothing run from here (lintian) starts in a directory that no longer exists.
        os.chdir("/")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=1777", TAG, "/tmp"], check=True)
        root = os.path.join(self.work, "root")
        os.makedirs(root)
        subprocess.run(["mount", "--bind", "/", root], check=True)
        self.c = Container(root, self.share, self.args.boxes.split(","),
                           os.path.join(self.work, "console.log"))

    def make_upgrade(self):
        """The same package as a newer version: what an upgrade installs."""
        tree = os.path.join(self.work, "upgrade")
        subprocess.run(["dpkg-deb", "-R", self.deb, tree], check=True)
        control = os.path.join(tree, "DEBIAN", "control")
        with open(control) as f:
            text = f.read()
        text = re.sub(r"^Version: .*$", f"Version: {self.version}+pkgcheck1", text,
                      flags=re.M)
        with open(control, "w") as f:
            f.write(text)
        subprocess.run(["dpkg-deb", "--root-owner-group", "-b", tree,
                        os.path.join(self.share, "smsguard-upgrade.deb")],
                       check=True, capture_output=True)

    def write_files(self):
        tasks = {"tasks": [{
            "id": TASK_ID, "name": "pkgcheck", "type": "MIGRATE_FILE", "os_type": "LINUX",
            "state": "RUNNING", "migration_ip": "127.0.0.1", "port_map": {"22": TARGET_PORT},
            "simulate": False,
            "source_server": {"id": "5a0c3e1b-7d2f-4c6a-9e8b-1f3d5a7c9e0b",
                              "ip": "127.0.0.1", "name": "pkgcheck"}}]}
        files = {
            "tasks.json": json.dumps(tasks),
            "smsguard.conf": (
                "[cloud]\n"
                f"endpoint = https://127.0.0.1:{SIM_PORT}\n"
                f"ca_file = {SHARE}/tls/ca.crt\n"
                "timeout = 5s\n"
                "[task]\n"
                f"id = {TASK_ID}\n"
                "poll = 2s\n"
                "poll_idle = 5s\n"
                "[target]\n"
                f"ports = {TARGET_PORT}\n"
                "interval = 500ms\n"
                "timeout = 500ms\n"
                "[agent]\n"
                "home = /opt/SMS-Agent\n"
                "[recovery]\n"
                "budget = 6/1h\n"
                "[control]\n"
                f"group = {GROUP}\n"),
            "credentials": f"ak={AK}\nsk={SK}\n",
            "sim.cfg": (f"scheme=https\nport={SIM_PORT}\nca_file={SHARE}/tls/ca.crt\n"
                        f"orphan_timeout=120\nheartbeat_interval=0.5\ntask_id={TASK_ID}\n"),
        }
        for name, text in files.items():
            with open(os.path.join(self.share, name), "w") as f:
                f.write(text)

    # -- helpers

    def status(self, user=None):
        p = self.c.run(["smsguardctl", "status", "--json"], ok=None, user=user)
        try:
            st = json.loads(p.stdout)
        except ValueError:
            raise Fail(f"status --json: exit {p.returncode}: {p.stdout}{p.stderr}")
        return p.returncode, st

    def diagnose(self):
        if self.c is None or self.c.leader is None:
            return
        for argv in (["systemctl", "status", "smsguard", "--no-pager", "--lines=0"],
                     ["journalctl", "-u", "smsguard", "--no-pager", "-o", "cat", "-n", "25"]):
            try:
                p = self.c.run(argv, ok=None, timeout=20)
                log(p.stdout + p.stderr)
            except Exception as e:
                log(f"{argv[0]}: {e}")

    def main_pid(self):
        return int(self.c.show("smsguard", "MainPID")["MainPID"])

    # -- the cases, in order; each leaves the container as the next expects it

    def t_lintian(self):
        targets = glob.glob(os.path.join(self.dist, f"smsguard_{self.version}_*.changes")) or \
            [self.deb]
        p = subprocess.run(["lintian", "--fail-on", "error,warning", "--display-info",
                            "--pedantic"] + targets, capture_output=True, text=True,
                           timeout=300)
        notes = [l for l in p.stdout.splitlines() if l[:2] in ("I:", "P:")]
        log(f"lintian {', '.join(os.path.basename(t) for t in targets)}: "
            f"{len(notes)} informational or pedantic note(s)")
        check(p.returncode == 0, f"lintian exit {p.returncode}:\n{p.stdout}{p.stderr}")

    def t_boot(self):
        state = self.c.boot()
        log(f"container system state: {state}")

    def t_install(self):
        # A host built for containers may forbid starting services from maintainer scripts
        # (policy-rc.d); then the package itself must be what keeps the daemon stopped.
        self.c.sh("rm -f /usr/sbin/policy-rc.d")
        p = self.c.run(["dpkg", "-i", f"{SHARE}/smsguard.deb"], timeout=120)
        out = (p.stdout + p.stderr).strip()
        check("smsguard.service is a disabled or a static unit" in out and "not starting it"
              in out, f"dpkg -i said:\n{out}")
        log(out.splitlines()[-1])
        p = self.c.run(["systemctl", "is-enabled", "smsguard"], ok=None)
        check(p.stdout.strip() == "disabled", f"is-enabled: {p.stdout.strip()!r}")
        p = self.c.run(["systemctl", "is-active", "smsguard"], ok=None)
        check(p.stdout.strip() == "inactive", f"is-active: {p.stdout.strip()!r}")
        p = self.c.sh("stat -c '%a %U:%G %n' /etc/smsguard/credentials "
                      "/etc/smsguard/smsguard.conf /usr/sbin/smsguard /usr/bin/smsguardctl")
        want = ["600 root:root /etc/smsguard/credentials",
                "644 root:root /etc/smsguard/smsguard.conf",
                "755 root:root /usr/sbin/smsguard", "755 root:root /usr/bin/smsguardctl"]
        check(p.stdout.split("\n")[:4] == want, f"files: {p.stdout!r}")
        p = self.c.run(["dpkg-query", "--control-show", "smsguard", "conffiles"])
        check(sorted(p.stdout.split()) == ["/etc/smsguard/credentials",
                                           "/etc/smsguard/smsguard.conf"],
              f"conffiles: {p.stdout!r}")

    def t_verify(self):
        p = self.c.run(["systemd-analyze", "verify", "smsguard.service"], ok=None)
        out = (p.stdout + p.stderr).strip()
        check(p.returncode == 0 and out == "", f"exit {p.returncode}: {out}")

    def t_unconfigured(self):
        p = self.c.run(["systemctl", "start", "smsguard"], ok=None, timeout=120)
        check(p.returncode != 0, "systemctl start succeeded with the installed configuration")
        props = self.c.show("smsguard", "ActiveState", "SubState", "Result", "ExecMainStatus",
                            "NRestarts")
        # failed, not activating/auto-restart: no restart is scheduled.
        check(props["ActiveState"] == "failed" and props["Result"] == "exit-code" and
              props["ExecMainStatus"] == "78" and props["NRestarts"] == "0", f"{props}")
        p = self.c.run(["systemctl", "status", "smsguard", "--no-pager", "--lines=5"], ok=None)
        why = "credentials: /etc/smsguard/credentials (the default): missing ak"
        check(why in p.stdout and "status=78/CONFIG" in p.stdout,
              f"systemctl status does not say why:\n{p.stdout}")
        log(next(l.strip() for l in p.stdout.splitlines() if why in l))
        self.c.run(["systemctl", "reset-failed", "smsguard"])

    def t_start(self):
        c = self.c
        c.sh(f"groupadd {GROUP}; useradd -M -N -G {GROUP} {MEMBER}; useradd -M -N {OTHER}")
        c.sh(f"cp {SHARE}/smsguard.conf /etc/smsguard/smsguard.conf; "
             f"cat {SHARE}/credentials > /etc/smsguard/credentials")
        # SMS-Agent (the fake one) installed but not running: smsguard must start it.
        c.sh(f"cp -R {SHARE}/sim/fakeagent /opt/SMS-Agent; chmod -R go-w /opt/SMS-Agent; "
             f"cp {SHARE}/sim.cfg /opt/SMS-Agent/agent/config/sim.cfg")
        c.run(["systemd-run", "--unit=pkgcheck-smssim", "--property=Type=exec",
               "python3", f"{SHARE}/sim/smssim.py", "--listen", "127.0.0.1",
               "--port", str(SIM_PORT), "--tls-dir", f"{SHARE}/tls", "--ak", AK, "--sk", SK,
               "--task-file", f"{SHARE}/tasks.json"])
        c.run(["systemd-run", "--unit=pkgcheck-target", "--property=Type=exec",
               "python3", f"{SHARE}/sim/faketarget.py", "--listen", "127.0.0.1",
               "--ports", str(TARGET_PORT)])
        probe = ("import socket,sys\n"
                 "for p in sys.argv[1:]: socket.create_connection(('127.0.0.1', int(p)), 1)\n")
        wait_for(lambda: c.run(["python3", "-c", probe, str(SIM_PORT), str(TARGET_PORT)],
                               ok=None).returncode == 0, 30, "smssim and the fake target")
        c.run(["smsguard", "-n"])
        # Type=notify: start returns once READY=1 has arrived (or the daemon failed).
        c.run(["systemctl", "start", "smsguard"], timeout=120)
        props = c.show("smsguard", "ActiveState", "SubState", "StatusText")
        check(props["ActiveState"] == "active" and props["SubState"] == "running" and
              props["StatusText"] == f"watching task {TASK_ID}", f"{props}")

        def agent_running():
            _, st = self.status()
            return st["agent"]["state"] == "running" and st["agent"]["pid"]
        self.agent_pid = wait_for(agent_running, 60, "smsguard to start the agent")
        cg = c.sh(f"cat /proc/{self.agent_pid}/cgroup").stdout
        check("smsguard.service" in cg, f"the agent is not in the unit's cgroup: {cg}")
        log(f"SMS-Agent started by smsguard: pid {self.agent_pid}, in smsguard.service")

    def t_status(self):
        def healthy():
            rc, st = self.status()
            return rc == 0 and st["health"] == "ok" and st["target"]["state"] == "up" and st
        st = wait_for(healthy, 60, "status exit 0, health ok and the target up")
        check(st["task"]["id"] == TASK_ID and st["task"]["state"] == "RUNNING", f"{st['task']}")
        check(st["target"]["state"] == "up", f"{st['target']}")
        check(st["agent"]["state"] == "running", f"{st['agent']}")
        check(st["cloud"]["state"] == "ok", f"{st['cloud']}")
        p = self.c.run(["smsguardctl", "status"], ok=None)
        check(p.returncode == 0 and TASK_ID in p.stdout, f"exit {p.returncode}: {p.stdout}")

    def t_group(self):
        rc, st = self.status(user=MEMBER)
        check(rc == 0 and st["task"]["id"] == TASK_ID, f"member: status exit {rc}")
        p = self.c.run(["smsguardctl", "events", "-n", "5"], ok=None, user=MEMBER)
        check(p.returncode == 0, f"member: events exit {p.returncode}: {p.stderr}")
        p = self.c.run(["smsguardctl", "pause"], ok=None, user=MEMBER)
        check(p.returncode == 2, f"member: pause exit {p.returncode}: {p.stdout}{p.stderr}")
        log(f"member's pause: {(p.stdout + p.stderr).strip()}")
        _, st = self.status()
        check(st["paused"] is False, "the member's pause took effect")
        p = self.c.run(["smsguardctl", "status"], ok=None, user=OTHER)
        check(p.returncode == 3, f"non-member: status exit {p.returncode}")

    def t_reload(self):
        pid = self.main_pid()
        self.c.sh("sed -i 's|^budget = 6/1h$|budget = 5/1h|' /etc/smsguard/smsguard.conf")
        self.c.run(["systemctl", "reload", "smsguard"])
        wait_for(lambda: self.status()[1]["recovery"]["budget"] == 5, 20,
                 "the reloaded budget in status")
        check(self.main_pid() == pid, "reload changed the main PID")
        self.c.sh("cp /etc/smsguard/smsguard.conf /root/good.conf; "
                  "printf '[task]\\npoll_idle = soon\\n' >> /etc/smsguard/smsguard.conf")
        p = self.c.run(["systemctl", "reload", "smsguard"], ok=None)
        check(p.returncode != 0, "a reload with a broken configuration succeeded")
        props = self.c.show("smsguard", "ActiveState", "MainPID")
        check(props["ActiveState"] == "active" and int(props["MainPID"]) == pid, f"{props}")
        check(self.status()[1]["recovery"]["budget"] == 5, "the broken reload changed the budget")
        self.c.sh("cp /root/good.conf /etc/smsguard/smsguard.conf")

    def t_restart(self):
        pid = self.main_pid()
        self.c.run(["systemctl", "restart", "smsguard"], timeout=120)
        new = self.main_pid()
        check(new != pid and new > 0, f"MainPID {pid} -> {new}")
        self.c.sh(f"test -d /proc/{self.agent_pid}")
        _, st = wait_for(lambda: (lambda r: r[1]["agent"]["state"] == "running" and r)(
            self.status()), 30, "the agent seen running by the new daemon")
        check(st["agent"]["pid"] == self.agent_pid,
              f"agent pid {self.agent_pid} -> {st['agent']['pid']}")

    def t_upgrade(self):
        conf = self.c.sh("sha256sum /etc/smsguard/smsguard.conf /etc/smsguard/credentials").stdout
        pid = self.main_pid()
        self.c.run(["dpkg", "-i", f"{SHARE}/smsguard-upgrade.deb"], timeout=120)
        p = self.c.run(["dpkg-query", "-W", "-f=${Version}", "smsguard"])
        check(p.stdout == f"{self.version}+pkgcheck1", f"installed version {p.stdout!r}")
        after = self.c.sh("sha256sum /etc/smsguard/smsguard.conf /etc/smsguard/credentials")
        check(after.stdout == conf, "the configuration or the credentials changed")
        p = self.c.sh("stat -c %a /etc/smsguard/credentials; "
                      "ls /etc/smsguard | grep -c dpkg- || true")
        check(p.stdout.split() == ["600", "0"], f"credentials mode / dpkg files: {p.stdout!r}")
        props = self.c.show("smsguard", "ActiveState", "MainPID")
        check(props["ActiveState"] == "active" and int(props["MainPID"]) != pid,
              f"not restarted: {props}")
        wait_for(lambda: self.status()[1]["recovery"]["budget"] == 5, 20,
                 "the kept configuration in status")

    def t_stop(self):
        self.c.run(["systemctl", "stop", "smsguard"], timeout=120)
        p = self.c.run(["systemctl", "is-active", "smsguard"], ok=None)
        check(p.stdout.strip() == "inactive", f"is-active: {p.stdout.strip()!r}")
        self.c.sh("! test -e /run/smsguard/smsguard.sock")
        p = self.c.run(["smsguardctl", "status"], ok=None)
        check(p.returncode == 3, f"status exit {p.returncode} with the daemon stopped")
        self.c.sh(f"test -d /proc/{self.agent_pid}")

    def t_purge(self):
        self.c.run(["systemctl", "start", "smsguard"], timeout=120)
        self.c.run(["dpkg", "--purge", "smsguard"], timeout=120)
        p = self.c.run(["pgrep", "-x", "smsguard"], ok=None)
        check(p.returncode == 1, f"smsguard still runs: {p.stdout}")
        p = self.c.sh("ls -d /etc/smsguard /var/lib/smsguard /usr/sbin/smsguard "
                      "/lib/systemd/system/smsguard.service /usr/lib/systemd/system/"
                      "smsguard.service 2>/dev/null || true")
        check(p.stdout.strip() == "", f"left behind: {p.stdout.split()}")
        props = self.c.show("smsguard", "LoadState")
        check(props["LoadState"] == "not-found", f"{props}")
        self.c.sh(f"kill {self.agent_pid}")

    STEPS = ["t_lintian", "t_boot", "t_install", "t_verify", "t_unconfigured", "t_start",
             "t_status", "t_group", "t_reload", "t_restart", "t_upgrade", "t_stop", "t_purge"]

    def run(self):
        failed = None
        try:
            self.prepare()
        except Exception as e:
            failed = f"preparing the container failed: {e}"
            traceback.print_exc(file=sys.stderr)
        try:
            for i, step in enumerate(self.STEPS, 1):
                name = CASES[i - 1]
                # lintian needs no container; everything else needs the one before it.
                if failed and step != "t_lintian":
                    print(f"not ok {i} - {name} # not run: {failed}", flush=True)
                    continue
                start = time.monotonic()
                try:
                    getattr(self, step)()
                    print(f"ok {i} - {name} ({time.monotonic() - start:.1f} s)", flush=True)
                except Exception as e:
                    print(f"not ok {i} - {name}", flush=True)
                    log(e if isinstance(e, Fail) else traceback.format_exc())
                    if step == "t_boot" and self.c is not None:
                        log(self.c.console_tail())
                    self.diagnose()
                    if step != "t_lintian":
                        failed = f"case {i} failed"
        finally:
            if self.c is not None:
                self.c.poweroff()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dist", default=os.environ.get("SMSGUARD_PACKAGE_DIR"))
    ap.add_argument("--srcdir", default=os.environ.get(
        "SMSGUARD_SRCDIR", os.path.normpath(os.path.join(HERE, "..", ".."))))
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--deb", help=argparse.SUPPRESS)
    ap.add_argument("--boxes", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inner:
        Check(args).run()
        return 0
    if not args.dist:
        print("1..0 # SKIP no package directory (make package-check, or set "
              "SMSGUARD_PACKAGE_DIR)")
        return 0
    args.dist = os.path.abspath(args.dist)
    args.srcdir = os.path.abspath(args.srcdir)
    return outer(args)


if __name__ == "__main__":
    sys.exit(main())
