#!/usr/bin/env python3
"""Preflight (DESIGN.md §5.11): each check made to pass and to fail on purpose.

The real daemon against tests/sim's simulator (HTTPS with its test CA, reached as `localhost`
so the name is looked up), its fake agent and fake target. The target lives in a network
namespace of its own behind a veth pair, and a dropped port is an nft DROP rule in there; a
noexec or full /tmp is a tmpfs in a private mount namespace of the daemon's (unshare -m); a
skewed clock is the simulator's "clock" fault; a missing rsync or tc is a PATH without it; a
root qdisc is added on an interface of a network namespace the daemon runs in. Root only:
the whole suite runs in a PID namespace of its own, so the daemon sees only this suite's
linuxmain. Everything the daemon reads lives under /var/tmp, so that a /tmp mounted over in
its mount namespace hides none of it.
"""

import atexit
import grp
import json
import os
import pwd
import random
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402

harness.isolate_pids(__file__)

from harness import (TEST_AK, TEST_SK, NetNS, Skip, check, is_root, main,  # noqa: E402
                     run_cmd, scenario, wait_for)
from simctl import FakeAgent, FakeTarget, Sim  # noqa: E402

BASE = "/var/tmp"
TASK_ID = "5d0c6a2e-1f3b-4c7d-9e8a-7b6c5d4e3f21"
SOURCE_ID = "a1b2c3d4-0000-4e5f-8a9b-preflight001"
NAMES = ("target_port_", "sms_dns", "sms_tcp", "sms_tls", "sms_auth", "clock_skew", "smn",
         "agent_running", "agent_home", "agent_connected", "tmp_space", "tmp_exec", "tc",
         "rsync", "agent_log_space", "root_qdisc")
HEALTHY_MAX_S = 3.0  # DESIGN: `smsguardctl preflight` on a healthy set-up, under 3 s


def needs_root():
    if not is_root() or not harness.pids_isolated():
        raise Skip("needs root and a PID namespace of its own (another linuxmain may run)")


def tool_dir(ctx, *tools):
    """A directory holding only the named programs (symlinks): a PATH without the others."""
    d = tempfile.mkdtemp(prefix="sgprebin-", dir=BASE)
    os.chmod(d, 0o755)
    ctx.cleanups.append(lambda: shutil.rmtree(d, ignore_errors=True))
    for t in tools:
        path = shutil.which(t, path="/usr/sbin:/usr/bin:/sbin:/bin")
        if path is None:
            raise Skip(f"{t} is not installed (make deps)")
        os.symlink(path, os.path.join(d, t))
    return d


