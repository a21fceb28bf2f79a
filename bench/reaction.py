#!/usr/bin/env python3
"""Detection and recovery, side by side (a phase of `make bench`; bench/README.md). Root only.

The target is a network namespace reached over a veth pair (the integration harness's NetNS:
an `unreachable` route for its subnet while it exists, removed last), listening on 22, 8899
and 8900. Watching it at once:
  smsguard  the defaults: interval 2 s, timeout 2 s, fall 3, rise 2, settle 10 s, poll 30 s
            (budget raised to 1000/1h so that TRIALS resumes in an hour are not refused);
  monit     `set daemon 2` (its cycle = the interval) and, per port, `if failed port P type tcp
            with timeout 2 seconds for 3 cycles then exec …` (the same fall count);
  poller    bench/cloudpoller.py every POLLER_INTERVAL s (60), on its own task.
The simulator runs two tasks on that target (smsguard's and the poller's), each failing with
the port's network code 3 s after the link drops.

Each trial: after a random 0-2 s, an nft rule in the namespace drops everything from the host
(no RST: the probes time out). Detection = drop -> smsguard's target_down event (seen on the
control socket, polled every 20 ms) and -> monit's first exec. Once both have seen it and both
tasks have failed, the rule goes. Recovery = link back -> the `start` that brings each task
back for good (from the simulator's request log). The poller's starts while the link was down
are counted too.

    python3 bench/reaction.py --smsguard … --smsguardctl … [--trials 20] [--poller-interval 60]
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from benchlib import harness, simctl, log  # noqa: E402

TASK_SG = "b0000000-0000-4000-8000-0000000000a1"
TASK_POLLER = "b0000000-0000-4000-8000-0000000000a2"
PORTS = (22, 8899, 8900)
FAIL_AFTER = 3


def tasks(target_ip):
    common = {"type": "MIGRATE_BLOCK", "os_type": "WINDOWS", "state": "RUNNING",
              "migration_ip": target_ip, "rate": 0.001, "fail_after": FAIL_AFTER,
              "agent_timeout": 0}
    return [dict(common, id=TASK_SG, source_server={
                "id": "b0000000-0000-4000-8000-0000000005a1", "ip": "127.0.0.1"}),
            dict(common, id=TASK_POLLER, agent_required=False, source_server={
                "id": "b0000000-0000-4000-8000-0000000005a2", "ip": "127.0.0.2",
                "name": "poller-source"})]


def start_world(ctx, tmp, args):
    ns = harness.NetNS(ctx, name="sgb", subnet_prefix=f"10.215.{random.randrange(1, 250)}")
    target = simctl.FakeTarget(ns.target_ip, PORTS, netns=ns.name).start()
    ctx.cleanups.append(target.stop)
    sim = simctl.Sim(os.path.join(tmp, "sim"), ak=benchlib.AK, sk=benchlib.SK,
                     tasks=tasks(ns.target_ip)).start()
    ctx.cleanups.append(sim.stop)
    agent = simctl.FakeAgent(os.path.join(tmp, "SMS-Agent"), sim, task_id=TASK_SG).install()
    ctx.cleanups.append(agent.stop)
    if agent.start().returncode != 0:
        raise RuntimeError("the fake agent did not start")
    return ns, sim, agent


def start_smsguard(ctx, sim, ns):
    d = harness.Daemon(ctx, name="rx", config={
        "daemon": {"log_level": "info"},
        "cloud": {"endpoint": sim.url, "ca_file": sim.ca_file, "timeout": None},
        "task": {"id": TASK_SG, "poll": None, "poll_idle": None},
        "target": {"address": ns.target_ip, "ports": ",".join(map(str, PORTS)),
                   "interval": None, "timeout": None, "fall": None, "rise": None},
        "agent": {"restart": "never"},
        "recovery": {"settle": None, "backoff": None, "confirm": None, "budget": "1000/1h"}})
    d.start()
    return d


def start_monit(ctx, tmp, ns):
    mark, times = benchlib.marker_script(tmp, "monit-port")
    checks = f"check host target with address {ns.target_ip}\n"
    for p in PORTS:
        checks += (f"  if failed port {p} type tcp with timeout 2 seconds for 3 cycles "
                   f"then exec \"{mark} down\"\n"
                   f"  else if succeeded for 2 cycles then exec \"{mark} up\"\n")
    m = benchlib.Monit(tmp, 2, checks).start()
    ctx.cleanups.append(m.stop)
    return m, times


def start_poller(ctx, tmp, sim, interval):
    path = os.path.join(tmp, "poller.log")
    env = dict(os.environ, HUAWEICLOUD_SDK_AK=sim.ak, HUAWEICLOUD_SDK_SK=sim.sk)
    p = subprocess.Popen([sys.executable, os.path.join(benchlib.HERE, "cloudpoller.py"),
                          "--endpoint", sim.url, "--ca-file", sim.ca_file, "--task", TASK_POLLER,
                          "--interval", str(interval), "--log", path], env=env,
                         stdin=subprocess.DEVNULL)

    def stop():
        p.kill()
        p.wait()
    ctx.cleanups.append(stop)
    return p


def last_seq(d):
    evs = d.events()
    return max((e.get("seq", 0) for e in evs), default=0)


def monit_target_ok(monit):
    rc, out = monit.cli("summary")
    return rc == 0 and any(" target " in f" {line} " and " OK " in f" {line} "
                           for line in out.split("\n"))


def ready(d, sim, monit):
    s = d.status()
    return (s["target"]["state"] == "up" and s["task"].get("state") == "RUNNING"
            and sim.task(TASK_SG)["state"] == "RUNNING"
            and sim.task(TASK_POLLER)["state"] == "RUNNING" and monit_target_ok(monit))


def starts(sim, task, since_seq):
    return [e for e in sim.actions("start", since=since_seq) if e.get("task_id") == task]


def stable_running(sim, task, hold):
    """Waits until task stays RUNNING for hold seconds; returns when that began."""
    began = None
    while True:
        now = time.time()
        if sim.task(task)["state"] == "RUNNING":
            began = began or now
            if now - began >= hold:
                return began
        else:
            began = None
        time.sleep(0.2)


def detect(d, monit_times, t_drop, seq0, timeout):
    """Times (s after the drop) until smsguard's target_down and monit's first exec."""
    sg = mo = None
    deadline = time.monotonic() + timeout
    while (sg is None or mo is None) and time.monotonic() < deadline:
        if sg is None and any(e["type"] == "target_down" and e.get("seq", 0) > seq0
                              for e in d.events()):
            sg = time.time() - t_drop
        if mo is None:
            marks = benchlib.read_marks(monit_times, "down", since=t_drop)
            if marks:
                mo = min(marks) - t_drop
        time.sleep(0.02)
    return sg, mo


def trial(n, d, sim, ns, monit, monit_times, args):
    harness.wait_for(lambda: ready(d, sim, monit), timeout=240, interval=0.5,
                     what="smsguard, monit and both tasks ready")
    time.sleep(random.uniform(0, 2))
    seq0, sim_seq0 = last_seq(d), sim.last_seq()
    t_drop = time.time()
    ns.drop()
    sg_det, mo_det = detect(d, monit_times, t_drop, seq0, timeout=120)
    harness.wait_for(lambda: d.status()["task"].get("state") in ("MIGRATE_FAIL", "SYNC_FAIL")
                     and sim.task(TASK_POLLER)["state"] in ("MIGRATE_FAIL", "SYNC_FAIL"),
                     timeout=120, interval=0.2, what="both tasks failed and smsguard aware")
    back_seq = sim.last_seq()
    t_back = time.time()
    ns.clear_rules()
    rec = {}
    for name, task in (("smsguard", TASK_SG), ("poller", TASK_POLLER)):
        began = stable_running(sim, task, FAIL_AFTER + 2)
        st = [e["time"] for e in starts(sim, task, sim_seq0) if e["time"] <= began]
        rec[name] = max(0.0, max(st) - t_back) if st else None
    wasted = len([e for e in starts(sim, TASK_POLLER, sim_seq0) if e["seq"] <= back_seq])
    sg_starts = len(starts(sim, TASK_SG, sim_seq0))
    r = {"detect_smsguard": sg_det, "detect_monit": mo_det, "recover_smsguard": rec["smsguard"],
         "recover_poller": rec["poller"], "poller_starts_link_down": wasted,
         "smsguard_starts": sg_starts}
    log(f"trial {n}: " + json.dumps({k: round(v, 2) if isinstance(v, float) else v
                                     for k, v in r.items()}))
    return r


def main():
    ap = benchlib.common_args(argparse.ArgumentParser())
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--poller-interval", type=float, default=60)
    args = ap.parse_args()
    benchlib.setup(args)
    if not benchlib.is_root():
        benchlib.emit(args, {"skipped": "needs root (a network namespace and nft)"})
        return
    tmp = tempfile.mkdtemp(prefix="smsguard-rx-")
    os.chmod(tmp, 0o755)
    ctx = harness.Context()
    try:
        ns, sim, agent = start_world(ctx, tmp, args)
        d = start_smsguard(ctx, sim, ns)
        monit, monit_times = start_monit(ctx, tmp, ns)
        start_poller(ctx, tmp, sim, args.poller_interval)
        log(f"detection and recovery: {args.trials} trials")
        trials = [trial(i + 1, d, sim, ns, monit, monit_times, args)
                  for i in range(args.trials)]
        d.alive_or_raise()
        d.stop()
        benchlib.emit(args, {"trials": trials, "poller_interval": args.poller_interval,
                             "monit_version": benchlib.Monit.version()})
    finally:
        ctx.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
