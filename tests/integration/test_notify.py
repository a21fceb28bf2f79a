#!/usr/bin/env python3
"""Notifications end to end (issue 11, DESIGN.md §5.7): the real daemon publishing to the
simulator's SMN, POSTing to a webhook receiver on loopback and running an exec hook.

A receiver counts an event as delivered when it answered 2xx; smsguard delivers at least once,
each event with one id on every attempt, so "once" below means one 2xx per id. Waits are on
observable state (the receiver's log, the simulator's publishes, smsguardctl output).
"""

import http.server
import json
import os
import re
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402

harness.isolate_pids(__file__)

from harness import check, free_port, main, scenario, wait_for  # noqa: E402
from simctl import FakeTarget, Sim  # noqa: E402
from world import TASK_ID, World  # noqa: E402

TOPIC = "urn:smn:ap-southeast-3:0a1b2c3d4e5f:smsguard-events"
HOST = socket.gethostname()


class Receiver:
    """A webhook receiver on 127.0.0.1: answers 500 while failing, 200 after; keeps every request."""

    def __init__(self, ctx, fail_for=0.0, addr="127.0.0.1", tls_dir=None):
        self.fail_for = fail_for
        self.failing = fail_for > 0
        self.first = None
        self.lock = threading.Lock()
        self.hits = []  # (time, status, headers, parsed body)
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with rec.lock:
                    now = time.monotonic()
                    if rec.first is None:
                        rec.first = now
                    if rec.fail_for > 0 and now - rec.first >= rec.fail_for:
                        rec.failing = False
                    status = 500 if rec.failing else 200
                    try:
                        doc = json.loads(body)
                    except ValueError:
                        doc = None
                    rec.hits.append((now, status, dict(self.headers), doc))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer((addr, 0), Handler)
        self.server.daemon_threads = True
        scheme = "http"
        if tls_dir:
            tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            tls.load_cert_chain(os.path.join(tls_dir, "server.crt"),
                                os.path.join(tls_dir, "server.key"))
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = "%s://%s:%d/hook?from=smsguard" % (scheme, addr, self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        ctx.cleanups.append(self.close)

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def recover(self):
        with self.lock:
            self.failing = False
            self.fail_for = 0

    def delivered(self):
        """The CloudEvents answered 200, in the order they came."""
        with self.lock:
            return [doc for _, st, _, doc in self.hits if st == 200]

    def attempts(self):
        with self.lock:
            return list(self.hits)


class Hang:
    """A TCP listener on 127.0.0.1 that accepts every connection and never answers."""

    def __init__(self, ctx):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.held = []
        self.url = "http://127.0.0.1:%d/" % self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()
        ctx.cleanups.append(self.close)

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(c)

    def close(self):
        self.sock.close()
        for c in self.held:
            c.close()


def events_of(d):
    rc, out = d.ctl_json("events")
    return out["events"]


def event_id(e):
    return "%s-%d-%d" % (re.sub(r"[^A-Za-z0-9._-]", "_", HOST), e["seq"], e["time_ms"])


def notify_status(d):
    return d.status()["notify"]


def sink_status(d, name):
    return next(s for s in notify_status(d)["sinks"] if s["sink"] == name)


def start_target(ctx, port):
    t = FakeTarget("127.0.0.1", [port]).start()
    ctx.cleanups.append(t.stop)
    return t


# ---------------------------------------------------------------------------------------------

@scenario("link drop: exactly one SMN publish for target_down and one for task_resumed, signed")
def _(ctx):
    w = World(ctx)
    w.d.update({"notify": {"smn_topic": TOPIC, "smn_endpoint": w.sim.url}})
    w.start()
    seq0 = w.sim.last_seq()
    w.link.cut()
    w.d.wait_event("target_down", timeout=10)
    w.sim.wait_task("MIGRATE_FAIL", timeout=15)
    wait_for(lambda: w.d.status()["task"].get("state") == "MIGRATE_FAIL", timeout=10,
             what="smsguard sees MIGRATE_FAIL")
    w.link.restore()
    w.d.wait_event("task_running", timeout=30)

    def subjects():
        return [p["body"]["subject"] for p in w.sim.publishes()]
    wait_for(lambda: f"smsguard on {HOST}: task_running" in subjects(), timeout=20,
             what="the task_running publish")
    w.wait_polls(2, w.sim.last_seq())
    pubs = w.sim.publishes()
    subj = [p["body"]["subject"] for p in pubs]
    for t in ("target_down", "task_resumed"):
        n = subj.count(f"smsguard on {HOST}: {t}")
        check(n == 1, f"{t} published {n} times: {subj}")
    # Every publish went to the topic, signed well enough for the simulator to take it.
    calls = [e for e in w.sim.requests(seq0) if e["api"] == "PublishMessage"]
    check(calls and all(e["status"] == 200 for e in calls),
          f"publish answers {[e['status'] for e in calls]}")
    check(len(calls) == len(pubs), f"{len(calls)} publish calls for {len(pubs)} publishes: retried")
    for p in pubs:
        check(p["project_id"] == "0a1b2c3d4e5f" and p["topic_urn"] == TOPIC, f"publish to {p}")
    down = next(p["body"] for p in pubs if p["body"]["subject"].endswith("target_down"))
    ev = w.events("target_down")[0]
    check(down["message"].startswith(f"smsguard on {HOST}, watching SMS task ")
          and TASK_ID in down["message"] and ev["message"] in down["message"]
          and event_id(ev) in down["message"], f"message {down['message']!r}")
    check(down["time_to_live"] == "3600" and "[" not in down["message"], f"body {down}")
    # Each event once: their ids never repeat.
    ids = [re.search(r"event id (\S+)\.$", p["body"]["message"]).group(1) for p in pubs]
    check(len(ids) == len(set(ids)), f"an event published twice: {ids}")
    s = sink_status(w.d, "smn")
    check(s["delivered"] == len(pubs) and s["queued"] == 0 and s["failed"] == 0
          and s["last_error"] is None and s["next_retry"] is None, f"smn status {s}")
    w.d.stop()


@scenario("webhook failing (500) for a minute, then back: every event once, in order, as CloudEvents")
def _(ctx):
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="sgnot-", dir="/tmp")
    ctx.cleanups.append(lambda: shutil.rmtree(tmp, ignore_errors=True))
    sim = Sim(os.path.join(tmp, "sim"), ak=harness.TEST_AK, sk=harness.TEST_SK,
              http=True, tasks=[{"id": TASK_ID, "state": "RUNNING", "simulate": False,
                                 "migration_ip": "127.0.0.1", "port_map": {"22": port}}]).start()
    ctx.cleanups.append(sim.stop)
    tgt = start_target(ctx, port)
    rec = Receiver(ctx, fail_for=60)
    d = ctx.daemon(config={
        "cloud": {"endpoint": sim.url},
        "task": {"id": TASK_ID, "poll": "1s", "poll_idle": "5s"},
        "target": {"address": "127.0.0.1", "ports": str(port)},
        "notify": {"webhook": rec.url},
    }).start()
    wait_for(lambda: d.status()["target"]["state"] == "up", timeout=10, what="target up")
    # Events while the receiver fails: three outages of the target while the task runs.
    for _ in range(3):
        seq = max((e["seq"] for e in events_of(d)), default=0)
        tgt.stop()
        d.wait_event("target_down", timeout=10, since_seq=seq)
        tgt = start_target(ctx, port)
        d.wait_event("target_up", timeout=10, since_seq=seq)
    check(rec.failing, "the receiver stopped failing before the outages were over")
    s = wait_for(lambda: (lambda s: s if s["failed"] >= 2 and s["next_retry"] else None)(
        sink_status(d, "webhook")), timeout=30, what="failed attempts and a retry waited for")
    check(s["last_error"] == "HTTP 500" and s["queued"] >= 7, f"webhook status {s}")
    check(d.log().count("webhook: cannot deliver") == 1, "a failure streak logged more than once")
    _, metrics, _ = d.ctl("metrics")
    check('smsguard_notify_failed_total{sink="webhook"} ' in metrics
          and 'smsguard_notify_queue{sink="webhook"} ' in metrics, "notify metrics missing")
    # Delivered once the receiver is back: as many as were raised, nothing left waiting.
    wait_for(lambda: sink_status(d, "webhook")["queued"] == 0, timeout=150, interval=0.5,
             what="every event delivered")
    want, got = events_of(d), rec.delivered()
    took = rec.attempts()[-1][0] - rec.first
    print(f"# {len(want)} events delivered {took:.0f} s after the first attempt, "
          f"{len(rec.attempts())} requests", flush=True)
    check([g["data"]["seq"] for g in got] == [e["seq"] for e in want],
          f"delivered {[g['data']['seq'] for g in got]}, raised {[e['seq'] for e in want]}")
    for g, e in zip(got, want):
        check(g["specversion"] == "1.0" and g["id"] == event_id(e)
              and g["source"] == f"smsguard://{HOST}" and g["type"] == "com.smsguard." + e["type"]
              and g["smsguardschema"] == 1 and g["datacontenttype"] == "application/json"
              and g["data"] == e, f"CloudEvent {g} for {e}")
        check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", g["time"]), g["time"])
    check(all(h[2].get("Content-Type") == "application/cloudevents+json; charset=utf-8"
              for h in rec.attempts()), "a request without the CloudEvents content type")
    s = sink_status(d, "webhook")
    check(s["delivered"] == len(want) and s["last_error"] is None and s["next_retry"] is None
          and s["dropped"] == 0, f"webhook status after {s}")
    d.wait_log("webhook: delivering again", timeout=5)
    d.stop()


