#!/usr/bin/env python3
"""Records the status documents that test_ctl.py renders (tests/ctl/states/*.json).

    python3 tests/ctl/record.py --smsguard BUILD/src/smsguard --smsguardctl BUILD/src/ctl/smsguardctl

Runs the real daemon against the simulator, a fake target and a fake agent (as `make demo`
does) and takes `status --json` at four moments: a healthy migration (a Windows block-level
task, 38 % into its disk, about an hour and a half to go); paused by an operator; the link to
port 8899 cut and the task failed with SMS.2802 (degraded: smsguard waits for the link); and
the task failed with a code that is not the network's (failed: a person is needed).

Each document is then made independent of when and where it was recorded, so that the
rendering test is exact:
  * times are shifted so that the moment of recording is the test's fixed "now" (FIXED_NOW,
    a Tuesday at 03:12:45 UTC), clock times inside messages too; what happened before the
    recording began (the daemon's start, the agent and the ports coming up) is moved two hours
    further back, as if the migration had been running quietly since 01:07;
  * the simulator's test ports become 22, 8899 and 8900, the temporary directory /opt, the
    pids and the version fixed values;
  * the rate limit, off while recording, is README's schedule as it stands at FIXED_NOW;
  * until the daemon reports "notify" (issue 11's sinks), the healthy document gets the object
    they are specified to report, with a webhook that is failing.
Review a re-recording's diff (and the expected output's) before committing it.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "sim"))
import simctl  # noqa: E402

# Tuesday 2024-06-04 03:12:45 UTC: a migration at three in the morning.
FIXED_NOW = 1717470765
AK = "HPUATESTAK0123456789"
SK = "testSecretKey0123456789abcdefghijklmnopq"
# How much further back what happened before the recording goes.
QUIET_HOURS = 2 * 3600
# The notification sinks' report (issue 11), for a daemon that does not make it yet.
NOTIFY = {"dropped": 0, "sinks": [
    {"sink": "smn", "queued": 0, "delivered": 4, "failed": 0, "dropped": 0,
     "last_error": None, "next_retry": None},
    {"sink": "webhook", "queued": 2, "delivered": 2, "failed": 3, "dropped": 0,
     "last_error": "HTTP 503 from hooks.example.com", "next_retry": FIXED_NOW + 40},
]}
# Members that are Unix times, wherever they appear.
TIME_KEYS = {"started_at", "paused_until", "polled_at", "since", "last_ok", "next_poll",
             "next_allowed", "backoff_until", "time", "next_retry", "last_applied",
             "last_checked", "next_change", "until"}
# The schedule of README's example, at FIXED_NOW: Tuesday night, unlimited until 08:00.
RATELIMIT = {
    "current_mbps": 0, "window": "18:00-08:00", "next_change": 1717488000, "next_mbps": 50,
    "applied": True, "apply": "cloud", "timezone": None, "over_speed_threshold": 10,
    "today": [{"start": "08:00", "end": "18:00", "mbps": 50}],
    "last_applied": 1717459200, "last_checked": 1717470700, "error": None,
}


class Recorder:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="sgrecord-", dir="/tmp")
        self.sock = os.path.join(self.tmp, "ctl.sock")
        self.ports = simctl.free_ports(3)
        self.daemon = None

    def ctl(self, *a):
        return subprocess.run([self.args.smsguardctl, "-s", self.sock, *a],
                              capture_output=True, text=True, timeout=30)

    def status(self):
        p = self.ctl("status", "--json")
        return json.loads(p.stdout) if p.stdout.strip() else None

    def wait(self, pred, what, timeout=60):
        return simctl.wait_for(lambda: pred(self.status() or {}), timeout=timeout, what=what)

    def start(self):
        p22, p8899, p8900 = self.ports
        self.sim = simctl.Sim(os.path.join(self.tmp, "sim"), ak=AK, sk=SK, tasks=[{
            "id": "ef3b9722-2d05-4b7f-9b1c-5c5b7d2a0f11", "name": "erp-db01 to ECS",
            "type": "MIGRATE_BLOCK", "os_type": "WINDOWS", "state": "RUNNING",
            "migration_ip": "127.0.0.1", "rate": 62 / 5400, "fail_after": 3,
            "progress": 38, "subtask": "MIGRATE_WINDOWS_BLOCK",
            "port_map": {"22": p22, "8899": p8899, "8900": p8900}}]).start()
        self.link = simctl.FakeTarget("127.0.0.1", [p8899]).start()
        self.others = simctl.FakeTarget("127.0.0.1", [p22, p8900]).start()
        self.agent = simctl.FakeAgent(os.path.join(self.tmp, "SMS-Agent"), self.sim,
                                      task_id=self.sim.task_id)
        self.agent.install()
        self.agent.start()
        creds = os.path.join(self.tmp, "credentials")
        with open(creds, "w") as f:
            f.write(f"ak={AK}\nsk={SK}\n")
        os.chmod(creds, 0o600)
        conf = os.path.join(self.tmp, "smsguard.conf")
        with open(conf, "w") as f:
            f.write(f"[daemon]\nstate_dir = {self.tmp}/state\n"
                    f"[cloud]\nendpoint = {self.sim.url}\nca_file = {self.sim.ca_file}\n"
                    f"credentials = {creds}\ntimeout = 5s\n"
                    f"[task]\nid = {self.sim.task_id}\npoll = 2s\npoll_idle = 5s\n"
                    f"[target]\naddress = 127.0.0.1\nports = {p22}, {p8899}, {p8900}\n"
                    "interval = 200ms\ntimeout = 200ms\n"
                    f"[agent]\nhome = {self.tmp}/SMS-Agent\nrestart = when-dead\n"
                    "[recovery]\nsettle = 30s\nbackoff = 5s..1m\nconfirm = 20s\n"
                    f"[ratelimit]\napply = off\n[control]\nsocket = {self.sock}\n")
        log = open(os.path.join(self.tmp, "smsguard.log"), "w")
        self.daemon = subprocess.Popen([self.args.smsguard, "-f", conf], stdout=log,
                                       stderr=subprocess.STDOUT, env=dict(os.environ, TZ="UTC"))
        self.wait(lambda s: s.get("task", {}).get("state") == "RUNNING"
                  and s["target"]["state"] == "up" and s["agent"]["state"] == "running",
                  "the task running, the target up and the agent alive")
        # From the next second on, what happens is the recording's.
        self.began = int(time.time()) + 1
        time.sleep(1.5)

    def stop(self):
        if self.daemon is not None:
            self.daemon.terminate()
            self.daemon.wait(timeout=20)
        for x in ("link", "others", "agent", "sim"):
            obj = getattr(self, x, None)
            if obj is not None:
                try:
                    obj.kill() if x == "agent" else obj.stop()
                except Exception:
                    pass
        shutil.rmtree(self.tmp, ignore_errors=True)

    def moved(self, t, delta):
        """A recorded Unix time as it goes into the document."""
        return int(t) + delta - (QUIET_HOURS if t < self.began else 0)

    def normal(self, st):
        """The document as if recorded at FIXED_NOW, on a real target, in /opt."""
        delta = FIXED_NOW - int(time.time())
        text = json.dumps(st)
        for real, fake in zip(self.ports, (22, 8899, 8900)):
            text = re.sub(rf"\b{real}\b", str(fake), text)
        text = text.replace(self.tmp, "/opt")
        st = json.loads(text)

        def clock(m):
            # The daemon writes clock times in UTC (TZ=UTC): "18:24:25" -> the same moment moved.
            h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3))
            day = int(time.time()) // 86400 * 86400
            t = time.gmtime(self.moved(day + h * 3600 + mi * 60 + s, delta))
            return time.strftime("%H:%M:%S", t)

        def shift(o):
            if isinstance(o, dict):
                for k, v in o.items():
                    if k in TIME_KEYS and isinstance(v, (int, float)) and v > 1e9:
                        o[k] = self.moved(v, delta)
                    elif k == "time_ms" and isinstance(v, (int, float)):
                        o[k] = self.moved(v // 1000, delta) * 1000 + int(v) % 1000
                    elif isinstance(v, str):
                        o[k] = re.sub(r"\b(\d{2}):(\d{2}):(\d{2})\b", clock, v)
                    else:
                        shift(v)
            elif isinstance(o, list):
                for v in o:
                    shift(v)
        shift(st)
        st.pop("ok", None)
        st["version"] = "0.1.0"
        st["pid"] = 4242
        if isinstance(st.get("agent", {}).get("pid"), int):
            st["agent"]["pid"] = 1337
        st["ratelimit"] = dict(RATELIMIT)
        return st

    def add_notify(self, name):
        path = os.path.join(HERE, "states", f"{name}.json")
        with open(path) as f:
            st = json.load(f)
        if "notify" not in st:
            st["notify"] = NOTIFY
            with open(path, "w") as f:
                json.dump(st, f, indent=1)
                f.write("\n")

    def save(self, name, st):
        path = os.path.join(HERE, "states", f"{name}.json")
        with open(path, "w") as f:
            json.dump(self.normal(st), f, indent=1, sort_keys=False)
            f.write("\n")
        print(f"recorded {path}: {st['health']}: {st['recovery'].get('reason')}")

    def record(self):
        self.start()
        self.save("healthy", self.wait(lambda s: (s["task"]["migrate_speed_mbps"] or 0) > 0
                                       and s, "the task moving"))
        self.add_notify("healthy")

        self.ctl("pause", "2h")
        self.save("paused", self.wait(lambda s: s.get("paused") and s, "paused"))
        self.ctl("resume")

        self.link.stop()
        st = self.wait(lambda s: s["task"]["state"] == "MIGRATE_FAIL"
                       and s["health"] == "degraded" and s, "SMS.2802", timeout=60)
        self.save("degraded", st)

        self.link = simctl.FakeTarget("127.0.0.1", [self.ports[1]]).start()
        self.sim.set_task(state="MIGRATE_FAIL", error_code="SMS.3803",
                          error_param=["192.0.2.10"])
        st = self.wait(lambda s: s["health"] == "failed" and s, "a failure for a person")
        self.save("failed", st)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smsguard", required=True)
    ap.add_argument("--smsguardctl", required=True)
    r = Recorder(ap.parse_args())
    try:
        r.record()
    finally:
        r.stop()


if __name__ == "__main__":
    main()
