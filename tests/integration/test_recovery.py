#!/usr/bin/env python3
"""Recovery end to end (issue 5, DESIGN.md §5.5): the real daemon, smssim over HTTPS, the fake
target and the fake agent. Each scenario checks the simulator's request log for the actions
smsguard took (signed `start`s) and for those it must not have taken.

As root the suite runs in a PID namespace of its own (so the daemon sees only the fake agents
started here) and the target lives in a network namespace whose port is cut by an nft DROP rule:
both the simulator and smsguard then see the link time out, as with a real outage. Without root
the target is a loopback listener that is stopped and started again.

Intervals are scaled down: probe every 100 ms (timeout 200 ms, fall 3, rise 2), settle 1 s,
poll 1 s, confirm 5 s, backoff 1 s..8 s.
"""

import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402

harness.isolate_pids(__file__)

from harness import Skip, check, is_root, main, scenario, wait_for  # noqa: E402
from world import (CONFIRM, FALL, INTERVAL, RISE, SETTLE, SLACK, TIMEOUT, TASK_ID,  # noqa: E402
                   World, fail_over_link)


def detail(ev, key):
    if key in ev:
        return ev[key]
    return (ev.get("details") or {}).get(key)


# ---------------------------------------------------------------------------------------------

@scenario("link drop: target_down early, no start while down, one start once it is back")
def _(ctx):
    w = World(ctx).start()
    seq0, ev0 = w.sim.last_seq(), w.last_event_seq()
    ev, took, failed = fail_over_link(w)
    want = FALL * INTERVAL + TIMEOUT  # a fixed cadence (DESIGN.md §5.1)
    check(took <= want + SLACK, f"target_down after {took:.2f} s, want <= {want:.2f} s")
    check(failed["error_code"] == "SMS.3805", f"the sim failed it with {failed['error_code']}")
    # Down for a few polls: smsguard waits and says why.
    w.wait_polls(3, w.sim.last_seq())
    check(w.starts(seq0) == [], f"start while the link was down: {w.starts(seq0)}")
    reason = w.d.status()["recovery"]["reason"]
    check("down" in reason, f"reason while down: {reason!r}")
    check(len(w.events("task_failed", ev0)) == 1, "not exactly one task_failed")
    t1 = time.monotonic()
    w.link.restore()
    wait_for(lambda: w.starts(seq0), timeout=15, interval=0.02, what="a start")
    took = time.monotonic() - t1
    want = SETTLE + RISE * INTERVAL + 2
    check(took <= want + SLACK, f"start {took:.2f} s after the link returned, want <= {want}")
    w.sim.wait_task("RUNNING", timeout=5)
    w.d.wait_event("task_resumed", since_seq=ev0)
    w.d.wait_event("task_running", since_seq=ev0, timeout=CONFIRM + 5)
    w.wait_polls(2, w.sim.last_seq())
    check(len(w.starts(seq0)) == 1, f"{len(w.starts(seq0))} starts, want exactly one")
    check(w.d.status()["recovery"]["actions_in_window"] == 1, "actions_in_window is not 1")
    w.d.stop()


