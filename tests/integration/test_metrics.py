#!/usr/bin/env python3
"""Metrics a real Prometheus accepts (issue 11): the daemon against smssim.

`smsguardctl metrics` goes through `promtool check metrics` (Debian 12's prometheus package);
the `[metrics] textfile` is served by a real prometheus-node-exporter with only its textfile
collector, on a free loopback port, and scraped over HTTP; the Grafana dashboard queries only
what smsguard writes. Both tools come with `make deps`: a scenario skips only when one is
missing, and says so.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request

import harness

# A linuxmain of another run on this machine must not be taken for this suite's agent.
harness.isolate_pids(__file__)

from harness import Fail, Skip, check, main, scenario, wait_for  # noqa: E402
from simctl import Sim  # noqa: E402

SRCDIR = harness.SRCDIR
DASHBOARD = os.path.join(SRCDIR, "examples", "grafana", "smsguard-fleet.json")

# DESIGN.md §5.9 and the additions the fleet view reads.
FAMILIES = {
    "smsguard_up": "gauge",
    "smsguard_build_info": "gauge",
    "smsguard_health": "gauge",
    "smsguard_paused": "gauge",
    "smsguard_target_port_up": "gauge",
    "smsguard_target_port_latency_seconds": "gauge",
    "smsguard_agent_up": "gauge",
    "smsguard_task_state": "gauge",
    "smsguard_task_progress_ratio": "gauge",
    "smsguard_task_speed_mbps": "gauge",
    "smsguard_task_remaining_seconds": "gauge",
    "smsguard_actions_total": "counter",
    "smsguard_last_action_timestamp_seconds": "gauge",
    "smsguard_recovery_exhausted": "gauge",
    "smsguard_cloud_state": "gauge",
    "smsguard_cloud_requests_total": "counter",
    "smsguard_ratelimit_mbps": "gauge",
}
TASK_STATES = ["unknown", "READY", "RUNNING", "SYNCING", "MIGRATE_SUCCESS", "SYNC_SUCCESS",
               "MIGRATE_FAIL", "SYNC_FAIL", "ABORTING", "ABORT", "SKIPPING", "DELETING",
               "RESETING"]
CLOUD_APIS = ["show_task", "list_tasks", "list_sources", "task_action", "show_speed_limit",
              "update_speed_limit", "smn_publish"]
CLOUD_RESULTS = ["ok", "client_error", "auth", "throttled", "server_error", "bad_response",
                 "timeout", "connect", "tls", "resolve", "too_large", "other"]

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def parse(text):
    """Exposition text -> {family: {"help", "type", "samples": {labels tuple: value}}}."""
    fams = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line:
            continue
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            _, kind, name, rest = (line.split(" ", 3) + [""])[:4]
            f = fams.setdefault(name, {"help": None, "type": None, "samples": {}})
            check(f[kind.lower()] is None, f"line {n}: a second {kind} for {name}")
            check(not f["samples"], f"line {n}: {kind} after {name}'s samples")
            f[kind.lower()] = rest
            continue
        check(not line.startswith("#"), f"line {n}: an unexpected comment {line!r}")
        m = SAMPLE.match(line)
        check(m, f"line {n}: not a sample: {line!r}")
        name, labels, value = m.groups()
        pairs = []
        pos = 0
        while labels and pos < len(labels):
            lm = LABEL.match(labels, pos)
            check(lm, f"line {n}: bad labels {labels!r}")
            pairs.append((lm.group(1), lm.group(2)))
            pos = lm.end()
        f = fams.get(name)
        if f is None:  # a summary's or histogram's _sum, _count, _bucket (node_exporter's own)
            base = re.sub(r"_(sum|count|bucket)$", "", name)
            f = fams.get(base) if fams.get(base, {}).get("type") in ("summary", "histogram") \
                else None
            pairs.append(("__name__", name))
        check(f is not None and f["type"] is not None, f"line {n}: {name} has no TYPE before it")
        key = tuple(sorted(pairs))
        check(key not in f["samples"], f"line {n}: {name}{labels or ''} twice")
        f["samples"][key] = float(value)
    return fams


def smsguard_families(fams):
    return {k: v for k, v in fams.items() if k.startswith("smsguard_")}


def label_values(fam, label):
    return {dict(k)[label] for k in fam["samples"]}


def onehot(fam, label):
    """The one value set in a one-hot family."""
    on = [dict(k)[label] for k, v in fam["samples"].items() if v == 1]
    check(len(on) == 1 and sum(fam["samples"].values()) == 1, f"not one-hot: {fam['samples']}")
    return on[0]


def start_sim(ctx, **task):
    tmp = tempfile.mkdtemp(prefix="sgsim-", dir="/tmp")
    t = {"simulate": False, "state": "RUNNING"}
    t.update(task)
    sim = Sim(tmp, ak=harness.TEST_AK, sk=harness.TEST_SK, tasks=[t]).start()
    ctx.cleanups.append(sim.stop)
    return sim


def start_daemon(ctx, sim, textfile=True, ports=None, timeout="2s"):
    d = ctx.daemon(config={
        "cloud": {"endpoint": sim.url, "ca_file": sim.ca_file, "timeout": timeout},
        "task": {"id": sim.task_id, "poll": "1s", "poll_idle": "5s"},
        # A sink, so that the notify families have their series (nothing listens on port 9:
        # its deliveries fail and are counted, which is what the families are for).
        "notify": {"webhook": "http://127.0.0.1:9/hook"},
    })
    if ports:
        d.update({"target": {"ports": ports}})
    if textfile:
        d.textdir = os.path.join(d.dir, "node-exporter")
        os.mkdir(d.textdir)
        os.chmod(d.textdir, 0o755)
        d.textfile = os.path.join(d.textdir, "smsguard.prom")
        d.update({"metrics": {"textfile": d.textfile}})
    d.start()
    return d


def polled(d, state="RUNNING"):
    """Waits until status shows the task polled in `state`; returns status."""
    return wait_for(lambda: (lambda s: s if s["task"].get("polled_at") and
                             s["task"]["state"] == state and s["cloud"]["state"] == "ok"
                             else None)(d.status()),
                    timeout=20, what=f"the task polled in {state}")


def metrics(d):
    rc, out, err = d.ctl("metrics")
    check(rc == 0, f"smsguardctl metrics: rc {rc}: {err}")
    return out


def tool(*names):
    for n in names:
        p = shutil.which(n)
        if p:
            return p
    raise Skip(f"{' / '.join(names)} not installed (make deps installs it)")


class NodeExporter:
    """prometheus-node-exporter with only the textfile collector, on a loopback port."""

    def __init__(self, ctx, directory):
        self.bin = tool("prometheus-node-exporter", "node_exporter")
        self.directory = directory
        self.proc = None
        self.log = tempfile.NamedTemporaryFile(prefix="sgnodeexp-", suffix=".log", delete=False)
        ctx.cleanups.append(self.stop)

    def start(self):
        # Not as root where we can help it: the exporter must read the file as its own user does.
        drop = []
        if harness.is_root() and shutil.which("setpriv"):
            drop = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        for _ in range(3):  # the free port may be taken between the probe and the bind
            self.port = harness.free_port()
            self.proc = subprocess.Popen(
                [*drop, self.bin, "--collector.disable-defaults", "--collector.textfile",
                 f"--collector.textfile.directory={self.directory}",
                 f"--web.listen-address=127.0.0.1:{self.port}"],
                stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
            try:
                wait_for(lambda: self.alive() and self.scrape(), timeout=15,
                         what="node_exporter answering on loopback")
                return self
            except Fail:
                if self.proc.poll() is None:
                    raise
        raise Fail(f"node_exporter did not start:\n{self.output()}")

    def alive(self):
        return self.proc.poll() is None

    def scrape(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            check(r.status == 200, f"node_exporter answered {r.status}")
            ctype = r.headers.get("Content-Type", "")
            check(ctype.startswith("text/plain"), f"Content-Type {ctype!r}")
            return r.read().decode()

    def output(self):
        with open(self.log.name, errors="replace") as f:
            return f.read()[-3000:]

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        os.unlink(self.log.name)


@scenario("promtool check metrics accepts smsguardctl metrics, with no lint warning")
def _(ctx):
    promtool = tool("promtool")
    sim = start_sim(ctx)
    sim.set_task(progress=42)
    d = start_daemon(ctx, sim, textfile=False)
    polled(d)
    text = metrics(d)
    p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    check(p.returncode == 0 and not (p.stdout + p.stderr).strip(),
          f"promtool check metrics: rc {p.returncode}\n{p.stdout}{p.stderr}\n--- input:\n{text}")
    d.stop()


@scenario("every family has HELP and TYPE, and every label set is there from the start")
def _(ctx):
    sim = start_sim(ctx)
    sim.set_task(progress=42)
    # The first answer is held back until the first scrape has been read (a daemon under
    # make valgrind would have it before), well within the daemon's timeout.
    sim.fault("slow", seconds=6, count=1)
    d = start_daemon(ctx, sim, textfile=False, ports="1,2", timeout="15s")
    # Before the first answer from the cloud: the same families and label sets.
    first = smsguard_families(parse(metrics(d)))
    st = polled(d)
    fams = smsguard_families(parse(metrics(d)))
    check(set(FAMILIES) <= set(fams), f"families missing: {sorted(set(FAMILIES) - set(fams))}")
    check(set(first) == set(fams), f"families came or went: {sorted(set(first) ^ set(fams))}")
    for name, typ in FAMILIES.items():
        check(fams[name]["type"] == typ, f"{name} TYPE {fams[name]['type']}, expected {typ}")
        check(fams[name]["samples"], f"{name} has no sample")
    # Families of other modules (the notify sinks', one series per configured sink) too.
    for name in fams:
        check(fams[name]["type"] in ("gauge", "counter"), f"{name} TYPE {fams[name]['type']}")
        check(fams[name]["help"], f"{name} has no HELP text")
        check(set(first[name]["samples"]) == set(fams[name]["samples"]),
              f"{name}: label sets changed once the task was polled")
    check(label_values(fams["smsguard_task_state"], "state") == set(TASK_STATES),
          f"task states {label_values(fams['smsguard_task_state'], 'state')}")
    check(onehot(fams["smsguard_task_state"], "state") == "RUNNING", "task_state not RUNNING")
    check(onehot(first["smsguard_task_state"], "state") == "unknown", "first task_state")
    check(onehot(fams["smsguard_cloud_state"], "state") == "ok", "cloud_state not ok")
    check(onehot(fams["smsguard_health"], "state") == st["health"], "health differs from status")
    req = fams["smsguard_cloud_requests_total"]["samples"]
    grid = {(dict(k)["api"], dict(k)["result"]) for k in req}
    check(grid == {(a, r) for a in CLOUD_APIS for r in CLOUD_RESULTS},
          f"cloud_requests_total is not every api x result: {sorted(grid)}")
    check(req[(("api", "show_task"), ("result", "ok"))] >= 1, "no show_task ok counted")
    acts = {(dict(k)["action"], dict(k)["result"]) for k in fams["smsguard_actions_total"]["samples"]}
    check(acts == {(a, r) for a in ("resume_task", "restart_agent") for r in ("ok", "failed")},
          f"actions_total label sets {acts}")
    check(label_values(fams["smsguard_target_port_up"], "port") == {"1", "2"}, "ports")
    t = st["task"]
    prog = fams["smsguard_task_progress_ratio"]["samples"][()]
    check(abs(prog - t["progress"] / 100) < 1e-9, f"progress {prog} vs status {t['progress']}")
    speed = fams["smsguard_task_speed_mbps"]["samples"][()]
    check(t["migrate_speed_mbps"] is not None and speed == t["migrate_speed_mbps"],
          f"speed {speed} vs status {t['migrate_speed_mbps']}")
    check(fams["smsguard_up"]["samples"][()] == 1, "smsguard_up")
    d.stop()


@scenario("a real prometheus-node-exporter serves every smsguard family from the textfile, "
          "with node_textfile_scrape_error 0")
def _(ctx):
    sim = start_sim(ctx)
    sim.set_task(progress=7)
    d = start_daemon(ctx, sim)
    ne = NodeExporter(ctx, d.textdir)
    polled(d)
    wait_for(lambda: os.path.exists(d.textfile), timeout=10, what="the textfile")
    check(oct(os.stat(d.textfile).st_mode & 0o777) == "0o644", "textfile mode is not 0644")
    ne.start()
    ours = smsguard_families(parse(metrics(d)))
    # The textfile is refreshed every 15 s: wait for one written after the task was polled.
    scraped = wait_for(lambda: (lambda f: f if smsguard_families(f).get("smsguard_task_state")
                                and onehot(f["smsguard_task_state"], "state") == "RUNNING"
                                else None)(parse(ne.scrape())),
                       timeout=45, what="a scrape showing the polled task")
    check(scraped["node_textfile_scrape_error"]["samples"][()] == 0,
          f"node_textfile_scrape_error is not 0:\n{ne.output()}")
    mt = scraped.get("node_textfile_mtime_seconds", {"samples": {}})["samples"]
    files = [dict(k)["file"] for k in mt]
    check(any(os.path.basename(f) == "smsguard.prom" for f in files),
          f"node_textfile_mtime_seconds has no smsguard.prom: {files}")
    theirs = smsguard_families(scraped)
    check(set(theirs) == set(ours), f"families differ: {sorted(set(theirs) ^ set(ours))}")
    for name, f in ours.items():
        check(theirs[name]["type"] == f["type"], f"{name}: TYPE {theirs[name]['type']}")
        check(theirs[name]["help"] == f["help"], f"{name}: HELP {theirs[name]['help']!r}")
        check(set(theirs[name]["samples"]) == set(f["samples"]),
              f"{name}: label sets differ: {set(theirs[name]['samples']) ^ set(f['samples'])}")
    check(theirs["smsguard_up"]["samples"][()] == 1, "smsguard_up not 1 in the scrape")
    check(not ne.output().count("level=error"), f"node_exporter logged errors:\n{ne.output()}")
    d.stop()


@scenario("a stopped smsguard leaves smsguard_up 0 in its textfile, still valid for node_exporter")
def _(ctx):
    promtool = tool("promtool")
    sim = start_sim(ctx)
    d = start_daemon(ctx, sim)
    polled(d)
    wait_for(lambda: os.path.exists(d.textfile), timeout=10, what="the textfile")
    d.stop()
    with open(d.textfile) as f:
        text = f.read()
    fams = parse(text)
    check(fams["smsguard_up"]["samples"][()] == 0, "smsguard_up is not 0 after a stop")
    check(onehot(fams["smsguard_task_state"], "state") == "RUNNING", "last task state kept")
    p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    check(p.returncode == 0 and not (p.stdout + p.stderr).strip(), f"promtool: {p.stdout}{p.stderr}")
    check(not os.path.exists(d.textfile + ".tmp"), "a temporary file was left behind")
    ne = NodeExporter(ctx, d.textdir).start()
    scraped = parse(ne.scrape())
    check(scraped["node_textfile_scrape_error"]["samples"][()] == 0, "scrape error")
    check(scraped["smsguard_up"]["samples"][()] == 0, "node_exporter serves smsguard_up 1")


@scenario("a reader never sees a partial textfile while smsguard rewrites it")
def _(ctx):
    import threading
    sim = start_sim(ctx)
    d = start_daemon(ctx, sim)
    wait_for(lambda: os.path.exists(d.textfile), timeout=10, what="the textfile")
    stop = threading.Event()
    reads, bad = [0], []

    def reader():
        while not stop.is_set():
            try:
                with open(d.textfile) as f:
                    text = f.read()
                fams = smsguard_families(parse(text))
                if not set(FAMILIES) <= set(fams):
                    bad.append(sorted(set(FAMILIES) - set(fams)))
            except Exception as e:  # noqa: BLE001 - any failure is a torn read
                bad.append(repr(e))
            reads[0] += 1
    t = threading.Thread(target=reader)
    t.start()
    try:
        # Every reload rewrites the file (temp file, then rename over it).
        versions = set()
        for _ in range(30):
            rc, out, err = d.ctl("reload")
            check(rc == 0, f"reload: {rc} {err}")
            st = os.stat(d.textfile)
            versions.add((st.st_ino, st.st_mtime_ns))
    finally:
        stop.set()
        t.join()
    check(not bad, f"{len(bad)} of {reads[0]} reads saw a partial file: {bad[:3]}")
    check(reads[0] >= 30 and len(versions) >= 25,
          f"{reads[0]} reads, {len(versions)} versions: the rewrite was not exercised")
    d.stop()


@scenario("a reload that moves the textfile removes the old one and writes the new one at once")
def _(ctx):
    sim = start_sim(ctx)
    d = start_daemon(ctx, sim)
    wait_for(lambda: os.path.exists(d.textfile), timeout=10, what="the textfile")
    moved = os.path.join(d.textdir, "moved.prom")
    d.update({"metrics": {"textfile": moved}})
    d.write_config()
    rc, out, err = d.ctl("reload")
    check(rc == 0, f"reload: {rc} {err}")
    check(os.path.exists(moved), "the new textfile is not written by the reload")
    check(not os.path.exists(d.textfile), "the old textfile is still there")
    d.update({"metrics": {"textfile": None}})
    d.write_config()
    rc, out, err = d.ctl("reload")
    check(rc == 0, f"reload: {rc} {err}")
    check(not os.path.exists(moved), "the textfile stays after [metrics] textfile was removed")
    d.stop()
    check(not os.listdir(d.textdir), f"files left: {os.listdir(d.textdir)}")


@scenario("a textfile that cannot be written is warned about once, and its recovery logged")
def _(ctx):
    sim = start_sim(ctx)
    d = ctx.daemon(config={
        "cloud": {"endpoint": sim.url, "ca_file": sim.ca_file},
        "task": {"id": sim.task_id},
    })
    textdir = os.path.join(d.dir, "not-yet")
    d.update({"metrics": {"textfile": os.path.join(textdir, "smsguard.prom")}})
    d.start()
    d.wait_log("cannot write the metrics textfile", timeout=10)
    # Every reload writes the file again: failures after the first stay quiet.
    for _ in range(3):
        rc, out, err = d.ctl("reload")
        check(rc == 0, f"reload: {rc} {err}")
    check(d.log().count("cannot write the metrics textfile") == 1,
          f"the failure is logged more than once:\n{d.log()[-3000:]}")
    os.mkdir(textdir)
    rc, out, err = d.ctl("reload")
    check(rc == 0, f"reload: {rc} {err}")
    check(os.path.exists(os.path.join(textdir, "smsguard.prom")), "not written once possible")
    d.wait_log("written again", timeout=5)
    d.stop()


def dashboard_selectors(expr):
    """(metric, label, op, value) of every matcher on a smsguard metric in expr."""
    out = []
    for m in re.finditer(r'\b(smsguard_[a-z0-9_]+)(?:\{([^}]*)\})?', expr):
        for lm in re.finditer(r'([a-z_]+)\s*(=~|!=|!~|=)\s*"([^"]*)"', m.group(2) or ""):
            out.append((m.group(1), lm.group(1), lm.group(2), lm.group(3)))
    return out


@scenario("the Grafana dashboard is valid JSON and queries only metrics and label values "
          "smsguardctl metrics has")
def _(ctx):
    with open(DASHBOARD) as f:
        dash = json.load(f)
    exprs = []

    def walk(panels):
        for p in panels:
            exprs.extend(t["expr"] for t in p.get("targets", []) if t.get("expr"))
            walk(p.get("panels", []))
    walk(dash["panels"])
    for v in dash["templating"]["list"]:
        if v.get("type") == "query":
            exprs.append(v["definition"])
    check(len(exprs) >= 10, f"only {len(exprs)} queries")
    sim = start_sim(ctx)
    d = start_daemon(ctx, sim, textfile=False)
    polled(d)
    fams = smsguard_families(parse(metrics(d)))
    used = set()
    for e in exprs:
        names = set(re.findall(r'\bsmsguard_[a-z0-9_]+', e))
        check(names, f"a query on no smsguard metric: {e}")
        for n in names:
            check(n in fams, f"the dashboard queries {n}, which smsguard does not write: {e}")
        used |= names
        for metric, label, op, value in dashboard_selectors(e):
            if label in ("job", "instance"):
                continue
            have = label_values(fams[metric], label)
            if op == "=":
                check(value in have, f"{metric}{{{label}={value!r}}}: no such series ({have})")
            elif op == "=~":
                for alt in value.split("|"):
                    check(alt in have, f"{metric}{{{label}=~{value!r}}}: {alt!r} is not in {have}")
    for n in ("smsguard_task_progress_ratio", "smsguard_task_speed_mbps", "smsguard_task_state",
              "smsguard_actions_total", "smsguard_target_port_up", "smsguard_agent_up",
              "smsguard_up"):
        check(n in used, f"the dashboard does not show {n}")
    d.stop()


main()
