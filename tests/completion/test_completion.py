#!/usr/bin/env python3
"""The bash completion offers exactly smsguardctl's command table. Prints TAP.

    python3 tests/completion/test_completion.py --smsguardctl BUILD/src/ctl/smsguardctl

The table is read from CTL_COMMANDS in include/smsguard/ctl-protocol.h, the
one place commands are listed; `smsguardctl --help` and what the completion
(completions/smsguardctl.bash) offers must both agree with it.
"""
import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
import traceback

SRCDIR = os.environ.get("SMSGUARD_SRCDIR") or os.path.join(os.path.dirname(__file__), "..", "..")
HEADER = os.path.join(SRCDIR, "include", "smsguard", "ctl-protocol.h")
COMPLETION = os.path.join(SRCDIR, "completions", "smsguardctl.bash")
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def eq(got, want, what):
    if got != want:
        raise AssertionError(f"{what}: expected {want!r}, got {got!r}")


def read_table():
    """[(name, usage, summary)] from the X-macro lines of CTL_COMMANDS (help is left out)."""
    text = open(HEADER).read()
    body = text[text.index("#define CTL_COMMANDS(X)"):]
    body = body[:body.index("/* clang-format on */")].replace("\\\n", " ")
    rows = re.findall(r'X\(\s*\w+\s*,\s*(\w+)\s*,\s*"([^"]*)"\s*,\s*\w+\s*,\s*"([^"]*)"\s*,'
                      r'(?:\s*"(?:[^"\\]|\\.)*")+\s*\)', body)
    if not rows or len(rows) != body.count("X("):
        raise AssertionError(f"cannot read CTL_COMMANDS in {HEADER}")
    return rows


def usage_items(usage):
    """[(word, value, is_option)]: "[-n N]" gives ("-n", "N", True), "[DURATION]" ("DURATION", "", False)."""
    items = []
    for bracket, bare in re.findall(r"\[([^\]]*)\]|(\S+)", usage):
        words = (bracket or bare).split()
        items.append((words[0], words[1] if len(words) > 1 else "", words[0].startswith("-")))
    return items


def options(usage):
    return sorted(w for w, _, is_option in usage_items(usage) if is_option)


def complete(words, binary=None):
    """What the completion offers for the command line words (the last one is being typed)."""
    script = (
        f"source {shlex.quote(COMPLETION)}\n"
        f"COMP_WORDS=({' '.join(shlex.quote(w) for w in ['smsguardctl'] + words)})\n"
        "COMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n"
        '_smsguardctl "$BIN" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"\n'
        'printf "%s\\n" "${COMPREPLY[@]}"\n')
    p = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True,
                       text=True, env=dict(os.environ, BIN=binary or ARGS.smsguardctl), timeout=30)
    eq(p.stderr, "", f"stderr of completing {words}")
    eq(p.returncode, 0, f"exit status of completing {words}")
    return sorted(w for w in p.stdout.split("\n") if w)


@test
def test_help_lists_the_table():
    p = subprocess.run([ARGS.smsguardctl, "--help"], capture_output=True, text=True, timeout=30)
    eq(p.returncode, 0, "--help exit status")
    section = p.stdout.split("commands:\n", 1)[1].split("\n\n", 1)[0].split("\n")
    want = []
    for name, usage, summary in read_table():
        want += [f"  {name} {usage}".rstrip(), f"      {summary}"]
    eq(section, want, "the commands in --help")


# smsguardctl's own commands, beside the daemon's table.
LOCAL_COMMANDS = ["help"]


@test
def test_first_word_offers_every_command_and_no_other():
    want = sorted([name for name, _, _ in read_table()] + LOCAL_COMMANDS)
    eq(complete([""]), want, "commands offered")
    eq(complete(["-t", "5s", ""]), want, "commands offered after -t 5s")


@test
def test_help_offers_every_command():
    eq(complete(["help", ""]), sorted(name for name, _, _ in read_table()), "offered after help")
    eq(complete(["help", "st"]), ["status"], "offered after help st")


