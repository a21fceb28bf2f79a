#!/usr/bin/env python3
"""Watchers: the target port probes and the SMS-Agent watch and restart (DESIGN.md §5.1, §5.2).

The real daemon (built with ASan in CI) against real sockets, tests/sim's fake target and fake
agent. As root the whole suite runs in a PID namespace of its own (unshare --pid --mount-proc),
so the daemon sees only the fake agents started here, never another suite's `linuxmain`;
dropped ports use a network namespace with an nft DROP rule. Without root a dropped port is a
listener whose queue is full, and the agent scenarios are skipped.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402

harness.isolate_pids(__file__)

from harness import (TEST_AK, TEST_SK, Fail, NetNS, Skip, check, free_port, is_root,  # noqa: E402
                     main, scenario, wait_for)
from simctl import FakeAgent, FakeTarget, Sim  # noqa: E402

INTERVAL = 0.1  # s, [target] interval in these scenarios
TIMEOUT = 0.1   # s, [target] timeout
FALL, RISE = 3, 2
SLACK = 0.6     # s: status polling, process start-up and a loaded CI machine


def port_status(d, port):
    st = d.status()
    for p in st["target"]["ports"]:
        if p["port"] == port:
            return p
    return None


def wait_port(d, port, state, timeout):
    """Waits until the port reads `state`; returns (its status entry, seconds taken)."""
    t0 = time.monotonic()
    p = wait_for(lambda: (lambda e: e if e and e["state"] == state else None)(port_status(d, port)),
                 timeout=timeout, interval=0.02, what=f"port {port} {state}")
    return p, time.monotonic() - t0


def probe_daemon(ctx, address, ports, **extra):
    d = ctx.daemon(config={"target": {"address": address,
                                      "ports": ",".join(str(p) for p in ports),
                                      "interval": f"{int(INTERVAL * 1000)}ms",
                                      "timeout": f"{int(TIMEOUT * 1000)}ms",
                                      "fall": FALL, "rise": RISE}, **extra})
    return d


class FullListener:
    """A listener that never accepts, its queue filled: more SYNs go unanswered (not refused)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.fillers = []
        for _ in range(8):
            c = socket.socket()
            c.setblocking(False)
            try:
                c.connect(("127.0.0.1", self.port))
            except BlockingIOError:
                pass
            self.fillers.append(c)

    def close(self):
        for c in self.fillers:
            c.close()
        self.sock.close()


# ------------------------------------------------------------------------------- target probes

@scenario("a listening port reads up within rise x interval")
def _(ctx):
    port = free_port()
    d = probe_daemon(ctx, "127.0.0.1", [port]).start()
    wait_port(d, port, "down", FALL * INTERVAL + 5)
    tgt = FakeTarget("127.0.0.1", [port]).start()
    ctx.cleanups.append(tgt.stop)
    p, took = wait_port(d, port, "up", 5)
    check(took <= RISE * INTERVAL + SLACK, f"up after {took:.2f} s, want <= {RISE * INTERVAL} s")
    check(p["last_error"] is None, f"last_error {p['last_error']!r} after a connect")
    check(isinstance(p["latency_ms"], (int, float)), f"latency_ms {p['latency_ms']!r}")
    check(d.status()["target"]["state"] == "up", "target not up with its only port up")
    d.stop()


@scenario("a closed port (RST) reads down within fall x interval as refused")
def _(ctx):
    port = free_port()
    tgt = FakeTarget("127.0.0.1", [port]).start()
    ctx.cleanups.append(tgt.stop)
    d = probe_daemon(ctx, "127.0.0.1", [port]).start()
    wait_port(d, port, "up", 5)
    tgt.stop()
    p, took = wait_port(d, port, "down", 5)
    check(took <= FALL * INTERVAL + SLACK, f"down after {took:.2f} s, want <= {FALL * INTERVAL} s")
    check(p["last_error"] == "refused", f"last_error {p['last_error']!r}, want refused")
    check(d.status()["target"]["state"] == "down", "target not down with its port down")
    d.stop()


