#!/usr/bin/env python3
"""Self-tests of smssim, faketarget and the fake agent. Prints TAP.

    python3 tests/sim/test_sim.py [-v] [NAME_SUBSTRING…]
"""

import hashlib
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import sdksign  # noqa: E402
from simctl import FakeAgent, FakeTarget, Sim, free_ports, wait_for  # noqa: E402

EXAMPLE_DIRS = [d for d in (os.environ.get("SMSSIM_EXAMPLES"),
                             os.path.join(HERE, "..", "data", "examples"),
                             "/work/shared/reference/examples") if d]
TMP = tempfile.mkdtemp(prefix="smssim-test-")
TLS = os.path.join(TMP, "tls")
TESTS = []


class Skip(Exception):
    pass


def test(fn):
    TESTS.append(fn)
    return fn


def sim(tasks=None, **kw):
    d = tempfile.mkdtemp(dir=TMP)
    return Sim(d, tasks=tasks, tls_dir=kw.pop("tls_dir", TLS), **kw).start()


def eq(a, b, what=""):
    if a != b:
        raise AssertionError("%s: expected %r, got %r" % (what, b, a))


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def example(name):
    for d in EXAMPLE_DIRS:
        if os.path.exists(os.path.join(d, name)):
            with open(os.path.join(d, name)) as f:
                return json.load(f)
    raise Skip("example %s not found in %s" % (name, EXAMPLE_DIRS))


# -- signing ----------------------------------------------------------------------------------

VEC = dict(
    url="https://service.region.example.com/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs"
        "?limit=2&marker=13551d6b-755d-4757-b956-536f674975c0",
    ak="QTWAOYTTINDUT2QVKYUC", sk="MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc",
    date="20191115T033655Z")


