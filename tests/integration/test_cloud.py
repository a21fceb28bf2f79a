#!/usr/bin/env python3
"""Cloud client scenarios: the real daemon against smssim over HTTPS (issue 3).

Every scenario starts its own simulator (a frozen RUNNING task, so the task's
state only changes when a scenario says so) and its own daemon polling it every
second. Timing claims are checked on the simulator's request log, which records
when each request arrived.
"""

import os
import signal
import socket
import statistics
import subprocess
import tempfile
import time

import harness

# A linuxmain of another run on this machine must not be taken for this suite's agent.
harness.isolate_pids(__file__)

from harness import Fail, check, main, scenario, wait_for  # noqa: E402
from simctl import Sim  # noqa: E402

POLL_S = 1.0


def start_sim(ctx, **kw):
    tmp = tempfile.mkdtemp(prefix="sgsim-", dir="/tmp")
    tasks = kw.pop("tasks", [{"simulate": False, "state": "RUNNING"}])
    sim = Sim(tmp, ak=harness.TEST_AK, sk=harness.TEST_SK, tasks=tasks, **kw).start()
    ctx.cleanups.append(sim.stop)
    return sim


def start_daemon(ctx, sim, task_id="default", cloud=None, start=True):
    cfg = {"endpoint": sim.url, "ca_file": sim.ca_file, "timeout": "2s"}
    cfg.update(cloud or {})
    d = ctx.daemon(config={
        "cloud": cfg,
        "task": {"id": sim.task_id if task_id == "default" else task_id,
                 "poll": "1s", "poll_idle": "5s"},
    })
    if start:
        d.start()
        # The start-up preflight's own requests would mix with the ones counted here.
        d.wait_preflight()
    return d


def api_requests(sim, since=0, api=None):
    return [e for e in sim.requests(since) if e["source"] == "api"
            and (api is None or e["api"] == api)]


def gaps(entries):
    return [b["time"] - a["time"] for a, b in zip(entries, entries[1:])]


def cloud_status(d):
    return d.status()["cloud"]


def wait_cloud(d, pred, what, timeout=15):
    return wait_for(lambda: (lambda c: c if pred(c) else None)(cloud_status(d)),
                    timeout=timeout, what=what)


@scenario("the daemon polls the task over HTTPS and shows it in smsguardctl status --json")
def _(ctx):
    sim = start_sim(ctx)
    sim.set_task(progress=42)
    d = start_daemon(ctx, sim)
    st = wait_for(lambda: (lambda s: s if s["task"].get("polled_at") else None)(
        d.ctl_json("status")[1]), timeout=15, what="a polled task in status --json")
    t = st["task"]
    check(t["id"] == sim.task_id, f"task id {t['id']!r}")
    check(t["state"] == "RUNNING", f"task state {t['state']!r}")
    check(t["type"] == "MIGRATE_FILE" and t["os_type"] == "LINUX", f"type/os {t}")
    check(t["progress"] == 42, f"progress {t['progress']!r}")
    check(t["subtask"], f"subtask {t.get('subtask')!r}")
    for key in ("name", "error_code", "migrate_speed_mbps", "remain_seconds", "polled_at"):
        check(key in t, f"task.{key} missing: {t}")
    c = st["cloud"]
    check(c["state"] == "ok" and c["last_ok"] and c["next_poll"] is not None, f"cloud {c}")
    reqs = api_requests(sim, api="ShowTask")
    check(reqs and all(e["signed"] and e["status"] == 200 for e in reqs),
          f"every ShowTask signed and accepted: {reqs[:3]}")
    check(sim.stats()["auth_failures"] == 0, "the simulator refused a signature")
    # A change on the cloud side shows up at the next poll.
    sim.set_task(state="MIGRATE_FAIL", error_code="SMS.2802", error_param=["10.0.0.9"])
    st = wait_for(lambda: (lambda s: s if s["task"]["state"] == "MIGRATE_FAIL" else None)(
        d.status()), timeout=10, what="MIGRATE_FAIL in status")
    check(st["task"]["error_code"] == "SMS.2802", f"error_code {st['task']}")
    check(st["task"]["error_message"], f"error_message {st['task']}")
    d.stop()