def nft_drop(ns, port):
    """Silently drops (no RST) TCP to port inside the namespace: an nft ruleset from a file."""
    ns.clear_rules()
    rules = ("table inet sgwatch {\n"
             "  chain input {\n"
             "    type filter hook input priority 0;\n"
             f"    tcp dport {port} drop\n"
             "  }\n"
             "}\n")
    with tempfile.NamedTemporaryFile("w", suffix=".nft", delete=False) as f:
        f.write(rules)
    try:
        ns.exec("nft", "-f", f.name)
    finally:
        os.unlink(f.name)
    ns.nft_table = "sgwatch"  # ns.clear_rules() deletes it


def dropped_target(ctx):
    """(address, port, drop(), undrop()) of a port that can be made to stop answering."""
    if is_root() and shutil.which("nft"):
        ns = NetNS(ctx)
        port = 18900
        tgt = FakeTarget(ns.target_ip, [port], netns=ns.name)
        tgt.start()
        ns.procs.append(tgt.proc)  # stopped before the namespace goes
        ctx.cleanups.append(tgt.stop)
        return ns.target_ip, port, lambda: nft_drop(ns, port), ns.clear_rules
    # No namespace: a listener whose accept queue is full drops the SYNs.
    box = {}
    port = free_port()

    def drop():
        box["srv"].close()
        box["full"] = FullListener.__new__(FullListener)
        fl = box["full"]
        fl.sock = socket.socket()
        fl.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        fl.sock.bind(("127.0.0.1", port))
        fl.sock.listen(0)
        fl.port, fl.fillers = port, []
        for _ in range(8):
            c = socket.socket()
            c.setblocking(False)
            try:
                c.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            fl.fillers.append(c)

    def undrop():
        box["full"].close()
        box["srv"] = FakeTarget("127.0.0.1", [port]).start()
        ctx.cleanups.append(box["srv"].stop)

    box["srv"] = FakeTarget("127.0.0.1", [port]).start()
    ctx.cleanups.append(box["srv"].stop)
    ctx.cleanups.append(lambda: box.get("full") and box["full"].close())
    return "127.0.0.1", port, drop, undrop


@scenario("a dropped port reads down within fall x interval + timeout as timeout")
def _(ctx):
    addr, port, drop, _undrop = dropped_target(ctx)
    d = probe_daemon(ctx, addr, [port]).start()
    wait_port(d, port, "up", 5)
    drop()
    p, took = wait_port(d, port, "down", 10)
    want = FALL * INTERVAL + TIMEOUT  # a fixed cadence (DESIGN.md §5.1)
    check(took <= want + SLACK, f"down after {took:.2f} s, want <= {want:.2f} s")
    check(p["last_error"] == "timeout", f"last_error {p['last_error']!r}, want timeout")
    d.stop()


@scenario("a dropped port reads up again once it answers")
def _(ctx):
    addr, port, drop, undrop = dropped_target(ctx)
    d = probe_daemon(ctx, addr, [port]).start()
    wait_port(d, port, "up", 5)
    drop()
    wait_port(d, port, "down", 10)
    undrop()
    p, took = wait_port(d, port, "up", 10)
    check(took <= RISE * INTERVAL + TIMEOUT + SLACK, f"up again after {took:.2f} s")
    check(d.status()["target"]["state"] == "up", "target not up again")
    d.stop()


@scenario("the target is up only when every port is up")
def _(ctx):
    up1, up2, closed = free_port(), free_port(), free_port()
    tgt = FakeTarget("127.0.0.1", [up1, up2]).start()
    ctx.cleanups.append(tgt.stop)
    d = probe_daemon(ctx, "127.0.0.1", [up1, up2, closed]).start()
    wait_port(d, up1, "up", 5)
    wait_port(d, up2, "up", 5)
    wait_port(d, closed, "down", 5)
    check(d.status()["target"]["state"] == "down", "target up with a port down")
    d.stop()


