#!/usr/bin/env python3
"""`make bench`: every benchmark of issue 14, side by side, as one markdown table.

Runs the phases (each its own script in bench/, each in a private PID namespace when root so
that no other fake agent on the machine is taken for ours):
  footprint.py   RSS, anonymous memory, USS, PSS and CPU of smsguard, monit and the floor over
                 BENCHTIME s; then `status` against `monit summary` under CLIENTS clients;
  reaction.py    nft DROP -> target_down against monit's port alert, and link back -> `start`
                 against the cloud-side poller, TRIALS trials (root);
  agentdeath.py  agent killed -> restart command, against monit's process check (root);
  cloudreq.py    cloud requests per hour, running and idle, counted over REQTIME s while the
                 other phases run.
It prints the table with each figure beside its target, and rewrites the `bench` section of
bench/RESULTS.md (date, machine, commit, parameters, the table, the per-trial figures).

    python3 bench/run.py --smsguard B/src/smsguard --smsguardctl B/src/ctl/smsguardctl \
        --bindir B/bench [--benchtime 120] [--trials 20] [--agent-trials 20] [--clients 100] \
        [--rounds 20] [--reqtime 1800] [--poller-interval 60] [--results bench/RESULTS.md]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from benchlib import log, fmt_ms, min_med_max  # noqa: E402

# The figures; a run with any other is marked as a short run in RESULTS.md.
DEFAULTS = {"benchtime": 120, "trials": 20, "agent_trials": 20, "clients": 100, "rounds": 20,
            "reqtime": 1800, "poller_interval": 60}
TARGETS = {"rss_kib": 1024, "anon_kib": 512, "detect_s": 8.0, "recover_s": 15.0,
           "restart_s": 1.0, "status_p99_ms": 5.0, "req_running": 150, "req_idle": 15}


def phase_cmd(script, args, out, extra):
    cmd = [sys.executable, os.path.join(benchlib.HERE, script), "--smsguard", args.smsguard,
           "--smsguardctl", args.smsguardctl, "--json", out, *extra]
    if benchlib.is_root() and shutil.which("unshare"):
        # bash as the namespace's init reaps the agents' orphans, as harness.isolate_pids does
        cmd = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", "bash", "-c",
               '"$0" "$@"; exit $?', *cmd]
    return cmd


def run_phase(script, args, tmp, extra):
    out = os.path.join(tmp, script.replace(".py", ".json"))
    t0 = time.monotonic()
    p = subprocess.run(phase_cmd(script, args, out, extra), stdin=subprocess.DEVNULL)
    log(f"{script}: {time.monotonic() - t0:.0f} s, exit {p.returncode}")
    return read_phase(out, p.returncode, script)


def read_phase(out, rc, script):
    try:
        with open(out) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {"failed": f"{script} exited {rc} without a result (see the output above)"}


def verdict(ok):
    return "—" if ok is None else ("yes" if ok else "**no**")


def kib(v):
    return f"{v:,} KiB".replace(",", " ")


def footprint_rows(fp):
    if "failed" in fp or "skipped" in fp:
        return [("footprint", fp.get("failed") or fp.get("skipped"), "", "", "")]
    p = fp["footprint"]["procs"]
    w = fp["footprint"]["window_s"]
    sg, mo, fl = p["smsguard"], p["monit"], p["floor"]
    rows = []
    for key, name, target in (("rss", "RSS", "rss_kib"), ("anon", "anonymous memory", "anon_kib"),
                              ("uss", "USS (private)", None), ("pss", "PSS", None)):
        if sg[key] is None:
            rows.append((f"{name} at {w:.0f} s", "— (smaps_rollup: needs root, smsguard is "
                         "not dumpable)", "", "(reported)", "—"))
            continue
        own = sg[key] - fl[key]
        rows.append((f"{name} at {w:.0f} s", f"{kib(sg[key])} (floor + {kib(own)})",
                     f"monit {kib(mo[key])} · floor {kib(fl[key])}",
                     f"≤ floor + {kib(TARGETS[target])}" if target else "(reported)",
                     verdict(own <= TARGETS[target] if target else None)))
    rows.append((f"CPU over {w:.0f} s", f"{sg['cpu_s']:.3f} s ({sg['cpu_pct']:.3f} %)",
                 f"monit {mo['cpu_s']:.3f} s ({mo['cpu_pct']:.3f} %) · floor "
                 f"{fl['cpu_s']:.3f} s", "≤ ½ of monit's", verdict(sg["cpu_s"] <= mo["cpu_s"] / 2)))
    return rows


def control_row(fp):
    if "failed" in fp or "skipped" in fp:
        return []
    c = fp["control"]
    sg, mo = c["smsguard"], c["monit"]

    def cell(r):
        s = f"p50 {fmt_ms(r['p50_ms'])} / p99 {fmt_ms(r['p99_ms'])}"
        if r["refused"] or r["errors"]:
            s += f" ({r['ok']} of {r['requests']} answered; {r['refused']} refused, " \
                 f"{r['errors']} closed unanswered)"
        return s
    ok = sg["p99_ms"] is not None and sg["p99_ms"] <= TARGETS["status_p99_ms"] \
        and sg["refused"] == 0 and sg["errors"] == 0
    return [(f"`status`, {c['clients']} concurrent clients × {c['rounds']}", cell(sg),
             f"`monit summary` {cell(mo)}", "p99 ≤ 5 ms, every request answered", verdict(ok))]


def reaction_rows(rx):
    if "failed" in rx or "skipped" in rx:
        why = rx.get("failed") or rx.get("skipped")
        return [("detection: nft DROP → target_down", f"skipped: {why}", "", "≤ 8 s", "—"),
                ("recovery: link back → start", f"skipped: {why}", "", "≤ 15 s", "—")]
    t = rx["trials"]
    n = len(t)
    det_sg = [x["detect_smsguard"] for x in t if x["detect_smsguard"] is not None]
    det_mo = [x["detect_monit"] for x in t if x["detect_monit"] is not None]
    later = sum(1 for x in t if x["detect_smsguard"] is None or (
        x["detect_monit"] is not None and x["detect_smsguard"] > x["detect_monit"]))
    rec_sg = [x["recover_smsguard"] for x in t if x["recover_smsguard"] is not None]
    rec_po = [x["recover_poller"] for x in t if x["recover_poller"] is not None]
    wasted = sum(x["poller_starts_link_down"] for x in t)
    sg_starts = sum(x["smsguard_starts"] for x in t)
    det_ok = len(det_sg) == n and max(det_sg) <= TARGETS["detect_s"] and later == 0
    rec_ok = len(rec_sg) == n and max(rec_sg) <= TARGETS["recover_s"]
    return [
        (f"detection: nft DROP → target_down, {n} trials (min / median / max)",
         min_med_max(det_sg) + ("" if len(det_sg) == n else f" ({n - len(det_sg)} missed)"),
         f"monit {rx['monit_version']} port alert: {min_med_max(det_mo)}; smsguard later "
         f"in {later} of {n}", "≤ 8 s, never later than monit", verdict(det_ok)),
        (f"recovery: link back → `start`, {n} trials", min_med_max(rec_sg) +
         f"; {sg_starts} starts in {n} outages",
         f"poller every {rx['poller_interval']:.0f} s: {min_med_max(rec_po)}; "
         f"{wasted} starts into the dead link in {n} outages", "≤ 15 s", verdict(rec_ok))]


def agent_row(ag):
    if "failed" in ag or "skipped" in ag:
        why = ag.get("failed") or ag.get("skipped")
        return [("agent death → restart command", f"skipped: {why}", "", "≤ 1 s", "—")]
    sg, mo = ag["smsguard"], ag["monit"]
    return [(f"agent death → restart command, {len(sg)} trials", min_med_max(sg),
             f"monit {ag['monit_version']} process check: {min_med_max(mo)}", "≤ 1 s",
             verdict(max(sg) <= TARGETS["restart_s"]))]


def request_rows(rq, poller_interval):
    if "failed" in rq or "skipped" in rq:
        why = rq.get("failed") or rq.get("skipped")
        return [("cloud requests per hour", f"failed: {why}", "", "", "—")]
    poller = 3600.0 / poller_interval
    rows = []
    for kind, target in (("running", "req_running"), ("idle", "req_idle")):
        r = rq[kind]
        apis = ", ".join(f"{k} {v}" for k, v in sorted(r["per_api"].items())) or "none"
        rows.append((f"cloud requests per hour, {kind}",
                     f"{r['per_hour']:.0f} ({r['count']} in {r['window_s']:.0f} s: {apis})",
                     f"poller {poller:.0f} (a ShowTask every {poller_interval:.0f} s, "
                     f"whatever the state)", f"≤ {TARGETS[target]}",
                     verdict(r["per_hour"] <= TARGETS[target])))
    return rows


def details(rx, ag):
    out = []
    if "trials" in rx:
        for key, label in (("detect_smsguard", "detection, smsguard"),
                           ("detect_monit", "detection, monit"),
                           ("recover_smsguard", "recovery, smsguard"),
                           ("recover_poller", "recovery, poller")):
            out.append(f"- {label} (s): " + ", ".join(
                "—" if x[key] is None else f"{x[key]:.2f}" for x in rx["trials"]))
    if "smsguard" in ag:
        for side in ("smsguard", "monit"):
            out.append(f"- agent restart, {side} (s): " + ", ".join(f"{x:.3f}" for x in ag[side]))
    return out


def parameters(args):
    cur = {k: getattr(args, k) for k in DEFAULTS}
    names = {"benchtime": "BENCHTIME", "trials": "TRIALS", "agent_trials": "AGENT_TRIALS",
             "clients": "CLIENTS", "rounds": "ROUNDS", "reqtime": "REQTIME",
             "poller_interval": "POLLER_INTERVAL"}
    text = ", ".join(f"{names[k]}={v:g}" for k, v in cur.items())
    short = [names[k] for k in DEFAULTS if cur[k] != DEFAULTS[k]]
    return text, short


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smsguard", required=True)
    ap.add_argument("--smsguardctl", required=True)
    ap.add_argument("--bindir", required=True)
    ap.add_argument("--results", default=os.path.join(benchlib.HERE, "RESULTS.md"))
    for k, v in DEFAULTS.items():
        ap.add_argument("--" + k.replace("_", "-"), type=type(v), default=v)
    args = ap.parse_args()
    if not benchlib.Monit.binary():
        sys.exit("monit is not installed (make deps installs it)")
    tmp = tempfile.mkdtemp(prefix="smsguard-bench-")
    t0 = time.monotonic()
    mach = benchlib.machine()
    rq = None
    try:
        rq_out = os.path.join(tmp, "cloudreq.json")
        rq = subprocess.Popen(phase_cmd("cloudreq.py", args, rq_out,
                                        ["--duration", str(args.reqtime)]),
                              stdin=subprocess.DEVNULL)
        fp = run_phase("footprint.py", args, tmp, [
            "--bindir", args.bindir, "--duration", str(args.benchtime),
            "--clients", str(args.clients), "--rounds", str(args.rounds)])
        rx = run_phase("reaction.py", args, tmp, [
            "--trials", str(args.trials), "--poller-interval", str(args.poller_interval)])
        ag = run_phase("agentdeath.py", args, tmp, ["--trials", str(args.agent_trials)])
        log("waiting for the cloud request count (REQTIME)")
        rq.wait()
        rqr = read_phase(rq_out, rq.returncode, "cloudreq.py")
    finally:
        if rq is not None and rq.poll() is None:  # interrupted: the count is not wanted
            rq.terminate()
            rq.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    rows = footprint_rows(fp) + reaction_rows(rx) + agent_row(ag) + control_row(fp) + \
        request_rows(rqr, args.poller_interval)
    tbl = benchlib.table(("measure", "smsguard", "side by side, same run", "target", "met"), rows)
    print(tbl)
    params, short = parameters(args)
    body = [benchlib.machine_line(mach), "",
            f"Parameters: {params}. smsguard {args.smsguard}, monit "
            f"{benchlib.Monit.version()}; the whole run took "
            f"{(time.monotonic() - t0) / 60:.1f} min."]
    if short:
        body.append(f"\n**Short run** ({', '.join(short)} not the issue's figures): "
                    "indicative only; `make bench` with no overrides gives the real one.")
    body += ["", tbl, ""] + details(rx, ag)
    benchlib.update_results(args.results, "bench", "\n".join(body))
    log(f"wrote the bench section of {args.results}")


if __name__ == "__main__":
    main()