@scenario("SMS fails the task before fall probes can: no start into the dead link, one once it is back")
def _(ctx):
    # SMS fails the task after 1 s of unreachability; smsguard needs fall 3 x 1 s (+ timeout 1 s)
    # to see the link down. When the failure arrives the probes still read up since long before.
    interval, rise, settle = 1.0, 2, 1.0
    w = World(ctx, task={"fail_after": 1.0},
              target={"interval": "1s", "timeout": "1s", "fall": 3, "rise": rise},
              recovery={"settle": "1s"}).start()
    seq0, ev0 = w.sim.last_seq(), w.last_event_seq()
    w.link.cut()
    t_cut = time.monotonic()
    w.sim.wait_task("MIGRATE_FAIL", timeout=15)
    st = wait_for(lambda: (lambda s: s if s["task"].get("state") == "MIGRATE_FAIL" else None)(
        w.d.status()), timeout=10, what="smsguard sees MIGRATE_FAIL")
    seen = time.monotonic() - t_cut
    print(f"# failure seen by smsguard {seen:.2f} s after the cut; target then read "
          f"{st['target']['state']}", flush=True)
    # Down for long enough that a blind retry would have shown: several polls, and past the
    # time smsguard's own probes need to call the target down.
    w.wait_polls(4, w.sim.last_seq())
    wait_for(lambda: w.d.status()["target"]["state"] == "down", timeout=10,
             what="fresh probes find the target down")
    check(w.starts(seq0) == [], f"start while the link was down: {w.starts(seq0)}")
    reason = w.d.status()["recovery"]["reason"]
    check("down" in reason or "fresh probes" in reason, f"reason while down: {reason!r}")
    t_restore = time.time()
    w.link.restore()
    starts = wait_for(lambda: w.starts(seq0), timeout=15, interval=0.05, what="a start")
    took = starts[0]["time"] - t_restore
    want = settle + rise * interval + 1.0
    print(f"# start {took:.2f} s after the link returned (bound {want:.1f} s)", flush=True)
    check(took <= want, f"start {took:.2f} s after the link returned, want <= {want:.1f} s")
    w.sim.wait_task("RUNNING", timeout=10)
    w.d.wait_event("task_running", since_seq=ev0, timeout=CONFIRM + 10)
    w.wait_polls(2, w.sim.last_seq())
    check(len(w.starts(seq0)) == 1, f"{len(w.starts(seq0))} starts, want exactly one")
    check(w.d.status()["recovery"]["actions_in_window"] == 1, "actions_in_window is not 1")
    w.d.stop()


