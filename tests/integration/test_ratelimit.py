#!/usr/bin/env python3
"""Rate-limit schedule scenarios: the real daemon keeps the task's speed limit in step (issue 10).

Each scenario runs its own simulator (a frozen RUNNING task) and daemon. The host's zone is the
daemon's TZ: UTC, or a fixed offset chosen so that the local day ends a few seconds after the
start, which drives a real day boundary without touching the clock. What the task holds is read
from the simulator; what was sent, from its request log.
"""

import tempfile
import time

import harness

harness.isolate_pids(__file__)

from harness import check, main, scenario, wait_for  # noqa: E402
from simctl import Sim  # noqa: E402

DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
# A different whole-day limit on each weekday: any day boundary changes the limit.
WEEK = ", ".join(f"{d} 00:00-24:00 {10 * (i + 1)}" for i, d in enumerate(DAYS))


def start_sim(ctx, **task):
    tmp = tempfile.mkdtemp(prefix="sgsim-", dir="/tmp")
    t = {"simulate": False, "state": "RUNNING"}
    t.update(task)
    sim = Sim(tmp, ak=harness.TEST_AK, sk=harness.TEST_SK, tasks=[t]).start()
    ctx.cleanups.append(sim.stop)
    return sim


def daemon(ctx, sim, schedule, tz="UTC", ratelimit=None, poll_idle="30s", name="d"):
    rl = {"schedule": schedule, "apply": "cloud"}
    rl.update(ratelimit or {})
    return ctx.daemon(name=name, env={"TZ": tz}, config={
        "cloud": {"endpoint": sim.url, "ca_file": sim.ca_file, "timeout": "2s"},
        "task": {"id": sim.task_id, "poll": "1s", "poll_idle": poll_idle},
        "ratelimit": rl,
    })


def speed_calls(sim, kind=None, since=0):
    apis = {"get": ("ShowsSpeedLimits",), "post": ("UpdateSpeed",), None: (
        "ShowsSpeedLimits", "UpdateSpeed")}[kind]
    return [e for e in sim.requests(since) if e["source"] == "api" and e["api"] in apis]


def held(sim):
    return [(p["start"], p["end"], p["speed"]) for p in sim.task()["speed_limits"]]


def wait_held(sim, want, timeout=20):
    return wait_for(lambda: held(sim) == want, timeout=timeout, what=f"the task to hold {want}")


def events_of(d, etype):
    return [e for e in d.events() if e["type"] == etype]


@scenario("the day's periods appear in the simulator with the threshold, and status shows them")
def _(ctx):
    sim = start_sim(ctx)
    d = daemon(ctx, sim, "daily 00:00-08:00 20, daily 08:00-18:00 50",
               ratelimit={"over_speed_threshold": "25"}).start()
    wait_held(sim, [("00:00", "08:00", 20), ("08:00", "18:00", 50)])
    body = speed_calls(sim, "post")[0]["body"]
    check(all(p.get("over_speed_threshold") == 25 for p in body["speed_limit"]),
          f"threshold not sent: {body}")
    rl = wait_for(lambda: (lambda r: r if r["applied"] else None)(d.status()["ratelimit"]),
                  timeout=10, what="applied in status")
    hour = time.gmtime().tm_hour
    want = 20 if hour < 8 else 50 if hour < 18 else 0
    check(rl["current_mbps"] == want or time.gmtime().tm_hour != hour,
          f"current_mbps {rl['current_mbps']} at {hour}h UTC")
    check(rl["today"] == [{"start": "00:00", "end": "08:00", "mbps": 20},
                          {"start": "08:00", "end": "18:00", "mbps": 50}], f"today {rl['today']}")
    check(rl["apply"] == "cloud" and rl["over_speed_threshold"] == 25, f"status {rl}")
    check(rl["next_change"] is not None and rl["next_change"] > time.time(), f"next {rl}")
    ev = d.wait_event("ratelimit_applied")[0]
    check("00:00-08:00 20 Mbit/s" in ev["message"], f"event {ev}")
    text = d.ctl("status")[1]
    check("ratelimit" in text and "applied" in text, f"smsguardctl status:\n{text}")
    m = d.ctl("metrics")[1]
    check(f"smsguard_ratelimit_mbps {want}" in m or time.gmtime().tm_hour != hour,
          "smsguard_ratelimit_mbps")


@scenario("a restart of smsguard reads the limit and makes no second POST")
def _(ctx):
    sim = start_sim(ctx)
    d = daemon(ctx, sim, "daily 09:00-17:00 40").start()
    wait_held(sim, [("09:00", "17:00", 40)])
    d.stop()
    seq = sim.last_seq()
    d.start()
    wait_for(lambda: speed_calls(sim, "get", since=seq), timeout=15, what="a GET after restart")
    wait_for(lambda: d.status()["ratelimit"]["applied"], timeout=10, what="applied again")
    time.sleep(2)
    check(len(speed_calls(sim, "post")) == 1, f"POSTs: {speed_calls(sim, 'post')}")