@scenario("1000 probe cycles on 3 ports leak nothing and keep descriptors flat")
def _(ctx):
    up1, up2, closed = free_port(), free_port(), free_port()
    tgt = FakeTarget("127.0.0.1", [up1, up2]).start()
    ctx.cleanups.append(tgt.stop)
    d = probe_daemon(ctx, "127.0.0.1", [up1, up2, closed]).start()
    fd_dir = f"/proc/{d.proc.pid}/fd"

    def probes():
        return min(p.get("probes", 0) for p in d.status()["target"]["ports"])
    wait_for(lambda: probes() >= 20, timeout=30, what="20 probe cycles")
    fds_before = len(os.listdir(fd_dir))
    wait_for(lambda: probes() >= 1000, timeout=1000 * INTERVAL * 2 + 60, interval=1.0,
             what="1000 probe cycles")
    fds_after = len(os.listdir(fd_dir))
    # One probe per port may be in flight at either count.
    check(fds_after <= fds_before + 3, f"descriptors grew from {fds_before} to {fds_after}")
    st = d.status()["target"]
    check([p["state"] for p in st["ports"]] == ["up", "up", "down"], f"ports {st['ports']}")
    d.stop()  # assert_clean_log: no LeakSanitizer report, no handle left open


@scenario("smsguardctl check probes every port at once")
def _(ctx):
    port = free_port()
    tgt = FakeTarget("127.0.0.1", [port]).start()
    ctx.cleanups.append(tgt.stop)
    d = probe_daemon(ctx, "127.0.0.1", [port]).start()
    d.update({"target": {"interval": "1h"}})
    d.write_config()
    rc, out, err = d.ctl("reload")
    check(rc == 0, f"reload: {rc} {out} {err}")
    # The reload restarted the prober, which probes once at once; then nothing for an hour.
    before = wait_for(lambda: port_status(d, port)["probes"], timeout=2, what="the first probe")
    rc, out, err = d.ctl("check")
    check(rc == 0, f"check: {rc} {out} {err}")
    wait_for(lambda: port_status(d, port)["probes"] > before, timeout=2,
             what="a probe right after check")
    d.stop()


# ------------------------------------------------------------------------------------- agent

def agent_setup(ctx, restart="never", task=None, extra_agent=None):
    """A simulator, a fake agent installed (not started) and a daemon pointed at both."""
    if not is_root() or not harness.pids_isolated():
        raise Skip("needs root and a PID namespace of its own (another linuxmain may run)")
    tmp = tempfile.mkdtemp(prefix="sgwatch-", dir="/tmp")
    ctx.cleanups.append(lambda: shutil.rmtree(tmp, ignore_errors=True))
    t = {"id": "7c1f0e4a-6f77-4d7b-9d4c-3b1d2f5e9a01", "type": "MIGRATE_FILE",
         "os_type": "LINUX", "migration_ip": "127.0.0.1", "ports_required": False,
         "agent_timeout": 3600, "source_server": {"id": "s-watch", "ip": "127.0.0.1",
                                                  "name": "watch"}}
    t.update(task or {})
    sim = Sim(os.path.join(tmp, "sim"), ak=TEST_AK, sk=TEST_SK, http=True, tasks=[t]).start()
    ctx.cleanups.append(sim.stop)
    agent = FakeAgent(os.path.join(tmp, "SMS-Agent"), sim, task_id=t["id"])
    agent.install()
    ctx.cleanups.append(agent.stop)
    agent_cfg = {"process": "linuxmain", "restart": restart,
                 "restart_answers": "y\\n{ak}\\n{sk}\\n" + sim.domain,
                 "restart_timeout": "30s"}
    agent_cfg.update(extra_agent or {})
    d = ctx.daemon(config={"cloud": {"endpoint": sim.url}, "task": {"id": t["id"]},
                           "agent": agent_cfg, "recovery": {"budget": "6/1h"}})
    return sim, agent, d


def agent_status(d):
    return d.status()["agent"]


def no_secrets(d):
    log = d.log()
    check(TEST_AK not in log, "the AK reached the log")
    check(TEST_SK not in log, "the SK reached the log")