@scenario("webhook over HTTPS: verified against [cloud] ca_file; after a reload to a name the "
          "certificate covers, what waited is delivered")
def _(ctx):
    d = ctx.daemon()
    tls_dir = os.path.join(d.dir, "tls")
    subprocess.run([sys.executable, os.path.join(harness.SRCDIR, "tests", "sim", "smssim.py"),
                    "--gen-certs", "--tls-dir", tls_dir], check=True, capture_output=True)
    # The certificate names 127.0.0.1, ::1 and localhost, not 127.0.0.2.
    wrong = Receiver(ctx, addr="127.0.0.2", tls_dir=tls_dir)
    good = Receiver(ctx, tls_dir=tls_dir)
    d.update({"cloud": {"ca_file": os.path.join(tls_dir, "ca.crt")},
              "notify": {"webhook": wrong.url}})
    d.start()
    s = wait_for(lambda: (lambda s: s if s["failed"] >= 1 else None)(sink_status(d, "webhook")),
                 timeout=10, what="a failed attempt")
    check(s["last_error"].startswith("tls: "), f"webhook status {s}")
    check(not wrong.attempts(), "a request went to a server whose name was not verified")
    d.update({"notify": {"webhook": good.url}})
    d.write_config()
    rc, out, err = d.ctl("reload")
    check(rc == 0, f"reload: {rc} {out} {err}")
    # No waiting out the backoff: the reload may have mended the sink.
    got = wait_for(lambda: good.delivered(), timeout=5, what="the event at the new URL")
    ev = events_of(d)[0]
    check(got[0]["id"] == event_id(ev) and got[0]["data"] == ev, f"delivered {got[0]}")
    wait_for(lambda: sink_status(d, "webhook")["last_error"] is None, timeout=5,
             what="last_error cleared")
    d.stop()


