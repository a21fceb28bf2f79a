#!/usr/bin/env python3
"""The fault matrix (issue 14): the rows no other suite covers, each asserting its outcome.

bench/FAULTS.md maps every row of the matrix to the suite and scenario that covers it; most
rows live beside the behaviour they break (test_cloud, test_watchers, test_recovery,
test_foundation, test_control). The real daemon (ASan in CI) against smssim, the fake target
and the fake agent, with intervals scaled down: probe every 100 ms, poll every second,
settle 1 s.

As root the suite runs in PID and mount namespaces of its own (so the fake agents are the only
linuxmain it sees, and the small file systems it mounts vanish with it); rows that need root
(network namespaces, mounts) are reported as SKIP without it.
"""

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402

harness.isolate_pids(__file__)

from harness import (TEST_AK, TEST_SK, NetNS, Skip, check, free_port, is_root,  # noqa: E402
                     main, run_cmd, scenario, wait_for)
from simctl import FakeAgent, FakeTarget, Sim  # noqa: E402

INTERVAL = 0.1  # s, [target] interval
FALL, RISE = 3, 2
SLACK = 1.0     # s: status polling, process start-up, a loaded machine under ASan


def tmpdir(ctx, prefix):
    d = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    ctx.cleanups.append(lambda: shutil.rmtree(d, ignore_errors=True))
    return d


def start_sim(ctx, tasks=None, **kw):
    """smssim over HTTPS with one frozen RUNNING task unless told otherwise."""
    sim = Sim(os.path.join(tmpdir(ctx, "sgfsim-"), "sim"), ak=TEST_AK, sk=TEST_SK,
              tasks=tasks or [{"simulate": False, "state": "RUNNING"}], **kw).start()
    ctx.cleanups.append(sim.stop)
    return sim


def cloud_daemon(ctx, sim, cloud=None, **sections):
    """A daemon polling sim's task every second; the probes point at a port nothing uses."""
    c = {"endpoint": sim.url, "ca_file": sim.ca_file, "timeout": "2s"}
    c.update(cloud or {})
    cfg = {"cloud": c, "task": {"id": sim.task_id, "poll": "1s", "poll_idle": "5s"}}
    cfg.update(sections)
    return ctx.daemon(config=cfg)


def api_requests(sim, since=0):
    return [e for e in sim.requests(since) if e["source"] == "api"]


def cloud(d):
    return d.status()["cloud"]


def wait_cloud(d, pred, what, timeout=15):
    return wait_for(lambda: (lambda c: c if pred(c) else None)(cloud(d)), timeout=timeout,
                    what=what)


def port_entry(d, port):
    for p in d.status()["target"]["ports"]:
        if p["port"] == port:
            return p
    return None


def wait_port(d, port, state, timeout=10, error=None):
    return wait_for(lambda: (lambda e: e if e and e["state"] == state
                             and (error is None or e["last_error"] == error) else None)(
        port_entry(d, port)), timeout=timeout, interval=0.02,
        what=f"port {port} {state}" + (f" ({error})" if error else ""))


def event_count(d, etype):
    return len([e for e in d.events() if e["type"] == etype])


def last_seq(d):
    return max((e.get("seq", 0) for e in d.events()), default=0)


def no_secret_in_log(d, *secrets):
    log = d.log()
    for s in (TEST_SK,) + secrets:
        check(s not in log, "a secret reached the log")


def load_nft(ns, table, rules):
    """A ruleset in the namespace, from a file (the one-line form needs ';' everywhere)."""
    ns.clear_rules()
    with tempfile.NamedTemporaryFile("w", suffix=".nft", delete=False) as f:
        f.write(f"table inet {table} {{\n  chain input {{\n"
                f"    type filter hook input priority 0;\n    {rules}\n  }}\n}}\n")
    try:
        ns.exec("nft", "-f", f.name)
    finally:
        os.unlink(f.name)
    ns.nft_table = table  # ns.clear_rules() deletes it


def need_netns():
    if not is_root() or not shutil.which("ip") or not shutil.which("nft"):
        raise Skip("needs root, iproute2 and nft for a network namespace")


# ------------------------------------------------------------------------------ the target

@scenario("target host unreachable (no route here, then ICMP from the far side): the port reads "
          "down as unreachable, target_down is raised, and it reads up once the host is back")
