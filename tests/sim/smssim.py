#!/usr/bin/env python3
"""smssim — a Huawei Cloud SMS v3 + SMN v2 API simulator for smsguard's tests (stdlib only).

Command line (stable):

    python3 tests/sim/smssim.py --listen 127.0.0.1 --port 0 --tls-dir DIR [--http]
        --ak AK --sk SK [--task-file tasks.json] [--tick 0.2] [--probe-timeout 0.5]
        [--hostname NAME] [--exit-with-parent] [-v]
    python3 tests/sim/smssim.py --gen-certs --tls-dir DIR     # only create the certificates

  --ak/--sk may come from $SMSSIM_AK/$SMSSIM_SK instead. It prints exactly one line
  `READY <port>` on stdout once listening (--port 0 picks a free port), then logs to stderr
  (quiet unless -v). SIGTERM or SIGINT stops it (exit 0).

TLS (default; --http serves plain HTTP): DIR gets, when missing, ca.crt/ca.key (the test CA),
server.crt/server.key (signed by it; SANs 127.0.0.1, ::1, localhost and sms.smssim.invalid,
a name that never resolves through DNS, for tests that map it in a hosts file) and wrong-ca.crt/
wrong-ca.key (an unrelated CA, for "a wrong CA is refused" tests). Made with `openssl`.

Signed API (every request must carry a valid SDK-HMAC-SHA256 signature, reference §7):
  GET  /v3/tasks/{id}                      ShowTask            404 SMS.7703
  GET  /v3/tasks?source_server_id&state&name&id&limit&offset   ListTasks -> {count,tasks}
  GET  /v3/sources?ip&name&state&id&connected&limit&offset     ListServers -> {count,source_servers}
  GET  /v3/sources/{id}                    ShowServer          404 SMS.7602
  POST /v3/tasks/{id}/action               UpdateTaskStatus {"operation":…} -> {}
  GET  /v3/tasks/{id}/speed-limit          ShowsSpeedLimits -> {"speed_limit":[…]}
  POST /v3/tasks/{id}/speed-limit          UpdateSpeed (0..5 periods, "H:MM"/"HH:MM", start<end,
                                           no overlap, speed 0..1000, threshold 10..100) -> {}
  POST /v2/{project}/notifications/topics/{urn}/publish   PublishMessage -> {request_id,message_id}
  Unknown path/method -> 404 APIGW.0101 (checked before the signature). Signature mismatch,
  unknown AK, missing/malformed Authorization or X-Sdk-Date -> 401 APIGW.0301; X-Sdk-Date more
  than 15 min from the sim's (possibly skewed) clock -> 401 APIGW.0303. Every response has a
  `Date` header (skewed clock) and `X-Request-Id`.

Actions (POST /v3/tasks/{id}/action): body not JSON -> 400 SMS.6010; not an object, no or
unknown operation -> 400 SMS.6011.
  start   READY/MIGRATE_FAIL/ABORT -> RUNNING, SYNC_FAIL -> SYNCING, keeping progress;
          MIGRATE_SUCCESS/SYNC_SUCCESS -> SYNCING (an incremental sync); RUNNING/SYNCING: no-op 200;
          ABORTING/SKIPPING/DELETING/RESETING/unknown -> 400 SMS.7715 (sim's choice: no code is
          documented for this)
  stop    RUNNING/SYNCING -> ABORTING -> ABORT (after abort_seconds); else 400 SMS.7714
  restart any state but RUNNING/SYNCING/ABORTING -> RUNNING from 0 %; else 400 SMS.7715
  skip    400 SMS.7720 (no consistency-check sub-task is modelled)
  test clone_test network_check clear migration_test: 200, no change

Task model: progress advances on each tick while RUNNING (or SYNCING) only when the agent is
alive (its source heartbeated within `heartbeat_window` s; that is also `connected`) and every
required target port answers a TCP connect from the sim to migration_ip (probed in a separate
thread, non-blocking, --probe-timeout). Ports: LINUX+MIGRATE_FILE 22; LINUX+MIGRATE_BLOCK
22,8900; WINDOWS 22,8899,8900; or the task's `ports`; each mapped through `port_map`
({"22":12022} probes 12022 for 22). A required port down for `fail_after` s while RUNNING ->
MIGRATE_FAIL (SYNC_FAIL while SYNCING) with fail_codes (22 SMS.3805, 8899 SMS.2802,
8900 SMS.1807); no heartbeat for `agent_timeout` s (0 = never) -> fail with `agent_fail_code`
(default SMS.0807: "network error between source and target", a network code, so a restarted
agent plus a `start` resumes it). The current sub-task advances `rate` %/s divided by its weight
(setup sub-tasks 0.2, MIGRATE_* 1.0: the default task finishes in about 36 s); the last one at
100 -> MIGRATE_SUCCESS. `simulate: false` freezes a task (only actions and /_sim/ change it).

Task definition (--task-file: {"tasks":[…]} or […]; POST /_sim/tasks; all keys optional):
  id name type os_type state migration_ip priority project_id project_name region_id
  region_name speed_limit (legacy int) speed_limits ([…] periods) error_code error_param ([…])
  sub_tasks ([names] or [{name,progress,weight}]) rate fail_after agent_timeout agent_fail_code
  heartbeat_window (of its source) ports port_map fail_codes simulate agent_required
  ports_required speed (Mbit/s shown while moving) totalsize abort_seconds sync_seconds
  speed_limit_refuse (an error code, e.g. "SMS.6102": every UpdateSpeed is refused with it)
  source_server {id ip name hostname os_type os_version}  (tasks may share a source by id)
  Default: one RUNNING LINUX MIGRATE_FILE task DEFAULT_TASK_ID whose source DEFAULT_SOURCE_ID
  has ip 127.0.0.1 and this host's name, migration_ip 127.0.0.1.

Control API (unsigned JSON, same port, never subject to faults, not in the request log):
  GET  /_sim/health                  {"ok":true}
  GET  /_sim/requests[?since=N]      {"requests":[entry…],"last_seq":M}; entry: seq time method
       path query params api task_id operation status error_code fault signed auth_error
       canonical_request (only when the signature failed) body source ("api"|"agent")
       done (false while the response is pending) duration_ms headers (lower-case names,
       no Authorization) signed_headers. since=N: entries with seq > N.
  POST /_sim/reset_log               forget entries (seq keeps counting)
  POST /_sim/fault {"kind":K,…}      K: "429" {count,retry_after(null=no header)} | "500"
       {count,status} | "slow" {seconds,count} | "garbage" {count} | "truncated" {count,close}
       | "auth" {count} | "drop" {count} (close the connection, no response) | "clock"
       {skew_seconds} | "clear". A counted fault applies to the next `count` (default 1) API
       requests, in the order queued; 429/500/garbage/auth/drop answer without running the
       handler, slow and truncated run it. "clock" persists until cleared.
  GET  /_sim/faults                  {"faults":[…],"skew_seconds":S}
  POST /_sim/keys {"ak","sk"}        the key pair accepted from now on (a rotation in IAM: the
                                     old pair is refused with APIGW.0301 "unknown AK" at once)
  GET  /_sim/tasks                   {"tasks":[raw…]};  POST /_sim/tasks DEF -> {"ok":true,"id":…}
  GET  /_sim/task/{id}               the raw model (plus port_state, connected, history …)
  POST /_sim/task/{id} {field:value} set fields (any of the definition keys) and also:
       progress (of the current sub-task; with "subtask": NAME earlier ones complete),
       error_json (raw string), connected (true/false/null: force the source's connected)
  GET|POST /_sim/source/{id}         raw source; set ip name hostname connected heartbeat_window
  POST /_sim/agent/heartbeat {"task_id"|"source_id",pid,agent_version,autostart}
       (the fake agent, every 0.5 s; verified when it carries an Authorization header)
       -> {"ok":true,"source_id","connected","tasks":[{id,state,error_code,fail_seq,
       migration_ip,ports}]}
  POST /_sim/agent/autostart {"task_id","retry"}  the agent's own resume: logged with
       api "AgentAutoStart", operation "start", source "agent"; 409 unless failed
  GET  /_sim/publishes               {"publishes":[{seq,time,project_id,topic_urn,body,message_id}]}
  GET  /_sim/stats                   connections, tls_failures, last_tls_error, requests,
                                     auth_failures, heartbeats
"""

import argparse
import calendar
import email.utils
import errno
import fcntl
import hmac
import http.server
import json
import os
import re
import select
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sdksign  # noqa: E402

