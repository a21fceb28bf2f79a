#!/usr/bin/env python3
"""The fault matrix of issue 14: every fault, the integration scenarios that cover it, run now.

Each row names a fault and the scenarios (suite, scenario name) whose assertions make up its
outcome; most live beside the behaviour they break, the rest in tests/integration/test_faults.py.
This runs every named scenario against the given build (one suite process per scenario, TAP
read back) and writes a markdown table with the date and `uname -srm`, for bench/RESULTS.md.
Rows that need root (network namespaces, mounts, another user) show as skipped without it.

    python3 bench/faults.py --smsguard build-h/src/smsguard \\
        --smsguardctl build-h/src/ctl/smsguardctl [--out bench/FAULTS.md] [--only TEXT]

Exit status 1 when a scenario failed or a name no longer matches exactly one scenario.
"""

import argparse
import datetime
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.abspath(os.path.join(HERE, ".."))

# (fault, the outcome its scenarios assert, [(suite, scenario name), …])
MATRIX = [
    ("Target port dropped (no answer)",
     "down within fall × interval + timeout, classed timeout; target_down before SMS fails; "
     "no start while down, one once back",
     [("watchers", "a dropped port reads down within fall x interval + timeout as timeout"),
      ("watchers", "a dropped port reads up again once it answers"),
      ("recovery", "link drop: target_down early, no start while down, one start once it is "
       "back"),
      ("recovery", "a dropped link is down within fall x interval + timeout + 0.5 s, at any "
       "phase (10 drops)")]),
    ("Target port refused (RST)",
     "down within fall × interval, classed refused",
     [("watchers", "a closed port (RST) reads down within fall x interval as refused")]),
    ("Target host unreachable",
     "no route here, then ICMP host-unreachable from the far side: down, classed unreachable, "
     "target_down; up again",
     [("faults", "target host unreachable (no route here, then ICMP from the far side)")]),
    ("Flapping link",
     "two minutes of outages: starts held to the budget, backoff shown, recovery_exhausted once",
     [("recovery", "flapping link for two minutes: no more starts than the budget, backoff "
       "visible, exhausted once")]),
    ("SMS API down",
     "unreachable at once, cloud_unreachable once at the minute, calls back off, probes keep "
     "their cadence, polling resumes",
     [("faults", "SMS API down: unreachable in status at once")]),
    ("SMS API slow (30 s)",
     "cut at [cloud] timeout, next poll on time; status answered during a 20 s stall",
     [("cloud", "a 30 s stall is cut at [cloud] timeout and polling goes on"),
      ("cloud", "while a request stalls for 20 s, status is answered at once")]),
    ("429 storm",
     "Retry-After honoured to the second (also by `check`), throttled in status, then polling",
     [("cloud", "a 429 storm: Retry-After is honoured, status says throttled"),
      ("cloud", "smsguardctl check does not break a 429's Retry-After")]),
    ("500s",
     "exponential backoff, unreachable in status, recovery; `check` polls at once",
     [("cloud", "500s back off exponentially, show unreachable in status, then recover"),
      ("cloud", "after failed polls, smsguardctl check polls at once")]),
    ("Garbage JSON",
     "a bad response: backoff, the last good snapshot kept; a malformed field only degrades "
     "itself",
     [("cloud", "garbage JSON and a truncated body count as bad responses"),
      ("cloud", "a malformed error_json degrades that field only")]),
    ("Truncated body",
     "half the JSON in a complete response: a bad response, backoff, snapshot kept",
     [("cloud", "garbage JSON and a truncated body count as bad responses")]),
    ("Connection cut mid-body",
     "a transfer error (not a parse), the last snapshot kept, polling recovers",
     [("faults", "connection cut mid-body")]),
    ("Wrong clock",
     "10 min off: clock_skew once, calls go on; 20 min off: APIGW.0303, clock_skew and "
     "cloud_auth_failed once, silence",
     [("cloud", "a server clock 10 minutes off raises clock_skew once"),
      ("faults", "a clock 20 minutes off")]),
    ("401",
     "cloud_auth_failed once, no call for 5 minutes (not even by `check`)",
     [("cloud", "a 401 raises cloud_auth_failed once and no call follows for 5 minutes")]),
    ("DNS failure for the endpoint",
     "a .invalid name in a namespace whose resolver never leaves it: unreachable naming the "
     "host, probes go on, polling resumes once it resolves",
     [("faults", "DNS failure for the endpoint")]),
    ("TLS with the wrong CA",
     "refused before any request reaches the handler; status says why",
     [("cloud", "a wrong CA is refused before any request reaches the handler")]),
    ("Proxy down",
     "nothing reaches the cloud, status says `proxy:`; every call through the proxy once it "
     "answers",
     [("faults", "proxy down: nothing reaches the cloud")]),
    ("Agent killed",
     "seen in under 1 s; restarted through startup.sh with its answers; a file-level task "
     "resumed, a block-level one warned about",
     [("watchers", "killing linuxmain is seen in under 1 s and shown in status"),
      ("watchers", "a dead agent is restarted through startup.sh with its answers"),
      ("recovery", "agent killed: restarted through startup.sh, then the file-level task "
       "resumed"),
      ("recovery", "agent killed under a block-level task: restarted with a warning, no "
       "resume")]),
    ("Agent hung (SIGSTOP)",
     "not taken for dead, not restarted, nothing resumed into it; resumed once after SIGCONT",
     [("faults", "agent hung (SIGSTOP)")]),
    ("Agent restart script failing",
     "each failure reported, attempts spaced by the backoff and held to the budget, exhausted "
     "once; works after a fixed config and `resume`",
     [("faults", "agent restart script failing")]),
    ("Agent restart script hanging",
     "killed (with its process group) at restart_timeout, reported as a timeout",
     [("watchers", "a restart command that hangs is killed at its timeout")]),
    ("smsguard kill -9 during a state write",
     "killed during writes (hundreds) and at random while the link flaps: state.json always "
     "whole, no start repeated, recovery completes; budget and pause kept",
     [("faults", "kill -9 during state writes"),
      ("recovery", "kill -9 right after the start, restarted: no second start, budget "
       "remembered"),
      ("foundation", "kill -9 and restart keeps what was persisted"),
      ("foundation", "the state file is always whole: many writes, no temp file left")]),
    ("State directory full",
     "a clear error once, keeps running, the file stays whole, written by itself once space "
     "returns",
     [("faults", "state directory full")]),
    ("State directory read-only",
     "a clear error once, keeps running, written by itself once writable again",
     [("faults", "state directory read-only")]),
    ("Configuration reload with a broken file",
     "refused with FILE:LINE or the reason (cut, junk, a directory, gone, a bad key); the old "
     "configuration keeps polling and probing",
     [("faults", "configuration reload with a broken file"),
      ("foundation", "SIGHUP with a bad config keeps the old one and the daemon running"),
      ("foundation", "reload over the socket reports a bad config to the caller")]),
    ("Credentials file replaced",
     "rotated keys refused (cloud_auth_failed); the new file used at once after reload, the "
     "401 silence lifted; a loose file refused",
     [("faults", "credentials file replaced")]),
    ("Control socket flood",
     "probes and polls keep their cadence; root answered under another user's flood; all "
     "freed after",
     [("faults", "control socket flood"),
      ("control", "root's status is answered in under 100 ms while another user floods"),
      ("foundation", "a flood of requests from many clients leaves the daemon healthy")]),
]