def _(ctx):
    need_netns()
    ns = NetNS(ctx, name="sgfu", subnet_prefix="10.215.%d" % random.randrange(1, 250))
    port = 18902
    tgt = FakeTarget(ns.target_ip, [port], netns=ns.name).start()
    ns.procs.append(tgt.proc)
    ctx.cleanups.append(tgt.stop)
    sim = start_sim(ctx)  # a running task: target_down is its early warning
    d = cloud_daemon(ctx, sim, target={"address": ns.target_ip, "ports": str(port),
                                       "interval": "100ms", "timeout": "200ms",
                                       "fall": FALL, "rise": RISE})
    d.start()
    wait_port(d, port, "up")
    wait_for(lambda: d.status()["task"].get("state") == "RUNNING", timeout=15,
             what="the running task polled")
    host_route = f"{ns.target_ip}/32"
    ctx.cleanups.append(lambda: run_cmd("ip", "route", "del", "unreachable", host_route,
                                        check_rc=False))
    for how in ("route", "icmp"):
        seq = last_seq(d)
        t0 = time.monotonic()
        if how == "route":
            # This host has no way there: connect() fails at once with EHOSTUNREACH.
            run_cmd("ip", "route", "add", "unreachable", host_route)
        else:
            # A router on the way says the host is unreachable (ICMP type 3 code 1).
            load_nft(ns, "sgfault", f"ip saddr {ns.host_ip} tcp dport {port} "
                     "reject with icmp type host-unreachable")
        wait_port(d, port, "down", error="unreachable")
        took = time.monotonic() - t0
        check(took <= FALL * INTERVAL + SLACK, f"{how}: down after {took:.2f} s")
        ev = d.wait_event("target_down", since_seq=seq)
        check(ev[0].get("port") == port or str(port) in ev[0]["message"], f"event {ev[0]}")
        check(d.status()["target"]["state"] == "down", f"{how}: target not down")
        if how == "route":
            run_cmd("ip", "route", "del", "unreachable", host_route)
        else:
            ns.clear_rules()
        p = wait_port(d, port, "up")
        check(p["last_error"] is None, f"{how}: last_error {p['last_error']!r} once up")
        d.wait_event("target_up", since_seq=ev[0]["seq"])
    d.stop()


# ------------------------------------------------------------------------------- the cloud

@scenario("connection cut mid-body: a transfer error, not an answer; the last snapshot is kept "
          "and polling recovers")
def _(ctx):
    sim = start_sim(ctx)
    sim.set_task(progress=37)
    d = cloud_daemon(ctx, sim).start()
    wait_for(lambda: d.status()["task"].get("progress") == 37, timeout=15,
             what="the task polled")
    seq = sim.last_seq()
    sim.fault("truncated", close=True, count=2)
    sim.set_task(progress=55)  # what the cut answers carried; never seen whole
    c = wait_cloud(d, lambda c: c["state"] == "unreachable" and c["last_error"], "a cut transfer")
    check("bad response" not in c["last_error"], f"a cut body was parsed: {c['last_error']!r}")
    check(d.status()["task"]["progress"] == 37, "a half answer replaced the snapshot")
    wait_for(lambda: [e for e in api_requests(sim, seq) if e["fault"] is None
                      and e["status"] == 200], timeout=20, what="a whole answer after the cuts")
    cut = [e for e in api_requests(sim, seq) if e["fault"] == "truncated"]
    check(len(cut) == 2, f"{len(cut)} cut answers")
    wait_for(lambda: d.status()["task"]["progress"] == 55, timeout=10, what="the new progress")
    c = wait_cloud(d, lambda c: c["state"] == "ok", "cloud ok again")
    check(c["errors"] >= 2, f"errors {c['errors']}")
    d.stop()


@scenario("a clock 20 minutes off: the gateway refuses (APIGW.0303); clock_skew and "
          "cloud_auth_failed are raised once, status says why, and the cloud is left alone")
def _(ctx):
    sim = start_sim(ctx)
    d = cloud_daemon(ctx, sim).start()
    wait_cloud(d, lambda c: c["state"] == "ok", "cloud ok")
    sim.fault("clock", skew_seconds=-1200)
    skew = d.wait_event("clock_skew", timeout=15)[0]
    check(abs(abs(skew.get("skew_seconds", 0)) - 1200) <= 5, f"skew in the event: {skew}")
    auth = d.wait_event("cloud_auth_failed", timeout=15)[0]
    check("APIGW.0303" in auth["message"], f"the refusal's code is not named: {auth}")
    c = wait_cloud(d, lambda c: c["state"] == "auth_failed", "auth_failed in status")
    check("APIGW.0303" in (c["last_error"] or ""), f"last_error {c['last_error']!r}")
    refused = [e for e in api_requests(sim) if e["error_code"] == "APIGW.0303"]
    check(len(refused) == 1, f"{len(refused)} refused requests, want 1 then silence")
    seq = refused[-1]["seq"]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        check(not api_requests(sim, seq), "a call after the gateway refused the clock")
        time.sleep(0.2)
    check(event_count(d, "clock_skew") == 1 and event_count(d, "cloud_auth_failed") == 1,
          "an event raised twice")
    d.stop()