DEFAULT_TASK_ID = "2f1b5c3e-8a7d-4e6f-9b0c-000000000001"
DEFAULT_SOURCE_ID = "9c4e2a7b-1d3f-4b5a-8e6c-000000000001"
DEFAULT_PROJECT_ID = "0f5c1e2d3b4a49688796a5b4c3d2e1f0"
MAX_BODY = 1 << 20
SKEW_LIMIT = 15 * 60

STATES = ("READY", "RUNNING", "SYNCING", "MIGRATE_SUCCESS", "SYNC_SUCCESS", "MIGRATE_FAIL",
          "SYNC_FAIL", "ABORTING", "ABORT", "SKIPPING", "DELETING", "RESETING")
ACTIVE = ("RUNNING", "SYNCING")
FAILED = ("MIGRATE_FAIL", "SYNC_FAIL")
OPERATIONS = ("start", "stop", "test", "clone_test", "restart", "network_check", "clear", "skip",
              "migration_test")
SOURCE_STATE = {"READY": "waiting", "RUNNING": "replicate", "SYNCING": "syncing",
                "MIGRATE_SUCCESS": "finished", "SYNC_SUCCESS": "finished",
                "MIGRATE_FAIL": "error", "SYNC_FAIL": "error", "ABORTING": "stopping",
                "ABORT": "stopped", "SKIPPING": "skipping", "DELETING": "deleting",
                "RESETING": "clearing"}
CYCLE = {"READY": "setting", "SYNCING": "syncing", "SYNC_FAIL": "syncing",
         "SYNC_SUCCESS": "cutovered", "MIGRATE_SUCCESS": "cutovered"}
ERR = {
    "APIGW.0101": (404, "The API does not exist or has not been published in the environment"),
    "APIGW.0301": (401, "Incorrect IAM authentication information: verify aksk signature fail"),
    "APIGW.0303": (401, "Incorrect app authentication information: the request has expired"),
    "APIGW.0308": (429, "The throttling threshold has been reached: policy user over ratelimit,"
                        "limit:10,time:1 second"),
    "SMS.6010": (400, "The request body is not in the JSON format."),
    "SMS.6011": (400, "The request body json does not meet the specifications"),
    "SMS.6102": (400, "The parameter JSON format does not meet the requirements"),
    "SMS.7602": (404, "SourceServer does not exist."),
    "SMS.7703": (404, "Task doesn't exist"),
    "SMS.7714": (400, "Only tasks in Migrating or Synchronizing status can be paused."),
    "SMS.7715": (400, "Only tasks in Succeeded status can be syncrhonized."),
    "SMS.7720": (400, "Only subtask in consistency check can be skipped."),
}
FAULT_KINDS = ("429", "500", "slow", "garbage", "truncated", "auth", "drop", "clock", "clear")
GARBAGE = (b"<html><head><title>502 Bad Gateway</title></head><body>\x00\xff upstream said "
           b"{\"count\":\x01 nonsense</body></html>")


def log(msg):
    sys.stderr.write("smssim: %s\n" % msg)
    sys.stderr.flush()


def now_ms(t=None):
    return int((time.time() if t is None else t) * 1000)


def request_id():
    return uuid.uuid4().hex


# ---------------------------------------------------------------------------------------------
# Certificates


def _openssl(*args, cwd):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (args[0], r.stderr.decode(errors="replace")))


def _make_ca(d, name, cn):
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", name + ".key.tmp", "-out", name + ".crt.tmp", "-days", "3650",
             "-subj", "/O=smsguard tests/CN=" + cn, "-sha256",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    os.rename(os.path.join(d, name + ".key.tmp"), os.path.join(d, name + ".key"))
    os.rename(os.path.join(d, name + ".crt.tmp"), os.path.join(d, name + ".crt"))


def gen_certs(d):
    """Create the test CA, the server certificate and an unrelated CA in d (idempotent)."""
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, ".lock"), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        if not os.path.exists(os.path.join(d, "ca.crt")):
            _make_ca(d, "ca", "smssim test CA")
        if not os.path.exists(os.path.join(d, "wrong-ca.crt")):
            _make_ca(d, "wrong-ca", "smssim unrelated CA")
        if not os.path.exists(os.path.join(d, "server.crt")):
            with open(os.path.join(d, "server.ext"), "w") as f:
                f.write("basicConstraints=critical,CA:FALSE\n"
                        "keyUsage=critical,digitalSignature\n"
                        "extendedKeyUsage=serverAuth\n"
                        "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost,DNS:sms.smssim.invalid\n")
            _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                     "-nodes", "-keyout", "server.key.tmp", "-out", "server.csr",
                     "-subj", "/O=smsguard tests/CN=localhost", cwd=d)
            _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                     "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-days", "825",
                     "-sha256", "-extfile", "server.ext", "-out", "server.crt.tmp", cwd=d)
            os.rename(os.path.join(d, "server.key.tmp"), os.path.join(d, "server.key"))
            os.rename(os.path.join(d, "server.crt.tmp"), os.path.join(d, "server.crt"))
            for tmp in ("server.csr", "server.ext"):
                os.unlink(os.path.join(d, tmp))


# ---------------------------------------------------------------------------------------------
# Model


def default_subtasks(os_type, ttype):
    if os_type == "WINDOWS":
        fmt, mig = "FORMAT_DISK_WINDOWS", "MIGRATE_WINDOWS_BLOCK"
    elif ttype == "MIGRATE_BLOCK":
        fmt, mig = "FORMAT_DISK_LINUX_BLOCK", "MIGRATE_LINUX_BLOCK"
    else:
        fmt, mig = "FORMAT_DISK_LINUX_FILE", "MIGRATE_LINUX_FILE"
    return ["CREATE_CLOUD_SERVER", "SSL_CONFIG", "ATTACH_AGENT_IMAGE", fmt, mig]


def auto_ports(os_type, ttype):
    if os_type == "WINDOWS":
        return [22, 8899, 8900]
    if ttype == "MIGRATE_BLOCK":
        return [22, 8900]
    return [22]


TASK_DEFAULTS = {
    "name": "MigrationTask", "type": "MIGRATE_FILE", "os_type": "LINUX", "state": "RUNNING",
    "migration_ip": "127.0.0.1", "priority": 1, "speed_limit": 0,
    "project_id": DEFAULT_PROJECT_ID, "project_name": "ap-southeast-3",
    "region_id": "ap-southeast-3", "region_name": "AP-Singapore",
    "rate": 5.0, "fail_after": 3.0, "agent_timeout": 5.0, "agent_fail_code": "SMS.0807",
    "ports": None, "port_map": {}, "fail_codes": {"22": "SMS.3805", "8899": "SMS.2802",
                                                  "8900": "SMS.1807"},
    "simulate": True, "agent_required": True, "ports_required": True, "speed": 95.5,
    "totalsize": 10737418240, "abort_seconds": 1.0, "sync_seconds": 5.0, "speed_limits": [],
    "error_code": None, "error_param": None, "error_json": None, "speed_limit_refuse": None,
}
SETTABLE = set(TASK_DEFAULTS) | {"sub_tasks", "progress", "subtask", "connected",
                                 "heartbeat_window"}
NUMERIC = ("rate", "fail_after", "agent_timeout", "speed", "abort_seconds", "sync_seconds",
           "heartbeat_window")


class BadRequest(Exception):
    pass


def _check_speed_limits(v):
    """Validate an UpdateSpeed body's list; raises BadRequest with the reason."""
    if not isinstance(v, list) or len(v) > 5:
        raise BadRequest("speed_limit must be an array of 0..5 items")
    spans = []
    for item in v:
        if not isinstance(item, dict):
            raise BadRequest("speed_limit item must be an object")
        mins = []
        for k in ("start", "end"):
            s = item.get(k)
            m = re.fullmatch(r"(\d{1,2}):(\d{2})", s) if isinstance(s, str) else None
            if not m or int(m.group(2)) > 59 or int(m.group(1)) > 24 or (
                    int(m.group(1)) == 24 and int(m.group(2)) != 0):
                raise BadRequest("%s must be HH:MM" % k)
            mins.append(int(m.group(1)) * 60 + int(m.group(2)))
        if mins[0] >= mins[1]:
            raise BadRequest("start must be before end")
        sp = item.get("speed", 0)
        if isinstance(sp, bool) or not isinstance(sp, int) or not 0 <= sp <= 1000:
            raise BadRequest("speed must be an integer 0..1000")
        if "over_speed_threshold" in item:
            th = item["over_speed_threshold"]
            if isinstance(th, bool) or not isinstance(th, (int, float)) or not 10 <= th <= 100:
                raise BadRequest("over_speed_threshold must be 10..100")
        spans.append(tuple(mins))
    spans.sort()
    for a, b in zip(spans, spans[1:]):
        if b[0] < a[1]:
            raise BadRequest("periods overlap")