class World:
    """The simulator, the fake agent (running), a target in a namespace, and a daemon."""

    def __init__(self, ctx, ttype="MIGRATE_FILE", agent=True, limit=True, config=None, env=None,
                 sim_sk=TEST_SK):
        needs_root()
        self.ctx = ctx
        self.tmp = tempfile.mkdtemp(prefix="sgpre-", dir=BASE)
        os.chmod(self.tmp, 0o755)
        ctx.cleanups.append(lambda: shutil.rmtree(self.tmp, ignore_errors=True))
        # A subnet of its own: another suite may run beside this one on the machine.
        self.ns = NetNS(ctx, name="sgp", subnet_prefix="10.217.%d" % random.randrange(1, 250))
        task = {"id": TASK_ID, "type": ttype, "os_type": "LINUX",
                "migration_ip": self.ns.target_ip, "simulate": False,
                "source_server": {"id": SOURCE_ID, "ip": "127.0.0.1", "name": "preflight"}}
        self.sim = Sim(os.path.join(self.tmp, "sim"), ak=TEST_AK, sk=sim_sk,
                       tasks=[task]).start()
        ctx.cleanups.append(self.sim.stop)
        # The ports SMS needs for the task's type (reference §9), in the target's namespace.
        ports = [22, 8900] if ttype == "MIGRATE_BLOCK" else [22]
        self.target = FakeTarget(self.ns.target_ip, ports, netns=self.ns.name).start()
        self.ns.procs.append(self.target.proc)
        ctx.cleanups.append(self.target.stop)
        self.agent = FakeAgent(os.path.join(self.tmp, "SMS-Agent"), self.sim, task_id=TASK_ID)
        self.agent.install()
        ctx.cleanups.append(self.agent.stop)
        if agent:
            r = self.agent.start()
            check(r.returncode == 0, f"startup.sh failed: {r.stdout}")
        cfg = {"cloud": {"endpoint": f"https://localhost:{self.sim.port}",
                         "ca_file": self.sim.ca_file, "timeout": "5s"},
               "task": {"id": TASK_ID, "poll": "2s", "poll_idle": "5s"},
               "target": {"address": None, "ports": None, "interval": "1s",
                          "timeout": "500ms"},
               "agent": {"process": "linuxmain", "restart": "never"},
               "ratelimit": ({"apply": "cloud", "schedule": "daily 00:00-24:00 50"} if limit
                             else {"apply": "off"})}
        for sec, kv in (config or {}).items():
            cfg.setdefault(sec, {}).update(kv)
        self.d = ctx.daemon(config=cfg, env=env, parent=BASE)

    def daemon(self, env=None, prefix=()):
        """Another daemon like the first (stop that one first): its own env and prefix."""
        cfg = {sec: dict(kv) for sec, kv in self.d.sections.items()}
        for sec, key in (("daemon", "state_dir"), ("cloud", "credentials"),
                         ("control", "socket")):
            cfg[sec].pop(key, None)
        self.d = self.ctx.daemon(config=cfg, env=env, parent=BASE, prefix=prefix)
        return self.d

    def start(self, wait=True):
        self.d.start()
        # The start-up run goes once the task is polled; wait for it, so what follows is ours.
        if wait:
            wait_for(lambda: (self.d.status().get("preflight") or {}).get("trigger") == "start",
                     timeout=30, what="the start-up preflight")
        return self


def preflight(d, timeout=30):
    """smsguardctl preflight --json: (exit code, report, seconds it took)."""
    t0 = time.monotonic()
    rc, out, err = d.ctl("preflight", "--json", timeout=timeout)
    took = time.monotonic() - t0
    check(out.strip() != "", f"preflight printed nothing (rc {rc}): {err}")
    return rc, json.loads(out), took


def near(measured, seconds):
    """The clock's measurement says seconds, give or take the Date header's whole second
    and the request's time on a loaded machine."""
    n = int(re.search(r"(\d+) s (behind|ahead)", measured).group(1))
    check(abs(n - seconds) <= 2, f"measured {measured!r}, want about {seconds} s")


def htb_here():
    """Whether this kernel has HTB or CBQ for tc, as the tc check finds out."""
    rel = os.uname().release
    for name in ("sch_htb", "sch_cbq"):
        if os.path.exists(f"/sys/module/{name}"):
            return True
        for lst in ("modules.builtin", "modules.dep"):
            try:
                with open(f"/lib/modules/{rel}/{lst}") as f:
                    if f"/{name}.ko" in f.read():
                        return True
            except OSError:
                pass
    return False


def by_name(report):
    return {c["name"]: c for c in report["checks"]}


def expect(report, name, verdict, measured=None, remedy=None, prevents=None):
    """The check called name has this verdict, and its texts contain these words."""
    c = by_name(report).get(name)
    check(c is not None, f"no {name} in {[x['name'] for x in report['checks']]}")
    check(c["verdict"] == verdict, f"{name}: {c['verdict']}, want {verdict}: {c}")
    if measured is not None:
        check(measured in c["measured"], f"{name}: measured {c['measured']!r} lacks {measured!r}")
    if verdict == "ok":
        check(c["remedy"] is None, f"{name} is ok with a remedy: {c['remedy']!r}")
    elif remedy is not None:
        check(c["remedy"] is not None and remedy in c["remedy"],
              f"{name}: remedy {c['remedy']!r} lacks {remedy!r}")
    if prevents is not None:
        check(c["prevents"] == prevents, f"{name}: prevents {c['prevents']!r}, want {prevents}")
    return c