class ConnectProxy:
    """A minimal HTTP CONNECT proxy on loopback that tunnels bytes and counts its tunnels."""

    def __init__(self, port):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.tunnels = []
        self.closed = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(c,), daemon=True).start()

    def _tunnel(self, c):
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 8192:
            chunk = c.recv(4096)
            if not chunk:
                c.close()
                return
            head += chunk
        line = head.split(b"\r\n", 1)[0].decode(errors="replace").split()
        if len(line) < 2 or line[0] != "CONNECT":
            c.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            c.close()
            return
        host, port = line[1].rsplit(":", 1)
        self.tunnels.append(line[1])
        try:
            up = socket.create_connection((host, int(port)), timeout=5)
        except OSError:
            c.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            c.close()
            return
        c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        rest = head.split(b"\r\n\r\n", 1)[1]
        if rest:
            up.sendall(rest)

        def pump(a, b):
            try:
                while True:
                    data = a.recv(65536)
                    if not data:
                        break
                    b.sendall(data)
            except OSError:
                pass
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        threading.Thread(target=pump, args=(up, c), daemon=True).start()
        pump(c, up)
        c.close()
        up.close()

    def close(self):
        self.closed = True
        self.sock.close()


@scenario("proxy down: nothing reaches the cloud, status names the proxy's refusal; once the "
          "proxy answers, every call goes through it")
def _(ctx):
    sim = start_sim(ctx)
    pport = free_port()
    d = cloud_daemon(ctx, sim, cloud={"proxy": f"http://127.0.0.1:{pport}"})
    for k in ("no_proxy", "NO_PROXY"):
        d.env.pop(k, None)
    d.start()
    c = wait_cloud(d, lambda c: c["state"] == "unreachable" and c["last_error"],
                   "unreachable through a closed proxy")
    check("connect: proxy: " in c["last_error"] and str(pport) in c["last_error"],
          f"last_error does not name the refused proxy: {c['last_error']!r}")
    check(f"connect: proxy: " in d.log(), "the log does not name the proxy")
    check(sim.requests() == [], "a request reached the cloud around the proxy")
    check(d.status()["task"].get("polled_at") is None, "a task was polled without the proxy")
    proxy = ConnectProxy(pport)
    ctx.cleanups.append(proxy.close)
    # A local signal (check) polls at once rather than waiting out the backoff.
    rc, out, err = d.ctl("check")
    check(rc == 0, f"check: {rc} {err}")
    wait_cloud(d, lambda c: c["state"] == "ok", "cloud ok through the proxy", timeout=20)
    check(proxy.tunnels and all(t == f"127.0.0.1:{sim.port}" for t in proxy.tunnels),
          f"tunnels {proxy.tunnels}")
    check(api_requests(sim) and all(e["status"] == 200 for e in api_requests(sim)),
          "the calls through the proxy were not all answered")
    d.stop()



@scenario("SMS API down: unreachable in status at once, cloud_unreachable raised once after a "
          "minute, calls back off, probes keep their cadence, polling resumes when it answers")
def _(ctx):
    sim = start_sim(ctx)
    port = free_port()
    tgt = FakeTarget("127.0.0.1", [port]).start()
    ctx.cleanups.append(tgt.stop)
    d = cloud_daemon(ctx, sim, target={"address": "127.0.0.1", "ports": str(port),
                                       "interval": "100ms", "timeout": "100ms"}).start()
    wait_cloud(d, lambda c: c["state"] == "ok", "cloud ok")
    wait_port(d, port, "up")
    probes0 = port_entry(d, port)["probes"]
    t0 = time.monotonic()
    sim.stop()  # nothing listens there now: every call is refused
    c = wait_cloud(d, lambda c: c["state"] == "unreachable" and "connect" in (c["last_error"] or ""),
                   "unreachable in status")
    check(c["errors"] >= 1, f"errors {c['errors']}")
    ev = d.wait_event("cloud_unreachable", timeout=90)
    took = time.monotonic() - t0
    # A minute after the first failed call (one poll after the stop), not a doubled wait later.
    check(58 <= took <= 75, f"cloud_unreachable {took:.0f} s after the API went down")
    check("connect" in ev[0]["message"], f"the event does not say why: {ev[0]['message']!r}")
    c = cloud(d)
    # 1 s doubling to 64 s in a minute: a handful of calls, not one a second.
    check(c["errors"] <= 10, f"{c['errors']} calls in {took:.0f} s: no backoff")
    probes = port_entry(d, port)["probes"] - probes0
    check(probes >= 0.5 * took / INTERVAL, f"{probes} probes in {took:.0f} s at {INTERVAL} s")
    check(port_entry(d, port)["state"] == "up", "the target suffered from the cloud's outage")
    sim.start()  # the same port again
    # The backoff is a minute long by now: a local signal (check) polls at once.
    rc, out, err = d.ctl("check")
    check(rc == 0, f"check: {rc} {err}")
    wait_cloud(d, lambda c: c["state"] == "ok", "cloud ok again")
    d.wait_log("the cloud answers again")
    check(event_count(d, "cloud_unreachable") == 1, "cloud_unreachable raised twice")
    d.stop()