class Model:
    """Tasks, sources, request log, faults, publishes. One lock guards all of it."""

    def __init__(self, hostname, stop):
        self.lock = threading.RLock()
        self.stop = stop
        self.hostname = hostname
        self.tasks = {}
        self.sources = {}
        self.log = []
        self.seq = 0
        self.faults = []
        self.skew = 0.0
        self.publishes = []
        self.pub_seq = 0
        self.stats = {"connections": 0, "tls_failures": 0, "last_tls_error": None,
                      "requests": 0, "auth_failures": 0, "heartbeats": 0}
        self.subtask_id = 7278
        self.last_tick = time.time()

    def clock(self):
        return time.time() + self.skew

    # -- definitions ----------------------------------------------------------------------

    def _source_for(self, sdef, fallback_id):
        sdef = dict(sdef or {})
        sid = sdef.get("id") or fallback_id
        src = self.sources.get(sid)
        if src is None:
            src = {"id": sid, "ip": "127.0.0.1", "name": self.hostname,
                   "hostname": self.hostname, "os_type": None, "os_version": None,
                   "add_date": now_ms() - 3600000, "last_hb": None, "heartbeat_window": 1.5,
                   "connected_override": None, "was_connected": False,
                   "last_visit_time": now_ms() - 3600000, "agent_pid": None,
                   "agent_version": "25.3.0", "autostart": None, "heartbeats": 0}
            self.sources[sid] = src
        for k in ("ip", "name", "hostname", "os_type", "os_version", "heartbeat_window"):
            if k in sdef:
                src[k] = sdef[k]
        return src

    def add_task(self, d):
        d = dict(d or {})
        with self.lock:
            tid = d.pop("id", None) or (DEFAULT_TASK_ID if not self.tasks else str(uuid.uuid4()))
            if tid in self.tasks:
                raise BadRequest("task %s exists" % tid)
            n = len(self.tasks)
            sid = d.pop("source_id", None) or (DEFAULT_SOURCE_ID if n == 0 else
                                               "9c4e2a7b-1d3f-4b5a-8e6c-%012d" % (n + 1))
            sdef = d.pop("source_server", None) or {}
            sdef.setdefault("id", sid)
            t = json.loads(json.dumps(TASK_DEFAULTS))
            t.update({"id": tid, "create_date": now_ms() - 600000, "start_date": None,
                      "finish_date": None, "running_since": None, "state_since": time.time(),
                      "fail_seq": 0, "history": [], "port_state": {}, "moving": False,
                      "sync_progress": 0.0, "abort_at": None, "sub_tasks": [],
                      "vm_id": str(uuid.uuid4()), "target_id": str(uuid.uuid4()),
                      "actions": 0, "autostarts": 0})
            src = self._source_for(sdef, sdef["id"])
            t["source_id"] = src["id"]
            subs = d.pop("sub_tasks", None)
            state = d.pop("state", "RUNNING")
            late = {k: d.pop(k) for k in ("progress", "subtask", "connected", "heartbeat_window")
                    if k in d}
            self._set_fields(t, d)
            if "connected" in late:
                src["connected_override"] = late["connected"]
            if "heartbeat_window" in late:
                src["heartbeat_window"] = float(late["heartbeat_window"])
            if src["os_type"] is None:
                src["os_type"] = t["os_type"]
                src["os_version"] = ("CENTOS_7_6_64BIT" if t["os_type"] == "LINUX"
                                     else "WINDOWS2016_64BIT")
            self._set_subtasks(t, subs if subs is not None else
                               default_subtasks(t["os_type"], t["type"]))
            if "progress" in late:
                self._set_progress(t, float(late["progress"]), late.get("subtask"))
            elif state in ("MIGRATE_SUCCESS", "SYNC_SUCCESS") and t["sub_tasks"]:
                self._set_progress(t, 100.0, t["sub_tasks"][-1]["name"])
            self.tasks[tid] = t
            self._enter(t, state, "definition", code=t.get("error_code"),
                        param=t.get("error_param"), keep_error=t.get("error_json") is not None)
            if state != "READY":
                t["start_date"] = now_ms() - 60000
            return tid

    def _set_subtasks(self, t, subs):
        out = []
        for s in subs:
            if isinstance(s, str):
                s = {"name": s}
            if not isinstance(s, dict) or not isinstance(s.get("name"), str):
                raise BadRequest("sub_tasks items are names or {name,progress,weight}")
            self.subtask_id += 1
            w = s.get("weight", 1.0 if s["name"].startswith("MIGRATE_") else 0.2)
            p = float(s.get("progress", 0))
            out.append({"id": self.subtask_id, "name": s["name"], "progress": min(100.0, p),
                        "weight": max(0.001, float(w)), "start_date": None,
                        "end_date": None, "user_op": "REPLICATE", "process_trace": None})
        for s in out:
            if s["progress"] > 0:
                s["start_date"] = now_ms() - 30000
            if s["progress"] >= 100:
                s["end_date"] = now_ms() - 1000
        t["sub_tasks"] = out

    def _set_fields(self, t, d):
        for k, v in d.items():
            if k not in SETTABLE:
                raise BadRequest("unknown field %r" % k)
            if k in NUMERIC and k != "heartbeat_window":
                if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                    raise BadRequest("%s must be a number >= 0" % k)
                t[k] = float(v)
            elif k == "speed_limits":
                _check_speed_limits(v)
                t[k] = v
            elif k == "speed_limit_refuse":
                if v is not None and v not in ERR:
                    raise BadRequest("speed_limit_refuse must be null or a known error code")
                t[k] = v
            elif k == "port_map":
                if not isinstance(v, dict):
                    raise BadRequest("port_map must be an object")
                t[k] = {str(a): int(b) for a, b in v.items()}
            elif k == "ports":
                if v is not None and (not isinstance(v, list) or
                                      not all(isinstance(p, int) for p in v)):
                    raise BadRequest("ports must be a list of integers or null")
                t[k] = v
            elif k == "fail_codes":
                t[k] = dict(t[k], **{str(a): b for a, b in v.items()})
            elif k in ("progress", "subtask", "connected", "heartbeat_window", "sub_tasks"):
                pass  # handled by set_task
            else:
                t[k] = v

    def set_task(self, tid, d):
        with self.lock:
            t = self.tasks.get(tid)
            if t is None:
                return None
            d = dict(d)
            src = self.sources[t["source_id"]]
            if "sub_tasks" in d:
                self._set_subtasks(t, d["sub_tasks"])
            state = d.pop("state", None)
            self._set_fields(t, d)
            if "connected" in d:
                src["connected_override"] = d["connected"]
            if "heartbeat_window" in d:
                src["heartbeat_window"] = float(d["heartbeat_window"])
            if "progress" in d:
                self._set_progress(t, float(d["progress"]), d.get("subtask"))
            if "error_json" in d and d["error_json"] is not None:
                t["error_code"] = t["error_param"] = None
            if state is not None:
                code = d.get("error_code")
                if state in FAILED and code is None and "error_json" not in d:
                    code = t["error_code"]
                self._enter(t, state, "control", code=code, param=d.get("error_param"),
                            keep_error="error_json" in d)
            elif "error_code" in d and d["error_code"] is not None:
                t["error_json"] = None
            return self.raw_task(t)

    def _set_progress(self, t, p, name):
        subs = t["sub_tasks"]
        if not subs:
            return
        if name is not None:
            idx = next((i for i, s in enumerate(subs) if s["name"] == name), None)
            if idx is None:
                raise BadRequest("no sub-task %r" % name)
        else:
            idx = next((i for i, s in enumerate(subs) if s["progress"] < 100), len(subs) - 1)
        n = now_ms()
        for i, s in enumerate(subs):
            if i < idx:
                s["progress"] = 100.0
                s["start_date"] = s["start_date"] or n
                s["end_date"] = s["end_date"] or n
            elif i == idx:
                s["progress"] = max(0.0, min(100.0, p))
                s["start_date"] = s["start_date"] or n
                s["end_date"] = n if s["progress"] >= 100 else None
            elif name is not None:
                s.update(progress=0.0, start_date=None, end_date=None)

    def _enter(self, t, state, by, code=None, param=None, keep_error=False):
        """Every state change goes through here (caller holds the lock)."""
        now = time.time()
        old = t["state"] if t.get("history") else None
        t["state"] = state
        t["state_since"] = now
        t["moving"] = False
        if state in ACTIVE:
            t["running_since"] = now
            t["port_state"] = {}
            t["finish_date"] = None
            if t["start_date"] is None:
                t["start_date"] = now_ms(now)
        if state in FAILED:
            t["fail_seq"] += 1
            if not keep_error:
                t["error_code"] = code or t.get("error_code") or "SMS.0807"
                ip = t["migration_ip"] or ""
                t["error_param"] = param if param is not None else [ip]
                t["error_json"] = None
        elif not keep_error:
            t["error_code"] = t["error_param"] = None
            t["error_json"] = None
        if state in ("MIGRATE_SUCCESS", "SYNC_SUCCESS"):
            t["finish_date"] = now_ms(now)
        if state == "ABORTING":
            t["abort_at"] = now + t["abort_seconds"]
        if state == "SYNCING":
            t["sync_progress"] = 0.0
        t["history"].append({"time": now, "from": old, "to": state, "by": by,
                             "error_code": t["error_code"]})
        del t["history"][:-100]

    def error_json(self, t):
        if t.get("error_json") is not None:
            return t["error_json"]
        if not t.get("error_code"):
            return ""
        return json.dumps({"error_code": t["error_code"],
                           "error_param": json.dumps(t.get("error_param") or [])},
                          separators=(",", ":"))

    def required_ports(self, t):
        """[(logical port, probed port)]"""
        ports = t["ports"] if t["ports"] is not None else auto_ports(t["os_type"], t["type"])
        return [(p, int(t["port_map"].get(str(p), p))) for p in ports]

    def connected(self, src, now=None):
        if src["connected_override"] is not None:
            return bool(src["connected_override"])
        now = time.time() if now is None else now
        return src["last_hb"] is not None and now - src["last_hb"] <= src["heartbeat_window"]

    # -- actions ----------------------------------------------------------------------------

    def action(self, tid, op, by="api"):
        """Returns (status, body)."""
        with self.lock:
            t = self.tasks.get(tid)
            if t is None:
                return err_body("SMS.7703")
            st = t["state"]
            t["actions"] += 1
            if op == "start":
                if st in ("READY", "MIGRATE_FAIL", "ABORT"):
                    self._enter(t, "RUNNING", by)
                elif st in ("SYNC_FAIL", "MIGRATE_SUCCESS", "SYNC_SUCCESS"):
                    self._enter(t, "SYNCING", by)
                elif st not in ACTIVE:
                    return err_body("SMS.7715")
            elif op == "stop":
                if st not in ACTIVE:
                    return err_body("SMS.7714")
                self._enter(t, "ABORTING", by)
            elif op == "restart":
                if st in ACTIVE or st == "ABORTING":
                    return err_body("SMS.7715")
                self._set_subtasks(t, [{"name": s["name"], "weight": s["weight"]}
                                       for s in t["sub_tasks"]])
                t["start_date"] = None
                self._enter(t, "RUNNING", by)
            elif op == "skip":
                return err_body("SMS.7720")
            return 200, {}

    def autostart(self, tid):
        with self.lock:
            t = self.tasks.get(tid)
            if t is None:
                return 404, {"ok": False, "error": "no such task"}
            if t["state"] not in FAILED:
                return 409, {"ok": False, "error": "task is %s" % t["state"]}
            t["autostarts"] += 1
            self._enter(t, "RUNNING" if t["state"] == "MIGRATE_FAIL" else "SYNCING", "agent")
            return 200, {"ok": True, "state": t["state"]}

    def heartbeat(self, d):
        with self.lock:
            src = None
            if d.get("source_id"):
                src = self.sources.get(d["source_id"])
            elif d.get("task_id"):
                t = self.tasks.get(d["task_id"])
                src = self.sources.get(t["source_id"]) if t else None
            elif self.sources:
                src = next(iter(self.sources.values()))
            if src is None:
                return 404, {"ok": False, "error": "no such source or task"}
            now = time.time()
            src["last_hb"] = now
            src["heartbeats"] += 1
            self.stats["heartbeats"] += 1
            if isinstance(d.get("pid"), int):
                src["agent_pid"] = d["pid"]
            if isinstance(d.get("agent_version"), str):
                src["agent_version"] = d["agent_version"][:64]
            if "autostart" in d:
                src["autostart"] = d["autostart"]
            self._track_connected(src, now)
            tasks = [{"id": t["id"], "state": t["state"], "error_code": t["error_code"],
                      "fail_seq": t["fail_seq"], "migration_ip": t["migration_ip"],
                      "ports": [p for _, p in self.required_ports(t)],
                      "os_type": t["os_type"], "type": t["type"]}
                     for t in self.tasks.values() if t["source_id"] == src["id"]]
            return 200, {"ok": True, "source_id": src["id"], "connected": True, "tasks": tasks}

    def _track_connected(self, src, now):
        c = self.connected(src, now)
        if c != src["was_connected"]:
            src["was_connected"] = c
            src["last_visit_time"] = now_ms(now)

    # -- time passes ------------------------------------------------------------------------

    def tick(self):
        with self.lock:
            now = time.time()
            dt = min(now - self.last_tick, 5.0)
            self.last_tick = now
            for src in self.sources.values():
                self._track_connected(src, now)
            for t in self.tasks.values():
                if t["simulate"]:
                    self._tick_task(t, now, dt)

    def _tick_task(self, t, now, dt):
        if t["state"] == "ABORTING" and t["abort_at"] is not None and now >= t["abort_at"]:
            self._enter(t, "ABORT", "sim")
            return
        if t["state"] not in ACTIVE:
            return
        src = self.sources[t["source_id"]]
        since = t["running_since"] or now
        ok = True
        if t["ports_required"]:
            worst = None
            for logical, port in self.required_ports(t):
                ps = t["port_state"].get(str(port))
                if not t["migration_ip"]:
                    ps = {"up": False, "down_since": since}
                if ps is None or not ps["up"]:
                    ok = False
                if ps is not None and not ps["up"]:
                    down_for = now - max(ps["down_since"], since)
                    if down_for >= t["fail_after"] and (worst is None or
                                                        ps["down_since"] < worst[0]):
                        worst = (ps["down_since"], logical)
            if worst is not None:
                code = t["fail_codes"].get(str(worst[1]), "SMS.0807")
                self._fail(t, code)
                return
        if t["agent_required"]:
            if not self.connected(src, now):
                ok = False
                last = max(src["last_hb"] or 0, since)
                if t["agent_timeout"] > 0 and now - last >= t["agent_timeout"]:
                    self._fail(t, t["agent_fail_code"])
                    return
        t["moving"] = ok
        if ok:
            self._advance(t, now, dt)

    def _fail(self, t, code):
        self._enter(t, "MIGRATE_FAIL" if t["state"] == "RUNNING" else "SYNC_FAIL", "sim",
                    code=code)

    def _advance(self, t, now, dt):
        n = now_ms(now)
        if t["state"] == "SYNCING":
            rate = 100.0 / t["sync_seconds"] if t["sync_seconds"] > 0 else 1e9
            t["sync_progress"] = min(100.0, t["sync_progress"] + rate * dt)
            if t["sync_progress"] >= 100:
                self._enter(t, "SYNC_SUCCESS", "sim")
            return
        budget = t["rate"] * dt
        for s in t["sub_tasks"]:
            if s["progress"] >= 100:
                continue
            if s["start_date"] is None:
                s["start_date"] = n
            need = (100.0 - s["progress"]) * s["weight"]
            if budget < need:
                s["progress"] += budget / s["weight"]
                budget = 0
                break
            budget -= need
            s["progress"] = 100.0
            s["end_date"] = n
        if all(s["progress"] >= 100 for s in t["sub_tasks"]):
            self._enter(t, "MIGRATE_SUCCESS", "sim")

    # -- probing ----------------------------------------------------------------------------

    def probe_targets(self):
        with self.lock:
            out = set()
            for t in self.tasks.values():
                if (t["simulate"] and t["ports_required"] and t["state"] in ACTIVE
                        and t["migration_ip"]):
                    for _, p in self.required_ports(t):
                        out.add((t["migration_ip"], p))
            return out

    def probe_results(self, started, results):
        with self.lock:
            for t in self.tasks.values():
                for (ip, port), (up, why) in results.items():
                    if ip != t["migration_ip"] or port not in [p for _, p in
                                                               self.required_ports(t)]:
                        continue
                    ps = t["port_state"].get(str(port))
                    if up:
                        t["port_state"][str(port)] = {"up": True, "down_since": None,
                                                      "error": None, "checked": started}
                    else:
                        ds = ps["down_since"] if ps and not ps["up"] else started
                        t["port_state"][str(port)] = {"up": False, "down_since": ds,
                                                      "error": why, "checked": started}

    # -- views ------------------------------------------------------------------------------

    def current(self, t):
        subs = t["sub_tasks"]
        return next((s for s in subs if s["end_date"] is None), subs[-1] if subs else None)

    def shown_speed(self, t):
        if not t["moving"]:
            return 0.0
        speed = t["speed"]
        lt = time.localtime()
        m = lt.tm_hour * 60 + lt.tm_min
        for p in t["speed_limits"]:
            a = [int(x) for x in p["start"].split(":")]
            b = [int(x) for x in p["end"].split(":")]
            if a[0] * 60 + a[1] <= m < b[0] * 60 + b[1] and p.get("speed", 0) > 0:
                speed = min(speed, float(p["speed"]))
        return speed

    def remain(self, t):
        if t["state"] != "RUNNING" or t["rate"] <= 0:
            return None
        work = sum((100.0 - s["progress"]) * s["weight"] for s in t["sub_tasks"])
        return int(work / t["rate"])

    def _subtasks_view(self, t):
        return [{"end_date": s["end_date"], "id": s["id"], "name": s["name"],
                 "process_trace": s["process_trace"], "progress": int(s["progress"]),
                 "start_date": s["start_date"], "user_op": s["user_op"]}
                for s in t["sub_tasks"]]

    def _source_brief(self, src, t):
        return {"id": src["id"], "ip": src["ip"], "migration_cycle": CYCLE.get(t["state"],
                                                                              "replicating"),
                "name": src["name"], "oem_system": False, "os_type": src["os_type"],
                "os_version": src["os_version"], "state": SOURCE_STATE.get(t["state"], "error")}

    def _target(self, t):
        linux = t["os_type"] == "LINUX"
        vol = {"device_use": "OS", "file_system": "ext4" if linux else "NTFS",
               "free_size": 19252985856, "id": 135055, "index": 1,
               "mount_point": "/" if linux else None, "name": "/dev/vda1" if linux else "Y:",
               "relation_name": None, "size": 42423287808, "used_size": 23170301952,
               "uuid": "586b7157-0000-0000-0000-501f00000000"}
        return {"cutovered_snapshot_ids": None,
                "disks": [{"device_use": "OS", "disk_id": "0", "disk_index": "0", "id": 88008,
                           "name": "/dev/vda" if linux else "Disk 1", "os_disk": True,
                           "partition_style": "MBR", "physical_volumes": [vol],
                           "relation_name": None, "size": 42949672960,
                           "used_size": 42947575808}],
                "id": t["target_id"], "image_disk_id": None, "ip": None,
                "name": "%s-target" % t["name"], "os_type": t["os_type"],
                "os_version": self.sources[t["source_id"]]["os_version"],
                "system_dir": "/" if linux else "Y:\\Windows\\System32",
                "vm_id": t["vm_id"], "volume_groups": []}

    def show_task(self, t):
        src = self.sources[t["source_id"]]
        rem = self.remain(t)
        total = (now_ms() - t["start_date"]) if t["start_date"] else 0
        return {
            "clone_server": None, "connected": self.connected(src),
            "create_date": t["create_date"], "error_json": self.error_json(t),
            "estimate_complete_time": (now_ms() + rem * 1000) if rem is not None else None,
            "finish_date": t["finish_date"], "float_ip": None, "id": t["id"],
            "migrate_speed": self.shown_speed(t), "migration_ip": t["migration_ip"],
            "name": t["name"], "os_type": t["os_type"], "priority": t["priority"],
            "project_id": t["project_id"], "project_name": t["project_name"],
            "region_id": t["region_id"], "region_name": t["region_name"],
            "remain_seconds": rem, "source_server": self._source_brief(src, t),
            "speed_limit": t["speed_limit"], "start_date": t["start_date"],
            "start_target_server": True, "state": t["state"],
            "sub_tasks": self._subtasks_view(t), "target_server": self._target(t),
            "total_time": total, "type": t["type"], "vm_template_id": None,
        }

    def list_task_item(self, t):
        src = self.sources[t["source_id"]]
        b = self._source_brief(src, t)
        del b["migration_cycle"]
        tg = self._target(t)
        return {
            "create_date": t["create_date"], "error_json": self.error_json(t),
            "estimate_complete_time": None, "exist_server": False, "id": t["id"],
            "log_collect_status": "INIT", "migrate_speed": self.shown_speed(t),
            "migration_ip": t["migration_ip"], "name": t["name"], "os_type": t["os_type"],
            "priority": t["priority"], "source_server": b, "speed_limit": t["speed_limit"],
            "start_target_server": True, "state": t["state"],
            "target_server": {k: tg[k] for k in ("id", "ip", "name", "os_type", "os_version",
                                                 "vm_id")},
            "total_time": (now_ms() - t["start_date"]) if t["start_date"] else 0,
            "type": t["type"], "use_public_ip": True,
        }

    def task_of(self, src):
        ts = [t for t in self.tasks.values() if t["source_id"] == src["id"]]
        return max(ts, key=lambda t: t["create_date"]) if ts else None

    def show_server(self, src, brief=False):
        t = self.task_of(src)
        cur = None
        rep, total = 0, 0
        if t is not None:
            cur = {"clone_server": None, "estimate_complete_time": None, "exist_server": False,
                   "id": t["id"], "log_collect_status": "INIT",
                   "migrate_speed": self.shown_speed(t), "name": t["name"],
                   "project_id": t["project_id"], "project_name": t["project_name"],
                   "region_id": t["region_id"], "remain_seconds": self.remain(t),
                   "speed_limit": t["speed_limit"], "start_date": t["start_date"],
                   "start_target_server": True, "state": t["state"],
                   "target_server": {"name": "%s-target" % t["name"], "vm_id": t["vm_id"]},
                   "type": t["type"], "use_public_ip": True, "vm_template_id": None}
            total = t["totalsize"]
            mig = [s for s in t["sub_tasks"] if s["name"].startswith("MIGRATE_")]
            frac = (mig[-1]["progress"] / 100.0) if mig else 0.0
            rep = int(total * frac)
        st = SOURCE_STATE.get(t["state"], "error") if t else "waiting"
        linux = src["os_type"] != "WINDOWS"
        disk = {"device_use": "BOOT", "name": "/dev/vda" if linux else "Disk 0",
                "os_disk": True, "partition_style": "MBR", "physical_volumes": [
                    {"device_use": "OS", "file_system": "ext4" if linux else "NTFS",
                     "index": 1, "mount_point": "/" if linux else None,
                     "name": "/dev/vda1" if linux else "C:\\", "size": 42423287808,
                     "used_size": 23170301952, "uuid": "586b7157-0000-0000-0000-501f00000000"}],
                "relation_name": None, "size": 42949672960, "used_size": 23170301952}
        checks = [{"error_code": None, "error_or_warn": None, "error_params": "",
                   "id": 524146 + i, "name": n, "params": [""], "result": "OK"}
                  for i, n in enumerate(("OS_VERSION", "FIRMWARE", "CPU", "MEMORY",
                                         "SYSTEM_ROOT", "PARTITION_STYLE", "FILE_SYSTEM",
                                         "FREE_SPACE", "OEM_SYSTEM", "DRIVER_FILE", "SERVICE",
                                         "ACCOUNT_RIGHTS"))]
        out = {
            "add_date": src["add_date"], "agent_version": src["agent_version"],
            "checks": checks, "connected": self.connected(src), "cpu_quantity": 2,
            "current_task": cur, "enterprise_project_id": "0", "firmware": "BIOS",
            "has_tc": True, "hostname": src["hostname"], "id": src["id"],
            "init_target_server": {"disks": [{"device_use": "OS", "name": disk["name"],
                                              "size": 42949672960}]},
            "ip": src["ip"], "last_visit_time": src["last_visit_time"], "memory": 4294967296,
            "migration_cycle": CYCLE.get(t["state"], "replicating") if t else "checking",
            "name": src["name"], "oem_system": False, "os_type": src["os_type"],
            "os_version": src["os_version"], "replicatesize": rep,
            "stage_action_time": now_ms(t["state_since"]) if t else None,
            "start_type": "MANUAL", "state": st,
            "state_action_time": now_ms(t["state_since"]) if t else None, "totalsize": total,
        }
        if not brief:
            out.update({"disks": [disk], "networks": [
                {"gateway": None, "ip": src["ip"], "mac": "fa:16:3e:00:00:01", "mtu": 1500,
                 "name": "eth0", "netmask": "255.255.255.0"}], "volume_groups": [],
                "btrfs_list": []})
        return out

    def raw_task(self, t):
        r = json.loads(json.dumps(t))
        src = self.sources[t["source_id"]]
        now = time.time()
        r["error_json"] = self.error_json(t)
        r["connected"] = self.connected(src, now)
        r["last_heartbeat_age"] = (now - src["last_hb"]) if src["last_hb"] else None
        r["required_ports"] = [[a, b] for a, b in self.required_ports(t)]
        r["agent_autostart"] = src["autostart"]
        cur = self.current(t)
        r["current_subtask"] = cur["name"] if cur else None
        r["current_progress"] = int(cur["progress"]) if cur else None
        return r

    # -- request log & faults ---------------------------------------------------------------

    def log_begin(self, entry):
        with self.lock:
            self.seq += 1
            entry["seq"] = self.seq
            self.stats["requests"] += 1
            self.log.append(entry)
            del self.log[:-20000]
            return entry

    def take_fault(self):
        with self.lock:
            while self.faults:
                f = self.faults[0]
                f["count"] -= 1
                if f["count"] <= 0:
                    self.faults.pop(0)
                return dict(f)
            return None

    def add_fault(self, d):
        kind = str(d.get("kind"))
        if kind not in FAULT_KINDS:
            raise BadRequest("kind must be one of %s" % ", ".join(FAULT_KINDS))
        with self.lock:
            if kind == "clear":
                self.faults = []
                self.skew = 0.0
                return
            if kind == "clock":
                v = d.get("skew_seconds", 0)
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise BadRequest("skew_seconds must be a number")
                self.skew = float(v)
                return
            count = d.get("count", 1)
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise BadRequest("count must be a positive integer")
            f = {"kind": kind, "count": count}
            if kind == "429":
                f["retry_after"] = d.get("retry_after", 2)
            elif kind == "500":
                f["status"] = int(d.get("status", 500))
                if not 500 <= f["status"] <= 599:
                    raise BadRequest("status must be 5xx")
            elif kind == "slow":
                f["seconds"] = float(d.get("seconds", 30))
            elif kind == "truncated":
                f["close"] = bool(d.get("close", False))
            self.faults.append(f)