def shape_ok(report):
    """Exactly DESIGN.md §5.11's object."""
    check(set(report) == {"verdict", "ran_at", "checks"}, f"report keys {sorted(report)}")
    check(report["verdict"] in ("ok", "warn", "fail"), f"verdict {report['verdict']!r}")
    check(isinstance(report["ran_at"], int) and abs(report["ran_at"] - time.time()) < 120,
          f"ran_at {report['ran_at']!r}")
    for c in report["checks"]:
        check(set(c) == {"name", "verdict", "measured", "remedy", "prevents"}, f"check keys {c}")
        check(c["name"].startswith(NAMES[0]) or c["name"] in NAMES, f"unknown check {c['name']}")
        check(c["verdict"] in ("ok", "warn", "fail"), f"{c['name']}: {c['verdict']!r}")
        check(isinstance(c["measured"], str) and c["measured"], f"{c['name']}: measured")
        check(c["remedy"] is None if c["verdict"] == "ok" else isinstance(c["remedy"], str),
              f"{c['name']}: remedy {c['remedy']!r} with verdict {c['verdict']}")
        check(c["prevents"] is None or (c["prevents"].startswith("SMS.")
                                        and len(c["prevents"]) == 8), f"{c['name']} prevents")


# ----------------------------------------------------------------------------------- healthy

@scenario("a healthy set-up: every check ok, exit 0, the report's exact shape, in under 3 s")
def _(ctx):
    # Rate-limited, so tc and root_qdisc are checked too, where the kernel has HTB or CBQ.
    limit = htb_here()
    w = World(ctx, limit=limit, config={"control": {
        "group": grp.getgrgid(pwd.getpwnam("nobody").pw_gid).gr_name}}).start()
    rc, rep, took = preflight(w.d)
    shape_ok(rep)
    print(f"# smsguardctl preflight --json on a healthy set-up took {took:.3f} s", flush=True)
    bad = [c for c in rep["checks"] if c["verdict"] != "ok"]
    check(rc == 0 and rep["verdict"] == "ok" and not bad, f"rc {rc}, not ok: {bad}")
    names = [c["name"] for c in rep["checks"]]
    want = ["target_port_22", "sms_dns", "sms_tcp", "sms_tls", "sms_auth", "clock_skew",
            "agent_running", "agent_home", "agent_connected", "tmp_space", "tmp_exec", "tc",
            "rsync", "agent_log_space", "root_qdisc"]
    if not limit:
        want = [n for n in want if n not in ("tc", "root_qdisc")]
    check(names == want, f"checks {names}, want {want}")
    expect(rep, "target_port_22", "ok", f"{w.ns.target_ip}:22 connected in", prevents="SMS.3805")
    expect(rep, "sms_dns", "ok", "localhost resolves to", prevents="SMS.0303")
    expect(rep, "sms_tls", "ok", "TLS to localhost verified", prevents="SMS.0304")
    expect(rep, "sms_auth", "ok", "signed GET /v3/sources accepted (HTTP 200", prevents="SMS.0202")
    expect(rep, "agent_running", "ok", "linuxmain is running (pid")
    expect(rep, "agent_home", "ok", w.agent.home)
    expect(rep, "agent_connected", "ok", f"source {SOURCE_ID} is connected", prevents="SMS.6603")
    expect(rep, "tmp_exec", "ok", "/tmp allows exec", prevents="SMS.5102")
    expect(rep, "rsync", "ok", "rsync", prevents="SMS.6517")
    if limit:
        expect(rep, "tc", "ok", "iproute2", prevents="SMS.9007")
        expect(rep, "root_qdisc", "ok", f"(the route to {w.ns.target_ip})", prevents="SMS.9007")
    check(took < HEALTHY_MAX_S, f"preflight took {took:.2f} s, want < {HEALTHY_MAX_S} s")
    # The human form: one line per check, then the verdict; exit 0.
    rc, out, err = w.d.ctl("preflight")
    lines = out.splitlines()
    check(rc == 0 and len(lines) == len(want) + 1, f"rc {rc}, output:\n{out}{err}")
    for name, line in zip(want, lines):
        check(line.split()[:2] == [name, "ok"], f"line {line!r}, want {name} ok …")
    check(lines[-1] == f"preflight: ok ({len(want)} ok, 0 warn, 0 fail)", f"last {lines[-1]!r}")
    st = w.d.status()["preflight"]
    check(st["verdict"] == "ok" and st["trigger"] == "smsguardctl" and not st["running"],
          f"status preflight {st}")
    check(not [e for e in w.d.events() if e["type"] == "preflight_failed"],
          "preflight_failed raised on a healthy set-up")
    # A read command: the socket's group may run it.
    rc, out, err = w.d.ctl("preflight", user="nobody")
    check(rc == 0 and out.splitlines()[-1].startswith("preflight: ok"),
          f"nobody (the socket's group): rc {rc} {out}{err}")
    w.d.stop()