@scenario("with [task] id empty the daemon discovers this host's newest unfinished task")
def _(ctx):
    src = {"id": "9c4e2a7b-1d3f-4b5a-8e6c-0000000000aa", "ip": "127.0.0.1",
           "name": socket.gethostname(), "hostname": socket.gethostname()}
    other = {"id": "9c4e2a7b-1d3f-4b5a-8e6c-0000000000bb", "ip": "192.0.2.77",
             "name": "someone-else", "hostname": "someone-else"}
    sim = start_sim(ctx, tasks=[
        {"id": "aaaaaaaa-0000-4000-8000-000000000001", "simulate": False,
         "state": "MIGRATE_SUCCESS", "source_server": src},
        {"id": "aaaaaaaa-0000-4000-8000-000000000002", "simulate": False,
         "state": "RUNNING", "source_server": src},
        {"id": "aaaaaaaa-0000-4000-8000-000000000003", "simulate": False,
         "state": "RUNNING", "source_server": other},
    ])
    d = start_daemon(ctx, sim, task_id=None)
    st = wait_for(lambda: (lambda s: s if s["task"].get("polled_at") else None)(d.status()),
                  timeout=20, what="a discovered task")
    check(st["task"]["id"] == "aaaaaaaa-0000-4000-8000-000000000002",
          f"picked {st['task']['id']}, expected this host's unfinished task")
    log = api_requests(sim)
    lists = [e for e in log if e["api"] == "ListServers"]
    check(lists, "no GET /v3/sources")
    tl = [e for e in log if e["api"] == "ListTasks"]
    check(tl and all(e["params"].get("source_server_id") == [src["id"]] for e in tl),
          f"ListTasks not by this host's source server: {[e['params'] for e in tl]}")
    check(any(e["api"] == "ShowTask" and e["task_id"] == st["task"]["id"] for e in log),
          "the discovered task is not polled")
    d.stop()


@scenario("a 429 storm: Retry-After is honoured, status says throttled, then polling resumes")
def _(ctx):
    sim = start_sim(ctx)
    d = start_daemon(ctx, sim)
    wait_cloud(d, lambda c: c["state"] == "ok", "cloud ok")
    seq = sim.last_seq()
    sim.fault("429", count=3, retry_after=2)
    wait_cloud(d, lambda c: c["state"] == "throttled", "cloud throttled")

    def recovered():
        log = api_requests(sim, seq)
        hit = [i for i, e in enumerate(log) if e["fault"] == "429"]
        return len(hit) == 3 and any(e["status"] == 200 for e in log[hit[-1]:])
    wait_for(recovered, timeout=20, what="a successful poll after the storm")
    log = api_requests(sim, seq)
    throttled = [e for e in log if e["fault"] == "429"]
    after = log[log.index(throttled[0]):log.index(throttled[-1]) + 2]
    g = gaps(after)
    check(all(x >= 1.95 for x in g), f"a request came sooner than Retry-After 2 s: {g}")
    check(all(x <= 3.0 for x in g), f"Retry-After waited far too long: {g}")
    wait_cloud(d, lambda c: c["state"] == "ok", "cloud ok again")
    check(cloud_status(d)["errors"] >= 3, "errors not counted")
    d.stop()


@scenario("500s back off exponentially, show unreachable in status, then recover")
def _(ctx):
    sim = start_sim(ctx)
    d = start_daemon(ctx, sim)
    wait_cloud(d, lambda c: c["state"] == "ok", "cloud ok")
    seq = sim.last_seq()
    sim.fault("500", count=4, status=503)
    c = wait_cloud(d, lambda c: c["state"] == "unreachable", "cloud unreachable")
    check("503" in (c["last_error"] or ""), f"last_error {c['last_error']!r}")
    wait_for(lambda: [e for e in api_requests(sim, seq) if e["status"] == 200], timeout=30,
             what="recovery after the 500s")
    log = api_requests(sim, seq)
    failed = [e for e in log if e["fault"] == "500"]
    check(len(failed) == 4, f"{len(failed)} failed requests")
    g = gaps(log[log.index(failed[0]):log.index(failed[-1]) + 2])
    # 1 s, 2 s, 4 s, 8 s with ±10 % jitter: each wait at least 1.6 times the last.
    check(all(b >= 1.6 * a for a, b in zip(g, g[1:])), f"not exponential: {g}")
    check(g[0] >= 0.85, f"first retry too soon: {g}")
    wait_cloud(d, lambda c: c["state"] == "ok", "cloud ok again")
    d.stop()


