#!/usr/bin/env python3
"""`make soak`: smsguard under constant churn for SOAKTIME seconds, watched for growth.

The daemon runs against the simulator (HTTPS) with its intervals scaled down — a probe every
50 ms, a poll every 200 ms (or the smallest the build's configuration accepts, which the
result then names) — while:
  * the link flaps: the fake target's listeners stop for 1-3 s every 2-6 s, so the task fails
    with a network code and smsguard resumes it (settle 500 ms; budget 1000/2m, so that the
    budget's history of actions, bounded by its window, stops growing after two minutes);
  * the fake agent is killed with SIGKILL every 10-30 s and smsguard restarts it;
  * the simulator answers with a fault (500, 429, garbage, a truncated body, a dropped
    connection, a slow answer) every 15-40 s;
  * the rate-limit schedule is kept applied, the metrics textfile written, and the control
    socket asked for status every second and for events and metrics every 5 s;
  * the notification sinks fail, when this build has them (`smsguard -n` accepts [notify]):
    the webhook and the SMN endpoint refuse connections, the exec hook exits 1.
Every second it samples the daemon's RSS, anonymous memory, open descriptors, threads and CPU.

Growth (after the warm-up; --warmup SECONDS overrides it):
  * warm-up: the first 20 % of the run, or until the daemon's bounded stores that grow with
    what happens are full (the event ring of 200, and each failing sink's queue, set to 20),
    whichever is later;
  * fitted growth = least-squares slope x the post-warm-up time, for RSS and for descriptors;
  * peak = max - median after the warm-up.
It fails (exit 1) when the daemon dies, exits other than 0 on SIGTERM or leaves a sanitizer
report, or when a figure passes its limit (--rss-growth-kib 256, --rss-peak-kib 1024,
--fd-growth 2, --fd-peak 8); an RSS figure past its limit in a run too short for the bounded
stores to fill makes it inconclusive (exit 3) instead. It writes a CSV of the samples and the
`soak` section of bench/RESULTS.md.

    python3 bench/soak.py --smsguard B/src/smsguard --smsguardctl B/src/ctl/smsguardctl \
        [--duration 600] [--interval 50ms] [--poll 200ms] [--csv bench/soak.csv]
"""

import argparse
import csv
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from benchlib import harness, simctl, log  # noqa: E402

TASK = "b0000000-0000-4000-8000-00000000005a"
LOGICAL = (22, 8899, 8900)
RING = 200  # the daemon's event ring (EVENTS_RING_SIZE): bounded, it grows until full
SINK_QUEUE = 20  # [notify] queue, where the build has it: each failing sink's bound
FAULTS = ({"kind": "500"}, {"kind": "429", "retry_after": 1}, {"kind": "garbage"},
          {"kind": "truncated"}, {"kind": "truncated", "close": True}, {"kind": "drop"},
          {"kind": "slow", "seconds": 2})


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smsguard", required=True)
    ap.add_argument("--smsguardctl", required=True)
    ap.add_argument("--duration", type=float, default=600)
    ap.add_argument("--interval", default="50ms")
    ap.add_argument("--poll", default="200ms")
    ap.add_argument("--warmup", type=float, default=None,
                    help="seconds left out of the growth checks (default: see above)")
    ap.add_argument("--rss-growth-kib", type=float, default=256)
    ap.add_argument("--rss-peak-kib", type=float, default=1024)
    ap.add_argument("--fd-growth", type=float, default=2)
    ap.add_argument("--fd-peak", type=float, default=8)
    ap.add_argument("--csv", default=os.path.join(benchlib.HERE, "soak.csv"))
    ap.add_argument("--results", default=os.path.join(benchlib.HERE, "RESULTS.md"))
    ap.add_argument("--seed", type=int, default=None)
    return ap.parse_args()


# -- set-up ------------------------------------------------------------------------------------