@test
def signing_reproduces_the_official_vector():
    creq = sdksign.canonical_request(
        "GET", "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs",
        "limit=2&marker=13551d6b-755d-4757-b956-536f674975c0",
        {"content-type": "application/json", "host": "service.region.example.com",
         "x-sdk-date": VEC["date"]}, ["content-type", "host", "x-sdk-date"],
        sdksign.EMPTY_SHA256)
    eq(creq, "GET\n/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs/\n"
             "limit=2&marker=13551d6b-755d-4757-b956-536f674975c0\n"
             "content-type:application/json\nhost:service.region.example.com\n"
             "x-sdk-date:20191115T033655Z\n\ncontent-type;host;x-sdk-date\n"
             "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "canonical")
    eq(hashlib.sha256(creq.encode()).hexdigest(),
       "b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a", "hash")
    h = sdksign.sign("GET", VEC["url"], {"Content-Type": "application/json"}, b"",
                     VEC["ak"], VEC["sk"], VEC["date"])
    eq(h["Authorization"], "SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, "
       "SignedHeaders=content-type;host;x-sdk-date, "
       "Signature=7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe", "auth")


@test
def canonical_query_sorts_keys_and_repeated_values_and_encodes():
    q = [("test", "一 (&=?!#%.*)"), ("path", "/tmp/123"), ("multi", "3"), ("multi", "1"),
         ("multi", "2"), ("enable", "true"), ("limit", "1")]
    eq(sdksign.canonical_query(q),
       "enable=true&limit=1&multi=1&multi=2&multi=3&path=%2Ftmp%2F123&"
       "test=%E4%B8%80%20%28%26%3D%3F%21%23%25.%2A%29", "query")
    eq(sdksign.canonical_query("b=&a=x%20y"), "a=x%20y&b=", "empty value keeps =")
    eq(sdksign.canonical_query("n=%E4%B8%80&n=x+y"), "n=x%20y&n=%E4%B8%80",
       "values sorted before encoding; '+' is a space")


@test
def canonical_uri_encodes_segments_and_ends_with_slash():
    eq(sdksign.canonical_uri("/v3/tasks"), "/v3/tasks/", "slash")
    eq(sdksign.canonical_uri("/v3/tasks/"), "/v3/tasks/", "no double slash")
    raw = "/v2/p/notifications/topics/urn:smn:r:p:t/publish"
    enc = "/v2/p/notifications/topics/urn%3Asmn%3Ar%3Ap%3At/publish"
    eq(sdksign.canonical_uri(raw), enc + "/", "colon encoded")
    eq(sdksign.canonical_uri(enc), enc + "/", "already encoded path is not double-encoded")


# -- the API ----------------------------------------------------------------------------------


@test
def signed_get_of_task_has_the_example_shape():
    s = sim()
    try:
        st, h, b = s.api("GET", "/v3/tasks/" + s.task_id)
        eq(st, 200, "status")
        check("date" in h and "x-request-id" in h, "Date and X-Request-Id headers: %r" % h)
        ex = example("sms-show-task.response.json")
        missing = set(ex) - set(b)
        check(not missing, "fields of the example missing: %s" % missing)
        eq(b["error_json"], "", "error_json")
        check(len(str(b["create_date"])) == 13, "epoch ms")
        eq([x["name"] for x in b["sub_tasks"]][:3],
           ["CREATE_CLOUD_SERVER", "SSL_CONFIG", "ATTACH_AGENT_IMAGE"], "sub-tasks")
        check(b["sub_tasks"][1]["end_date"] is None, "null end_date while running")
        eq((b["os_type"], b["type"], b["source_server"]["ip"]),
           ("LINUX", "MIGRATE_FILE", "127.0.0.1"), "default task")
        eq(b["source_server"]["name"], socket.gethostname(), "source name is the host name")
    finally:
        s.stop()


@test
def bad_signature_is_401_apigw_0301_and_logged():
    s = sim()
    try:
        st, h, b = s.api("GET", "/v3/tasks/" + s.task_id, sk="wrong")
        eq(st, 401, "status")
        eq(b["error_code"], "APIGW.0301", "code")
        eq(b["error_msg"], "Incorrect IAM authentication information: verify aksk signature fail",
           "msg")
        check(b.get("request_id"), "request_id")
        e = s.requests()[-1]
        eq((e["status"], e["auth_error"]), (401, "signature mismatch"), "log")
        check(e["canonical_request"].startswith("GET\n/v3/tasks/%s/\n" % s.task_id),
              "canonical request logged")
    finally:
        s.stop()


@test
def missing_authorization_or_wrong_ak_is_401_apigw_0301():
    s = sim()
    try:
        st, _, b = s.api("GET", "/v3/tasks/" + s.task_id, sign=False)
        eq((st, b["error_code"]), (401, "APIGW.0301"), "unsigned")
        st, _, b = s.api("GET", "/v3/tasks/" + s.task_id, ak="OTHERAK")
        eq((st, b["error_code"]), (401, "APIGW.0301"), "wrong AK")
        eq(s.stats()["auth_failures"], 2, "counted")
    finally:
        s.stop()


@test
def rotated_keys_are_the_only_ones_accepted():
    s = sim()
    try:
        old_ak, old_sk = s.ak, s.sk
        s.set_keys("ROTATEDAK00000000001", "rotatedSecretKey000000000000000000000001")
        st, _, b = s.api("GET", "/v3/tasks/" + s.task_id, ak=old_ak, sk=old_sk)
        eq((st, b["error_code"]), (401, "APIGW.0301"), "old pair")
        eq(s.requests()[-1]["auth_error"], "unknown AK", "why")
        st, _, b = s.api("GET", "/v3/tasks/" + s.task_id)
        eq(st, 200, "new pair")
        try:
            s.control("POST", "keys", {"ak": "", "sk": "x"})
            raise AssertionError("an empty AK was taken")
        except RuntimeError:
            pass
        st, _, _ = s.api("GET", "/v3/tasks/" + s.task_id)
        eq(st, 200, "a refused change leaves the pair as it was")
    finally:
        s.stop()


@test
def sdk_date_more_than_15_minutes_off_is_401_apigw_0303():
    s = sim()
    try:
        old = sdksign.sdk_date_now(-16 * 60)
        st, _, b = s.api("GET", "/v3/tasks/" + s.task_id, sdk_date=old)
        eq((st, b["error_code"]), (401, "APIGW.0303"), "16 min")
        st, _, b = s.api("GET", "/v3/tasks/" + s.task_id, sdk_date=sdksign.sdk_date_now(-14 * 60))
        eq(st, 200, "14 min is accepted")
    finally:
        s.stop()


@test
def unknown_path_is_404_apigw_0101():
    s = sim()
    try:
        st, _, b = s.api("GET", "/v3/nothing")
        eq((st, b["error_code"]), (404, "APIGW.0101"), "path")
        st, _, b = s.api("DELETE", "/v3/tasks/" + s.task_id)
        eq((st, b["error_code"]), (404, "APIGW.0101"), "method")
    finally:
        s.stop()


@test
def unknown_task_is_404_sms_7703():
    s = sim()
    try:
        for m, p, body in (("GET", "/v3/tasks/nope", None),
                           ("POST", "/v3/tasks/nope/action", {"operation": "start"}),
                           ("GET", "/v3/tasks/nope/speed-limit", None)):
            st, _, b = s.api(m, p, body)
            eq((st, b["error_code"]), (404, "SMS.7703"), p)
    finally:
        s.stop()


TWO = [{"id": "task-a", "name": "alpha", "source_server": {"id": "src-a", "ip": "10.0.0.1",
                                                           "name": "host-a"}},
       {"id": "task-b", "name": "beta", "state": "MIGRATE_SUCCESS",
        "source_server": {"id": "src-b", "ip": "10.0.0.2", "name": "host-b"}}]


@test
def list_tasks_filters_and_pages():
    s = sim(TWO)
    try:
        st, _, b = s.api("GET", "/v3/tasks")
        eq((st, b["count"], len(b["tasks"])), (200, 2, 2), "all")
        check(set(example("sms-list-tasks.response.json")["tasks"][0]) <= set(b["tasks"][0]),
              "item has the example's fields")
        _, _, b = s.api("GET", "/v3/tasks?source_server_id=src-b")
        eq([t["id"] for t in b["tasks"]], ["task-b"], "by source")
        _, _, b = s.api("GET", "/v3/tasks?state=RUNNING")
        eq([t["id"] for t in b["tasks"]], ["task-a"], "by state")
        _, _, b = s.api("GET", "/v3/tasks?limit=1&offset=1")
        eq((b["count"], [t["id"] for t in b["tasks"]]), (2, ["task-b"]), "page")
        st, _, b = s.api("GET", "/v3/tasks?limit=500")
        eq(st, 400, "limit over 200")
    finally:
        s.stop()


@test
def sources_list_by_ip_and_show_connected_and_sizes():
    s = sim(TWO)
    try:
        _, _, b = s.api("GET", "/v3/sources?ip=10.0.0.2")
        eq([x["id"] for x in b["source_servers"]], ["src-b"], "by ip")
        eq(b["source_servers"][0]["current_task"]["id"], "task-b", "current_task")
        _, _, b = s.api("GET", "/v3/sources?connected=false")
        eq(b["count"], 2, "both disconnected")
        s.control("POST", "agent/heartbeat", {"source_id": "src-a"})
        _, _, b = s.api("GET", "/v3/sources?connected=true")
        eq([x["id"] for x in b["source_servers"]], ["src-a"], "heartbeat connects")
        st, _, b = s.api("GET", "/v3/sources/src-b")
        eq(st, 200, "show")
        check(set(example("sms-show-server.response.json")) <= set(b), "show has example fields")
        eq((b["replicatesize"], b["totalsize"], b["state"]), (10737418240, 10737418240,
                                                             "finished"), "sizes")
        st, _, b = s.api("GET", "/v3/sources/none")
        eq((st, b["error_code"]), (404, "SMS.7602"), "unknown source")
    finally:
        s.stop()


@test
def action_body_errors_are_sms_6010_and_6011():
    s = sim()
    try:
        p = "/v3/tasks/%s/action" % s.task_id
        st, _, b = s.api("POST", p, "not json")
        eq((st, b["error_code"]), (400, "SMS.6010"), "not JSON")
        st, _, b = s.api("POST", p, {"operation": "fly"})
        eq((st, b["error_code"]), (400, "SMS.6011"), "unknown operation")
        st, _, b = s.api("POST", p, [1])
        eq((st, b["error_code"]), (400, "SMS.6011"), "not an object")
    finally:
        s.stop()


@test
def every_documented_action_example_is_accepted():
    s = sim([{"simulate": False, "state": "MIGRATE_FAIL"}])
    try:
        for i in (1, 2, 6, 8):
            body = example("sms-update-task-status.request.%d.json" % i)
            st, _, b = s.api("POST", "/v3/tasks/%s/action" % s.task_id, body)
            eq((st, b), (200, {}), "example %d" % i)
    finally:
        s.stop()


@test
def stop_makes_running_task_aborting_then_abort():
    s = sim([{"agent_required": False, "ports_required": False, "rate": 0.001,
              "abort_seconds": 0.3}])
    try:
        p = "/v3/tasks/%s/action" % s.task_id
        eq(s.api("POST", p, {"operation": "stop"})[0], 200, "stop")
        eq(s.task()["state"], "ABORTING", "aborting at once")
        s.wait_task("ABORT", timeout=5)
        st, _, b = s.api("POST", p, {"operation": "stop"})
        eq((st, b["error_code"]), (400, "SMS.7714"), "stop of a stopped task")
    finally:
        s.stop()


@test
def start_resumes_failed_task_from_where_it_stopped():
    s = sim([{"simulate": False}])
    try:
        s.set_task(subtask="MIGRATE_LINUX_FILE", progress=42, state="MIGRATE_FAIL",
                   error_code="SMS.2802")
        _, _, b = s.api("GET", "/v3/tasks/" + s.task_id)
        ej = json.loads(b["error_json"])
        eq(ej["error_code"], "SMS.2802", "error_json code")
        eq(json.loads(ej["error_param"]), ["127.0.0.1"], "error_param is a JSON array string")
        eq(s.api("POST", "/v3/tasks/%s/action" % s.task_id, {"operation": "start"})[0], 200,
           "start")
        t = s.task()
        eq((t["state"], t["current_subtask"], t["current_progress"], t["error_json"]),
           ("RUNNING", "MIGRATE_LINUX_FILE", 42, ""), "resumed")
        eq(len(s.actions("start")), 1, "logged as a signed start")
    finally:
        s.stop()


@test
def restart_runs_the_task_again_from_zero():
    s = sim([{"simulate": False, "state": "MIGRATE_FAIL", "progress": 60,
              "subtask": "MIGRATE_LINUX_FILE"}])
    try:
        eq(s.api("POST", "/v3/tasks/%s/action" % s.task_id, {"operation": "restart"})[0], 200,
           "restart")
        t = s.task()
        eq((t["state"], t["current_subtask"], t["current_progress"]),
           ("RUNNING", "CREATE_CLOUD_SERVER", 0), "from zero")
    finally:
        s.stop()


@test
def speed_limits_are_validated_and_stored():
    s = sim()
    try:
        p = "/v3/tasks/%s/speed-limit" % s.task_id
        eq(s.api("GET", p)[2], {"speed_limit": []}, "empty at first")
        for i in (1, 2):
            body = example("sms-update-speed.request.%d.json" % i)
            st, _, b = s.api("POST", p, body)
            eq((st, b), (200, {}), "example %d" % i)
            eq(s.api("GET", p)[2], body, "stored %d" % i)
        bad = [{"speed_limit": [{"start": "00:00", "end": "01:00"}] * 6},
               {"speed_limit": [{"start": "0:0", "end": "01:00"}]},
               {"speed_limit": [{"start": "00:00", "end": "01:00", "speed": 1001}]},
               {"speed_limit": [{"start": "22:00", "end": "06:00"}]},
               {"speed_limit": [{"start": "00:00", "end": "10:00"},
                                {"start": "09:00", "end": "12:00"}]},
               {"speed_limit": [{"start": "00:00", "end": "10:00",
                                 "over_speed_threshold": 5}]},
               {"nothing": 1}, "{"]
        for body in bad:
            st, _, b = s.api("POST", p, body)
            eq((st, b["error_code"]), (400, "SMS.6102"), "rejects %r" % (body,))
    finally:
        s.stop()


@test
def smn_publish_stores_each_example_message():
    s = sim()
    try:
        for i, urn in ((1, "urn:smn:ap-southeast-3:proj:topic"),
                       (2, "urn%3Asmn%3Aap-southeast-3%3Aproj%3Atopic"),
                       (3, "urn:smn:ap-southeast-3:proj:topic")):
            body = example("smn-publish.request.%d.json" % i)
            st, _, b = s.api("POST", "/v2/proj/notifications/topics/%s/publish" % urn, body)
            eq(st, 200, "publish %d" % i)
            check(b.get("request_id") and b.get("message_id"), "response ids")
        pubs = s.publishes()
        eq(len(pubs), 3, "stored")
        eq(pubs[1]["topic_urn"], "urn:smn:ap-southeast-3:proj:topic", "urn decoded")
        eq(pubs[0]["body"]["message"], "Message test message v2", "body kept")
        st, _, b = s.api("POST", "/v2/proj/notifications/topics/u/publish", {"subject": "x"})
        eq((st, b.get("code")), (400, "SMN.0002"), "no message")
    finally:
        s.stop()


# -- the task model ---------------------------------------------------------------------------


@test
def progress_advances_while_agent_heartbeats_and_target_answers():
    p22, = free_ports(1)
    s = sim([{"port_map": {"22": p22}, "rate": 20}])
    tgt = FakeTarget("127.0.0.1", [p22]).start()
    agent = FakeAgent(os.path.join(s.tmpdir, "agent"), s).install()
    try:
        eq(agent.start().returncode, 0, "agent start")
        t = s.wait_task(lambda t: t["current_progress"] >= 20 or
                        t["current_subtask"] != "CREATE_CLOUD_SERVER", timeout=10)
        check(t["connected"], "connected follows heartbeats")
        _, _, b = s.api("GET", "/v3/tasks/" + s.task_id)
        check(b["migrate_speed"] > 0 and b["sub_tasks"][0]["start_date"], "moving")
    finally:
        agent.stop()
        tgt.stop()
        s.stop()


@test
def progress_stalls_without_agent_heartbeats():
    s = sim([{"ports_required": False, "agent_timeout": 0, "rate": 50}])
    try:
        time.sleep(1.0)  # a negative check needs a window: 1 s at 50 %/s would be visible
        t = s.task()
        eq((t["state"], t["current_progress"], t["connected"]), ("RUNNING", 0, False), "stalled")
    finally:
        s.stop()


@test
def task_finishes_with_migrate_success():
    s = sim([{"agent_required": False, "ports_required": False, "rate": 1000}])
    try:
        t = s.wait_task("MIGRATE_SUCCESS", timeout=10)
        check(all(x["progress"] == 100 and x["end_date"] for x in t["sub_tasks"]), "all done")
        check(t["finish_date"], "finish_date")
    finally:
        s.stop()


@test
def a_closed_target_port_fails_the_task_with_its_code():
    p = dict(zip(("22", "8899", "8900"), free_ports(3)))
    for down, code in (("8900", "SMS.1807"), ("8899", "SMS.2802"), ("22", "SMS.3805")):
        s = sim([{"os_type": "WINDOWS", "type": "MIGRATE_BLOCK", "port_map": p,
                  "agent_required": False, "fail_after": 0.5, "rate": 0.001}])
        tgt = FakeTarget("127.0.0.1", [v for k, v in p.items() if k != down]).start()
        try:
            t = s.wait_task("MIGRATE_FAIL", timeout=10)
            eq(t["error_code"], code, "port %s" % down)
        finally:
            tgt.stop()
            s.stop()


@test
def a_port_going_down_mid_run_fails_after_fail_after():
    p8900, = free_ports(1)
    s = sim([{"type": "MIGRATE_BLOCK", "ports": [8900], "port_map": {"8900": p8900},
              "agent_required": False, "fail_after": 1.0, "rate": 0.5}])
    tgt = FakeTarget("127.0.0.1", [p8900]).start()
    try:
        s.wait_task(lambda t: t["port_state"].get(str(p8900), {}).get("up"), timeout=5)
        tgt.stop()
        t0 = time.monotonic()
        t = s.wait_task("MIGRATE_FAIL", timeout=10)
        check(time.monotonic() - t0 >= 0.7, "not before fail_after")
        eq(t["error_code"], "SMS.1807", "code")
    finally:
        tgt.stop()
        s.stop()


@test
def agent_silence_fails_the_task_with_agent_fail_code():
    s = sim([{"ports_required": False, "agent_timeout": 0.5}])
    try:
        t = s.wait_task("MIGRATE_FAIL", timeout=10)
        eq(t["error_code"], "SMS.0807", "code")
    finally:
        s.stop()


@test
def control_sets_state_error_and_unknown_states():
    s = sim([{"simulate": False}])
    try:
        s.set_task(state="CUTOVER_READY")
        eq(s.api("GET", "/v3/tasks/" + s.task_id)[2]["state"], "CUTOVER_READY", "any state")
        s.set_task(state="MIGRATE_FAIL", error_json='{"error_code":"SMS.1114","error_param":"[]"}')
        eq(s.api("GET", "/v3/tasks/" + s.task_id)[2]["error_json"],
           '{"error_code":"SMS.1114","error_param":"[]"}', "raw error_json")
        try:
            s.set_task(bogus=1)
            raise AssertionError("unknown field accepted")
        except RuntimeError:
            pass
    finally:
        s.stop()


@test
def control_api_refuses_bad_values_without_changing_the_task():
    s = sim([{"simulate": False}])
    try:
        for bad in ({"progress": "abc"}, {"fail_codes": 5}, {"rate": "x"}, {"ports": [1, "a"]},
                    {"speed_limits": [{"start": "9", "end": "10:00"}]}):
            try:
                s.set_task(**bad)
                raise AssertionError("accepted %r" % bad)
            except RuntimeError:
                pass
        eq(s.request("POST", "/_sim/fault", b'{"kind":"nope"}')[0], 400, "unknown fault")
        eq(s.request("GET", "/_sim/nothing")[0], 404, "unknown control path")
        eq(s.task()["state"], "RUNNING", "task unchanged")
    finally:
        s.stop()


# -- faults -----------------------------------------------------------------------------------


def get_task(s):
    return s.api("GET", "/v3/tasks/" + s.task_id)


@test
def fault_429_with_retry_after_for_count_requests():
    s = sim()
    try:
        s.fault("429", count=2, retry_after=7)
        for _ in range(2):
            st, h, b = get_task(s)
            eq((st, h.get("retry-after"), b["error_code"]), (429, "7", "APIGW.0308"), "429")
        eq(get_task(s)[0], 200, "third passes")
        eq([e["fault"] for e in s.requests()], ["429", "429", None], "log")
    finally:
        s.stop()


@test
def fault_500_and_auth():
    s = sim()
    try:
        s.fault("500", count=1, status=503)
        s.fault("auth", count=1)
        eq(get_task(s)[0], 503, "500 kind")
        st, _, b = get_task(s)
        eq((st, b["error_code"]), (401, "APIGW.0301"), "auth kind")
        eq(get_task(s)[0], 200, "then normal")
    finally:
        s.stop()


@test
def fault_slow_stalls_one_request_without_blocking_others():
    s = sim()
    try:
        s.fault("slow", seconds=4, count=1)
        import threading
        box = {}

        def slow():
            t0 = time.monotonic()
            box["st"] = get_task(s)[0]
            box["dt"] = time.monotonic() - t0
        th = threading.Thread(target=slow)
        th.start()
        wait_for(lambda: s.requests(), 5)
        t0 = time.monotonic()
        eq(get_task(s)[0], 200, "other request")
        # Well under the 4 s stall, with room for a busy machine.
        check(time.monotonic() - t0 < 2.0, "other request not blocked")
        check(not s.requests()[0]["done"], "stalled request is in flight")
        th.join(10)
        eq(box["st"], 200, "slow request answered")
        check(box["dt"] >= 3.9, "stalled %.2f s" % box["dt"])
    finally:
        s.stop()


@test
def fault_garbage_and_truncated_bodies_are_not_json():
    s = sim()
    try:
        s.fault("garbage", count=1)
        s.fault("truncated", count=1)
        st, _, b = get_task(s)
        check(st == 200 and isinstance(b, bytes), "garbage")
        st, _, b = get_task(s)
        check(st == 200 and isinstance(b, bytes) and b.startswith(b'{"clone_server"'),
              "truncated prefix: %r" % b[:40])
        s.fault("truncated", count=1, close=True)
        try:
            get_task(s)
            raise AssertionError("no transport error")
        except http.client.IncompleteRead:
            pass
        eq(get_task(s)[0], 200, "then normal")
    finally:
        s.stop()


@test
def fault_drop_closes_the_connection_without_answer():
    s = sim()
    try:
        s.fault("drop", count=1)
        try:
            get_task(s)
            raise AssertionError("answered")
        except (http.client.RemoteDisconnected, ConnectionError):
            pass
        eq(get_task(s)[0], 200, "then normal")
        eq([e["fault"] for e in s.requests()], ["drop", None], "log")
    finally:
        s.stop()


@test
def sim_restarts_on_the_same_port():
    s = sim()
    try:
        port = s.port
        s.stop()
        s.start()
        eq(s.port, port, "port")
        eq(get_task(s)[0], 200, "serving")
    finally:
        s.stop()


@test
def request_log_keeps_headers_but_not_authorization():
    s = sim()
    try:
        s.api("GET", "/v3/tasks/" + s.task_id, headers={"X-Project-Id": "p1"})
        e = s.requests()[-1]
        eq(e["headers"].get("x-project-id"), "p1", "header kept")
        check("authorization" not in e["headers"], "no Authorization")
        check("x-project-id" in e["signed_headers"], "signed headers listed")
    finally:
        s.stop()


@test
def fault_clock_skews_date_header_and_signature_window():
    s = sim()
    try:
        s.fault("clock", skew_seconds=600)
        st, h, _ = get_task(s)
        eq(st, 200, "10 min skew still accepted")
        import email.utils
        d = email.utils.parsedate_to_datetime(h["date"]).timestamp()
        check(abs(d - time.time() - 600) < 5, "Date is skewed: %s" % h["date"])
        s.fault("clock", skew_seconds=-1200)
        st, _, b = get_task(s)
        eq((st, b["error_code"]), (401, "APIGW.0303"), "20 min skew")
        s.clear_faults()
        eq(get_task(s)[0], 200, "cleared")
    finally:
        s.stop()


@test
def faults_never_apply_to_control_requests():
    s = sim()
    try:
        s.fault("500", count=1)
        s.task()
        s.requests()
        eq(len(s.faults()["faults"]), 1, "still queued")
        eq(get_task(s)[0], 500, "applies to the API")
    finally:
        s.stop()


@test
def request_log_since_returns_newer_entries():
    s = sim()
    try:
        get_task(s)
        n = s.last_seq()
        get_task(s)
        eq([e["seq"] for e in s.requests(since=n)], [n + 1], "since")
        s.reset_log()
        eq(s.requests(), [], "reset")
        get_task(s)
        eq(s.requests()[0]["seq"], n + 2, "seq keeps counting")
    finally:
        s.stop()


@test
def wrong_ca_is_refused_before_any_request():
    s = sim()
    try:
        ctx = ssl.create_default_context(cafile=s.wrong_ca_file)
        c = http.client.HTTPSConnection("127.0.0.1", s.port, context=ctx, timeout=5)
        try:
            c.request("GET", "/v3/tasks/" + s.task_id)
            raise AssertionError("wrong CA accepted")
        except ssl.SSLCertVerificationError:
            pass
        finally:
            c.close()
        wait_for(lambda: s.stats()["tls_failures"] == 1, 5)
        eq(s.requests(), [], "nothing reached the handler")
    finally:
        s.stop()


@test
def server_certificate_is_valid_for_localhost_and_ipv6_names():
    out = subprocess.run(["openssl", "x509", "-in", os.path.join(TLS, "server.crt"), "-noout",
                          "-ext", "subjectAltName"], stdout=subprocess.PIPE, text=True).stdout
    for name in ("IP Address:127.0.0.1", "IP Address:0:0:0:0:0:0:0:1", "DNS:localhost"):
        check(name in out, "%s in %s" % (name, out))


@test
def plain_http_mode_serves_the_same_api():
    s = sim(http=True)
    try:
        eq(s.url.split(":")[0], "http", "url")
        eq(get_task(s)[0], 200, "status")
    finally:
        s.stop()


# -- fake target and agent --------------------------------------------------------------------


@test
def fake_target_accepts_on_each_port_and_stops():
    ports = free_ports(2)
    tgt = FakeTarget("127.0.0.1", ports).start()
    for p in ports:
        socket.create_connection(("127.0.0.1", p), timeout=2).close()
    tgt.stop()
    try:
        socket.create_connection(("127.0.0.1", ports[0]), timeout=2).close()
        raise AssertionError("still listening")
    except ConnectionRefusedError:
        pass


@test
def fake_target_runs_inside_a_network_namespace():
    if os.geteuid() != 0 or not shutil.which("ip"):
        raise Skip("needs root and ip(8)")
    ns = "smssimtest%d" % os.getpid()
    if subprocess.run(["ip", "netns", "add", ns], stderr=subprocess.DEVNULL).returncode:
        raise Skip("cannot create a network namespace")
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        tgt = FakeTarget("127.0.0.1", [12022], netns=ns).start()
        try:
            r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c",
                                "import socket; socket.create_connection(('127.0.0.1', 12022),"
                                " timeout=2).close()"])
            eq(r.returncode, 0, "connect inside the namespace")
        finally:
            tgt.stop()
    finally:
        subprocess.run(["ip", "netns", "del", ns])