@scenario("after failed polls, smsguardctl check polls at once instead of waiting out the backoff")
def _(ctx):
    sim = start_sim(ctx)
    d = start_daemon(ctx, sim)
    wait_cloud(d, lambda c: c["state"] == "ok", "cloud ok")
    sim.fault("500", count=1000, status=500)
    # Four failures in a row: the next try is 8 s (±10 %) away.
    c = wait_cloud(d, lambda c: c["failures"] >= 4, "four failed polls", timeout=30)
    check(c["next_poll"] is not None and c["next_poll"] >= time.time() + 4,
          f"the backoff did not grow: next_poll {c['next_poll']} at {time.time():.0f}")
    sim.clear_faults()
    seq = sim.last_seq()
    t0 = time.time()
    rc, out, err = d.ctl("check")
    check(rc == 0, f"smsguardctl check: {rc} {err}")
    ok = wait_for(lambda: [e for e in api_requests(sim, seq, "ShowTask") if e["status"] == 200],
                  timeout=5, what="a poll after smsguardctl check")
    check(ok[0]["time"] - t0 <= 2.0,
          f"the poll came {ok[0]['time'] - t0:.1f} s after the check (backoff not bypassed)")
    wait_cloud(d, lambda c: c["state"] == "ok" and c["failures"] == 0, "cloud ok again")
    d.stop()


@scenario("smsguardctl check does not break a 429's Retry-After")
def _(ctx):
    sim = start_sim(ctx)
    d = start_daemon(ctx, sim)
    wait_cloud(d, lambda c: c["state"] == "ok", "cloud ok")
    sim.fault("429", count=1, retry_after=6)
    c = wait_cloud(d, lambda c: c["state"] == "throttled", "cloud throttled")
    throttled = [e for e in api_requests(sim) if e["fault"] == "429"][0]
    rc, out, err = d.ctl("check")
    check(rc == 0, f"smsguardctl check: {rc} {err}")
    nxt = wait_for(lambda: api_requests(sim, throttled["seq"]), timeout=15,
                   what="the poll after the Retry-After")
    waited = nxt[0]["time"] - throttled["time"]
    check(waited >= 5.9, f"a call {waited:.1f} s into a 6 s Retry-After")
    d.stop()


@scenario("a reload to another task mid-request never shows the old task's answer as the new one")
def _(ctx):
    new_id = "bbbbbbbb-0000-4000-8000-0000000000b2"
    sim = start_sim(ctx, tasks=[{"simulate": False, "state": "RUNNING"},
                                {"id": new_id, "simulate": False, "state": "READY"}])
    old_id = sim.task_id
    d = start_daemon(ctx, sim, cloud={"timeout": "10s"})
    wait_for(lambda: (lambda t: t if t["id"] == old_id and t["state"] == "RUNNING" else None)(
        d.status()["task"]), timeout=15, what="the old task polled")
    seq = sim.last_seq()
    # The second slow answer holds whatever comes next, so a wrong snapshot would stay visible.
    sim.fault("slow", seconds=3, count=2)
    slow = wait_for(lambda: [e for e in sim.requests(seq) if e["fault"] == "slow"
                             and e["task_id"] == old_id and not e["done"]],
                    timeout=10, what="a ShowTask of the old task held by the simulator")[0]
    d.update({"task": {"id": new_id}})
    d.write_config()
    d.send_signal(signal.SIGHUP)
    d.wait_log("configuration reloaded")
    seen = []

    def settled():
        t = d.status()["task"]
        seen.append((t["id"], t["state"]))
        done = [e for e in sim.requests(seq) if e["seq"] == slow["seq"] and e["done"]]
        if not done or time.time() < done[0]["time"] + done[0]["duration_ms"] / 1000 + 1.5:
            return None  # until the old answer has long been sent
        return t if t["id"] == new_id and t["state"] == "READY" else None
    wait_for(settled, timeout=20, what="the new task's state, after the old answer came")
    # The reload's status may say the new id with no state yet, never the old task's.
    wrong = [x for x in seen if x[0] != new_id or x[1] not in ("unknown", "READY")]
    check(not wrong, f"status showed another task after the reload: {wrong[:3]}")
    check(any(e["task_id"] == new_id for e in api_requests(sim, seq, "ShowTask")),
          "the new task was never polled")
    d.stop()


