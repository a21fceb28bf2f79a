#!/usr/bin/env python3
"""Footprint and control plane, side by side (a phase of `make bench`; bench/README.md).

Three processes run at once for DURATION seconds on loopback:
  smsguard  3 target ports every 2 s (timeout 2 s), the task polled every 30 s over HTTPS from
            the simulator, the fake agent watched (restart = never: nothing dies here); every
            other key at its default;
  monit     (Debian's) one process check (the same agent, by its pid file) and the same 3 ports,
            every 5 s, its httpd on a unix socket for `monit summary`;
  floor     bench/floor.c: libcurl + OpenSSL, one HTTPS request every 30 s to the simulator.
At the end of the window: RSS, anonymous memory, USS and PSS (smaps_rollup) of each, and the CPU
time each used during the window. smsguard's own cost is its figure minus the floor's.

Then the control plane, the same smsguard and monit still running: CLIENTS concurrent clients
each asking ROUNDS times (smsguard: {"cmd":"status"}; monit: what `monit summary` sends), in
alternating blocks, bench/ctlload.c timing each request from connect to the reply's end.

    python3 bench/footprint.py --smsguard B/src/smsguard --smsguardctl B/src/ctl/smsguardctl \
        --bindir B/bench [--duration 120] [--clients 100] [--rounds 20] [--json OUT]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from benchlib import harness, simctl, log  # noqa: E402

TASK = "b0000000-0000-4000-8000-0000000000f1"
BLOCKS = 4  # control-plane blocks per side, alternating smsguard, monit, smsguard, …


def start_world(ctx, tmp, args):
    sim = simctl.Sim(os.path.join(tmp, "sim"), ak=benchlib.AK, sk=benchlib.SK, tasks=[{
        "id": TASK, "state": "RUNNING", "migration_ip": "127.0.0.1", "simulate": False}]).start()
    ctx.cleanups.append(sim.stop)
    ports = simctl.free_ports(3)
    target = simctl.FakeTarget("127.0.0.1", ports).start()
    ctx.cleanups.append(target.stop)
    agent = simctl.FakeAgent(os.path.join(tmp, "SMS-Agent"), sim, task_id=TASK).install()
    ctx.cleanups.append(agent.stop)
    r = agent.start()
    if r.returncode != 0:
        raise RuntimeError(f"the fake agent did not start: {r.stdout}")
    return sim, ports, agent


def start_smsguard(ctx, sim, ports):
    d = harness.Daemon(ctx, name="fp", config={
        "daemon": {"log_level": "info"},
        "cloud": {"endpoint": sim.url, "ca_file": sim.ca_file, "timeout": None},
        "task": {"id": TASK, "poll": "30s", "poll_idle": None},
        "target": {"address": "127.0.0.1", "ports": ",".join(map(str, ports)),
                   "interval": "2s", "timeout": "2s", "fall": None, "rise": None},
        "agent": {"restart": "never"},
        "recovery": None, "ratelimit": None})
    d.start()
    harness.wait_for(lambda: (lambda s: s["target"]["state"] == "up"
                              and s["agent"]["state"] == "running"
                              and s["task"].get("state") == "RUNNING")(d.status()),
                     timeout=30, what="smsguard to see the target up, the agent and the task")
    return d


def start_monit(ctx, tmp, ports, agent):
    checks = (f"check process agent with pidfile {agent.pidfile}\n"
              "  if does not exist then alert\n"
              "check host target with address 127.0.0.1\n")
    for p in ports:
        checks += f"  if failed port {p} type tcp with timeout 2 seconds for 3 cycles then alert\n"
    m = benchlib.Monit(tmp, 5, checks).start()
    ctx.cleanups.append(m.stop)
    return m


def start_floor(ctx, tmp, args, sim):
    out = open(os.path.join(tmp, "floor.out"), "w")
    p = subprocess.Popen([os.path.join(args.bindir, "floor"), sim.url + "/_sim/health",
                          sim.ca_file, "30"], stdout=out, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL)

    def stop():
        p.kill()
        p.wait()
        out.close()
    ctx.cleanups.append(stop)
    harness.wait_for(lambda: os.path.getsize(out.name) > 0, timeout=15,
                     what="the floor's first request")
    with open(out.name) as f:
        first = f.read().split("\n")[0]
    if first != "ok 200":
        raise RuntimeError(f"the floor's first request failed: {first!r}")
    return p


def footprint(procs, duration):
    cpu0 = {n: benchlib.cpu_seconds(p) for n, p in procs.items()}
    t0 = time.monotonic()
    time.sleep(duration)  # the measurement window itself
    window = time.monotonic() - t0
    out = {}
    for name, pid in procs.items():
        m = benchlib.memory(pid)
        m["cpu_s"] = benchlib.cpu_seconds(pid) - cpu0[name]
        m["cpu_pct"] = 100.0 * m["cpu_s"] / window
        out[name] = m
    return {"window_s": window, "procs": out}


def control_plane(args, tmp, d, monit):
    lat = {"smsguard": [], "monit": []}
    counts = {k: {"requests": 0, "ok": 0, "refused": 0, "errors": 0} for k in lat}
    per_block = max(1, args.rounds // BLOCKS)
    for b in range(BLOCKS):
        for side in ("smsguard", "monit"):
            out = os.path.join(tmp, f"lat-{side}-{b}")
            if side == "smsguard":
                r = run_load(args, d.socket, '{"cmd":"status"}\\n', per_block, '"ok":true',
                             False, out)
            else:
                r = run_load(args, monit.socket, monit.summary_request(), per_block,
                             "uptime:", True, out)
            for k in counts[side]:
                counts[side][k] += int(r[k])
            with open(out) as f:
                lat[side] += [float(x) for x in f.read().split()]
    res = {}
    for side in lat:
        res[side] = dict(counts[side], p50_ms=benchlib.percentile(lat[side], 50),
                         p99_ms=benchlib.percentile(lat[side], 99),
                         max_ms=max(lat[side]) if lat[side] else None)
    return {"clients": args.clients, "rounds": per_block * BLOCKS, **res}


def run_load(args, sock, request, rounds, oktext, to_eof, out):
    return benchlib.run_ctlload(os.path.join(args.bindir, "ctlload"), sock, request,
                                args.clients, rounds, oktext, to_eof=to_eof, out=out)


def main():
    ap = benchlib.common_args(argparse.ArgumentParser())
    ap.add_argument("--bindir", required=True, help="where floor and ctlload were built")
    ap.add_argument("--duration", type=float, default=120)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    benchlib.setup(args)
    if not benchlib.Monit.binary():
        sys.exit("monit is not installed (make deps installs it)")
    tmp = tempfile.mkdtemp(prefix="smsguard-fp-")
    ctx = harness.Context()
    try:
        sim, ports, agent = start_world(ctx, tmp, args)
        d = start_smsguard(ctx, sim, ports)
        monit = start_monit(ctx, tmp, ports, agent)
        floor = start_floor(ctx, tmp, args, sim)
        log(f"footprint: smsguard, monit and the floor side by side for {args.duration:.0f} s")
        fp = footprint({"smsguard": d.proc.pid, "monit": monit.proc.pid, "floor": floor.pid},
                       args.duration)
        log(f"control plane: {args.clients} concurrent clients, {args.rounds} requests each")
        cp = control_plane(args, tmp, d, monit)
        d.alive_or_raise()
        d.stop()
        benchlib.emit(args, {"footprint": fp, "control": cp, "monit_version":
                             benchlib.Monit.version(), "ports": len(ports)})
    finally:
        ctx.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
