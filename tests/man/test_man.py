#!/usr/bin/env python3
"""The manual pages, TAP: each renders without a warning from mandoc -T lint
or man --warnings, and documents what the code has, read from the code
itself: smsguard(8) every flag, signal, exit code and event type;
smsguard.conf(5) every key of every section (src/config_keys.c) with its
default; smsguardctl(1) every option, command (with the options its usage
names) and exit code. A key, command or flag added to the code without its
line in the manual fails here.

    test_man.py [--srcdir DIR]
"""

import argparse
import os
import re
import shutil
import subprocess
import sys

PAGES = ["man/smsguard.8", "man/smsguard.conf.5", "man/smsguardctl.1"]

results = []


def case(name):
    def deco(fn):
        results.append((name, fn))
        return fn
    return deco


class Skip(Exception):
    pass


def read(path):
    with open(os.path.join(ARGS.srcdir, path), encoding="utf-8") as f:
        return f.read()


def items(page, macro="Fl"):
    """The words after `.It <macro>` on the tag lines of page (the documented names)."""
    out = set()
    for line in page.splitlines():
        m = re.match(r"\.It (.*)", line)
        if not m:
            continue
        words = m.group(1).split()
        for i, w in enumerate(words[:-1]):
            if w == macro:
                out.add(words[i + 1].replace("\\-", "-").rstrip(","))
    return out


def section(page, name):
    """The text of `.Sh name` up to the next .Sh."""
    m = re.search(r"^\.Sh %s\n(.*?)(?=^\.Sh |\Z)" % re.escape(name), page, re.S | re.M)
    return m.group(1) if m else ""


def getopt_flags(csrc):
    """The flags the getopt_long call with `longopts` takes: ({"f", "n"}, {"version"})."""
    m = re.search(r'getopt_long\([^;]*?"([^"]*)",\s*longopts', csrc)
    short = {c for c in m.group(1) if c.isalnum()}
    block = re.search(r"\blongopts\[\] = \{(.*?)\};", csrc, re.S).group(1)
    return short, set(re.findall(r'\{"([a-z-]+)",', block))


def lint(tool, argv, env=None):
    if shutil.which(argv[0]) is None:
        raise Skip(f"{tool} is not installed (make deps installs it)")
    bad = []
    for page in PAGES:
        p = subprocess.run(argv + [os.path.join(ARGS.srcdir, page)], capture_output=True,
                           text=True, env=env)
        # mandoc's STYLE messages (pages not installed here, ...) are below -W warning.
        if p.returncode != 0 or p.stderr.strip() or (tool == "mandoc" and p.stdout.strip()):
            bad.append(f"{page}: exit {p.returncode}: {(p.stdout + p.stderr).strip()}")
    if bad:
        raise AssertionError("\n".join(bad))


@case("mandoc -T lint reports nothing at the warning level for any page")
def _():
    lint("mandoc", ["mandoc", "-T", "lint", "-W", "warning"])


@case("man --warnings renders every page without a warning from groff")
def _():
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
    lint("man", ["man", "--warnings", "-E", "UTF-8", "-l"], env)


@case("smsguard(8) documents every flag of src/main.c")
def _():
    short, long_ = getopt_flags(read("src/main.c"))
    have = items(read("man/smsguard.8"))
    missing = sorted(short - have) + sorted("-" + o for o in long_ if "-" + o not in have)
    assert not missing, f"undocumented flags: {missing}"


@case("smsguard(8) documents every signal the daemon handles")
def _():
    sigs = set(re.findall(r"uv_signal_start\([^,]+,[^,]+,\s*(SIG[A-Z]+)\)", read("src/daemon.c")))
    assert sigs, "no signal found in src/daemon.c"
    have = items(section(read("man/smsguard.8"), "SIGNALS"), "Dv")
    assert sigs <= have, f"undocumented signals: {sorted(sigs - have)}"


@case("smsguard(8) documents its exit codes, 78 (EX_CONFIG) included")
def _():
    codes = {"0", "1"}
    if "EX_CONFIG" in read("src/daemon.c"):
        codes.add("78")
    text = section(read("man/smsguard.8"), "EXIT STATUS")
    have = set(re.findall(r"^\.It (\d+)$", text, re.M))
    assert codes <= have, f"undocumented exit codes: {sorted(codes - have)}"


@case("smsguard(8) describes every event type of src/events.c")
def _():
    types = set(re.findall(r'\[EV_[A-Z_]+\] = "([a-z_]+)"', read("src/events.c")))
    assert len(types) >= 14, f"only {len(types)} event types found in src/events.c"
    have = items(read("man/smsguard.8"), "Ic")
    assert types <= have, f"undocumented events: {sorted(types - have)}"


def conf_keys():
    """{section: [key, ...]} from the key table of src/config_keys.c."""
    keys = {}
    for sec, key in re.findall(r'^\s*\{"([a-z]+)", "([a-z_]+)", p_', read("src/config_keys.c"),
                               re.M):
        keys.setdefault(sec, []).append(key)
    return keys