@scenario("a 30 s stall is cut at [cloud] timeout and polling goes on")
def _(ctx):
    sim = start_sim(ctx)
    d = start_daemon(ctx, sim)  # timeout = 2s
    wait_cloud(d, lambda c: c["state"] == "ok", "cloud ok")
    seq = sim.last_seq()
    sim.fault("slow", seconds=30, count=1)
    c = wait_cloud(d, lambda c: "timeout" in (c["last_error"] or ""), "a timeout in status")
    check(c["state"] == "unreachable", f"state {c['state']}")
    # The next poll arrives while the stalled one is still held by the simulator.
    nxt = wait_for(lambda: [e for e in api_requests(sim, seq) if e["fault"] is None],
                   timeout=10, what="the poll after the stall")
    stalled = [e for e in api_requests(sim, seq) if e["fault"] == "slow"][0]
    waited = nxt[0]["time"] - stalled["time"]
    check(1.8 <= waited <= 5.0, f"next request {waited:.1f} s after the stalled one "
          "(expected the 2 s timeout plus a 1 s backoff)")
    check(not [e for e in sim.requests(seq) if e["fault"] == "slow"][0]["done"],
          "the stall should still be in progress")
    wait_cloud(d, lambda c: c["state"] == "ok", "cloud ok again")
    d.stop()


@scenario("while a request stalls for 20 s, status is answered at once, not after the stall")
def _(ctx):
    # What is asserted is that the loop is not blocked by the stalled request: each status
    # reply (raw socket, so no client start-up is timed) comes well inside the 20 s stall.
    # The latency figures are printed; their targets belong to bench/.
    sim = start_sim(ctx)
    d = start_daemon(ctx, sim, cloud={"timeout": "30s"})
    wait_cloud(d, lambda c: c["state"] == "ok", "cloud ok")
    seq = sim.last_seq()
    sim.fault("slow", seconds=20, count=1)
    wait_for(lambda: [e for e in sim.requests(seq) if e["fault"] == "slow" and not e["done"]],
             timeout=10, what="a stalled request")
    raw = []
    for _ in range(20):
        t0 = time.monotonic()
        r = harness.ctl_raw(d.socket, b'{"cmd":"status"}\n', timeout=5)
        raw.append(time.monotonic() - t0)
        check(isinstance(r, dict) and r.get("ok"), f"status failed: {r!r}")
    rc, out, err = d.ctl("status", "--json")
    check(out.strip().startswith("{"), f"smsguardctl status printed {out!r} {err!r}")
    check([e for e in sim.requests(seq) if e["fault"] == "slow" and not e["done"]],
          "the request was no longer stalled while measuring")
    print(f"# status round trip during the stall: median {statistics.median(raw) * 1000:.1f} ms,"
          f" max {max(raw) * 1000:.1f} ms", flush=True)
    check(max(raw) < 2.0, f"a status reply took {max(raw) * 1000:.0f} ms during the stall")
    d.stop()


@scenario("a malformed error_json degrades that field only: SYNC_FAIL is seen, the log says so once")
def _(ctx):
    sim = start_sim(ctx)
    d = start_daemon(ctx, sim, cloud={"timeout": "5s"})
    wait_for(lambda: d.status()["task"].get("state") == "RUNNING", timeout=15,
             what="RUNNING in status")
    seq = sim.last_seq()
    sim.set_task(state="SYNC_FAIL", error_json="not json {")
    t = wait_for(lambda: (lambda t: t if t.get("state") == "SYNC_FAIL" else None)(
        d.status()["task"]), timeout=15, what="SYNC_FAIL in status despite the bad error_json")
    check(t.get("error_code") is None, f"error_code {t.get('error_code')!r} from no code at all")
    check(t.get("error_message") == "not json {", f"error_message {t.get('error_message')!r}")
    # More polls with the field still malformed: one warning, not one per poll.
    wait_for(lambda: len([e for e in sim.requests(seq) if e["api"] == "ShowTask"]) >= 3,
             timeout=20, what="three polls")
    warnings = [l for l in d.log().splitlines() if "malformed fields" in l]
    check(len(warnings) == 1, f"{len(warnings)} warnings about the field: {warnings}")
    check("error_json" in warnings[0], f"the warning does not name error_json: {warnings[0]}")
    check(cloud_status(d)["state"] == "ok", "a degraded field made the cloud not ok")
    # A plain code inside the broken text is still taken.
    sim.set_task(state="SYNC_FAIL", error_json='{"error_code": "SMS.2802", broken')
    wait_for(lambda: d.status()["task"].get("error_code") == "SMS.2802", timeout=15,
             what="SMS.2802 taken from the unparsable error_json")
    d.stop()