def resolver_files(ctx, ns):
    """/etc/netns/NAME: what `ip netns exec` mounts over /etc inside the namespace.

    Names come from the hosts file, else from a name server on the namespace's own loopback
    where nothing listens: no query ever leaves the namespace (nsswitch without resolved or
    mdns, which would ask the host's resolver)."""
    etc = os.path.join("/etc/netns", ns.name)
    os.makedirs(etc)
    ctx.cleanups.append(lambda: shutil.rmtree(etc, ignore_errors=True))
    for name, text in (("resolv.conf", "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"),
                       ("nsswitch.conf", "hosts: files dns\n"),
                       ("hosts", "127.0.0.1 localhost\n")):
        with open(os.path.join(etc, name), "w") as f:
            f.write(text)
    return os.path.join(etc, "hosts")


@scenario("DNS failure for the endpoint: status says the name does not resolve, probes go on; "
          "polling resumes by itself once it resolves")
def _(ctx):
    need_netns()
    name = "sms.smssim.invalid"  # in the simulator's certificate; never sent to a DNS server
    ns = NetNS(ctx, name="sgfd", subnet_prefix="10.216.%d" % random.randrange(1, 250))
    hosts = resolver_files(ctx, ns)
    sim = start_sim(ctx, listen=ns.host_ip)
    d = cloud_daemon(ctx, sim, cloud={"endpoint": f"https://{name}:{sim.port}"},
                     target={"address": "127.0.0.1", "ports": "1", "interval": "100ms",
                             "timeout": "100ms"})
    d.prefix = ["ip", "netns", "exec", ns.name]  # the daemon lives in the namespace
    d.start()
    c = wait_cloud(d, lambda c: c["state"] == "unreachable" and "resolve" in (c["last_error"] or ""),
                   "a resolver failure in status")
    check(name in c["last_error"], f"last_error does not name the host: {c['last_error']!r}")
    check(sim.requests() == [], "a request reached the simulator without a name")
    wait_for(lambda: (port_entry(d, 1) or {}).get("probes", 0) >= 10, timeout=10,
             what="probes going on")
    with open(hosts, "a") as f:  # in place: the bind mount keeps the inode
        f.write(f"{ns.host_ip} {name}\n")
    wait_cloud(d, lambda c: c["state"] == "ok", "cloud ok once the name resolves", timeout=30)
    check(d.status()["task"].get("state") == "RUNNING", "the task was not polled")
    d.stop()


@scenario("credentials file replaced: a rotated key is refused (cloud_auth_failed), the new file "
          "is taken at reload and used at once; a loose new file is refused and the old kept")
def _(ctx):
    sim = start_sim(ctx)
    d = cloud_daemon(ctx, sim).start()
    wait_cloud(d, lambda c: c["state"] == "ok", "cloud ok")
    new_ak, new_sk = "ROTATEDAK7Q2W3E4R5T6", "rotatedSecretKey0123456789abcdefghijklmn"
    sim.set_keys(new_ak, new_sk)  # IAM: the old key is deleted
    d.wait_event("cloud_auth_failed", timeout=10)
    wait_cloud(d, lambda c: c["state"] == "auth_failed", "auth_failed")
    # The new file is written beside and renamed over the old one, as tools do.
    tmp = d.creds + ".new"
    with open(tmp, "w") as f:
        f.write(f"ak={new_ak}\nsk={new_sk}\n")
    os.chmod(tmp, 0o644)
    os.rename(tmp, d.creds)
    rc, out, err = d.ctl("reload")
    check(rc == 2 and "too open" in err, f"a loose credentials file was taken: {rc} {err!r}")
    check(cloud(d)["state"] == "auth_failed", "the refused reload changed the cloud state")
    os.chmod(d.creds, 0o600)
    seq = sim.last_seq()
    rc, out, err = d.ctl("reload")
    check(rc == 0, f"reload: {rc} {err!r}")
    # The 5-minute silence was for the old key: the new one is used at once.
    wait_cloud(d, lambda c: c["state"] == "ok", "cloud ok with the new key", timeout=10)
    after = api_requests(sim, seq)
    check(after and all(e["status"] == 200 and e["auth_error"] is None for e in after),
          f"calls after the reload: {[(e['status'], e['auth_error']) for e in after]}")
    d.wait_log("new credentials: the 401 silence is lifted")
    d.stop()
    no_secret_in_log(d, new_sk, new_ak)


@scenario("configuration reload with a broken file (cut mid-line, binary junk, a directory, "
          "gone): each refused with the reason, the old configuration keeps working")