def err_body(code, rid=None, msg=None):
    status, m = ERR[code]
    body = {"error_code": code, "error_msg": msg or m}
    if code.startswith("APIGW."):
        body["request_id"] = rid or request_id()
    return status, body


# ---------------------------------------------------------------------------------------------
# Background threads


def probe_all(targets, timeout):
    """Non-blocking TCP connects to every (ip, port) at once; {(ip,port): (up, reason)}."""
    res = {}
    pending = {}
    poller = select.poll()
    for ip, port in targets:
        try:
            fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
            s = socket.socket(fam, socket.SOCK_STREAM)
        except OSError as e:
            res[(ip, port)] = (False, str(e))
            continue
        s.setblocking(False)
        try:
            rc = s.connect_ex((ip, port))
        except OSError as e:
            rc = e.errno
        if rc == 0:
            res[(ip, port)] = (True, None)
            s.close()
        elif rc in (errno.EINPROGRESS, errno.EAGAIN):
            pending[s.fileno()] = (s, (ip, port))
            poller.register(s, select.POLLOUT | select.POLLERR | select.POLLHUP)
        else:
            res[(ip, port)] = (False, os.strerror(rc))
            s.close()
    deadline = time.monotonic() + timeout
    while pending:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        for fd, _ in poller.poll(left * 1000):
            s, key = pending.pop(fd)
            poller.unregister(fd)
            rc = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            res[key] = (rc == 0, None if rc == 0 else os.strerror(rc))
            s.close()
    for s, key in pending.values():
        res[key] = (False, "timeout")
        s.close()
    return res