@scenario("garbage JSON and a truncated body count as bad responses, back off and recover")
def _(ctx):
    sim = start_sim(ctx)
    d = start_daemon(ctx, sim)
    wait_cloud(d, lambda c: c["state"] == "ok", "cloud ok")
    before = d.status()["task"]
    seq = sim.last_seq()
    sim.fault("garbage", count=2)
    sim.fault("truncated", count=1)
    c = wait_cloud(d, lambda c: "bad response" in (c["last_error"] or ""), "bad response")
    wait_for(lambda: [e for e in api_requests(sim, seq) if e["fault"] is None], timeout=20,
             what="a clean poll after the garbage")
    log = api_requests(sim, seq)
    bad = [e for e in log if e["fault"] in ("garbage", "truncated")]
    g = gaps(log[log.index(bad[0]):log.index(bad[-1]) + 2])
    check(all(b >= 1.6 * a for a, b in zip(g, g[1:])), f"no backoff after garbage: {g}")
    st = d.status()
    check(st["task"]["id"] == before["id"] and st["task"]["state"] == "RUNNING",
          f"the last good snapshot was lost: {st['task']}")
    check(st["cloud"]["errors"] >= 3, f"errors {st['cloud']['errors']}")
    wait_cloud(d, lambda c: c["state"] == "ok", "cloud ok again")
    d.alive_or_raise()
    d.stop()


@scenario("a 401 raises cloud_auth_failed once and no call follows for 5 minutes")
def _(ctx):
    sim = start_sim(ctx)
    d = start_daemon(ctx, sim)
    wait_cloud(d, lambda c: c["state"] == "ok", "cloud ok")
    sim.fault("auth", count=1)
    d.wait_event("cloud_auth_failed", timeout=10)
    c = wait_cloud(d, lambda c: c["state"] == "auth_failed", "auth_failed")
    check(c.get("silent_until") and c["silent_until"] >= time.time() + 290,
          f"silent_until {c.get('silent_until')} is not 5 minutes away")
    seq = max(e["seq"] for e in sim.requests() if e["fault"] == "auth")
    # A forced check must not break the silence either.
    rc, out, err = d.ctl("check")
    # Silence can only be shown over a window: 12 poll intervals, failing at the first call.
    deadline = time.monotonic() + 12 * POLL_S
    while time.monotonic() < deadline:
        late = api_requests(sim, seq)
        if late:
            raise Fail(f"a call during the 401 silence: {late[0]['method']} {late[0]['path']}")
        time.sleep(0.2)
    check(len([e for e in d.events() if e["type"] == "cloud_auth_failed"]) == 1,
          "cloud_auth_failed raised more than once")
    check(cloud_status(d)["state"] == "auth_failed", "status forgot the auth failure")
    check(not api_requests(sim, seq), "a call during the 401 silence")
    d.stop()


@scenario("a server clock 10 minutes off raises clock_skew once")
def _(ctx):
    sim = start_sim(ctx)
    d = start_daemon(ctx, sim)
    wait_cloud(d, lambda c: c["state"] == "ok", "cloud ok")
    sim.fault("clock", skew_seconds=600)
    ev = d.wait_event("clock_skew", timeout=10)[0]
    check(abs(ev.get("skew_seconds", 0) - 600) <= 5, f"skew in the event: {ev}")
    seq = sim.last_seq()
    wait_for(lambda: len(api_requests(sim, seq)) >= 3, timeout=10, what="three more polls")
    check(len([e for e in d.events() if e["type"] == "clock_skew"]) == 1,
          "clock_skew raised more than once")
    check(cloud_status(d)["state"] == "ok", "a skew under 15 minutes still works")
    d.stop()


@scenario("a wrong CA is refused before any request reaches the handler; status says why")
def _(ctx):
    sim = start_sim(ctx)
    d = start_daemon(ctx, sim, cloud={"ca_file": sim.wrong_ca_file})
    c = wait_cloud(d, lambda c: c["state"] == "unreachable" and "tls" in (c["last_error"] or ""),
                   "a TLS failure in status")
    check("certificate" in c["last_error"].lower() or "ssl" in c["last_error"].lower(),
          f"the reason is not shown: {c['last_error']!r}")
    wait_for(lambda: sim.stats()["tls_failures"] >= 1, timeout=5, what="a refused handshake")
    check(sim.requests() == [], f"a request reached the handler: {sim.requests()[:1]}")
    st = d.status()
    check(st["task"].get("polled_at") is None, "a task was polled through a wrong CA")
    d.stop()


main()