# -------------------------------------------------------------------------------- the target

@scenario("a dropped target port fails with the code SMS would give, a refused one too")
def _(ctx):
    if shutil.which("nft") is None:
        raise Skip("nft is not installed (make deps)")
    w = World(ctx, ttype="MIGRATE_BLOCK").start()
    ip = w.ns.target_ip
    rc, rep, _ = preflight(w.d)
    check(rc == 0, f"rc {rc}: {rep}")
    names = [c["name"] for c in rep["checks"]]
    check(names[:2] == ["target_port_22", "target_port_8900"] and "rsync" not in names,
          f"a block-level task's checks: {names}")
    w.ns.drop([8900])
    rc, rep, took = preflight(w.d)
    check(rc == 2 and rep["verdict"] == "fail", f"rc {rc}: {rep}")
    expect(rep, "target_port_8900", "fail", f"{ip}:8900: no answer within 3s",
           f"allow TCP 8900 from this server to {ip}", "SMS.1807")
    expect(rep, "target_port_22", "ok")
    check(2.5 < took < 10, f"a dropped port's run took {took:.1f} s (its timeout is 3 s)")
    w.ns.reject([22])
    rc, rep, _ = preflight(w.d)
    expect(rep, "target_port_22", "fail", f"{ip}:22: connection refused", "security group",
           "SMS.3806")
    expect(rep, "target_port_8900", "ok")
    rc, out, _ = w.d.ctl("preflight")
    line = [x for x in out.splitlines() if x.startswith("target_port_22 ")][0]
    check(line.split()[1] == "fail" and "; prevents SMS.3806; remedy: allow TCP 22" in line,
          f"the human line: {line!r}")
    check(rc == 2, f"rc {rc}")
    w.ns.clear_rules()
    rc, rep, _ = preflight(w.d)
    check(rc == 0, f"rc {rc} with the rules gone: {rep}")
    w.d.stop()


@scenario("a task that fails starts a run, shown in status")
def _(ctx):
    w = World(ctx).start()
    w.sim.set_task(state="MIGRATE_FAIL", error_code="SMS.2802")
    st = wait_for(lambda: (lambda p: p if p and p["trigger"] == "task_failed" else None)(
        w.d.status().get("preflight")), timeout=20, what="a preflight run after the failure")
    check(st["verdict"] == "ok" and isinstance(st["took_ms"], (int, float)), f"status {st}")
    w.d.wait_log("preflight: run (task_failed)")
    w.d.stop()


# ---------------------------------------------------------------------------------- the host