def conf_entries():
    """{(section, key): the text of its .It entry} from smsguard.conf(5)."""
    entries, sec, key = {}, None, None
    for line in read("man/smsguard.conf.5").splitlines():
        m = re.match(r"\.Ss \[([a-z]+)\]$", line)
        if m or line.startswith(".Sh "):
            sec, key = (m.group(1) if m else None), None
            continue
        m = re.match(r"\.It Cm ([a-z_]+) Li = ", line)
        if m and sec:
            key = (sec, m.group(1))
            entries[key] = ""
        elif line == ".El":
            key = None
        elif key:
            entries[key] += line + "\n"
    return entries


@case("smsguard.conf(5) documents every key of src/config_keys.c in its section, each with "
      "its default")
def _():
    keys, entries = conf_keys(), conf_entries()
    assert sum(len(v) for v in keys.values()) >= 40, f"key table not found: {keys}"
    missing = [f"[{s}] {k}" for s in keys for k in keys[s] if (s, k) not in entries]
    assert not missing, f"undocumented keys: {missing}"
    # Keys that share one description (smn_events, webhook_events, …) take the last one's.
    text = ""
    no_default = []
    for (s, k) in reversed(list(entries)):
        text = entries[(s, k)] or text
        if s in keys and k in keys[s] and "Default:" not in text:
            no_default.append(f"[{s}] {k}")
    assert not no_default, f"keys without a Default: {no_default}"


def ctl_commands():
    """[(name, usage)] from CTL_COMMANDS in include/smsguard/ctl-protocol.h."""
    text = read("include/smsguard/ctl-protocol.h")
    return re.findall(r'X\([A-Z]+, ([a-z]+), "([^"]*)",', text)


@case("smsguardctl(1) documents every command of the command table with the options of its "
      "usage")
def _():
    cmds = ctl_commands()
    assert len(cmds) >= 8, f"command table not found: {cmds}"
    page = read("man/smsguardctl.1")
    bad = []
    for name, usage in cmds:
        m = re.search(r"^\.It Cm %s\b(.*)$" % name, page, re.M)
        if not m:
            bad.append(f"{name}: no entry")
            continue
        line = m.group(1).replace("\\-", "-")
        for opt in re.findall(r"(--?[a-z]+)", usage):
            if f"Fl {opt[1:]}" not in line:
                bad.append(f"{name}: {opt} not in `.It Cm {name}{m.group(1)}`")
    assert not bad, "; ".join(bad)


@case("smsguardctl(1) documents every option of src/ctl/main.c")
def _():
    short, long_ = getopt_flags(read("src/ctl/main.c"))
    have = items(read("man/smsguardctl.1"))
    missing = sorted(short - have) + sorted("-" + o for o in long_ if "-" + o not in have)
    assert not missing, f"undocumented options: {missing}"


@case("smsguardctl(1) documents every exit code of enum ctl_exit")
def _():
    text = read("include/smsguard/ctl-protocol.h")
    codes = set(re.findall(r"CTL_EXIT_[A-Z]+ = (\d+)", text))
    assert len(codes) >= 4, f"enum ctl_exit not found: {codes}"
    have = set(re.findall(r"^\.It (\d+)$", section(read("man/smsguardctl.1"), "EXIT STATUS"),
                          re.M))
    assert codes <= have, f"undocumented exit codes: {sorted(codes - have)}"


@case("the pages name each other by the sections they are installed in")
def _():
    bad = []
    for page in PAGES:
        for name, sec in re.findall(r"^\.Xr (smsguard(?:ctl|\.conf)?) (\d)", read(page), re.M):
            want = {"smsguard": "8", "smsguardctl": "1", "smsguard.conf": "5"}[name]
            if sec != want:
                bad.append(f"{page}: {name}({sec}) is {name}({want})")
    unit = read("systemd/smsguard.service.in")
    for name, sec in re.findall(r"man:(smsguard(?:ctl|\.conf)?)\((\d)\)", unit):
        if f"man/{name}.{sec}" not in PAGES:
            bad.append(f"smsguard.service.in: man:{name}({sec}) is no page")
    assert not bad, "; ".join(bad)


def main():
    print(f"1..{len(results)}")
    failed = 0
    for i, (name, fn) in enumerate(results, 1):
        try:
            fn()
            print(f"ok {i} - {name}")
        except Skip as e:
            print(f"ok {i} - {name} # SKIP {e}")
        except Exception as e:  # an assertion or a broken parse alike
            failed += 1
            print(f"not ok {i} - {name}")
            for line in str(e).splitlines() or [repr(e)]:
                print(f"# {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--srcdir", default=os.environ.get(
        "SMSGUARD_SRCDIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")))
    ARGS = ap.parse_args()
    sys.exit(main())
