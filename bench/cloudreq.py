#!/usr/bin/env python3
"""Cloud requests per hour in steady state, running and idle (a phase of `make bench`).

Two smsguards at their defaults (poll 30 s while the task runs, poll_idle 5 m otherwise, the
rate-limit schedule of DESIGN.md §4 kept applied to the task), each against its own simulator:
one task RUNNING, one MIGRATE_SUCCESS (finished: how a task sits for days before the cutover).
After a warm-up that leaves the start-up calls out, every signed request each simulator
receives during DURATION seconds is counted by API and extrapolated to an hour.

`make bench` runs this beside its other phases, so the window costs no time of its own.

    python3 bench/cloudreq.py --smsguard … --smsguardctl … [--duration 1800] [--warmup 60]
"""

import argparse
import collections
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from benchlib import harness, simctl, log  # noqa: E402

TASKS = {"running": ("b0000000-0000-4000-8000-0000000000c1", "RUNNING"),
         "idle": ("b0000000-0000-4000-8000-0000000000c2", "MIGRATE_SUCCESS")}


def start_sim(ctx, tmp, kind):
    task, state = TASKS[kind]
    sim = simctl.Sim(os.path.join(tmp, f"sim-{kind}"), ak=benchlib.AK, sk=benchlib.SK, tasks=[{
        "id": task, "state": state, "migration_ip": "127.0.0.1", "simulate": False}]).start()
    ctx.cleanups.append(sim.stop)
    return sim


def start_smsguard(ctx, kind, sim, ports):
    task, state = TASKS[kind]
    d = harness.Daemon(ctx, name=f"rq{kind[0]}", config={
        "daemon": {"log_level": "info"},
        "cloud": {"endpoint": sim.url, "ca_file": sim.ca_file, "timeout": None},
        "task": {"id": task, "poll": None, "poll_idle": None},
        "target": {"address": "127.0.0.1", "ports": ",".join(map(str, ports)),
                   "interval": None, "timeout": None, "fall": None, "rise": None},
        "agent": None, "recovery": None,
        "ratelimit": {"apply": None, "schedule": benchlib.SCHEDULE}})
    d.start()
    harness.wait_for(lambda: d.status()["task"].get("state") == state, timeout=60,
                     what=f"smsguard to read the {kind} task")
    return d


def count(sim, since, window):
    per_api = collections.Counter(e["api"] for e in sim.requests(since)
                                  if e.get("source") == "api")
    n = sum(per_api.values())
    return {"window_s": window, "count": n, "per_api": dict(per_api),
            "per_hour": n * 3600.0 / window}


def main():
    ap = benchlib.common_args(argparse.ArgumentParser())
    ap.add_argument("--duration", type=float, default=1800)
    ap.add_argument("--warmup", type=float, default=60)
    args = ap.parse_args()
    benchlib.setup(args)
    tmp = tempfile.mkdtemp(prefix="smsguard-rq-")
    os.chmod(tmp, 0o755)
    ctx = harness.Context()
    try:
        ports = simctl.free_ports(3)
        target = simctl.FakeTarget("127.0.0.1", ports).start()
        ctx.cleanups.append(target.stop)
        sims = {k: start_sim(ctx, tmp, k) for k in TASKS}
        agent = simctl.FakeAgent(os.path.join(tmp, "SMS-Agent"), sims["running"],
                                 task_id=TASKS["running"][0]).install()
        ctx.cleanups.append(agent.stop)
        if agent.start().returncode != 0:
            raise RuntimeError("the fake agent did not start")
        daemons = {k: start_smsguard(ctx, k, sims[k], ports) for k in TASKS}
        time.sleep(args.warmup)  # the start-up calls (first poll, speed-limit) stay out
        seq0 = {k: s.last_seq() for k, s in sims.items()}
        log(f"cloud requests: counting for {args.duration:.0f} s")
        t0 = time.monotonic()
        time.sleep(args.duration)  # the counting window itself
        window = time.monotonic() - t0
        res = {k: count(s, seq0[k], window) for k, s in sims.items()}
        for d in daemons.values():
            d.alive_or_raise()
            d.stop()
        benchlib.emit(args, res)
    finally:
        ctx.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