@scenario("a change made in the console is put back at the next check and reported")
def _(ctx):
    sim = start_sim(ctx)
    d = daemon(ctx, sim, "daily 09:00-17:00 40", poll_idle="2s").start()
    wait_held(sim, [("09:00", "17:00", 40)])
    sim.set_task(speed_limits=[{"start": "0:00", "end": "23:59", "speed": 5}])
    wait_held(sim, [("09:00", "17:00", 40)], timeout=15)
    ev = wait_for(lambda: [e for e in events_of(d, "ratelimit_applied") if e.get("replaced")],
                  timeout=10, what="ratelimit_applied with what it replaced")[0]
    check(ev["replaced"] == [{"start": "00:00", "end": "23:59", "mbps": 5}], f"event {ev}")
    check("the task held 00:00-23:59 5 Mbit/s" in ev["message"], ev["message"])
    # Periodic checks with nothing changed read, and do not write.
    n = len(speed_calls(sim, "post"))
    seq = sim.last_seq()
    wait_for(lambda: len(speed_calls(sim, "get", since=seq)) >= 2, timeout=15,
             what="two more periodic reads")
    check(len(speed_calls(sim, "post")) == n, "a POST without a change")


def tz_ending_day_in(seconds):
    """A POSIX TZ whose local time is `seconds` before midnight now (offset within ±12 h)."""
    now = int(time.time())
    off = (86400 - seconds - now % 86400) % 86400
    if off > 43200:
        off -= 86400
    sign = "-" if off >= 0 else "+"  # POSIX: TZ=XXX-3 is three hours ahead of UTC
    a = abs(off)
    return f"SGT{sign}{a // 3600:02d}:{a % 3600 // 60:02d}:{a % 60:02d}", off


@scenario("at the local day boundary the next day's periods are pushed")
def _(ctx):
    sim = start_sim(ctx)
    tz, off = tz_ending_day_in(25)
    d = daemon(ctx, sim, WEEK, tz=tz).start()
    today = time.gmtime(time.time() + off).tm_wday
    want_today = 10 * (today + 1)
    want_next = 10 * ((today + 1) % 7 + 1)
    wait_held(sim, [("00:00", "23:59", want_today)], timeout=15)
    rl = d.status()["ratelimit"]
    midnight = (int(time.time()) + off) // 86400 * 86400 + 86400 - off
    check(abs(rl["next_change"] - midnight) <= 1, f"next_change {rl['next_change']} vs {midnight}")
    check(rl.get("next_mbps") == want_next, f"next_mbps {rl}")
    wait_held(sim, [("00:00", "23:59", want_next)], timeout=45)
    posts = speed_calls(sim, "post")
    check(len(posts) == 2, f"{len(posts)} POSTs")
    lag = posts[1]["time"] - midnight
    check(0 <= lag < 5, f"the next day's periods {lag:.1f} s after midnight")
    evs = events_of(d, "ratelimit_applied")
    check(len(evs) == 2 and "(day)" in evs[1]["message"], f"events {evs}")


@scenario("a refused POST is reported once and tried again only when the schedule changes")
def _(ctx):
    sim = start_sim(ctx, speed_limit_refuse="SMS.6102")
    d = daemon(ctx, sim, "daily 09:00-17:00 40", poll_idle="2s").start()
    ev = d.wait_event("ratelimit_failed", timeout=15)[0]
    check("SMS.6102" in ev["message"] and ev.get("error_code") == "SMS.6102", f"event {ev}")
    time.sleep(6)  # three periodic checks' worth
    check(len(speed_calls(sim, "post")) == 1, f"POSTs: {len(speed_calls(sim, 'post'))}")
    check(len(events_of(d, "ratelimit_failed")) == 1, "reported more than once")
    rl = d.status()["ratelimit"]
    check(not rl["applied"] and "SMS.6102" in (rl["error"] or ""), f"status {rl}")
    sim.set_task(speed_limit_refuse=None)
    d.update({"ratelimit": {"schedule": "daily 09:00-17:00 45"}})
    d.write_config()
    d.ctl("reload")
    wait_held(sim, [("09:00", "17:00", 45)], timeout=15)


@scenario("a schedule in another zone is projected onto the host's day")
def _(ctx):
    sim = start_sim(ctx)
    # 08:00-18:00 in Shanghai (UTC+8, no DST) is 00:00-10:00 on a UTC host.
    d = daemon(ctx, sim, "daily 08:00-18:00 50", ratelimit={"timezone": "Asia/Shanghai"}).start()
    wait_held(sim, [("00:00", "10:00", 50)])
    rl = d.status()["ratelimit"]
    check(rl["timezone"] == "Asia/Shanghai", f"status {rl}")
    check(rl["today"] == [{"start": "00:00", "end": "10:00", "mbps": 50}], f"today {rl['today']}")
    hour = (time.gmtime().tm_hour + 8) % 24  # Shanghai's hour: the window is in its time
    if 8 <= hour < 18 and time.gmtime().tm_min < 59:
        check(rl["window"] == "08:00-18:00" and rl["current_mbps"] == 50, f"status {rl}")


@scenario("apply = off never touches the task's speed limit but status shows the schedule")
def _(ctx):
    sim = start_sim(ctx)
    d = daemon(ctx, sim, WEEK, ratelimit={"apply": "off"}).start()
    wait_for(lambda: d.status()["task"].get("polled_at"), timeout=15, what="a polled task")
    time.sleep(2)
    check(speed_calls(sim) == [], "speed-limit calls with apply = off")
    rl = d.status()["ratelimit"]
    wday = time.gmtime().tm_wday
    check(rl["apply"] == "off" and not rl["applied"], f"status {rl}")
    check(rl["current_mbps"] in (10 * (wday + 1), 10 * ((wday + 1) % 7 + 1)), f"status {rl}")


if __name__ == "__main__":
    main()