# Daemon bugs the rows found, fixed with the row that shows each.
FIXES = [
    ("Agent hung (SIGSTOP)", "a stopped agent counted as alive: the task it failed was resumed "
     "into it again and again (the budget spent on starts SMS failed at once); now status says "
     "`\"stopped\": true` and the resume waits for it to run"),
    ("Agent restart script failing", "startup.sh starts linuxmain before SMS checks the AK/SK "
     "and then exits 1: the short-lived process made it `agent_restarted`; now the command's "
     "exit status decides and the failure is reported"),
    ("State directory full / read-only", "a failed state write was tried again only at the "
     "next change; now every second until it succeeds, and the recovery is logged"),
    ("SMS API down", "cloud_unreachable came at the first failed call after a minute, which "
     "the doubling backoff put up to two minutes in; now a call is made at the minute mark"),
    ("Proxy down", "a refused proxy read like a refused cloud; the reason now starts with "
     "`proxy:`"),
]


def run_scenario(args, suite, name, env):
    """(result, seconds, note, full name): result is pass, FAIL or skip."""
    res = run_tap(args, suite, name, env)
    return res[:3] + (res[3] if len(res) > 3 else name,)


def run_tap(args, suite, name, env):
    cmd = [sys.executable, os.path.join(SRCDIR, "tests", "integration", f"test_{suite}.py"),
           "--smsguard", args.smsguard, "--smsguardctl", args.smsguardctl, "--only", name]
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=SRCDIR)
    took = time.monotonic() - t0
    lines = p.stdout.splitlines()
    if "1..1" not in lines:
        return "FAIL", took, f"the name matches {lines[0] if lines else 'nothing'}"
    for line in lines:
        m = re.match(r"(not ok|ok) 1 - (.*)$", line)
        if not m:
            continue
        full = m.group(2).split(" # SKIP", 1)[0]
        t = re.search(r" \(([0-9.]+) s\)$", full)
        if t:  # the scenario's own time, without the suite's start-up
            took, full = float(t.group(1)), full[:t.start()]
        if m.group(1) == "not ok":
            why = next((l[2:] for l in lines if l.startswith("# Fail")), "failed")
            return "FAIL", took, why, full
        if "# SKIP" in m.group(2):
            return "skip", took, m.group(2).split("# SKIP", 1)[1].strip(), full
        return "pass", took, "", full
    return "FAIL", took, f"no result (exit {p.returncode}): {p.stderr[-300:]}"


