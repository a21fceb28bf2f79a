"""The world of the end-to-end scenarios that need a migrating task: the simulator with one
RUNNING task, the target's ports (a network namespace cut by an nft DROP rule when root, else a
loopback listener stopped and started again), the fake agent, and a daemon pointed at all three.
Shared by test_recovery.py and test_notify.py.

Intervals are scaled down: probe every 100 ms (timeout 200 ms, fall 3, rise 2), settle 1 s,
poll 1 s, confirm 5 s, backoff 1 s..8 s.
"""

import os
import random
import shutil
import tempfile
import time

import harness
from harness import NetNS, Skip, TEST_AK, TEST_SK, check, free_port, is_root, wait_for
from simctl import FakeAgent, FakeTarget, Sim

INTERVAL, TIMEOUT, FALL, RISE = 0.1, 0.2, 3, 2
SETTLE, POLL, CONFIRM = 1.0, 1.0, 5.0
SLACK = 1.0  # s: status polling, process start-up, a loaded CI machine (ASan)
TASK_ID = "3d0c6a52-8f1e-4c1b-a7d2-6e9b1f0c4a21"
SOURCE_ID = "5b2e9c40-1a7d-4f3e-9c8b-2d4f6a8e0b13"


class Link:
    """The target's ports, reachable or not: a network namespace when root, else loopback."""

    def __init__(self, ctx, ports):
        self.ctx = ctx
        if is_root() and shutil.which("nft") and shutil.which("ip"):
            self.ns = NetNS(ctx, name="sgr%d" % random.randrange(100, 1000),
                            subnet_prefix="10.214.%d" % random.randrange(1, 250))
            self.addr = self.ns.target_ip
            self.ports = ports
        else:
            self.ns = None
            self.addr = "127.0.0.1"
            self.ports = [free_port() for _ in ports]
        self.tgt = None
        self._listen()

    def _listen(self):
        self.tgt = FakeTarget(self.addr, self.ports,
                              netns=self.ns.name if self.ns else None).start()
        if self.ns:
            self.ns.procs.append(self.tgt.proc)  # stopped before the namespace goes
        self.ctx.cleanups.append(self.tgt.stop)

    def cut(self):
        if self.ns:
            # Silently dropped (no RST), from a ruleset file: NetNS.drop()'s one-line ruleset
            # does not parse with this nft.
            self.ns.clear_rules()
            plist = ", ".join(str(p) for p in self.ports)
            with tempfile.NamedTemporaryFile("w", suffix=".nft", delete=False) as f:
                f.write("table inet sgrec {\n  chain input {\n"
                        "    type filter hook input priority 0;\n"
                        f"    tcp dport {{ {plist} }} drop\n  }}\n}}\n")
            try:
                self.ns.exec("nft", "-f", f.name)
            finally:
                os.unlink(f.name)
            self.ns.nft_table = "sgrec"  # clear_rules() deletes it
        else:
            self.tgt.stop()

    def restore(self):
        if self.ns:
            self.ns.clear_rules()
        else:
            self._listen()


class World:
    """Simulator (one RUNNING task), target, fake agent and a daemon pointed at all three."""

    def __init__(self, ctx, task=None, gprop=None, agent=None, recovery=None, block=False,
                 target=None):
        if os.geteuid() == 0 and not harness.pids_isolated():
            raise Skip("no PID namespace of our own: another linuxmain could be watched")
        self.ctx = ctx
        self.tmp = tempfile.mkdtemp(prefix="sgrec-", dir="/tmp")
        ctx.cleanups.append(lambda: shutil.rmtree(self.tmp, ignore_errors=True))
        logical = [22, 8900] if block else [22]
        self.link = Link(ctx, [12022, 18900][:len(logical)])
        t = {"id": TASK_ID, "type": "MIGRATE_BLOCK" if block else "MIGRATE_FILE",
             "os_type": "LINUX", "state": "RUNNING", "migration_ip": self.link.addr,
             "port_map": {str(lp): p for lp, p in zip(logical, self.link.ports)},
             "rate": 0.3, "fail_after": 1.0, "agent_timeout": 0,
             "source_server": {"id": SOURCE_ID, "ip": "127.0.0.1", "name": "recsrc"}}
        t.update(task or {})
        self.sim = Sim(os.path.join(self.tmp, "sim"), ak=TEST_AK, sk=TEST_SK,
                       tasks=[t]).start()
        ctx.cleanups.append(self.sim.stop)
        self.agent = FakeAgent(os.path.join(self.tmp, "SMS-Agent"), self.sim, task_id=TASK_ID,
                               gprop=gprop)
        self.agent.install()
        ctx.cleanups.append(self.agent.stop)
        r = self.agent.start()
        check(r.returncode == 0, f"startup.sh failed: {r.stdout}")
        agent_cfg = {"process": "linuxmain", "restart": "never", "restart_timeout": "30s"}
        agent_cfg.update(agent or {})
        rec = {"settle": "1s", "budget": "6/1h", "backoff": "1s..8s", "confirm": "5s"}
        rec.update(recovery or {})
        tgt = {"address": self.link.addr, "ports": ",".join(str(p) for p in self.link.ports),
               "interval": "100ms", "timeout": "200ms", "fall": FALL, "rise": RISE}
        tgt.update(target or {})
        self.d = ctx.daemon(config={
            "cloud": {"endpoint": self.sim.url, "ca_file": self.sim.ca_file, "timeout": "2s"},
            "task": {"id": TASK_ID, "poll": "1s", "poll_idle": "5s"},
            "target": tgt,
            "agent": agent_cfg,
            "recovery": rec,
        })

    def start(self):
        self.d.start()
        self.wait_steady()
        return self

    def wait_steady(self, timeout=20):
        """Task RUNNING as smsguard sees it, target up, agent running."""
        return wait_for(lambda: (lambda s: s if s["task"].get("state") == "RUNNING"
                                 and s["target"]["state"] == "up"
                                 and s["agent"]["state"] == "running" else None)(
            self.d.status()), timeout=timeout, what="RUNNING task, target up, agent running")

    def starts(self, since=0):
        return self.sim.actions("start", since)

    def polls(self, since=0):
        return [e for e in self.sim.requests(since) if e["api"] == "ShowTask"]

    def wait_polls(self, n, since, timeout=15):
        """n more task polls: time for smsguard to have acted, had it wanted to."""
        try:
            wait_for(lambda: len(self.polls(since)) >= n, timeout=timeout,
                     what=f"{n} task polls")
        except Exception:
            print("\n".join("# " + l for l in self.d.log()[-8000:].splitlines()
                             if "probe:" not in l), flush=True)
            print("# polls: %s" % [(e["time"], e["status"], e.get("fault"), e.get("done"))
                                   for e in self.polls()][-10:], flush=True)
            raise

    def events(self, etype, since=0):
        return [e for e in self.d.events() if e["type"] == etype and e.get("seq", 0) > since]

    def last_event_seq(self):
        ev = self.d.events()
        return max((e.get("seq", 0) for e in ev), default=0)

    def recovery(self):
        rc, st = self.d.ctl_json("status")
        return st["recovery"]


def fail_over_link(w):
    """Cuts the link; returns once SMS failed the task and smsguard saw it."""
    t0 = time.monotonic()
    w.link.cut()
    ev = w.d.wait_event("target_down", timeout=10)
    took = time.monotonic() - t0
    failed = w.sim.wait_task("MIGRATE_FAIL", timeout=15)
    wait_for(lambda: w.d.status()["task"].get("state") == "MIGRATE_FAIL", timeout=10,
             what="smsguard sees MIGRATE_FAIL")
    return ev, took, failed
