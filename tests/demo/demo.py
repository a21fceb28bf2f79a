#!/usr/bin/env python3
"""make demo: the whole story, no root needed, about a minute.

The bundled simulator plays Huawei Cloud SMS (over HTTPS with a test CA),
fake listeners play the target server's ports 22/8899/8900, and a fake
SMS-Agent (`linuxmain`) runs on this host. A migration runs; the demo cuts
the link to port 8899; smsguard reports `target_down` before SMS fails the
task with SMS.2802; the link comes back; smsguard waits for it to settle,
resumes the task, and the migration finishes.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "sim"))
import simctl  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--smsguard", required=True)
ap.add_argument("--smsguardctl", required=True)
args = ap.parse_args()

AK = "DEMOAK00000000000000"
SK = "demo-secret-key-0123456789abcdefghijkl"
TTY = sys.stdout.isatty()
tmp = tempfile.mkdtemp(prefix="smsguard-demo-")
sock = os.path.join(tmp, "smsguard.sock")
t0 = time.monotonic()


def say(msg):
    stamp = f"[{time.monotonic() - t0:5.1f}s]"
    print(f"\n\033[1m{stamp} {msg}\033[0m" if TTY else f"\n{stamp} {msg}", flush=True)


def ctl(*a, show=True):
    p = subprocess.run([args.smsguardctl, "-s", sock, *a], capture_output=True, text=True)
    if show:
        sys.stdout.write(p.stdout)
        sys.stderr.write(p.stderr)
    return p


def status():
    p = ctl("status", "--json", show=False)
    return json.loads(p.stdout) if p.stdout.strip() else None


def wait(pred, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            v = pred()
            if v:
                return v
        except (ValueError, KeyError, TypeError):
            pass
        if daemon.poll() is not None:
            raise SystemExit(f"smsguard exited while waiting for {what}")
        time.sleep(0.1)
    raise SystemExit(f"demo: timed out waiting for {what}")


def event_seen(etype):
    p = ctl("events", "--json", show=False)
    return [e for e in json.loads(p.stdout)["events"] if e["type"] == etype]


daemon = None
status_code = 1
p22, p8899, p8900 = simctl.free_ports(3)
try:
    say("starting the SMS simulator (HTTPS, test CA), the target's ports and SMS-Agent")
    sim = simctl.Sim(os.path.join(tmp, "sim"), ak=AK, sk=SK, tasks=[{
        "id": "7a9a9540-5c9f-4f5a-9b3c-0e2d1b6f8a11", "name": "erp-db01 to ECS",
        "type": "MIGRATE_FILE", "os_type": "WINDOWS", "state": "RUNNING",
        "migration_ip": "127.0.0.1", "rate": 6.0, "fail_after": 3,
        "port_map": {"22": p22, "8899": p8899, "8900": p8900},
    }]).start()
    task_id = sim.task_id
    link = simctl.FakeTarget("127.0.0.1", [p8899]).start()
    others = simctl.FakeTarget("127.0.0.1", [p22, p8900]).start()
    agent = simctl.FakeAgent(os.path.join(tmp, "SMS-Agent"), sim, task_id=task_id)
    agent.install()
    agent.start()
    print(f"simulator {sim.url}; target ports 22->{p22} 8899->{p8899} 8900->{p8900}; "
          f"linuxmain pid {agent.pid()}")

    creds = os.path.join(tmp, "credentials")
    with open(creds, "w") as f:
        f.write(f"ak={AK}\nsk={SK}\n")
    os.chmod(creds, 0o600)
    conf = os.path.join(tmp, "smsguard.conf")
    with open(conf, "w") as f:
        f.write(f"""[daemon]
state_dir = {tmp}/state
[cloud]
endpoint = {sim.url}
ca_file = {sim.ca_file}
credentials = {creds}
timeout = 5s
[task]
id = {task_id}
poll = 2s
poll_idle = 5s
[target]
address = 127.0.0.1
ports = {p22}, {p8899}, {p8900}
interval = 200ms
timeout = 200ms
fall = 3
rise = 2
[agent]
home = {tmp}/SMS-Agent
restart = when-dead
[recovery]
settle = 3s
backoff = 5s..1m
confirm = 20s
[ratelimit]
apply = off
[control]
socket = {sock}
""")
    say(f"smsguard -n -f {conf}")
    subprocess.run([args.smsguard, "-n", "-f", conf], check=True)

    say("starting smsguard in the foreground (its log: " + os.path.join(tmp, "smsguard.log") + ")")
    log = open(os.path.join(tmp, "smsguard.log"), "w")
    daemon = subprocess.Popen([args.smsguard, "-f", conf], stdout=log, stderr=subprocess.STDOUT)
    wait(lambda: (status() or {}).get("task", {}).get("state") == "RUNNING"
         and status()["target"]["state"] == "up" and status()["agent"]["state"] == "running",
         "smsguard to see the task running, the target up and the agent alive", 30)
    wait(lambda: status()["task"].get("progress", 0) >= 10, "some progress", 60)
    say("the migration is running: smsguardctl status")
    ctl("status")

    say(f"cutting the link: port 8899 (here {p8899}) stops answering")
    link.stop()
    ev = wait(lambda: event_seen("target_down"), "target_down", 10)
    print(f"smsguard: {ev[-1]['type']}: {ev[-1]['message']}")
    st = status()
    print(f"task state in the cloud at that moment: {st['task']['state']}  "
          "(smsguard saw it first)")
    wait(lambda: status()["task"]["state"] == "MIGRATE_FAIL", "SMS to fail the task", 30)
    say("SMS failed the task: smsguardctl status")
    ctl("status")
    starts = sim.actions("start")
    print(f"'start' requests while the link is down: {len(starts)}")

    say("the link comes back")
    link = simctl.FakeTarget("127.0.0.1", [p8899]).start()
    t_back = time.monotonic()
    wait(lambda: sim.actions("start"), "smsguard to resume the task", 30)
    print(f"smsguard sent 'start' {time.monotonic() - t_back:.1f} s after the link returned "
          "(rise + settle)")
    wait(lambda: status()["task"]["state"] == "RUNNING", "the task to run again", 30)
    say("resumed: smsguardctl status")
    ctl("status")

    wait(lambda: status()["task"]["state"] == "MIGRATE_SUCCESS", "the migration to finish", 120)
    say("the migration finished: smsguardctl status and events")
    ctl("status")
    ctl("events")
    n = len(sim.actions("start"))
    print(f"\n'start' requests sent by smsguard in all: {n}")
    if n != 1:
        raise SystemExit(f"demo: expected exactly one start, saw {n}")

    say("stopping smsguard (SIGTERM)")
    daemon.send_signal(signal.SIGTERM)
    status_code = daemon.wait(timeout=15)
    print(f"smsguard exited {status_code}")
finally:
    if daemon is not None and daemon.poll() is None:
        daemon.kill()
        daemon.wait()
    simctl._cleanup()
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(status_code)