@test
def fake_agent_prompts_starts_linuxmain_and_shuts_down():
    s = sim([{"agent_timeout": 0, "ports_required": False}])
    agent = FakeAgent(os.path.join(s.tmpdir, "agent"), s).install()
    try:
        r = agent.start()
        eq(r.returncode, 0, "exit status: %s" % r.stdout)
        for prompt in ("(y/n)", "AK", "SK", "SMS domain name",
                       "sms agent starts up successfully"):
            check(prompt in r.stdout, "%r in output %r" % (prompt, r.stdout))
        check(s.sk not in r.stdout, "SK not echoed")
        pid = agent.pid()
        with open("/proc/%d/comm" % pid) as f:
            eq(f.read().strip(), "linuxmain", "comm")
        eq(os.readlink("/proc/%d/cwd" % pid), agent.home, "cwd is the agent home")
        eq(os.getsid(pid), pid, "own session")
        wait_for(lambda: s.task()["connected"], 5)
        r = agent.start()
        eq(r.returncode, 1, "second start refused while running")
        r = agent.shutdown()
        eq(r.returncode, 0, "shutdown")
        check(not agent.alive(), "stopped")
    finally:
        agent.stop()
        s.stop()


@test
def fake_agent_accepts_a_domain_answer_without_port():
    s = sim([{"agent_timeout": 0, "ports_required": False}])
    agent = FakeAgent(os.path.join(s.tmpdir, "agent"), s).install()
    try:
        r = agent.start(stdin=agent.answers(domain="127.0.0.1"))
        eq(r.returncode, 0, "exit: %s" % r.stdout)
        wait_for(lambda: s.task()["connected"], 5)
    finally:
        agent.stop()
        s.stop()