KEEP = os.path.join(BASE, f"sgpre-keep-{os.getpid()}")
atexit.register(lambda: os.path.isdir(KEEP) and os.rmdir(KEEP))


def mounted(script):
    """A prefix: the daemon in a private mount namespace, after script (sh) ran in it.

    A build under /tmp (a clone there) would vanish under a /tmp mounted over: its directory
    is kept aside first and bound back into the new /tmp, with the flags of its own mount."""
    exe = os.path.dirname(os.path.realpath(harness.ARGS.smsguard))
    keep = back = ""
    if exe == "/tmp" or exe.startswith("/tmp/"):
        keep = f"mkdir -p {KEEP}; mount --bind {shlex.quote(exe)} {KEEP}; "
        back = f"; mkdir -p {shlex.quote(exe)}; mount --bind {KEEP} {shlex.quote(exe)}"
    return ["unshare", "-m", "--propagation", "private", "sh", "-c",
            f"set -e; {keep}{script}{back}; exec \"$@\"", "sh"]


@scenario("/tmp mounted noexec fails tmp_exec (SMS.5102); a small /tmp and a full log place fail")
def _(ctx):
    w = World(ctx)
    w.d.prefix = mounted("mount -t tmpfs -o noexec,size=1g sgpre /tmp")
    w.start()
    rc, rep, _ = preflight(w.d)
    check(rc == 2, f"rc {rc}")
    expect(rep, "tmp_exec", "fail", "/tmp is mounted noexec", "mount -o remount,exec /tmp",
           "SMS.5102")
    expect(rep, "tmp_space", "ok", "/tmp: ")
    w.d.stop()
    logs = os.path.join(w.agent.home, "agent", "Logs")
    w.daemon(prefix=mounted("mount -t tmpfs -o size=40m sgpre /tmp; "
                            f"mount -t tmpfs -o size=50m sgpre {logs}"))
    w.start()
    rc, rep, _ = preflight(w.d)
    check(rc == 2, f"rc {rc}")
    # A checker under SMSGUARD_WRAPPER may leave a file in /tmp: about 40 MiB.
    c = expect(rep, "tmp_space", "fail", " MiB free; SMS-Agent needs 100 MiB there", "TMPDIR")
    check(re.match(r"/tmp: (39|40) MiB free", c["measured"]), f"tmp_space {c['measured']!r}")
    expect(rep, "tmp_exec", "ok")
    expect(rep, "agent_log_space", "fail", f"{logs}: 50 MiB free", f"free space on {logs}")
    w.d.stop()


@scenario("no rsync on PATH fails rsync for a file-level task (SMS.6517)")
def _(ctx):
    bin_dir = tool_dir(ctx, "tc", "ip")
    w = World(ctx, env={"PATH": bin_dir}).start()
    rc, rep, _ = preflight(w.d)
    check(rc == 2, f"rc {rc}")
    expect(rep, "rsync", "fail", f"rsync is not on PATH ({bin_dir})", "apt-get install rsync",
           "SMS.6517")
    expect(rep, "tc", "ok", os.path.join(bin_dir, "tc"))
    w.d.stop()


@scenario("with a rate limit planned, tc missing or no HTB/CBQ fails tc (SMS.9007); without, no tc")
def _(ctx):
    w = World(ctx, env={"PATH": tool_dir(ctx, "rsync", "ip")}).start()
    rc, rep, _ = preflight(w.d)
    check(rc == 2, f"rc {rc}")
    expect(rep, "tc", "fail", "tc is not on PATH", "iproute-tc", "SMS.9007")
    expect(rep, "root_qdisc", "warn", "cannot tell: tc is not on PATH")
    w.d.stop()
    hide = "mount -t tmpfs -o size=1m sgpre /sys/module"
    if os.path.isdir("/lib/modules"):
        hide += "; mount -t tmpfs -o size=1m sgpre /lib/modules"
    w.daemon(prefix=mounted(hide))
    w.start()
    rc, rep, _ = preflight(w.d)
    check(rc == 2, f"rc {rc}")
    expect(rep, "tc", "fail", "neither sch_htb nor sch_cbq", "modprobe sch_htb", "SMS.9007")
    w.d.stop()
    w.d.update({"ratelimit": {"apply": "off", "schedule": None}})
    w.daemon()
    w.start()
    rc, rep, _ = preflight(w.d)
    names = [c["name"] for c in rep["checks"]]
    check(rc == 0 and "tc" not in names and "root_qdisc" not in names,
          f"rc {rc}, checks without a rate limit: {names}")
    w.d.stop()