def run_ticker(model, tick):
    while not model.stop.wait(tick):
        try:
            model.tick()
        except Exception as e:  # keep simulating whatever a bad control call left behind
            log("tick failed: %r" % e)


def run_prober(model, interval, timeout):
    while not model.stop.wait(interval):
        targets = model.probe_targets()
        if targets:
            started = time.time()
            model.probe_results(started, probe_all(targets, timeout))


# ---------------------------------------------------------------------------------------------
# HTTP


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120

    def version_string(self):
        return "api-gateway"

    def date_time_string(self, timestamp=None):
        return email.utils.formatdate(self.server.model.clock(), usegmt=True)

    def log_message(self, fmt, *args):
        if self.server.verbose:
            log("%s %s" % (self.address_string(), fmt % args))

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    # -- plumbing ---------------------------------------------------------------------------

    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if te == "chunked":
            out = b""
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                if len(out) + size > MAX_BODY:
                    raise BadRequest("body too large")
                out += self.rfile.read(size)
                self.rfile.readline(1024)
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or n > MAX_BODY:
            raise BadRequest("body too large")
        return self.rfile.read(n) if n else b""

    def send(self, status, body, ctype="application/json;charset=UTF-8", extra=None,
             rid=None, cut=None):
        if not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body, separators=(",", ":")).encode()
        full = len(body)
        if cut is not None:
            body = body[:cut]
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(full if self._close_early else len(body)))
        self.send_header("X-Request-Id", rid or request_id())
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()
        if self._close_early:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def dispatch(self):
        self._close_early = False
        parts = urllib.parse.urlsplit(self.path)
        path, query = parts.path, parts.query
        try:
            body = self.read_body()
        except (BadRequest, ValueError):
            self.close_connection = True
            self.send(413, {"error_code": "APIGW.0201", "error_msg": "Request entity too large",
                            "request_id": request_id()})
            return
        if path.startswith("/_sim/"):
            try:
                status, obj = self.control(path, query, body)
            except BadRequest as e:
                status, obj = 400, {"ok": False, "error": str(e)}
            except (ValueError, TypeError, KeyError, AttributeError) as e:
                status, obj = 400, {"ok": False, "error": "bad value: %r" % (e,)}
            self.send(status, obj)
            return
        self.api(path, query, body)

    # -- signed API ---------------------------------------------------------------------------

    def api(self, path, query, body):
        model = self.server.model
        t0 = time.time()
        entry = {"time": t0, "method": self.command, "path": path, "query": query,
                 "params": {}, "api": None, "task_id": None, "operation": None,
                 "status": None, "error_code": None, "fault": None,
                 "signed": "Authorization" in self.headers, "auth_error": None,
                 "body": None, "source": "api", "done": False, "duration_ms": None,
                 "headers": {k.lower(): v for k, v in self.headers.items()
                             if k.lower() != "authorization"},
                 "signed_headers": None}
        parsed = sdksign.parse_authorization(self.headers.get("Authorization"))
        if parsed:
            entry["signed_headers"] = parsed[1]
        for k, v in sdksign.parse_query(query):
            entry["params"].setdefault(k, []).append(v)
        if body:
            try:
                entry["body"] = json.loads(body)
            except ValueError:
                entry["body"] = body[:1024].decode("utf-8", "replace")
        route = route_api(self.command, path)
        if route:
            entry["api"], entry["task_id"] = route[0], route[1].get("task_id")
            if entry["api"] == "UpdateTaskStatus" and isinstance(entry["body"], dict):
                op = entry["body"].get("operation")
                entry["operation"] = op if isinstance(op, str) else None
        model.log_begin(entry)
        rid = request_id()
        status, obj, extra, cut = 500, None, {}, None
        try:
            fault = model.take_fault()
            if fault:
                entry["fault"] = fault["kind"]
            kind = fault["kind"] if fault else None
            if kind == "drop":
                with model.lock:
                    entry["done"] = True
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if kind == "429":
                status, obj = err_body("APIGW.0308", rid)
                if fault.get("retry_after") is not None:
                    extra["Retry-After"] = str(fault["retry_after"])
            elif kind == "500":
                status = fault["status"]
                obj = {"error_code": "SMS.9999", "error_msg": "Internal server error (smssim)"}
            elif kind == "auth":
                status, obj = err_body("APIGW.0301", rid)
            elif kind == "garbage":
                status, obj = 200, GARBAGE
            else:
                if kind == "slow":
                    model.stop.wait(fault["seconds"])
                if route is None:
                    status, obj = err_body("APIGW.0101", rid)
                else:
                    why = self.verify(path, query, body, entry)
                    if why:
                        status, obj = err_body(why[0], rid)
                        entry["auth_error"] = why[1]
                        with model.lock:
                            model.stats["auth_failures"] += 1
                    else:
                        status, obj = route[2](self, model, route[1], body, entry)
                if kind == "truncated":
                    raw = json.dumps(obj, separators=(",", ":")).encode()
                    obj, cut = raw, max(0, len(raw) // 2 if len(raw) > 1 else 0)
                    self._close_early = fault.get("close", False)
        except Exception as e:
            log("handler error on %s %s: %r" % (self.command, path, e))
            status, obj = 500, {"error_code": "SMS.9999", "error_msg": "smssim internal error"}
        if isinstance(obj, dict) and obj.get("error_code"):
            entry["error_code"] = obj["error_code"]
        with model.lock:
            entry["status"] = status
            entry["done"] = True
            entry["duration_ms"] = int((time.time() - t0) * 1000)
        if model.stop.is_set():
            self.close_connection = True
        self.send(status, obj, extra=extra, rid=rid, cut=cut)

    def verify(self, path, query, body, entry):
        """None when the signature is good, else (error code, reason)."""
        srv = self.server
        parsed = sdksign.parse_authorization(self.headers.get("Authorization"))
        if parsed is None:
            return "APIGW.0301", "Authorization missing or malformed"
        ak, signed, sig = parsed
        hdrs = {}
        for name in signed:
            vals = self.headers.get_all(name)
            if name != name.lower() or not vals:
                return "APIGW.0301", "signed header %r missing" % name
            hdrs[name] = ",".join(v.strip() for v in vals)
        if "x-sdk-date" not in hdrs:
            return "APIGW.0301", "X-Sdk-Date not signed"
        try:
            t = calendar.timegm(time.strptime(hdrs["x-sdk-date"], sdksign.DATE_FORMAT))
        except ValueError:
            return "APIGW.0301", "X-Sdk-Date malformed"
        if abs(t - srv.model.clock()) > SKEW_LIMIT:
            return "APIGW.0303", "X-Sdk-Date more than 15 minutes from the gateway clock"
        bh = self.headers.get("X-Sdk-Content-Sha256") or sdksign.body_sha256(body)
        creq = sdksign.canonical_request(self.command, path, query, hdrs, signed, bh)
        with srv.model.lock:  # one pair, even while POST /_sim/keys replaces it
            want_ak, want_sk = srv.ak, srv.sk
        want = sdksign.signature(want_sk, sdksign.string_to_sign(hdrs["x-sdk-date"], creq))
        why = None
        if ak != want_ak:
            why = "unknown AK"
        elif not hmac.compare_digest(want, sig):
            why = "signature mismatch"
        if why:
            with srv.model.lock:
                entry["canonical_request"] = creq
            return "APIGW.0301", why
        return None

    # -- control ----------------------------------------------------------------------------

    def control(self, path, query, body):
        model = self.server.model
        m = self.command
        d = {}
        if m == "POST" and body:
            try:
                d = json.loads(body)
            except ValueError:
                raise BadRequest("body is not JSON")
            if not isinstance(d, dict):
                raise BadRequest("body must be a JSON object")
        q = dict(sdksign.parse_query(query))
        seg = [urllib.parse.unquote(s) for s in path.split("/")[2:]]
        if m == "GET" and seg == ["health"]:
            return 200, {"ok": True}
        if m == "GET" and seg == ["requests"]:
            try:
                since = int(q.get("since", 0))
            except ValueError:
                raise BadRequest("since must be an integer")
            with model.lock:
                return 200, {"requests": json.loads(json.dumps(
                    [e for e in model.log if e["seq"] > since])), "last_seq": model.seq}
        if m == "POST" and seg == ["reset_log"]:
            with model.lock:
                model.log = []
            return 200, {"ok": True}
        if m == "POST" and seg == ["fault"]:
            model.add_fault(d)
            return 200, {"ok": True}
        if m == "GET" and seg == ["faults"]:
            with model.lock:
                return 200, {"faults": list(model.faults), "skew_seconds": model.skew}
        if m == "POST" and seg == ["keys"]:
            ak, sk = d.get("ak"), d.get("sk")
            if not all(isinstance(v, str) and 0 < len(v) <= 256 for v in (ak, sk)):
                raise BadRequest("ak and sk must be non-empty strings")
            with model.lock:
                self.server.ak, self.server.sk = ak, sk
            return 200, {"ok": True}
        if seg == ["tasks"]:
            if m == "GET":
                with model.lock:
                    return 200, {"tasks": [model.raw_task(t) for t in model.tasks.values()]}
            if m == "POST":
                return 200, {"ok": True, "id": model.add_task(d)}
        if len(seg) == 2 and seg[0] == "task" and m in ("GET", "POST"):
            with model.lock:
                t = model.tasks.get(seg[1])
                if t is None:
                    return 404, {"ok": False, "error": "no such task"}
                if m == "GET":
                    return 200, model.raw_task(t)
                return 200, model.set_task(seg[1], d)
        if len(seg) == 2 and seg[0] == "source" and m in ("GET", "POST"):
            with model.lock:
                src = model.sources.get(seg[1])
                if src is None:
                    return 404, {"ok": False, "error": "no such source"}
                for k, v in d.items():
                    if k == "connected":
                        src["connected_override"] = v
                    elif k in ("ip", "name", "hostname", "heartbeat_window"):
                        src[k] = v
                    else:
                        raise BadRequest("unknown field %r" % k)
                r = dict(src)
                r["connected"] = model.connected(src)
                return 200, r
        if m == "POST" and seg == ["agent", "heartbeat"]:
            if "Authorization" in self.headers:
                why = self.verify(path, query, body, {})
                if why:
                    return err_body(why[0])
            return model.heartbeat(d)
        if m == "POST" and seg == ["agent", "autostart"]:
            tid = d.get("task_id")
            with model.lock:
                if tid is None and model.tasks:
                    tid = next(iter(model.tasks))
                entry = {"time": time.time(), "method": m, "path": path, "query": query,
                         "params": {}, "api": "AgentAutoStart", "task_id": tid,
                         "operation": "start", "status": None, "error_code": None,
                         "fault": None, "signed": False, "auth_error": None, "body": d,
                         "source": "agent", "done": False, "duration_ms": 0}
                model.log_begin(entry)
                status, obj = model.autostart(tid)
                entry["status"], entry["done"] = status, True
            return status, obj
        if m == "GET" and seg == ["publishes"]:
            with model.lock:
                return 200, {"publishes": json.loads(json.dumps(model.publishes))}
        if m == "GET" and seg == ["stats"]:
            with model.lock:
                return 200, dict(model.stats)
        return 404, {"ok": False, "error": "no such control endpoint"}


# -- API handlers: (handler, model, args, body, entry) -> (status, obj) ------------------------


def _int_param(entry, name, default, lo, hi):
    v = entry["params"].get(name)
    if not v:
        return default
    try:
        n = int(v[0])
    except ValueError:
        raise BadRequest(name)
    if not lo <= n <= hi:
        raise BadRequest(name)
    return n


def _page(entry, items, default_limit):
    limit = _int_param(entry, "limit", default_limit, 0, 200) or default_limit
    offset = _int_param(entry, "offset", 0, 0, 65535)
    return items[offset:offset + limit]


def h_show_task(h, model, a, body, entry):
    with model.lock:
        t = model.tasks.get(a["task_id"])
        return (200, model.show_task(t)) if t else err_body("SMS.7703")


def h_list_tasks(h, model, a, body, entry):
    p = {k: v[0] for k, v in entry["params"].items()}
    try:
        with model.lock:
            ts = [t for t in model.tasks.values()
                  if ("source_server_id" not in p or t["source_id"] == p["source_server_id"])
                  and ("state" not in p or t["state"] == p["state"])
                  and ("id" not in p or t["id"] == p["id"])
                  and ("name" not in p or p["name"] in t["name"])]
            page = _page(entry, ts, 100)
            return 200, {"count": len(ts), "tasks": [model.list_task_item(t) for t in page]}
    except BadRequest as e:
        return err_body("SMS.6011", msg="invalid query parameter %s" % e)


def h_list_sources(h, model, a, body, entry):
    p = {k: v[0] for k, v in entry["params"].items()}
    try:
        with model.lock:
            out = []
            for src in model.sources.values():
                v = model.show_server(src, brief=True)
                if ("ip" in p and src["ip"] != p["ip"]) or ("id" in p and src["id"] != p["id"]) \
                        or ("name" in p and p["name"] not in src["name"]) \
                        or ("state" in p and v["state"] != p["state"]) \
                        or ("connected" in p and str(v["connected"]).lower() !=
                            p["connected"].lower()):
                    continue
                out.append(v)
            page = _page(entry, out, 200)
            return 200, {"count": len(out), "source_servers": page}
    except BadRequest as e:
        return err_body("SMS.6011", msg="invalid query parameter %s" % e)


def h_show_source(h, model, a, body, entry):
    with model.lock:
        src = model.sources.get(a["source_id"])
        return (200, model.show_server(src)) if src else err_body("SMS.7602")


def h_action(h, model, a, body, entry):
    with model.lock:
        if a["task_id"] not in model.tasks:
            return err_body("SMS.7703")
    try:
        d = json.loads(body)
    except ValueError:
        return err_body("SMS.6010")
    if not isinstance(d, dict) or d.get("operation") not in OPERATIONS:
        return err_body("SMS.6011")
    return model.action(a["task_id"], d["operation"])


def h_speed_get(h, model, a, body, entry):
    with model.lock:
        t = model.tasks.get(a["task_id"])
        if t is None:
            return err_body("SMS.7703")
        return 200, {"speed_limit": json.loads(json.dumps(t["speed_limits"]))}


def h_speed_post(h, model, a, body, entry):
    with model.lock:
        t = model.tasks.get(a["task_id"])
        if t is None:
            return err_body("SMS.7703")
    try:
        d = json.loads(body)
    except ValueError:
        return err_body("SMS.6102", msg="Failed to convert into the JSON format.")
    try:
        if not isinstance(d, dict) or "speed_limit" not in d:
            raise BadRequest("speed_limit missing")
        _check_speed_limits(d["speed_limit"])
    except BadRequest as e:
        return err_body("SMS.6102", msg="%s: %s" % (ERR["SMS.6102"][1], e))
    with model.lock:
        refuse = t["speed_limit_refuse"]
        if refuse is None:
            t["speed_limits"] = d["speed_limit"]
    if refuse is not None:
        return err_body(refuse)
    return 200, {}


def h_publish(h, model, a, body, entry):
    rid = request_id()

    def bad(msg):
        return 400, {"request_id": rid, "code": "SMN.0002", "message": msg}
    try:
        d = json.loads(body)
    except ValueError:
        return bad("request body is not JSON")
    if not isinstance(d, dict):
        return bad("request body must be an object")
    if not any(isinstance(d.get(k), str) and d[k] for k in
               ("message", "message_structure", "message_template_name")):
        return bad("one of message, message_structure, message_template_name is required")
    if len(d.get("subject", "") or "") > 512 or len(body) > 256 * 1024 + 4096:
        return bad("subject or message too long")
    if "message_structure" in d:
        try:
            ms = json.loads(d["message_structure"])
            if not isinstance(ms, dict) or "default" not in ms:
                raise ValueError
        except (ValueError, TypeError):
            return bad("message_structure must be a JSON string with a default key")
    mid = uuid.uuid4().hex
    with model.lock:
        model.pub_seq += 1
        model.publishes.append({"seq": model.pub_seq, "time": time.time(),
                                "project_id": a["project_id"], "topic_urn": a["urn"],
                                "body": d, "message_id": mid})
        del model.publishes[:-1000]
    return 200, {"request_id": rid, "message_id": mid}


def route_api(method, path):
    """(api name, args, handler) or None."""
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    seg = [urllib.parse.unquote(s) for s in path.split("/")[1:]]
    if len(seg) >= 2 and seg[0] == "v3" and seg[1] == "tasks":
        if len(seg) == 2 and method == "GET":
            return "ListTasks", {}, h_list_tasks
        if len(seg) == 3 and method == "GET":
            return "ShowTask", {"task_id": seg[2]}, h_show_task
        if len(seg) == 4 and seg[3] == "action" and method == "POST":
            return "UpdateTaskStatus", {"task_id": seg[2]}, h_action
        if len(seg) == 4 and seg[3] == "speed-limit" and method == "GET":
            return "ShowsSpeedLimits", {"task_id": seg[2]}, h_speed_get
        if len(seg) == 4 and seg[3] == "speed-limit" and method == "POST":
            return "UpdateSpeed", {"task_id": seg[2]}, h_speed_post
    if len(seg) >= 2 and seg[0] == "v3" and seg[1] == "sources" and method == "GET":
        if len(seg) == 2:
            return "ListServers", {}, h_list_sources
        if len(seg) == 3 and seg[2] != "overview":
            return "ShowServer", {"source_id": seg[2]}, h_show_source
    if (len(seg) == 6 and seg[0] == "v2" and seg[2] == "notifications" and seg[3] == "topics"
            and seg[5] == "publish" and method == "POST"):
        return "PublishMessage", {"project_id": seg[1], "urn": seg[4]}, h_publish
    return None


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def finish_request(self, request, client_address):
        with self.model.lock:
            self.model.stats["connections"] += 1
        conn = request
        if self.ssl_ctx is not None:
            request.settimeout(10)
            try:
                conn = self.ssl_ctx.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as e:
                with self.model.lock:
                    self.model.stats["tls_failures"] += 1
                    self.model.stats["last_tls_error"] = str(e)
                if self.verbose:
                    log("TLS handshake from %s failed: %s" % (client_address[0], e))
                return
        try:
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            if conn is not request:
                try:
                    conn.close()
                except OSError:
                    pass

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, socket.timeout, TimeoutError)):
            return
        log("error serving %s: %r" % (client_address[0], exc))