HOOK = """#!/bin/sh
# Each run leaves its environment in $1/run-N.env; with $1/fail-first the first run fails.
n=$(ls "$1" | grep -c '^run-')
env > "$1/.tmp.$$" && mv "$1/.tmp.$$" "$1/run-$n.env"
if [ -e "$1/fail-first" ] && [ "$n" = 0 ]; then echo "not yet" >&2; exit 3; fi
exit 0
"""


def hook_runs(out):
    runs = []
    for name in sorted((n for n in os.listdir(out) if n.startswith("run-")),
                       key=lambda n: int(n[4:-4])):
        with open(os.path.join(out, name)) as f:
            runs.append(dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line))
    return runs


@scenario("exec hook: SMSGUARD_* variables in a clean environment, a failed run retried with the same id")
def _(ctx):
    d = ctx.daemon(env={"SMSGUARD_TEST_LEAK": "1"})
    hook, out = os.path.join(d.dir, "hook.sh"), os.path.join(d.dir, "hook-out")
    os.makedirs(out)
    with open(hook, "w") as f:
        f.write(HOOK)
    os.chmod(hook, 0o755)
    open(os.path.join(out, "fail-first"), "w").close()
    d.update({"notify": {"exec": f"{hook} {out}", "exec_events": "agent_down",
                         "exec_timeout": "10s"}})
    d.start()
    runs = wait_for(lambda: (lambda r: r if len(r) >= 2 else None)(hook_runs(out)), timeout=20,
                    what="the hook run twice (a failure, then its retry)")
    ev = next(e for e in events_of(d) if e["type"] == "agent_down")
    for r in runs[:2]:
        check(r["SMSGUARD_EVENT"] == "agent_down" and r["SMSGUARD_MESSAGE"] == ev["message"]
              and r["SMSGUARD_TASK_ID"] == d.sections["task"]["id"]
              and r["SMSGUARD_HOST"] == HOST and r["SMSGUARD_EVENT_ID"] == event_id(ev),
              f"hook saw {r}")
        check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["SMSGUARD_TIME"]),
              r["SMSGUARD_TIME"])
        check(isinstance(json.loads(r["SMSGUARD_DETAILS"]), dict), r["SMSGUARD_DETAILS"])
        leaked = set(r) - {"PATH", "LANG", "PWD", "SMSGUARD_EVENT", "SMSGUARD_MESSAGE",
                           "SMSGUARD_TIME", "SMSGUARD_TASK_ID", "SMSGUARD_HOST",
                           "SMSGUARD_EVENT_ID", "SMSGUARD_DETAILS"}
        check(not leaked, f"the hook's environment has {leaked}")
    wait_for(lambda: sink_status(d, "exec")["delivered"] == 1, timeout=10, what="delivered")
    s = sink_status(d, "exec")
    check(s["failed"] == 1 and s["queued"] == 0 and s["last_error"] is None, f"exec status {s}")
    check("exit status 3: not yet" in d.log(), "the failure's reason is not in the log")
    check(len(hook_runs(out)) == 2, f"{len(hook_runs(out))} runs for one event")
    d.stop()