@test
def fake_agent_refuses_empty_or_negative_answers():
    s = sim()
    agent = FakeAgent(os.path.join(s.tmpdir, "agent"), s).install()
    try:
        for stdin in ("n\n", "y\n\nSK\nd\n", "y\nAK\n\nd\n", "y\nAK\nSK\n\n", ""):
            r = agent.start(stdin=stdin)
            eq(r.returncode, 1, "answers %r: %s" % (stdin, r.stdout))
            check(agent.pid() is None, "nothing started for %r" % stdin)
    finally:
        agent.stop()
        s.stop()


@test
def fake_agent_with_wrong_sk_fails_to_start():
    s = sim()
    agent = FakeAgent(os.path.join(s.tmpdir, "agent"), s).install()
    try:
        r = agent.start(stdin=agent.answers(sk="wrong"))
        eq(r.returncode, 1, "exit: %s" % r.stdout)
        check("SMS.0202" in r.stdout, "reason shown")
        wait_for(lambda: not agent.alive(), 5)
    finally:
        agent.stop()
        s.stop()


@test
def fake_agent_restart_replaces_the_process_and_kill_stops_heartbeats():
    s = sim([{"agent_timeout": 0, "ports_required": False}])
    agent = FakeAgent(os.path.join(s.tmpdir, "agent"), s).install()
    try:
        eq(agent.start().returncode, 0, "start")
        old = agent.pid()
        r = agent.restart()
        eq(r.returncode, 0, "restart: %s" % r.stdout)
        check(agent.pid() not in (None, old), "new pid")
        agent.kill()
        check(not agent.alive(), "killed")
        wait_for(lambda: not s.task()["connected"], 5, what="disconnected")
    finally:
        agent.stop()
        s.stop()