def start_world(ctx, tmp):
    ports = simctl.free_ports(3)
    sim = simctl.Sim(os.path.join(tmp, "sim"), ak=benchlib.AK, sk=benchlib.SK, tasks=[{
        "id": TASK, "type": "MIGRATE_FILE", "os_type": "LINUX", "state": "RUNNING",
        "migration_ip": "127.0.0.1", "ports": list(LOGICAL),
        "port_map": {str(lp): p for lp, p in zip(LOGICAL, ports)},
        "rate": 0.02, "fail_after": 1, "agent_timeout": 5}]).start()
    ctx.cleanups.append(sim.stop)
    target = simctl.FakeTarget("127.0.0.1", ports).start()
    ctx.cleanups.append(lambda: target.stop())
    agent = simctl.FakeAgent(os.path.join(tmp, "SMS-Agent"), sim, task_id=TASK).install()
    ctx.cleanups.append(agent.stop)
    if agent.start().returncode != 0:
        raise RuntimeError("the fake agent did not start")
    return sim, target, agent, ports


def failing_sinks(tmp):
    hook = os.path.join(tmp, "failing-hook")
    with open(hook, "w") as f:
        f.write("#!/bin/sh\nexit 1\n")
    os.chmod(hook, 0o755)
    closed = simctl.free_ports(1)[0]  # nothing listens there: connections are refused
    return {"webhook": f"http://127.0.0.1:{closed}/hook", "exec": hook,
            "smn_topic": "urn:smn:ap-southeast-3:0f5c1e2d3b4a49688796a5b4c3d2e1f0:soak",
            "smn_endpoint": f"http://127.0.0.1:{closed}"}


def config_check(d):
    p = subprocess.run([harness.ARGS.smsguard, "-n", "-f", d.conf], capture_output=True,
                       text=True, env=d.env)
    return p.returncode == 0, (p.stdout + p.stderr).strip()


def floor_of(message, key):
    """The lower bound an out-of-range message of `smsguard -n` names for key, or None."""
    m = re.search(re.escape(key) + r": '?[^ ]*'? is out of range \((\S+) to", message)
    return m.group(1) if m else None


def settle_config(d, args, tmp):
    """Scaled intervals, falling back to the build's floors; failing sinks when accepted."""
    chosen = {"interval": args.interval, "poll": args.poll}
    notes = []
    for _ in range(3):
        d.update({"target": {"interval": chosen["interval"], "timeout": chosen["interval"]},
                  "task": {"poll": chosen["poll"]}})
        d.write_config()
        ok, msg = config_check(d)
        if ok:
            break
        changed = False
        for key, sect in (("interval", "target"), ("poll", "task")):
            low = floor_of(msg, key)
            if low is not None and low != chosen[key]:
                notes.append(f"{key} {chosen[key]} refused by this build "
                             f"(its floor is {low}): ran at {low}")
                chosen[key] = low
                changed = True
        if not changed:
            raise RuntimeError(f"smsguard -n refused the soak configuration: {msg}")
    sinks = []
    for key, value in failing_sinks(tmp).items():
        d.update({"notify": {key: value}})
        d.write_config()
        if config_check(d)[0]:
            sinks.append(key)
        else:
            d.update({"notify": {key: None}})
    if not sinks:
        d.update({"notify": None})
    else:
        # Small queues fill within the warm-up: undelivered events are bounded, not leaked.
        d.update({"notify": {"queue": SINK_QUEUE}})
        d.write_config()
        if not config_check(d)[0]:
            d.update({"notify": {"queue": None}})
    d.write_config()
    return chosen, notes, sinks


def start_smsguard(ctx, tmp, sim, agent, ports, args):
    d = harness.Daemon(ctx, name="soak", config={
        "daemon": {"log_level": "info"},
        "cloud": {"endpoint": sim.url, "ca_file": sim.ca_file, "timeout": "5s"},
        "task": {"id": TASK, "poll_idle": "1s"},
        "target": {"address": "127.0.0.1", "ports": ",".join(map(str, ports)),
                   "fall": 3, "rise": 2},
        "agent": {"process": "linuxmain", "restart": "when-dead", "home": agent.home,
                  "restart_answers": "y\\n{ak}\\n{sk}\\n" + sim.domain,
                  "restart_timeout": "10s"},
        "recovery": {"settle": "500ms", "budget": "1000/2m", "backoff": "1s..5s",
                     "confirm": "5s"},
        "ratelimit": {"apply": "cloud", "schedule": benchlib.SCHEDULE},
        "metrics": {"textfile": os.path.join(tmp, "smsguard.prom")}})
    chosen, notes, sinks = settle_config(d, args, tmp)
    d.start()
    return d, chosen, notes, sinks