class SourceNS:
    """This host in a network namespace of its own, with a veth to a target namespace.

    The daemon runs in `src` (ip netns exec): whatever is added on its interface there
    stays there. An `unreachable` route for the subnet stays on the host while they exist.
    """

    def __init__(self, ctx):
        prefix = "10.218.%d" % random.randrange(1, 250)
        self.tag = f"{random.randrange(1000, 10000)}"
        self.src, self.dst = f"sgps{self.tag}", f"sgpt{self.tag}"
        self.dev = f"vsgp{self.tag}"
        self.subnet = f"{prefix}.0/30"
        self.src_ip, self.dst_ip = f"{prefix}.1", f"{prefix}.2"
        ctx.cleanups.append(self.cleanup)
        run_cmd("ip", "route", "replace", "unreachable", self.subnet, "metric", "4000")
        run_cmd("ip", "netns", "add", self.src)
        run_cmd("ip", "netns", "add", self.dst)
        self.exec("ip", "link", "set", "lo", "up")
        self.exec("ip", "link", "add", self.dev, "type", "veth", "peer", "name", "vpeer",
                  "netns", self.dst)
        self.exec("ip", "addr", "add", f"{self.src_ip}/30", "dev", self.dev)
        self.exec("ip", "link", "set", self.dev, "up")
        run_cmd("ip", "netns", "exec", self.dst, "ip", "addr", "add", f"{self.dst_ip}/30",
                "dev", "vpeer")
        run_cmd("ip", "netns", "exec", self.dst, "ip", "link", "set", "vpeer", "up")

    def exec(self, *cmd):
        return run_cmd("ip", "netns", "exec", self.src, *cmd)

    def cleanup(self):
        run_cmd("ip", "netns", "del", self.src, check_rc=False)
        run_cmd("ip", "netns", "del", self.dst, check_rc=False)
        run_cmd("ip", "route", "del", "unreachable", self.subnet, "metric", "4000",
                check_rc=False)


@scenario("a root qdisc already on the migration interface fails root_qdisc (SMS.9007)")
def _(ctx):
    if not is_root() or shutil.which("ip") is None or shutil.which("tc") is None:
        raise Skip("needs root, ip and tc")
    ns = SourceNS(ctx)
    d = ctx.daemon(parent=BASE, prefix=["ip", "netns", "exec", ns.src],
                   config={"target": {"address": ns.dst_ip, "ports": "22"},
                           "ratelimit": {"apply": "cloud", "schedule": "daily 00:00-24:00 50"}})
    d.start()
    rc, rep, _ = preflight(d)
    expect(rep, "root_qdisc", "ok", f"{ns.dev} (the route to {ns.dst_ip}) has the kernel's "
           "default noqueue")
    ns.exec("tc", "qdisc", "add", "dev", ns.dev, "root", "handle", "1:", "htb", "default", "1")
    rc, rep, _ = preflight(d)
    check(rc == 2, f"rc {rc}")
    expect(rep, "root_qdisc", "fail",
           f"{ns.dev} (the route to {ns.dst_ip}) already has a root qdisc, htb 1:",
           f"tc qdisc del dev {ns.dev} root", "SMS.9007")
    ns.exec("tc", "qdisc", "del", "dev", ns.dev, "root")
    rc, rep, _ = preflight(d)
    expect(rep, "root_qdisc", "ok")
    d.stop()