def load_tasks(path):
    if not path:
        return [{}]
    with open(path) as f:
        d = json.load(f)
    tasks = d.get("tasks") if isinstance(d, dict) else d
    if not isinstance(tasks, list) or not tasks:
        raise SystemExit("smssim: %s: expected {\"tasks\":[…]} or a non-empty list" % path)
    return tasks


def main(argv=None):
    ap = argparse.ArgumentParser(description="SMS v3 + SMN v2 API simulator for tests")
    ap.add_argument("--listen", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tls-dir")
    ap.add_argument("--http", action="store_true", help="plain HTTP (debugging)")
    ap.add_argument("--ak", default=os.environ.get("SMSSIM_AK"))
    ap.add_argument("--sk", default=os.environ.get("SMSSIM_SK"))
    ap.add_argument("--task-file")
    ap.add_argument("--tick", type=float, default=0.2)
    ap.add_argument("--probe-timeout", type=float, default=0.5)
    ap.add_argument("--hostname", default=socket.gethostname())
    ap.add_argument("--gen-certs", action="store_true", help="create certificates and exit")
    ap.add_argument("--exit-with-parent", action="store_true",
                    help="exit when the parent process goes away (used by simctl)")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)
    if a.gen_certs:
        if not a.tls_dir:
            ap.error("--gen-certs needs --tls-dir")
        gen_certs(a.tls_dir)
        return 0
    if not a.ak or not a.sk:
        ap.error("--ak and --sk (or $SMSSIM_AK/$SMSSIM_SK) are required")
    if not a.http and not a.tls_dir:
        ap.error("--tls-dir is required unless --http")
    if a.tick <= 0:
        ap.error("--tick must be > 0")

    stop = threading.Event()
    model = Model(a.hostname, stop)
    try:
        for d in load_tasks(a.task_file):
            model.add_task(d)
    except BadRequest as e:
        raise SystemExit("smssim: bad task definition: %s" % e)

    ctx = None
    if not a.http:
        gen_certs(a.tls_dir)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(a.tls_dir, "server.crt"),
                            os.path.join(a.tls_dir, "server.key"))

    cls = Server
    if ":" in a.listen:
        cls = type("Server6", (Server,), {"address_family": socket.AF_INET6})
    srv = cls((a.listen, a.port), Handler)
    srv.model, srv.ssl_ctx, srv.verbose, srv.ak, srv.sk = model, ctx, a.verbose, a.ak, a.sk

    def on_signal(signo, frame):
        stop.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    threading.Thread(target=run_ticker, args=(model, a.tick), daemon=True).start()
    threading.Thread(target=run_prober, args=(model, max(0.1, a.tick), a.probe_timeout),
                     daemon=True).start()
    th = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    th.start()
    sys.stdout.write("READY %d\n" % srv.server_address[1])
    sys.stdout.flush()
    if a.verbose:
        log("serving %s on %s:%d" % ("http" if a.http else "https", a.listen,
                                     srv.server_address[1]))
    parent = os.getppid()
    while not stop.wait(0.5):
        if a.exit_with_parent and os.getppid() != parent:
            log("parent %d went away; exiting" % parent)
            break
    srv.shutdown()
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