# -- the run -----------------------------------------------------------------------------------

class Churn:
    """The disturbances, each on its own random schedule."""

    def __init__(self, rng, sim, target, agent, d):
        self.rng, self.sim, self.target, self.agent, self.d = rng, sim, target, agent, d
        now = time.monotonic()
        self.next = {"flap": now + rng.uniform(2, 6), "kill": now + rng.uniform(10, 30),
                     "fault": now + rng.uniform(15, 40), "ctl": now + 5}
        self.link_down_until = None
        self.ring = 0  # events in the daemon's ring (bounded: it fills, then stays)
        self.queued, self.sinks_full = 0, True  # undelivered notifications; every queue full
        self.counts = {"flaps": 0, "agent_kills": 0, "faults": 0, "ctl_requests": 0,
                       "ctl_failed": 0}

    def ctl(self, cmd, **kw):
        self.counts["ctl_requests"] += 1
        try:
            r = self.d.request(dict(kw, cmd=cmd), timeout=5)
            ok = isinstance(r, dict) and r.get("ok")
        except OSError:
            r, ok = None, False
        if not ok:
            self.counts["ctl_failed"] += 1
        elif cmd == "events":
            self.ring = len(r.get("events") or [])
        elif cmd == "status":
            sinks = (r.get("notify") or {}).get("sinks") or []
            self.queued = sum(x.get("queued", 0) for x in sinks)
            self.sinks_full = all(x.get("dropped", 0) > 0 for x in sinks)

    def step(self, now):
        if self.link_down_until is not None and now >= self.link_down_until:
            self.target.start()
            self.link_down_until = None
            self.next["flap"] = now + self.rng.uniform(2, 6)
        elif self.link_down_until is None and now >= self.next["flap"]:
            self.target.stop()
            self.counts["flaps"] += 1
            self.link_down_until = now + self.rng.uniform(1, 3)
        if now >= self.next["kill"]:
            if self.agent.alive():
                self.agent.kill(signal.SIGKILL)
                self.counts["agent_kills"] += 1
            self.next["kill"] = now + self.rng.uniform(10, 30)
        if now >= self.next["fault"]:
            f = dict(self.rng.choice(FAULTS), count=self.rng.randint(1, 3))
            self.sim.fault(**f)
            self.counts["faults"] += 1
            self.next["fault"] = now + self.rng.uniform(15, 40)
        if now >= self.next["ctl"]:
            self.ctl("events", args={"n": RING})
            self.ctl("metrics")
            self.next["ctl"] = now + 5

    def calm(self):
        if self.link_down_until is not None:
            self.target.start()
            self.link_down_until = None
        self.sim.clear_faults()


def sample(pid, t, cpu_prev, churn):
    m = benchlib.memory(pid)
    cpu = benchlib.cpu_seconds(pid)
    return {"t_s": round(t, 3), "rss_kib": m["rss"], "anon_kib": m["anon"],
            "fds": benchlib.descriptors(pid), "threads": m["threads"], "ring": churn.ring,
            "queued": churn.queued, "bounded_full": int(churn.ring >= RING and churn.sinks_full),
            "cpu_pct": round(100.0 * (cpu - cpu_prev[0]) / max(1e-9, t - cpu_prev[1]), 3)}, \
        (cpu, t)


def soak(d, churn, duration):
    pid = d.proc.pid
    t0 = time.monotonic()
    samples, cpu_prev = [], (benchlib.cpu_seconds(pid), 0.0)
    next_sample = t0 + 1
    while True:
        now = time.monotonic()
        if now - t0 >= duration:
            break
        churn.step(now)
        if now >= next_sample:
            d.alive_or_raise()
            s, cpu_prev = sample(pid, now - t0, cpu_prev, churn)
            samples.append(s)
            churn.ctl("status")
            next_sample += 1
            if len(samples) % 60 == 0:
                log(f"soak: {len(samples)} s, RSS {s['rss_kib']} KiB, {s['fds']} descriptors")
        time.sleep(0.05)
    churn.calm()
    return samples