@scenario("killing linuxmain is seen in under 1 s and shown in status")
def _(ctx):
    sim, agent, d = agent_setup(ctx)
    r = agent.start()
    check(r.returncode == 0, f"startup.sh failed: {r.stdout}")
    d.start()
    a = wait_for(lambda: (lambda s: s if s["state"] == "running" else None)(agent_status(d)),
                 timeout=10, what="agent running")
    check(a["pid"] == agent.pid(), f"status pid {a['pid']}, agent pid {agent.pid()}")
    check(a["home"] == agent.home, f"home {a['home']!r}, want {agent.home!r}")
    # valgrind (make valgrind) has no pidfd_open: under it the daemon falls back to its scan.
    want = ("pidfd", "scan") if os.environ.get("SMSGUARD_WRAPPER") else ("pidfd",)
    check(a.get("watch") in want, f"watched by {a.get('watch')!r}, want {' or '.join(want)}")
    t0 = time.monotonic()
    agent.kill()
    wait_for(lambda: agent_status(d)["state"] == "dead", timeout=5, interval=0.02,
             what="agent dead in status")
    took = time.monotonic() - t0
    check(took < 1.0, f"exit seen after {took:.2f} s")
    check(agent_status(d)["pid"] is None, "a dead agent still has a pid in status")
    d.stop()
    no_secrets(d)


@scenario("a dead agent is restarted through startup.sh with its answers, and found again")
def _(ctx):
    sim, agent, d = agent_setup(ctx, restart="when-dead")
    r = agent.start()
    check(r.returncode == 0, f"startup.sh failed: {r.stdout}")
    d.start()
    wait_for(lambda: agent_status(d)["state"] == "running", timeout=10, what="agent running")
    old = agent.pid()
    agent.kill()
    # Done when the command has finished and the new process was found.
    a = wait_for(lambda: (lambda s: s if s["state"] == "running" and s["pid"] != old
                          and not s.get("restarting") and s.get("last_restart")
                          and s["last_restart"]["result"] == "ok" else None)(agent_status(d)),
                 timeout=45, interval=0.1, what="the agent restarted by smsguard")
    check(a["restarts"] >= 1, f"restarts {a['restarts']}")
    check(a["pid"] == agent.pid(), f"status pid {a['pid']}, agent pid {agent.pid()}")
    check(agent.state() == "connected", f"the new agent is {agent.state()!r}, not connected")
    with open(os.path.join(agent.home, "agent", "config", "credentials.cfg")) as f:
        creds = f.read()
    check(f"ak={TEST_AK}\n" in creds and f"sk={TEST_SK}\n" in creds,
          "startup.sh did not get the AK/SK answers")
    d.wait_log("restart stdout:")
    d.stop()
    no_secrets(d)


@scenario("the agent's home is remembered across a restart of smsguard")
def _(ctx):
    sim, agent, d = agent_setup(ctx)
    r = agent.start()
    check(r.returncode == 0, f"startup.sh failed: {r.stdout}")
    d.start()
    wait_for(lambda: agent_status(d).get("home") == agent.home, timeout=10, what="home learned")
    d.stop()
    agent.shutdown()
    check(not agent.alive(), "shutdown.sh left the agent running")
    # A new smsguard that never saw the agent running, allowed to restart it.
    d.update({"agent": {"restart": "when-dead"}})
    d.start()
    check(agent_status(d).get("home") == agent.home, "home forgotten across the restart")
    a = wait_for(lambda: (lambda s: s if s["state"] == "running" and s.get("last_restart")
                          and s["last_restart"]["result"] == "ok" else None)(agent_status(d)),
                 timeout=45, interval=0.1, what="the dead agent started from the remembered home")
    check(a["restarts"] >= 1, "running without a restart by smsguard")
    check(a["pid"] == agent.pid(), "status pid is not the fake agent's")
    d.stop()
    no_secrets(d)