@scenario("SMS-Agent not running fails agent_running and agent_connected (SMS.6603)")
def _(ctx):
    w = World(ctx, agent=False).start()
    rc, rep, _ = preflight(w.d)
    check(rc == 2, f"rc {rc}")
    expect(rep, "agent_running", "fail", "no linuxmain process", "./startup.sh", "SMS.6603")
    expect(rep, "agent_home", "warn", "not known", "[agent] home")
    expect(rep, "agent_connected", "fail", f"source {SOURCE_ID} is not connected",
           "SmsAgent_Error.log", "SMS.6603")
    expect(rep, "agent_log_space", "warn", "/root:", "agent_home")
    r = w.agent.start()
    check(r.returncode == 0, f"startup.sh failed: {r.stdout}")

    def all_ok():
        rc, rep, _ = preflight(w.d)
        return rep if rc == 0 else None
    rep = wait_for(all_ok, timeout=20, interval=0.5, what="preflight ok with the agent running")
    expect(rep, "agent_home", "ok", w.agent.home)
    w.d.stop()


# --------------------------------------------------------------------------------- the cloud

@scenario("a skewed clock: 2 minutes warns, 20 fails clock_skew (SMS.0205) and the signature")
def _(ctx):
    w = World(ctx).start()
    w.sim.fault("clock", skew_seconds=120)
    rc, rep, _ = preflight(w.d)
    check(rc == 1 and rep["verdict"] == "warn", f"rc {rc}: {rep}")
    c = expect(rep, "clock_skew", "warn", "s behind the SMS gateway's", "NTP", "SMS.0205")
    near(c["measured"], 120)
    expect(rep, "sms_auth", "ok")
    w.sim.fault("clock", skew_seconds=-1200)
    rc, rep, _ = preflight(w.d)
    check(rc == 2, f"rc {rc}")
    c = expect(rep, "clock_skew", "fail", "s ahead of the SMS gateway's (over 15 minutes)",
               "chronyc makestep", "SMS.0205")
    near(c["measured"], 1200)
    expect(rep, "sms_auth", "fail", "APIGW.0303", "clock_skew", "SMS.0202")
    w.sim.clear_faults()
    rc, rep, _ = preflight(w.d)
    expect(rep, "clock_skew", "ok", "within 1 s")
    w.d.stop()


@scenario("wrong credentials fail sms_auth (SMS.0202) with where the AK/SK come from")
def _(ctx):
    w = World(ctx, agent=False, sim_sk="AnotherSecretKeyTheDaemonDoesNotHave00001")
    # Never polled, so no start-up run before PREFLIGHT_START_WAIT_MS: ask at once.
    w.start(wait=False)
    rc, rep, _ = preflight(w.d)
    check(rc == 2, f"rc {rc}")
    expect(rep, "sms_auth", "fail", "APIGW.0301", f"check the AK/SK in {w.d.creds}", "SMS.0202")
    expect(rep, "agent_connected", "warn", "not known")
    expect(rep, "sms_tls", "ok")
    w.d.stop()


@scenario("the SMS endpoint: no name, no listener, another CA fail dns, tcp and tls in turn")
def _(ctx):
    w = World(ctx).start()
    closed = harness.free_port()

    def reload(**cloud):
        w.d.update({"cloud": cloud})
        w.d.write_config()
        rc, out, err = w.d.ctl("reload")
        check(rc == 0, f"reload: {rc} {out}{err}")
        return preflight(w.d)[1]
    rep = reload(endpoint="https://sms-preflight.invalid")
    expect(rep, "sms_dns", "fail", "sms-preflight.invalid", "resolv.conf", "SMS.0303")
    expect(rep, "sms_tcp", "fail", "not tried", None, "SMS.0208")
    rep = reload(endpoint=f"https://localhost:{closed}")
    expect(rep, "sms_dns", "ok")
    expect(rep, "sms_tcp", "fail", "connection refused", "allow outbound TCP", "SMS.0208")
    expect(rep, "sms_tls", "fail", "not reached", None, "SMS.0304")
    expect(rep, "clock_skew", "warn", "not measured")
    rep = reload(endpoint=f"https://localhost:{w.sim.port}", ca_file=w.sim.wrong_ca_file)
    expect(rep, "sms_tcp", "ok")
    expect(rep, "sms_tls", "fail", "certificate not accepted", "[cloud] ca_file", "SMS.0304")
    w.d.stop()