# -- verdict -----------------------------------------------------------------------------------

def growth(samples, key, warm):
    post = [s for s in samples if s["t_s"] >= warm]
    if len(post) < 2:
        return None
    xs, ys = [s["t_s"] for s in post], [s[key] for s in post]
    sl = benchlib.slope(xs, ys)
    med = benchlib.median(ys)
    return {"median": med, "max": max(ys), "min": min(ys), "start": ys[0], "end": ys[-1],
            "slope_per_h": sl * 3600, "fitted": sl * (xs[-1] - xs[0]), "peak": max(ys) - med,
            "span_s": xs[-1] - xs[0]}


def warmup(args, samples):
    """--warmup, else the first 20 % of the run or until the bounded stores are full, the later.

    The event ring (200 events) and, with failing sinks, their queues of undelivered events
    are the daemon's stores that grow with what happens rather than with time: until they
    are full, their growth is not a leak.
    """
    if args.warmup is not None:
        return args.warmup, None
    full = next((s["t_s"] for s in samples if s["bounded_full"]), None)
    if full is None:
        last = samples[-1] if samples else {"ring": 0, "queued": 0}
        return 0.2 * args.duration, (
            f"the bounded stores were not full by the end (event ring {last['ring']} of "
            f"{RING}, {last['queued']} notifications queued): the growth below includes their "
            "filling")
    return max(0.2 * args.duration, full), None


def verdict(ok):
    return "yes" if ok else "**no**"


def report(args, mach, res):
    r, f, warm = res["rss"], res["fds"], res["warmup_s"]
    cpu = [s["cpu_pct"] for s in res["samples"] if s["t_s"] >= warm]
    rows = [
        ("RSS after warm-up: median (min - max)",
         f"{r['median']} KiB ({r['min']} - {r['max']})", "", ""),
        (f"RSS fitted growth over the last {r['span_s']:.0f} s",
         f"{r['fitted']:+.0f} KiB ({r['slope_per_h']:+.0f} KiB/h)",
         f"≤ {args.rss_growth_kib:g} KiB", verdict(r["fitted"] <= args.rss_growth_kib)),
        ("RSS max - median after warm-up", f"{r['peak']:.0f} KiB", f"≤ {args.rss_peak_kib:g} KiB",
         verdict(r["peak"] <= args.rss_peak_kib)),
        ("descriptors after warm-up: median (min - max)",
         f"{f['median']} ({f['min']} - {f['max']})", "", ""),
        (f"descriptors fitted growth over the last {f['span_s']:.0f} s", f"{f['fitted']:+.2f}",
         f"≤ {args.fd_growth:g}", verdict(f["fitted"] <= args.fd_growth)),
        ("descriptors max - median after warm-up", f"{f['peak']:.0f}", f"≤ {args.fd_peak:g}",
         verdict(f["peak"] <= args.fd_peak)),
        ("CPU after warm-up, % of one core: mean / p95",
         f"{sum(cpu) / max(1, len(cpu)):.1f} / {benchlib.percentile(cpu, 95) or 0:.1f}",
         "(reported)", ""),
        ("alive throughout, exit 0 on SIGTERM, no sanitizer report", res["clean"], "",
         verdict(res["clean"] == "yes")),
    ]
    c = res["counts"]
    act = (f"Churn: {c['flaps']} link flaps, {c['agent_kills']} agent kills "
           f"({res['agent_restarts']} restarts by smsguard), {c['faults']} simulator faults, "
           f"{res['starts']} `start`s and {res['cloud_requests']} signed requests received by "
           f"the simulator, {c['ctl_requests']} control requests ({c['ctl_failed']} failed); "
           f"sinks: {res['sinks']}.")
    params = (f"SOAKTIME={args.duration:g} s, probe every {res['chosen']['interval']}, poll "
              f"every {res['chosen']['poll']}, warm-up {warm:.0f} s, {len(res['samples'])} "
              f"samples (one a second) in {os.path.relpath(args.csv, benchlib.SRCDIR)}.")
    body = [benchlib.machine_line(mach), "", params]
    if res["notes"]:
        body.append("Scaling: " + "; ".join(res["notes"]) + ".")
    if args.duration < 600:
        body.append(f"\n**Short run** (SOAKTIME={args.duration:g} s, the issue's is 600 s): "
                    "indicative only.")
    body += ["", act, "", benchlib.table(("measure", "value", "limit", "met"), rows), "",
             f"**Result: {res['result']}**"]
    return "\n".join(body)