@scenario("a dropped link is down within fall x interval + timeout + 0.5 s, at any phase (10 drops)")
def _(ctx):
    if not is_root():
        raise Skip("needs a network namespace and nft to drop (not refuse) the link")
    interval, timeout, fall = 1.0, 1.0, 3
    bound = fall * interval + timeout + 0.5
    w = World(ctx, task={"fail_after": 3600.0},
              target={"interval": "1s", "timeout": "1s", "fall": fall, "rise": 2}).start()
    took = []
    for i in range(10):
        w.wait_steady()
        seq = w.last_event_seq()
        time.sleep(random.uniform(0, interval))  # a random phase against the probe cadence
        t_cut = time.time()
        w.link.cut()
        ev = w.d.wait_event("target_down", timeout=bound + 5, since_seq=seq)[0]
        took.append(ev["time_ms"] / 1000 - t_cut)
        w.link.restore()
        w.d.wait_event("target_up", timeout=10, since_seq=ev["seq"])
    took.sort()
    print("# target_down after the drop (s): min %.2f median %.2f max %.2f; all: %s" % (
        took[0], took[len(took) // 2], took[-1], " ".join("%.2f" % t for t in took)), flush=True)
    check(took[-1] <= bound, f"target_down {took[-1]:.2f} s after the drop, want <= {bound} s")
    w.d.stop()


@scenario("flapping link for two minutes: no more starts than the budget, backoff visible, exhausted once")
def _(ctx):
    w = World(ctx, recovery={"budget": "3/10m"}).start()
    seq0, ev0 = w.sim.last_seq(), w.last_event_seq()
    saw_next_allowed = saw_backoff = False
    # Two minutes of flapping (issue 5): the budget must hold for all of it.
    end = time.monotonic() + 120
    cycles = 0
    while time.monotonic() < end:
        w.link.cut()
        # Down long enough for SMS to fail the task (fail_after 1 s), then back.
        wait_for(lambda: w.sim.task()["state"] != "RUNNING", timeout=10, what="task failed")
        time.sleep(0.5)  # the outage itself: part of the stimulus, not a wait for a result
        w.link.restore()
        cycles += 1
        up_until = time.monotonic() + 4
        while time.monotonic() < up_until:
            r = w.recovery()
            saw_next_allowed |= r.get("next_allowed") is not None
            saw_backoff |= r.get("backoff_until") is not None
            time.sleep(0.25)
    starts = w.starts(seq0)
    check(len(starts) <= 3, f"{len(starts)} starts in {cycles} outages, budget 3")
    check(len(starts) == 3, f"only {len(starts)} starts in {cycles} outages: budget unused")
    ex = w.d.wait_event("recovery_exhausted", since_seq=ev0, timeout=10)
    check(len(ex) == 1, f"recovery_exhausted raised {len(ex)} times")
    r = w.recovery()
    check(r["actions_in_window"] == 3 and r["budget"] == 3, f"recovery section {r}")
    check(r["next_allowed"] is not None, f"next_allowed not shown when spent: {r}")
    check(saw_next_allowed or saw_backoff, "neither backoff nor next_allowed ever shown")
    check("budget" in w.d.status()["recovery"]["reason"], "reason does not name the budget")
    w.d.stop()


@scenario("task stopped by a person: never started, and status says so")
def _(ctx):
    w = World(ctx).start()
    seq0 = w.sim.last_seq()
    st, _, body = w.sim.api("POST", f"/v3/tasks/{TASK_ID}/action", {"operation": "stop"})
    check(st == 200, f"stop: {st} {body}")
    w.sim.wait_task("ABORT", timeout=10)
    wait_for(lambda: "stopped by a person" in w.d.status()["recovery"]["reason"], timeout=10,
             what="reason: stopped by a person")
    # The link dropping as well must not change anything.
    w.link.cut()
    w.wait_polls(3, w.sim.last_seq(), timeout=20)
    w.link.restore()
    wait_for(lambda: w.d.status()["target"]["state"] == "up", timeout=5, what="target up")
    w.wait_polls(2, w.sim.last_seq(), timeout=20)
    check(w.starts(seq0) == [], f"a stopped task was started: {w.starts(seq0)}")
    check(w.sim.task()["state"] == "ABORT", "task no longer ABORT")
    w.d.stop()


@scenario("non-network failure: one task_failed event, no action")
def _(ctx):
    w = World(ctx).start()
    seq0, ev0 = w.sim.last_seq(), w.last_event_seq()
    w.sim.set_task(state="MIGRATE_FAIL", error_code="SMS.3803")
    evs = w.d.wait_event("task_failed", since_seq=ev0, timeout=10)
    check(detail(evs[0], "error_code") == "SMS.3803", f"event {evs[0]}")
    check(detail(evs[0], "network") is False, f"event {evs[0]} not marked non-network")
    w.wait_polls(4, w.sim.last_seq(), timeout=30)
    check(len(w.events("task_failed", ev0)) == 1, "task_failed raised more than once")
    check(w.starts(seq0) == [], f"a non-network failure was resumed: {w.starts(seq0)}")
    check(w.sim.actions(None, seq0) == [], "an action was issued")
    reason = w.d.status()["recovery"]["reason"]
    check("SMS.3803" in reason and "person" in reason, f"reason {reason!r}")
    w.d.stop()


def kill_agent_and_fail(w):
    w.agent.kill()
    # SMS notices the lost agent: the task fails with the agent's network code.
    w.sim.set_task(state="MIGRATE_FAIL", error_code="SMS.0807")
    try:
        w.d.wait_event("agent_down", timeout=5)
        ev = w.d.wait_event("agent_restarted", timeout=45)
    except Exception:
        print("\n".join("# " + l for l in w.d.log()[-6000:].splitlines()), flush=True)
        print("# status: %s" % w.d.status(), flush=True)
        raise
    # smsguard may see the new linuxmain before it wrote its pid file.
    wait_for(w.agent.alive, timeout=10, what="the restarted linuxmain")
    return ev


@scenario("agent killed: restarted through startup.sh, then the file-level task resumed")
def _(ctx):
    if not is_root():
        raise Skip("needs root: a PID namespace of its own for the fake agent")
    w = World(ctx, agent={"restart": "when-dead"}).start()
    seq0, ev0 = w.sim.last_seq(), w.last_event_seq()
    ev = kill_agent_and_fail(w)
    check(detail(ev[0], "warning") is None, f"a warning for a file-level task: {ev[0]}")
    wait_for(lambda: w.starts(seq0), timeout=15, what="a start after the agent restart")
    w.sim.wait_task("RUNNING", timeout=5)
    w.d.wait_event("task_running", since_seq=ev0, timeout=CONFIRM + 5)
    check(len(w.starts(seq0)) == 1, f"{len(w.starts(seq0))} starts")
    r = w.recovery()
    check(r["actions_in_window"] == 2, f"restart + resume not both counted: {r}")
    a = w.d.status()["agent"]
    check(a["restarts"] >= 1 and a["pid"] == w.agent.pid(), f"agent status {a}")
    w.d.stop()


@scenario("agent killed under a block-level task: restarted with a warning, no resume")
def _(ctx):
    if not is_root():
        raise Skip("needs root: a PID namespace of its own for the fake agent")
    w = World(ctx, agent={"restart": "when-dead"}, block=True).start()
    seq0 = w.sim.last_seq()
    ev = kill_agent_and_fail(w)
    warning = detail(ev[0], "warning")
    check(warning and "block-level" in warning and "recreate" in warning, f"event {ev[0]}")
    w.wait_polls(4, w.sim.last_seq(), timeout=30)
    check(w.starts(seq0) == [], f"a block-level task was resumed: {w.starts(seq0)}")
    reason = w.d.status()["recovery"]["reason"]
    check("recreate" in reason, f"reason {reason!r}")
    w.d.stop()


@scenario("kill -9 right after the start, restarted: no second start, budget remembered")
def _(ctx):
    w = World(ctx).start()
    seq0 = w.sim.last_seq()
    fail_over_link(w)
    w.link.restore()
    wait_for(lambda: w.starts(seq0), timeout=15, interval=0.01, what="a start")
    w.d.kill9()
    w.d.start()
    w.wait_steady()
    r = w.recovery()
    check(r["actions_in_window"] == 1, f"budget forgotten across kill -9: {r}")
    check(r["last_action"] and r["last_action"]["action"] == "resume", f"last_action {r}")
    w.wait_polls(3, w.sim.last_seq())
    check(len(w.starts(seq0)) == 1, f"{len(w.starts(seq0))} starts across the restart")
    # A second outage is a new failure: one more start, and the window holds both.
    seq1 = w.sim.last_seq()
    fail_over_link(w)
    w.link.restore()
    wait_for(lambda: w.starts(seq1), timeout=15, what="a start for the second outage")
    w.sim.wait_task("RUNNING", timeout=5)
    wait_for(lambda: w.recovery()["actions_in_window"] == 2, timeout=5, what="2 in window")
    w.wait_polls(2, w.sim.last_seq())
    check(len(w.starts(seq0)) == 2, f"{len(w.starts(seq0))} starts for two outages")
    w.d.stop()


@scenario("agent's own auto-recovery succeeds: smsguard issues no start")
def _(ctx):
    w = World(ctx, task={"fail_codes": {"22": "SMS.2802"}},
              gprop={"auto_start_max_retry_times": 3, "auto_start_interval_seconds": 2,
                     "auto_start_each_addition_seconds": 0}).start()
    seq0 = w.sim.last_seq()
    _, _, failed = fail_over_link(w)
    check(failed["error_code"] == "SMS.2802", f"failed with {failed['error_code']}")
    w.link.restore()
    wait_for(lambda: w.sim.agent_actions(seq0), timeout=15, what="the agent's own resume")
    w.sim.wait_task("RUNNING", timeout=5)
    # Past the agent's whole retry window (3 x 2 s + a poll): still nothing from smsguard.
    w.wait_polls(8, w.sim.last_seq(), timeout=30)
    wait_for(lambda: w.d.status()["task"].get("state") == "RUNNING", timeout=5,
             what="smsguard sees RUNNING")
    check(w.starts(seq0) == [], f"smsguard raced the agent: {w.starts(seq0)}")
    check(w.recovery()["actions_in_window"] == 0, "an action was counted")
    w.d.stop()


if __name__ == "__main__":
    main()
