#!/usr/bin/env python3
"""The cloud-side poller smsguard is measured against: a function of the FunctionGraph kind.

The usual workaround for a migration that fails at night is a FunctionGraph function on a timer
trigger (rate(1 minutes)) that reads the task and starts it again when it failed for a network
reason. This is that function, modelled honestly: handler() does exactly one ShowTask and, on
MIGRATE_FAIL or SYNC_FAIL with a network error code, one `start`; it knows nothing else (it
cannot see the source's link or its agent), so it resumes into a link that is still down as
readily as into one that is back. The timer fires every INTERVAL seconds from a random phase,
as a trigger created at an arbitrary moment would.

    HUAWEICLOUD_SDK_AK=… HUAWEICLOUD_SDK_SK=… python3 bench/cloudpoller.py \
        --endpoint https://127.0.0.1:PORT --ca-file CA --task ID [--interval 60] [--log FILE]

Each invocation is appended to --log as one JSON line: time, state, error_code, action.
"""

import argparse
import http.client
import json
import os
import random
import ssl
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "sim"))
import sdksign  # noqa: E402

NETWORK_CODES = ("SMS.0807", "SMS.1807", "SMS.2802", "SMS.3802", "SMS.3805", "SMS.3806",
                 "SMS.2805", "SMS.2806")


def call(cfg, method, path, body=None):
    u = urllib.parse.urlsplit(cfg["endpoint"])
    data = json.dumps(body).encode() if body is not None else b""
    headers = sdksign.sign(method, cfg["endpoint"] + path, {"Content-Type": "application/json"},
                           data, cfg["ak"], cfg["sk"])
    ctx = ssl.create_default_context(cafile=cfg["ca_file"])
    c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=15)
    try:
        c.request(method, path, body=data if body is not None else None, headers=headers)
        r = c.getresponse()
        return r.status, json.loads(r.read() or b"{}")
    finally:
        c.close()


def handler(event, context):
    """One timer invocation: read the task; start it when it failed for a network reason."""
    cfg = context
    out = {"time": time.time(), "state": None, "error_code": None, "action": None}
    status, task = call(cfg, "GET", f"/v3/tasks/{cfg['task']}")
    if status != 200:
        out["action"] = f"ShowTask {status}"
        return out
    out["state"] = task.get("state")
    try:
        out["error_code"] = json.loads(task.get("error_json") or "{}").get("error_code")
    except ValueError:
        pass
    if out["state"] in ("MIGRATE_FAIL", "SYNC_FAIL") and out["error_code"] in NETWORK_CODES:
        status, _ = call(cfg, "POST", f"/v3/tasks/{cfg['task']}/action", {"operation": "start"})
        out["action"] = f"start {status}"
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--ca-file", required=True)
    ap.add_argument("--task", required=True)
    ap.add_argument("--interval", type=float, default=60)
    ap.add_argument("--log")
    a = ap.parse_args()
    cfg = {"endpoint": a.endpoint, "ca_file": a.ca_file, "task": a.task,
           "ak": os.environ["HUAWEICLOUD_SDK_AK"], "sk": os.environ["HUAWEICLOUD_SDK_SK"]}
    due = time.monotonic() + random.uniform(0, a.interval)
    while True:
        time.sleep(max(0.0, due - time.monotonic()))
        due += a.interval
        try:
            rec = handler({"source": "timer"}, cfg)
        except (OSError, ValueError, http.client.HTTPException) as e:
            rec = {"time": time.time(), "action": f"error {e}"}
        if a.log:
            with open(a.log, "a") as f:
                f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