@scenario("kill -9 while an event is undelivered: delivered once after the restart, same id")
def _(ctx):
    rec = Receiver(ctx, fail_for=3600)
    d = ctx.daemon(config={"notify": {"webhook": rec.url}}).start()
    wait_for(lambda: rec.attempts(), timeout=10, what="a first attempt")
    first = rec.attempts()[0][3]
    path = os.path.join(d.state_dir, "state.json")

    def kept():
        with open(path) as f:
            return [i["id"] for i in json.load(f).get("notify", {}).get("webhook", [])]
    wait_for(lambda: first["id"] in kept(), timeout=5, what="the event in state.json")
    d.kill9()
    rec.recover()
    d.start()
    got = wait_for(lambda: rec.delivered(), timeout=15, what="a delivery after the restart")
    check(got[0]["id"] == first["id"] and got[0] == first, f"first delivered {got[0]}, want {first}")
    wait_for(lambda: sink_status(d, "webhook")["queued"] == 0, timeout=10, what="queue empty")
    ids = [g["id"] for g in rec.delivered()]
    check(ids.count(first["id"]) == 1, f"delivered {ids.count(first['id'])} times: {ids}")
    wait_for(lambda: first["id"] not in kept(), timeout=5, what="the event gone from state.json")
    d.stop()


@scenario("a sink that hangs delays neither status nor the probes, and shutdown kills the hook")
def _(ctx):
    port = free_port()
    tgt = start_target(ctx, port)
    hang = Hang(ctx)
    d = ctx.daemon(config={
        "cloud": {"timeout": "1m"},
        "target": {"address": "127.0.0.1", "ports": str(port)},
        "notify": {"webhook": hang.url, "exec": "/bin/sleep 4321", "exec_timeout": "1h"},
    }).start()
    wait_for(lambda: hang.held and all(s["queued"] > 0 and s["next_retry"] is None
                                       for s in notify_status(d)["sinks"]),
             timeout=10, what="both sinks stuck on their first attempt")
    wait_for(lambda: d.status()["target"]["state"] == "up", timeout=10, what="target up")
    took = []
    for _ in range(20):
        t0 = time.monotonic()
        r = harness.ctl_raw(d.socket, b'{"cmd":"status"}\n', timeout=5)
        took.append(time.monotonic() - t0)
        check(isinstance(r, dict) and r.get("ok"), f"status failed: {r!r}")
    print(f"# status while the sinks hang: median {statistics.median(took) * 1000:.1f} ms, "
          f"max {max(took) * 1000:.1f} ms", flush=True)
    check(max(took) < 2.0, f"a status reply took {max(took) * 1000:.0f} ms")
    t0 = time.monotonic()
    tgt.stop()
    wait_for(lambda: d.status()["target"]["state"] == "down", timeout=10, interval=0.02,
             what="the probes see the target down")
    down = time.monotonic() - t0
    # fall 3 x interval 100 ms + timeout 100 ms, and a loaded machine.
    check(down < 0.4 + 2.0, f"target down after {down:.2f} s while the sinks hang")
    check(sink_status(d, "webhook")["delivered"] == 0, "the hanging webhook delivered")
    d.stop()
    check(not sleepers(), "the exec hook outlived smsguard")


def sleepers():
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if f.read().split(b"\0")[:2] == [b"/bin/sleep", b"4321"]:
                    found.append(int(pid))
        except OSError:
            pass
    return found


if __name__ == "__main__":
    main()
