#!/usr/bin/env python3
"""Agent death -> restart command, smsguard against monit (a phase of `make bench`). Root only.

One fake SMS-Agent (tests/sim/fakeagent), watched by both:
  smsguard  [agent] restart = when-dead, its restart_command a marker script that then execs the
            agent's startup.sh with the answers on stdin (budget raised to 1000/1h);
  monit     `set daemon 2` and `check process agent with pidfile …/linuxmain.pid start program =
            "<marker> …"`, the same startup.sh after the same marker.
Both would restart the same agent, so the trials alternate in one run: in smsguard's trials
monit's check is unmonitored; in monit's, smsguard is paused (`smsguardctl pause`: it observes
and acts on nothing). Each trial kills linuxmain with SIGKILL; the time is kill -> the marker,
i.e. the moment the watcher's command starts.

    python3 bench/agentdeath.py --smsguard … --smsguardctl … [--trials 20] [--json OUT]
"""

import argparse
import os
import random
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from benchlib import harness, simctl, log  # noqa: E402

TASK = "b0000000-0000-4000-8000-0000000000d1"


def start_world(ctx, tmp):
    sim = simctl.Sim(os.path.join(tmp, "sim"), ak=benchlib.AK, sk=benchlib.SK, tasks=[{
        "id": TASK, "state": "RUNNING", "migration_ip": "127.0.0.1", "simulate": False}]).start()
    ctx.cleanups.append(sim.stop)
    agent = simctl.FakeAgent(os.path.join(tmp, "SMS-Agent"), sim, task_id=TASK).install()
    ctx.cleanups.append(agent.stop)
    if agent.start().returncode != 0:
        raise RuntimeError("the fake agent did not start")
    return sim, agent


def start_smsguard(ctx, tmp, sim, agent):
    mark, times = benchlib.marker_script(tmp, "sg-restart",
                                         exec_after=f"/bin/bash {agent.home}/startup.sh")
    d = harness.Daemon(ctx, name="ag", config={
        "daemon": {"log_level": "info"},
        "cloud": {"endpoint": sim.url, "ca_file": sim.ca_file, "timeout": None},
        "task": {"id": TASK, "poll": None, "poll_idle": None},
        "target": {"address": "127.0.0.1", "ports": str(sim.port), "interval": None,
                   "timeout": None, "fall": None, "rise": None},
        "agent": {"process": "linuxmain", "restart": "when-dead", "home": agent.home,
                  "restart_command": mark, "restart_timeout": "30s",
                  "restart_answers": "y\\n{ak}\\n{sk}\\n" + sim.domain},
        "recovery": {"settle": None, "backoff": None, "confirm": None, "budget": "1000/1h"}})
    d.start()
    return d, times


def start_monit(ctx, tmp, agent):
    answers = os.path.join(tmp, "answers")
    with open(answers, "w") as f:
        f.write(agent.answers())
    os.chmod(answers, 0o600)
    mark, times = benchlib.marker_script(
        tmp, "monit-restart", exec_after=f"/bin/bash {agent.home}/startup.sh < {answers}")
    m = benchlib.Monit(tmp, 2, f"check process agent with pidfile {agent.pidfile}\n"
                               f"  start program = \"{mark}\" with timeout 30 seconds\n").start()
    ctx.cleanups.append(m.stop)
    return m, times


def monit_agent(monit):
    """The agent's status word in `monit summary` (OK, Not monitored, Does not exist, …)."""
    _, out = monit.cli("summary")
    for line in out.split("\n"):
        parts = line.split(None, 1)
        if parts and parts[0] == "agent":
            return parts[1].rsplit("Process", 1)[0].strip()
    return None


def agent_seen(d, agent):
    pid = agent.pid()
    a = d.status()["agent"]
    return pid is not None and agent.alive() and a["state"] == "running" and a.get("pid") == pid


def kill_and_time(agent, times, timeout=30):
    harness.wait_for(agent.alive, timeout=30, what="the agent alive")
    time.sleep(random.uniform(0.5, 2.5))  # any phase of monit's cycle and smsguard's scan
    t_kill = time.time()
    agent.kill(signal.SIGKILL)
    marks = harness.wait_for(lambda: benchlib.read_marks(times, since=t_kill), timeout=timeout,
                             interval=0.01, what="the restart command")
    return min(marks) - t_kill


def trial_smsguard(d, agent, monit, times):
    monit.cli("unmonitor", "agent")
    harness.wait_for(lambda: monit_agent(monit) == "Not monitored", timeout=30,
                     what="monit's agent check unmonitored")
    harness.wait_for(lambda: agent_seen(d, agent), timeout=30, what="smsguard watching the agent")
    dt = kill_and_time(agent, times)
    harness.wait_for(lambda: agent_seen(d, agent), timeout=60, what="the agent back")
    return dt


def trial_monit(d, agent, monit, times):
    r = d.request({"cmd": "pause"})
    harness.check(isinstance(r, dict) and r.get("ok"), f"pause refused: {r!r}")
    monit.cli("monitor", "agent")
    harness.wait_for(lambda: monit_agent(monit) == "OK", timeout=30,
                     what="monit's agent check running")
    dt = kill_and_time(agent, times)
    # Resumed before its scan (every interval) has seen monit's agent, smsguard would try a
    # restart of its own, find the agent running and count that as a failed attempt, whose
    # backoff would then delay the next trial's restart: wait until it has seen the agent.
    harness.wait_for(lambda: agent_seen(d, agent), timeout=60, what="the agent back")
    monit.cli("unmonitor", "agent")
    r = d.request({"cmd": "resume"})
    harness.check(isinstance(r, dict) and r.get("ok"), f"resume refused: {r!r}")
    return dt


def main():
    ap = benchlib.common_args(argparse.ArgumentParser())
    ap.add_argument("--trials", type=int, default=20)
    args = ap.parse_args()
    benchlib.setup(args)
    if not benchlib.is_root():
        benchlib.emit(args, {"skipped": "needs root (pause/resume, a private PID namespace)"})
        return
    others = benchlib.other_agents()
    if others:
        benchlib.emit(args, {"skipped": f"another linuxmain runs here: {others}"})
        return
    tmp = tempfile.mkdtemp(prefix="smsguard-ag-")
    os.chmod(tmp, 0o755)
    ctx = harness.Context()
    try:
        sim, agent = start_world(ctx, tmp)
        d, sg_times = start_smsguard(ctx, tmp, sim, agent)
        monit, mo_times = start_monit(ctx, tmp, agent)
        log(f"agent death: {args.trials} trials each, alternating")
        res = {"smsguard": [], "monit": []}
        for i in range(args.trials):
            res["smsguard"].append(trial_smsguard(d, agent, monit, sg_times))
            res["monit"].append(trial_monit(d, agent, monit, mo_times))
            log(f"trial {i + 1}: smsguard {res['smsguard'][-1]:.3f} s, "
                f"monit {res['monit'][-1]:.3f} s")
        d.alive_or_raise()
        d.stop()
        benchlib.emit(args, dict(res, monit_version=benchlib.Monit.version()))
    finally:
        ctx.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