@test
def fake_agent_auto_recovery_resumes_when_target_is_back():
    p8900, = free_ports(1)
    s = sim([{"type": "MIGRATE_BLOCK", "ports": [8900], "port_map": {"8900": p8900},
              "fail_after": 0.5, "rate": 0.01}])
    agent = FakeAgent(os.path.join(s.tmpdir, "agent"), s, gprop={
        "auto_start_max_retry_times": 3, "auto_start_interval_seconds": 1,
        "auto_start_each_addition_seconds": 0}).install()
    tgt = FakeTarget("127.0.0.1", [p8900])
    try:
        eq(agent.start().returncode, 0, "agent")
        t = s.wait_task("MIGRATE_FAIL", timeout=10)
        eq(t["error_code"], "SMS.1807", "failed for 8900")
        tgt.start()
        s.wait_task("RUNNING", timeout=10)
        acts = s.agent_actions()
        eq([(a["status"], a["source"]) for a in acts][-1:], [(200, "agent")], "agent resumed")
        eq(s.actions("start"), [], "no signed start")
    finally:
        tgt.stop()
        agent.stop()
        s.stop()


@test
def fake_agent_auto_recovery_gives_up_after_max_retries():
    s = sim([{"simulate": False, "state": "MIGRATE_FAIL", "error_code": "SMS.2802",
              "os_type": "WINDOWS", "type": "MIGRATE_BLOCK",
              "port_map": dict(zip(("22", "8899", "8900"), free_ports(3)))}])
    agent = FakeAgent(os.path.join(s.tmpdir, "agent"), s, gprop={
        "auto_start_max_retry_times": 2, "auto_start_interval_seconds": 0.2,
        "auto_start_each_addition_seconds": 0.1}).install()
    try:
        eq(agent.start().returncode, 0, "agent")
        t = s.wait_task(lambda t: (t["agent_autostart"] or {}).get("exhausted"), timeout=10)
        eq(t["agent_autostart"]["retries"], 2, "retries")
        eq((t["state"], s.agent_actions()), ("MIGRATE_FAIL", []), "never resumed")
    finally:
        agent.stop()
        s.stop()