def _(ctx):
    sim = start_sim(ctx)
    port = free_port()
    tgt = FakeTarget("127.0.0.1", [port]).start()
    ctx.cleanups.append(tgt.stop)
    d = cloud_daemon(ctx, sim, target={"address": "127.0.0.1", "ports": str(port),
                                       "interval": "100ms", "timeout": "100ms"},
                     recovery={"budget": "7/1h"}).start()
    wait_cloud(d, lambda c: c["state"] == "ok", "cloud ok")
    wait_port(d, port, "up")
    good = open(d.conf).read()
    cut = good[:good.index("[target]") + 12]  # "[target]\nadd": a key with no '='
    broken = [("cut mid-line", lambda: open(d.conf, "w").write(cut), f"{d.conf}:"),
              ("binary junk", lambda: open(d.conf, "wb").write(b"\x00\xff[daemon\x01\n" * 64),
               f"{d.conf}:"),
              ("a directory", lambda: (os.unlink(d.conf), os.mkdir(d.conf)), d.conf),
              ("gone", lambda: os.rmdir(d.conf), d.conf)]
    for what, breakit, where in broken:
        breakit()
        rc, out, err = d.ctl("reload")
        check(rc == 2 and where in err, f"{what}: reload said {rc} {err!r}")
    d.send_signal(signal.SIGHUP)  # the same refusal by signal, with the file still gone
    wait_for(lambda: d.log().count("reload failed, keeping the running configuration") >= 5,
             timeout=10, what="five refusals in the log")
    seq, probes = sim.last_seq(), port_entry(d, port)["probes"]
    st = d.status()
    check(st["recovery"]["budget"] == 7, f"the budget changed: {st['recovery']}")
    # Still working on the old configuration: polls every second, probes every 100 ms.
    wait_for(lambda: len(api_requests(sim, seq)) >= 3, timeout=10, what="three polls")
    wait_for(lambda: port_entry(d, port)["probes"] >= probes + 20, timeout=10,
             what="20 probes")
    with open(d.conf, "w") as f:
        f.write(good.replace("budget = 7/1h", "budget = 8/1h"))
    rc, out, err = d.ctl("reload")
    check(rc == 0 and d.status()["recovery"]["budget"] == 8, f"good reload: {rc} {err!r}")
    d.stop()


# One flooding client process: connects again and again, each time sending a burst of requests
# (some junk) and reading a little; prints how many connections it made.
FLOOD = r"""
import socket, sys, time
path, seconds = sys.argv[1], float(sys.argv[2])
burst = (b'{"cmd":"status"}\n{"cmd":"metrics"}\n{"cmd":"events","args":{"n":50}}\n'
         b'{not json\n{"cmd":"nope"}\n') * 4
n = 0
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(path)
        s.sendall(burst)
        s.recv(65536)
        n += 1
    except OSError:
        pass
    finally:
        s.close()
print(n)
"""


def fd_count(d):
    """The daemon's open descriptors; None where /proc hides them (it is not dumpable, so
    only root may look)."""
    try:
        return len(os.listdir(f"/proc/{d.proc.pid}/fd"))
    except PermissionError:
        return None