def cell(res):
    result, took, note, _ = res
    if result == "pass":
        return f"pass ({took:.1f} s)"
    if result == "skip":
        return f"skip: {note}"
    return f"**FAIL**: {note}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smsguard", required=True)
    ap.add_argument("--smsguardctl", required=True)
    ap.add_argument("--out", help="write the table here (default: stdout)")
    ap.add_argument("--only", help="only the faults whose name contains this")
    args = ap.parse_args()
    args.smsguard = os.path.abspath(args.smsguard)
    args.smsguardctl = os.path.abspath(args.smsguardctl)
    env = dict(os.environ, SMSGUARD_SRCDIR=SRCDIR,
               SMSGUARD_BUILDDIR=os.path.dirname(os.path.dirname(args.smsguard)))
    env.setdefault("ASAN_OPTIONS", "halt_on_error=1:abort_on_error=1:detect_leaks=1")
    env.setdefault("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")
    rows = [r for r in MATRIX if not args.only or args.only in r[0]]
    results, bad = {}, 0
    for fault, _, scenarios in rows:
        for suite, name in scenarios:
            if (suite, name) not in results:
                results[(suite, name)] = run_scenario(args, suite, name, env)
                r = results[(suite, name)]
                bad += r[0] == "FAIL"
                print(f"{r[0]:4} {suite:10} {name} ({r[1]:.0f} s) {r[2]}", file=sys.stderr,
                      flush=True)
    uname = subprocess.run(["uname", "-srm"], capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(["git", "-C", SRCDIR, "describe", "--always", "--dirty"],
                            capture_output=True, text=True).stdout.strip() or "unknown"
    when = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    counts = {k: sum(1 for r in results.values() if r[0] == k) for k in ("pass", "FAIL", "skip")}
    who = "root" if os.geteuid() == 0 else "a user (the rows that need root skipped)"
    out = ["## Fault matrix", "",
           f"Run {when} on `{uname}` as {who}, at {commit} with "
           f"`{os.path.relpath(args.smsguard, SRCDIR)}` "
           f"({len(rows)} faults, {len(results)} scenarios: {counts['pass']} passed, "
           f"{counts['FAIL']} failed, {counts['skip']} skipped). Regenerate with "
           "`python3 bench/faults.py --smsguard … --smsguardctl … --out bench/FAULTS.md`; "
           "each scenario's assertions are its outcome, the column says what they are.", "",
           "| fault | outcome asserted | suite | scenario | result |",
           "|---|---|---|---|---|"]
    for fault, outcome, scenarios in rows:
        for i, (suite, name) in enumerate(scenarios):
            out.append("| %s | %s | %s | %s | %s |" % (
                fault if i == 0 else "", outcome if i == 0 else "", f"test_{suite}",
                results[(suite, name)][3].replace("|", "\\|"), cell(results[(suite, name)])))
    out += ["", "Daemon bugs these rows found, each fixed with the row that shows it:", ""]
    out += [f"- {row}: {what}" for row, what in FIXES]
    text = "\n".join(out) + "\n"
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