@scenario("a restart command that hangs is killed at its timeout")
def _(ctx):
    marker = "617.25"
    sim, agent, d = agent_setup(ctx, restart="when-dead", extra_agent={
        "restart_command": f'/bin/sh -c "sleep {marker}; exit 0"', "restart_timeout": "1s"})
    r = agent.start()
    check(r.returncode == 0, f"startup.sh failed: {r.stdout}")
    d.start()
    wait_for(lambda: agent_status(d)["state"] == "running", timeout=10, what="agent running")
    agent.kill()
    d.wait_log("killing it", timeout=30)

    def sleepers():
        out = subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True, text=True)
        return out.stdout.split()
    wait_for(lambda: not sleepers(), timeout=5, what="the hung command's group gone")
    a = wait_for(lambda: (lambda s: s if s.get("last_restart") else None)(agent_status(d)),
                 timeout=5, what="last_restart in status")
    check(a["last_restart"]["result"] == "timeout", f"last_restart {a['last_restart']}")
    d.stop()
    no_secrets(d)


def planted_home(ctx, owner):
    """A home anyone could plant: startup.sh (leaves a mark when run) and a linuxmain, all owner's."""
    home = tempfile.mkdtemp(prefix="sgplant-", dir="/tmp")
    ctx.cleanups.append(lambda: shutil.rmtree(home, ignore_errors=True))
    os.chmod(home, 0o755)
    os.makedirs(os.path.join(home, "agent", "config"))
    os.makedirs(os.path.join(home, "agent", "bin"))
    startup = os.path.join(home, "startup.sh")
    with open(startup, "w") as f:
        f.write("#!/bin/sh\n{ id; cat; } > %s/ran\n" % home)
    os.chmod(startup, 0o755)
    shutil.copy(shutil.which("sleep"), os.path.join(home, "agent", "bin", "linuxmain"))
    for root, dirs, files in os.walk(home):
        for n in dirs + files:
            os.chown(os.path.join(root, n), owner.pw_uid, owner.pw_gid)
    os.chown(home, owner.pw_uid, owner.pw_gid)
    return home


@scenario("a linuxmain run by another user from its own home is never adopted, nor restarted")
def _(ctx):
    import pwd
    sim, agent, d = agent_setup(ctx, restart="when-dead")  # the real agent stays stopped
    nobody = pwd.getpwnam("nobody")
    home = planted_home(ctx, nobody)
    planted = subprocess.Popen([os.path.join(home, "agent", "bin", "linuxmain"), "1000"],
                               cwd=home, user=nobody.pw_uid, group=nobody.pw_gid,
                               extra_groups=[], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ctx.cleanups.append(lambda: planted.poll() is None and (planted.kill(), planted.wait()))
    wait_for(lambda: open(f"/proc/{planted.pid}/comm").read().strip() == "linuxmain",
             timeout=5, what="the planted linuxmain running")
    d.start()
    why = f"ignoring linuxmain pid {planted.pid}: run by uid {nobody.pw_uid}"
    d.wait_log(why)
    a = agent_status(d)
    check(a["state"] == "dead", f"agent {a['state']!r} with only another user's linuxmain")
    check(a["home"] is None, f"home {a['home']!r} taken from another user's process")
    planted.kill()
    planted.wait()
    # The policy wants the dead agent restarted, and finds nothing it may run.
    wait_for(lambda: "home is unknown" in (d.status().get("recovery") or {}).get("reason", ""),
             timeout=20, what="recovery's reason: the agent's home is unknown")
    a = agent_status(d)
    check(a["restarts"] == 0 and a["last_restart"] is None, f"a restart was tried: {a}")
    d.stop()
    check(not os.path.exists(os.path.join(home, "ran")), "the planted startup.sh was run")
    with open(os.path.join(d.state_dir, "state.json")) as f:
        saved = json.load(f)
    check("agent_home" not in saved, f"state.json remembers {saved.get('agent_home')!r}")
    check(d.log().count(why) == 1, "the refusal was not logged exactly once")
    no_secrets(d)


if __name__ == "__main__":
    main()