class AcceptLog:
    """A listener that accepts, notes the time and closes: the probes' cadence, seen from outside."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.times = []
        self.closed = False
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.times.append(time.monotonic())
            c.close()

    def between(self, a, b):
        return [t for t in self.times if a <= t <= b]

    def close(self):
        self.closed = True
        self.sock.close()


@scenario("control socket flood: probes keep their cadence and polls theirs while many clients "
          "hammer the socket; the daemon answers and frees everything afterwards")
def _(ctx):
    sim = start_sim(ctx)
    lst = AcceptLog()
    ctx.cleanups.append(lst.close)
    d = cloud_daemon(ctx, sim, target={"address": "127.0.0.1", "ports": str(lst.port),
                                       "interval": "100ms", "timeout": "100ms"}).start()
    wait_cloud(d, lambda c: c["state"] == "ok", "cloud ok")
    wait_port(d, lst.port, "up")
    fds = fd_count(d)
    seconds, seq = 8.0, sim.last_seq()
    t0, t0_wall = time.monotonic(), time.time()
    procs = [subprocess.Popen([sys.executable, "-c", FLOOD, d.socket, str(seconds)],
                              stdout=subprocess.PIPE, text=True) for _ in range(4)]
    for p in procs:
        ctx.cleanups.append(lambda p=p: p.poll() is None and (p.kill(), p.wait()))
    clients = sum(int(p.communicate(timeout=seconds + 60)[0] or 0) for p in procs)
    t1 = time.monotonic()
    seen = lst.between(t0 + 0.5, t1 - 0.5)
    span = (t1 - 0.5) - (t0 + 0.5)
    gaps = [b - a for a, b in zip(seen, seen[1:])]
    polls = [e for e in api_requests(sim, seq) if t0_wall <= e["time"] <= t0_wall + t1 - t0]
    print(f"# flood: {clients} clients in {t1 - t0:.1f} s; {len(seen)} probes in {span:.1f} s "
          f"(max gap {max(gaps) * 1000:.0f} ms); {len(polls)} polls", flush=True)
    check(clients >= 100, f"only {clients} clients: not a flood")
    check(len(seen) >= 0.6 * span / INTERVAL, f"{len(seen)} probes in {span:.1f} s")
    check(max(gaps) <= 10 * INTERVAL, f"a {max(gaps):.2f} s gap between probes")
    check(len(polls) >= 0.6 * (t1 - t0), f"{len(polls)} polls in {t1 - t0:.1f} s")
    check(d.try_status() is not None, "no status after the flood")
    if fds is not None:
        wait_for(lambda: fd_count(d) <= fds + 2, timeout=10, what="descriptors back")
    d.stop()


# ---------------------------------------------------------------------------- the state

def small_fs(ctx, path, size="256k"):
    """A tmpfs of its own at path (state_dir), gone with the suite's mount namespace."""
    if not is_root() or not harness.pids_isolated():
        raise Skip("needs root and a mount namespace of our own to mount a small file system")
    os.makedirs(path, mode=0o700, exist_ok=True)
    run_cmd("mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "sgfaults", path)
    ctx.cleanups.append(lambda: run_cmd("umount", "-l", path, check_rc=False))


def fill(path):
    """Writes a file in path until the file system is full."""
    fd = os.open(os.path.join(path, "filler"), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as e:
        check(e.errno == 28, f"filling {path}: {e}")  # ENOSPC
    finally:
        os.close(fd)


def saved(d):
    with open(os.path.join(d.state_dir, "state.json")) as f:
        return json.load(f)  # whole, or this raises


def state_fault(ctx, what, break_it, mend):
    """The state dir breaks (break_it) while a pause is made; the daemon goes on, says why,
    keeps the old file whole, and writes the pause once mend() gave the disk back."""
    d = ctx.daemon()
    small_fs(ctx, d.state_dir)
    d.start()
    wait_for(lambda: os.path.exists(os.path.join(d.state_dir, "state.json")), timeout=10,
             what="state.json written")
    break_it(d.state_dir)
    rc, out, err = d.ctl("pause")
    check(rc == 0 and d.status()["paused"] is True, f"pause: {rc} {err}")
    d.wait_log(f"cannot write {d.state_dir}/state.json: {what}")
    d.wait_log("the state is kept in memory")
    check(saved(d)["recovery"].get("paused") is not True, "the failed write reached the file")
    # Keeps running: status, probes and more failed writes (warned once, not every second).
    probes = port_entry(d, 1)["probes"]
    wait_for(lambda: port_entry(d, 1)["probes"] >= probes + 10, timeout=10, what="probes")
    check(d.log().count("cannot write") == 1, "the same failure was logged more than once")
    mend(d.state_dir)
    # Written again by itself, with no new change to prompt it.
    wait_for(lambda: saved(d)["recovery"].get("paused") is True, timeout=10,
             what="the pause written once the disk allows")
    d.wait_log(f"wrote {d.state_dir}/state.json again")
    d.kill9()
    d.start()
    check(d.status()["paused"] is True, "the pause was lost across kill -9")
    d.stop()


@scenario("state directory full: a clear error, the daemon keeps running on its state in memory, "
          "the file stays whole, and the state is written by itself once space returns")
def _(ctx):
    state_fault(ctx, "No space left on device", fill,
                lambda path: os.unlink(os.path.join(path, "filler")))


@scenario("state directory read-only: a clear error, the daemon keeps running, and the state is "
          "written by itself once the directory is writable again")
def _(ctx):
    state_fault(ctx, "Read-only file system",
                lambda path: run_cmd("mount", "-o", "remount,ro", path),
                lambda path: run_cmd("mount", "-o", "remount,rw", path))


# ------------------------------------------------------------- a migration with an agent

TASK_ID = "6a1e0c3d-4b2f-4e8a-9d7c-5f3b2a1c0e99"


class World:
    """smssim with one simulated RUNNING task, its target port on loopback, the fake agent
    (started) and a daemon pointed at all three. The link is cut by stopping the target."""

    def __init__(self, ctx, task=None, agent=None, recovery=None):
        if is_root() and not harness.pids_isolated():
            raise Skip("no PID namespace of our own: another linuxmain could be watched")
        self.ctx = ctx
        tmp = tmpdir(ctx, "sgfw-")
        self.port = free_port()
        self.tgt = None
        self.restore()
        t = {"id": TASK_ID, "type": "MIGRATE_FILE", "os_type": "LINUX", "state": "RUNNING",
             "migration_ip": "127.0.0.1", "port_map": {"22": self.port}, "rate": 0.3,
             "fail_after": 1.0, "agent_timeout": 0,
             "source_server": {"id": "5c3e1a2b-0d4f-4a6b-8c9d-7e0f1a2b3c4d", "ip": "127.0.0.1",
                               "name": "faultsrc"}}
        t.update(task or {})
        self.sim = Sim(os.path.join(tmp, "sim"), ak=TEST_AK, sk=TEST_SK, tasks=[t]).start()
        ctx.cleanups.append(self.sim.stop)
        self.agent = FakeAgent(os.path.join(tmp, "SMS-Agent"), self.sim, task_id=TASK_ID)
        self.agent.install()
        ctx.cleanups.append(self.agent.stop)
        r = self.agent.start()
        check(r.returncode == 0, f"startup.sh failed: {r.stdout}")
        a = {"process": "linuxmain", "restart": "never", "restart_timeout": "20s"}
        a.update(agent or {})
        rec = {"settle": "1s", "budget": "6/1h", "backoff": "1s..4s", "confirm": "5s"}
        rec.update(recovery or {})
        self.d = ctx.daemon(config={
            "cloud": {"endpoint": self.sim.url, "ca_file": self.sim.ca_file, "timeout": "2s"},
            "task": {"id": TASK_ID, "poll": "1s", "poll_idle": "5s"},
            "target": {"address": "127.0.0.1", "ports": str(self.port), "interval": "100ms",
                       "timeout": "200ms", "fall": FALL, "rise": RISE},
            "agent": a, "recovery": rec})

    def cut(self):
        self.tgt.stop()

    def restore(self):
        self.tgt = FakeTarget("127.0.0.1", [self.port]).start()
        self.ctx.cleanups.append(self.tgt.stop)

    def steady(self, timeout=20):
        return wait_for(lambda: (lambda s: s if s["task"].get("state") == "RUNNING"
                                 and s["target"]["state"] == "up"
                                 and s["agent"]["state"] == "running" else None)(
            self.d.status()), timeout=timeout, what="RUNNING task, target up, agent running")

    def starts(self, since=0):
        return self.sim.actions("start", since)

    def polls(self, since=0):
        return [e for e in self.sim.requests(since) if e["api"] == "ShowTask"]

    def wait_polls(self, n, since, timeout=20):
        wait_for(lambda: len(self.polls(since)) >= n, timeout=timeout, what=f"{n} task polls")


@scenario("agent hung (SIGSTOP): not taken for dead nor restarted, its task's failure not resumed "
          "into it; once it runs again (SIGCONT) the task is resumed once")
def _(ctx):
    w = World(ctx, task={"agent_timeout": 2.0}, agent={"restart": "when-dead"})
    w.d.start()
    w.steady()
    seq0, ev0 = w.sim.last_seq(), last_seq(w.d)
    pid = w.agent.pid()
    os.kill(pid, signal.SIGSTOP)
    ctx.cleanups.append(lambda: w.agent.pid() and os.kill(pid, signal.SIGCONT))
    # No heartbeat: SMS fails the task with SMS.0807 (a network code).
    w.sim.wait_task("MIGRATE_FAIL", timeout=15)
    wait_for(lambda: w.d.status()["task"].get("state") == "MIGRATE_FAIL", timeout=10,
             what="smsguard sees MIGRATE_FAIL")
    w.wait_polls(6, w.sim.last_seq(), timeout=30)
    st = w.d.status()
    check(w.starts(seq0) == [], f"resumed into a stopped agent: {len(w.starts(seq0))} starts")
    check(st["agent"]["pid"] == pid and st["agent"]["restarts"] == 0,
          f"a stopped agent was taken for dead: {st['agent']}")
    check(w.agent.pid() == pid, "the stopped agent was replaced")
    check("stopped" in st["recovery"]["reason"], f"reason {st['recovery']['reason']!r}")
    os.kill(pid, signal.SIGCONT)
    wait_for(lambda: w.starts(seq0), timeout=20, what="a start once the agent runs again")
    w.sim.wait_task("RUNNING", timeout=10)
    w.d.wait_event("task_running", since_seq=ev0, timeout=15)
    w.wait_polls(3, w.sim.last_seq())
    check(len(w.starts(seq0)) == 1, f"{len(w.starts(seq0))} starts")
    w.d.stop()


@scenario("agent restart script failing: each failure reported, attempts spaced by the backoff "
          "and held to the budget, exhausted once; after a fixed config and resume it works")
def _(ctx):
    w = World(ctx, agent={"restart": "when-dead"},
              recovery={"budget": "3/1h", "backoff": "1s..2s"})
    # startup.sh reaches SMS with a wrong SK: SMS.0202, exit 1.
    w.d.update({"agent": {"restart_answers": "y\\n{ak}\\nnotTheSecretKey\\n" + w.sim.domain}})
    w.d.start()
    w.steady()
    ev0 = last_seq(w.d)
    w.agent.kill()
    ex = w.d.wait_event("recovery_exhausted", since_seq=ev0, timeout=60)
    a = w.d.status()["agent"]
    check(a["state"] == "dead" and a["last_restart"]["result"] == "failed",
          f"agent after failed restarts: {a}")
    check(a["restarts"] == 3, f"{a['restarts']} attempts, budget 3")
    fails = [e for e in w.d.events() if e["seq"] > ev0 and e["type"] == "agent_down"
             and "restart failed" in e["message"]]
    check(len(fails) >= 2, f"failed restarts not reported: {[e['message'] for e in fails]}")
    times = [e["time_ms"] / 1000 for e in fails]
    check(all(b - a >= 0.9 for a, b in zip(times, times[1:])), f"no backoff: {times}")
    time.sleep(3)  # the window for a fourth attempt, had the budget not held it
    check(w.d.status()["agent"]["restarts"] == 3, "a restart past the budget")
    check(len(ex) == 1 and event_count(w.d, "recovery_exhausted") == 1,
          "recovery_exhausted not raised exactly once")
    # A person fixes the answers and resumes: the next restart works.
    w.d.update({"agent": {"restart_answers": "y\\n{ak}\\n{sk}\\n" + w.sim.domain}})
    w.d.write_config()
    rc, out, err = w.d.ctl("reload")
    check(rc == 0, f"reload: {rc} {err}")
    rc, out, err = w.d.ctl("resume")
    check(rc == 0, f"resume: {rc} {err}")
    wait_for(lambda: (lambda a: a if a["state"] == "running" and a["last_restart"]
                      and a["last_restart"]["result"] == "ok" else None)(w.d.status()["agent"]),
             timeout=45, what="the agent restarted with the right answers")
    check(w.agent.alive(), "no linuxmain after the good restart")
    w.d.stop()
    no_secret_in_log(w.d, "notTheSecretKey")


def kill_mid_writes(d, seconds):
    """Pause and resume as fast as the daemon answers (a state write each) and kill -9 it
    whenever its temp file shows a write under way; state.json must read whole every time.
    Returns how many kills found a write under way."""
    path = os.path.join(d.state_dir, "state.json")
    tmp = os.path.join(d.state_dir, ".state.json.tmp")
    stop = threading.Event()

    def toggle():
        i = 0
        while not stop.is_set():
            try:
                d.request({"cmd": "pause" if i % 2 == 0 else "resume"}, timeout=1)
            except OSError:
                time.sleep(0.01)  # between a kill and the new socket
            i += 1
    th = threading.Thread(target=toggle, daemon=True)
    th.start()
    torn = 0
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            spin = time.monotonic() + 2
            while not os.path.exists(tmp) and time.monotonic() < spin:
                pass
            d.kill9()
            torn += os.path.exists(tmp)
            saved(d)
            d.start()
    finally:
        stop.set()
        th.join()
    check(saved(d)["version"] == 1, "state.json unreadable after the kills")
    check(not os.path.exists(path + ".corrupt"), "a kill left a torn state.json")
    return torn


@scenario("kill -9 during state writes (a storm of them, then at random while the link flaps): "
          "state.json is always whole, no start is repeated, and recovery still completes")
def _(ctx):
    seed = int(os.environ.get("SMSGUARD_SEED", time.time()))
    rnd = random.Random(seed)
    print(f"# seed {seed} (SMSGUARD_SEED)", flush=True)
    w = World(ctx, recovery={"budget": "100/1h", "backoff": "1s..2s"})
    d = w.d
    d.start()
    w.steady()
    torn = kill_mid_writes(d, seconds=8)
    print(f"# {torn} kills with a write under way", flush=True)
    check(torn >= 1, "no kill landed during a write")
    d.ctl("resume")
    w.steady()
    t0, seq0 = time.time(), w.sim.last_seq()
    stop = threading.Event()
    ctx.cleanups.append(stop.set)

    def flap():  # down long enough for SMS to fail the task (fail_after 1 s), then back
        while not stop.is_set():
            w.cut()
            stop.wait(2.0)
            w.restore()
            stop.wait(rnd.uniform(3.0, 5.0))
    flapper = threading.Thread(target=flap, daemon=True)
    flapper.start()
    path = os.path.join(d.state_dir, "state.json")
    kills = mid_write = 0
    end = time.monotonic() + 30
    while time.monotonic() < end:
        time.sleep(rnd.uniform(0.05, 2.5))
        d.kill9()
        kills += 1
        mid_write += os.path.exists(os.path.join(d.state_dir, ".state.json.tmp"))
        if os.path.exists(path):
            doc = saved(d)
            check({"version", "events", "recovery"} <= set(doc), f"state.json lacks keys: {doc}")
        d.start(wait=False)
    stop.set()
    flapper.join()
    d.start() if d.proc.poll() is not None else wait_for(d.try_status, timeout=15,
                                                           what="the daemon's socket")
    # Liveness: the last failure (if any) is resumed once the kills stop.
    w.steady(timeout=40)
    w.wait_polls(3, w.sim.last_seq())
    hist = [h for h in w.sim.task()["history"] if h["time"] >= t0]
    fails = [h for h in hist if h["to"] == "MIGRATE_FAIL"]
    resumed = [h for h in hist if h["to"] == "RUNNING" and h["by"] == "api"]
    starts = w.starts(seq0)
    print(f"# {kills} kills ({mid_write} during a write), {len(fails)} failures, "
          f"{len(starts)} starts", flush=True)
    check(len(fails) >= 3, f"only {len(fails)} failures: the link did not flap")
    check(len(starts) >= 1, "no start at all: nothing was recovered under the kills")
    # A start that found the task not failed was a repeat: it moved nothing.
    check(len(starts) == len(resumed), f"{len(starts)} starts, {len(resumed)} of them resumed "
          "a failed task: an action was repeated")
    check(len(resumed) <= len(fails), f"{len(resumed)} resumes for {len(fails)} failures")
    check(not os.path.exists(path + ".corrupt") and "not valid JSON" not in d.log(),
          "a kill left a torn state.json")
    d.stop()


if __name__ == "__main__":
    main()