def smn_configurable(d):
    """Whether this build takes [notify] smn_topic (smsguard -n on the daemon's config)."""
    d.write_config()
    p = subprocess.run([harness.ARGS.smsguard, "-n", "-f", d.conf], capture_output=True,
                       text=True, env=d.env)
    if p.returncode != 0 and "not supported yet" in p.stdout + p.stderr:
        return False
    check(p.returncode == 0, f"smsguard -n: {p.stdout}{p.stderr}")
    return True


@scenario("with an SMN topic, smn checks its endpoint: ok when it answers, failing when not")
def _(ctx):
    topic = "urn:smn:ap-southeast-3:0f5c1e2d3b4a49688796a5b4c3d2e1f0:preflight"
    w = World(ctx)
    w.d.update({"notify": {"smn_topic": topic,
                           "smn_endpoint": f"https://localhost:{w.sim.port}"}})
    if not smn_configurable(w.d):
        raise Skip("this build refuses [notify] smn_topic (notifications are not merged yet)")
    w.start()
    rc, rep, _ = preflight(w.d)
    names = [c["name"] for c in rep["checks"]]
    check(names.index("smn") == names.index("clock_skew") + 1, f"order {names}")
    expect(rep, "smn", "ok", "TLS to localhost verified")
    w.d.update({"notify": {"smn_endpoint": f"https://localhost:{harness.free_port()}"}})
    w.d.write_config()
    rc, out, err = w.d.ctl("reload")
    check(rc == 0, f"reload: {rc} {out}{err}")
    rc, rep, _ = preflight(w.d)
    expect(rep, "smn", "fail", "not reached", "[notify] smn_endpoint")
    w.d.stop()


# -------------------------------------------------------------------------------- the event

@scenario("a check turning to fail raises preflight_failed once, and again after it was ok")
def _(ctx):
    if shutil.which("nft") is None:
        raise Skip("nft is not installed (make deps)")
    w = World(ctx).start()

    def raised():
        return [e for e in w.d.events() if e["type"] == "preflight_failed"]
    w.ns.reject([22])
    rc, rep, _ = preflight(w.d)
    check(rc == 2, f"rc {rc}")
    ev = wait_for(raised, timeout=5, what="preflight_failed")
    check(len(ev) == 1, f"events {ev}")
    check([c["name"] for c in ev[0]["checks"]] == ["target_port_22"], f"event {ev[0]}")
    check(ev[0]["checks"][0]["prevents"] == "SMS.3806" and ev[0]["trigger"] == "smsguardctl",
          f"event {ev[0]}")
    check(ev[0]["message"].startswith("preflight: target_port_22 fails: ")
          and "(prevents SMS.3806); allow TCP 22" in ev[0]["message"], f"{ev[0]['message']!r}")
    preflight(w.d)
    check(len(raised()) == 1, "raised again while still failing")
    w.ns.clear_rules()
    rc, _, _ = preflight(w.d)
    check(rc == 0 and len(raised()) == 1, f"rc {rc} once ok again")
    w.ns.reject([22])
    preflight(w.d)
    wait_for(lambda: len(raised()) == 2, timeout=5, what="a second preflight_failed")
    w.d.wait_log("target_port_22 fail: ")
    w.d.stop()


if __name__ == "__main__":
    main()