@test
def test_every_command_has_its_own_help_naming_each_option_and_argument():
    for name, usage, _ in read_table():
        p = subprocess.run([ARGS.smsguardctl, "help", name], capture_output=True, text=True,
                           timeout=30)
        eq((p.returncode, p.stderr), (0, ""), f"smsguardctl help {name}")
        q = subprocess.run([ARGS.smsguardctl, name, "--help"], capture_output=True, text=True,
                           timeout=30)
        eq((q.returncode, q.stdout), (0, p.stdout), f"smsguardctl {name} --help")
        lines = p.stdout.split("\n")
        eq(lines[0], f"usage: smsguardctl {name} {usage}".rstrip(), f"usage line of {name}")
        if len([ln for ln in lines[2:] if ln.strip()]) == 0:
            raise AssertionError(f"help {name} says nothing beyond the usage")
        for word, _, _ in usage_items(usage):
            if not any(ln.startswith(f"  {word}") for ln in lines[2:]):
                raise AssertionError(f"help {name} does not describe {word}:\n{p.stdout}")
        for ln in lines:
            if len(ln) > 76:
                raise AssertionError(f"help {name}: line over 76 columns: {ln!r}")


@test
def test_help_of_an_unknown_command_fails_with_the_usage():
    p = subprocess.run([ARGS.smsguardctl, "help", "nope"], capture_output=True, text=True,
                       timeout=30)
    eq(p.returncode, 2, "exit status")
    eq(p.stdout, "", "stdout")
    if "unknown command: nope" not in p.stderr or "commands:" not in p.stderr:
        raise AssertionError(f"stderr: {p.stderr!r}")


@test
def test_a_prefix_offers_the_commands_it_starts():
    for name, _, _ in read_table():
        want = sorted(n for n, _, _ in read_table() if n.startswith(name[:2]))
        eq(complete([name[:2]]), want, f"commands offered for {name[:2]!r}")


@test
def test_each_command_offers_exactly_its_options():
    for name, usage, _ in read_table():
        eq(complete([name, "-"]), options(usage), f"options offered for {name}")
        eq(complete(["-s", "/x", name, "-"]), options(usage), f"options for {name} after -s")


@test
def test_an_option_with_choices_offers_exactly_them():
    seen = 0
    for name, usage, _ in read_table():
        for word, value, is_option in usage_items(usage):
            if is_option and "|" in value:
                seen += 1
                eq(complete([name, word, ""]), sorted(value.split("|")), f"{name} {word}")
    if seen == 0:
        raise AssertionError("no option with choices in the table to check")


@test
def test_an_option_that_takes_a_value_offers_no_options_after_it():
    for name, usage, _ in read_table():
        for word, value, is_option in usage_items(usage):
            if is_option and value:
                got = complete([name, word, ""])
                eq([w for w in got if w.startswith("-")], [], f"options offered after {name} {word}")


@test
def test_the_hidden_table_command_is_never_offered():
    if "__commands" in complete([""]) + complete(["_"]):
        raise AssertionError("__commands was offered")


@test
def test_without_the_binary_nothing_is_offered():
    missing = os.path.join(tempfile.mkdtemp(), "smsguardctl")
    eq(complete([""], binary=missing), [], "offered without smsguardctl")
    eq(complete(["status", "-"], binary=missing), [], "offered without smsguardctl")


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--smsguardctl", required=True)
    ARGS = ap.parse_args()
    ARGS.smsguardctl = os.path.abspath(ARGS.smsguardctl)
    print(f"1..{len(TESTS)}", flush=True)
    failed = 0
    for i, fn in enumerate(TESTS, 1):
        try:
            fn()
            print(f"ok {i} - {fn.__name__}", flush=True)
        except Exception:
            failed += 1
            print(f"not ok {i} - {fn.__name__}", flush=True)
            for line in traceback.format_exc().splitlines():
                print(f"# {line}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
