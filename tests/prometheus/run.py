#!/usr/bin/env python3
"""The fleet view's checks, as TAP: one line per case.

- `promtool check rules` accepts examples/prometheus/smsguard.rules.yml;
- `promtool test rules` passes tests/prometheus/smsguard.rules.test.yml as a whole, and each of
  its test groups on its own (named by the comment line above it), so a failure names the case;
- every alert of the rules file is seen firing in some test group;
- examples/grafana/smsguard-fleet.json is a dashboard whose every query parses as PromQL
  (checked by promtool as recording rules, with Grafana's variables filled in).

That the dashboard's metrics exist in `smsguardctl metrics` is checked against a running daemon
in tests/integration/test_metrics.py.

    python3 tests/prometheus/run.py [--srcdir DIR] [--promtool PATH]
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))


class Fail(AssertionError):
    pass


def promtool(*args, stdin=None):
    p = subprocess.run([ARGS.promtool, *args], capture_output=True, text=True, input=stdin,
                       timeout=120)
    return p.returncode, p.stdout + p.stderr


def split_groups(text):
    """The test file as (header, [(name, group text)]): each group follows a `  # name` line."""
    head, sep, body = text.partition("\ntests:\n")
    if not sep:
        raise Fail("no `tests:` list in the rule test file")
    starts = [m for m in re.finditer(r"^  # (.+)\n(?=  - )", body, re.M)]
    if not starts:
        raise Fail("no test group preceded by a `  # name` comment")
    if body[:starts[0].start()].strip():
        raise Fail("text before the first named test group: every group needs its name")
    groups = []
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(body)
        groups.append((m.group(1).strip(), body[m.end():end]))
    return head, groups


def absolute_rule_files(head, base):
    """The header with its rule_files made absolute, so a copy elsewhere finds them."""
    out, in_list = [], False
    for line in head.splitlines():
        if line.startswith("rule_files:"):
            in_list = True
        elif in_list and re.match(r"^\s+-\s+", line):
            path = re.sub(r"^\s+-\s+", "", line).strip().strip("'\"")
            line = "  - " + json.dumps(os.path.normpath(os.path.join(base, path)))
        elif line and not line.startswith((" ", "#")):
            in_list = False
        out.append(line)
    return "\n".join(out) + "\n"


def run_group(header, name, group, tmpdir, i):
    path = os.path.join(tmpdir, f"group{i}.yml")
    with open(path, "w") as f:
        f.write(header + "tests:\n" + group)
    rc, out = promtool("test", "rules", path)
    if rc != 0:
        raise Fail(f"promtool test rules failed for {name!r}:\n{out}")


def alerts_in_rules(text):
    return re.findall(r"^\s*- alert:\s*(\w+)", text, re.M)


def alerts_seen_firing(text):
    """Alert names of alert_rule_test entries whose exp_alerts is not empty."""
    fired = set()
    for m in re.finditer(r"alertname:\s*(\w+)\n(\s*)exp_alerts:(.*?)(?=\n\s*- eval_time:|\n  # |\Z)",
                         text, re.S):
        if "exp_labels" in m.group(3):
            fired.add(m.group(1))
    return fired


GRAFANA_VARS = {
    "$__rate_interval": "5m", "$__interval": "1m", "$__range": "1d",
    "${job}": ".+", "$job": ".+", "${instance}": ".+", "$instance": ".+",
}


def dashboard_queries(dash):
    """Every panel target's expr, rows' inner panels included."""
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                if t.get("expr"):
                    out.append((p.get("title", "?"), t["expr"]))
            walk(p.get("panels", []))
    walk(dash.get("panels", []))
    return out


def fill_vars(expr):
    for k in sorted(GRAFANA_VARS, key=len, reverse=True):
        expr = expr.replace(k, GRAFANA_VARS[k])
    if "$" in re.sub(r'"\$\d+"', "", expr):
        raise Fail(f"an unknown Grafana variable in {expr!r}")
    return expr


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--srcdir", default=os.path.normpath(os.path.join(HERE, "..", "..")))
    ap.add_argument("--promtool", default=shutil.which("promtool"))
    ARGS = ap.parse_args()
    rules = os.path.join(ARGS.srcdir, "examples", "prometheus", "smsguard.rules.yml")
    tests = os.path.join(ARGS.srcdir, "tests", "prometheus", "smsguard.rules.test.yml")
    dashboard = os.path.join(ARGS.srcdir, "examples", "grafana", "smsguard-fleet.json")
    if not ARGS.promtool:
        print("1..0 # SKIP promtool not found (Debian 12's prometheus package has it: make deps)")
        return 0
    with open(tests) as f:
        test_text = f.read()
    with open(rules) as f:
        rules_text = f.read()
    header, groups = split_groups(test_text)
    header = absolute_rule_files(header, os.path.dirname(tests))
    tmpdir = tempfile.mkdtemp(prefix="sgprom-")
    cases = []

    def check_rules():
        rc, out = promtool("check", "rules", rules)
        if rc != 0 or "SUCCESS" not in out:
            raise Fail(f"promtool check rules: rc {rc}\n{out}")
    cases.append(("promtool check rules accepts examples/prometheus/smsguard.rules.yml",
                  check_rules))

    def whole_file():
        rc, out = promtool("test", "rules", tests)
        if rc != 0:
            raise Fail(f"promtool test rules: rc {rc}\n{out}")
    cases.append(("promtool test rules passes tests/prometheus/smsguard.rules.test.yml",
                  whole_file))
    for i, (name, group) in enumerate(groups):
        cases.append((f"rules: {name}",
                      lambda g=group, n=name, k=i: run_group(header, n, g, tmpdir, k)))

    def every_alert_fires():
        alerts = alerts_in_rules(rules_text)
        if len(alerts) < 7:
            raise Fail(f"only {len(alerts)} alerts found in {rules}")
        missing = sorted(set(alerts) - alerts_seen_firing(test_text))
        if missing:
            raise Fail(f"alerts never seen firing in a test: {missing}")
    cases.append(("every alert of the rules file is seen firing in a test group",
                  every_alert_fires))

    def dashboard_parses():
        with open(dashboard) as f:
            dash = json.load(f)
        for key in ("title", "uid", "panels", "templating", "schemaVersion"):
            if key not in dash:
                raise Fail(f"dashboard has no {key!r}")
        queries = dashboard_queries(dash)
        if len(queries) < 10:
            raise Fail(f"only {len(queries)} queries in the dashboard")
        rules = [{"record": f"smsguard_dashboard:query{i}", "expr": fill_vars(e)}
                 for i, (_, e) in enumerate(queries)]
        path = os.path.join(tmpdir, "dashboard.rules.json")
        with open(path, "w") as f:
            json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
        rc, out = promtool("check", "rules", path)
        if rc != 0:
            raise Fail(f"a dashboard query is not valid PromQL:\n{out}")
    cases.append(("every query of examples/grafana/smsguard-fleet.json parses as PromQL",
                  dashboard_parses))

    print(f"1..{len(cases)}", flush=True)
    failed = 0
    for i, (name, fn) in enumerate(cases, 1):
        try:
            fn()
            print(f"ok {i} - {name}", flush=True)
        except Exception as e:
            failed += 1
            print(f"not ok {i} - {name}", flush=True)
            for line in (f"{type(e).__name__}: {e}\n" + traceback.format_exc()).splitlines():
                print(f"# {line}", flush=True)
    shutil.rmtree(tmpdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