def write_csv(path, samples):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(samples[0].keys()))
        w.writeheader()
        w.writerows(samples)


def main():
    harness.isolate_pids(__file__)
    args = parse_args()
    if not benchlib.is_root():
        # smsguard makes itself non-dumpable, which leaves /proc/PID/fd to root alone
        sys.exit("make soak needs root: it counts smsguard's descriptors in /proc/PID/fd")
    benchlib.setup(args)
    rng = random.Random(args.seed)
    mach = benchlib.machine()
    others = benchlib.other_agents()
    if others:
        log(f"warning: other linuxmain processes run here ({others}); smsguard may watch them")
    tmp = tempfile.mkdtemp(prefix="smsguard-soak-")
    os.chmod(tmp, 0o755)
    ctx = harness.Context()
    try:
        sim, target, agent, ports = start_world(ctx, tmp)
        d, chosen, notes, sinks = start_smsguard(ctx, tmp, sim, agent, ports, args)
        log(f"soak: {args.duration:.0f} s, probe every {chosen['interval']}, poll every "
            f"{chosen['poll']}, failing sinks: {', '.join(sinks) or 'none in this build'}")
        churn = Churn(rng, sim, target, agent, d)
        samples = soak(d, churn, args.duration)
        restarts = d.status()["agent"].get("restarts", 0)
        reqs = sim.requests()
        clean = "yes"
        try:
            d.stop()
        except harness.Fail as e:
            clean = f"no: {str(e).splitlines()[0]}"
    except harness.Fail as e:
        log(f"soak failed: {e}")
        sys.exit(1)
    finally:
        ctx.close()
        shutil.rmtree(tmp, ignore_errors=True)
    warm, warm_note = warmup(args, samples)
    res = {"samples": samples, "warmup_s": warm, "rss": growth(samples, "rss_kib", warm),
           "fds": growth(samples, "fds", warm), "counts": churn.counts, "chosen": chosen,
           "notes": notes + ([warm_note] if warm_note else []), "clean": clean,
           "agent_restarts": restarts,
           "starts": sum(1 for e in reqs if e["api"] == "UpdateTaskStatus"
                         and e.get("operation") == "start" and e.get("source") == "api"),
           "cloud_requests": sum(1 for e in reqs if e.get("source") == "api"),
           "sinks": ("failing: " + ", ".join(sinks)) if sinks else
           "none ([notify] is refused by this build's smsguard -n)"}
    rss_ok = (res["rss"]["fitted"] <= args.rss_growth_kib
              and res["rss"]["peak"] <= args.rss_peak_kib)
    rest_ok = (clean == "yes" and res["fds"]["fitted"] <= args.fd_growth
               and res["fds"]["peak"] <= args.fd_peak)
    # A run too short for the bounded stores to fill cannot tell their filling from a leak.
    res["result"] = "pass" if rss_ok and rest_ok else (
        "inconclusive: run longer" if rest_ok and warm_note else "FAIL")
    write_csv(args.csv, samples)
    text = report(args, mach, res)
    print(text)
    benchlib.update_results(args.results, "soak", text)
    log(f"wrote the soak section of {args.results} and {args.csv}")
    sys.exit({"pass": 0, "FAIL": 1}.get(res["result"], 3))


if __name__ == "__main__":
    main()