@test
def fake_agent_auto_recovery_is_off_by_default():
    s = sim([{"simulate": False, "state": "MIGRATE_FAIL", "error_code": "SMS.1807",
              "ports_required": False}])
    agent = FakeAgent(os.path.join(s.tmpdir, "agent"), s).install()
    try:
        eq(agent.start().returncode, 0, "agent")
        t = s.wait_task(lambda t: t["agent_autostart"] is not None, timeout=5)
        eq(t["agent_autostart"]["enabled"], False, "disabled")
        eq(s.agent_actions(), [], "no resume")
    finally:
        agent.stop()
        s.stop()


def main(argv):
    verbose = "-v" in argv
    names = [a for a in argv if not a.startswith("-")]
    tests = [t for t in TESTS if not names or any(n in t.__name__ for n in names)]
    print("1..%d" % len(tests), flush=True)
    failed = 0
    try:
        for i, t in enumerate(tests, 1):
            name = t.__name__.replace("_", " ")
            t0 = time.monotonic()
            try:
                t()
                print("ok %d - %s" % (i, name), flush=True)
            except Skip as e:
                print("ok %d - %s # SKIP %s" % (i, name, e), flush=True)
            except Exception:
                failed += 1
                print("not ok %d - %s" % (i, name), flush=True)
                for line in traceback.format_exc().rstrip().split("\n"):
                    print("# " + line, flush=True)
            if verbose:
                print("# %.2f s" % (time.monotonic() - t0), flush=True)
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
