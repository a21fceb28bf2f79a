#!/usr/bin/env python3
"""smsguard.service's sandbox against README.md, TAP: `systemd-analyze security
--offline=true` gives the rendered unit the score README.md records, and every
exposure it counts is in README.md's table of why it stays. A change to the
unit that moves the score or opens something new fails here until the README
says so.

    test_unit.py --unit BUILD/systemd/smsguard.service [--readme README.md]
"""

import argparse
import os
import re
import shutil
import subprocess
import sys


def analyze(unit):
    if shutil.which("systemd-analyze") is None:
        return None, "systemd-analyze is not installed"
    p = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", unit],
                       capture_output=True, text=True)
    if p.returncode != 0 and "offline" in p.stderr:
        return None, "this systemd-analyze has no --offline (systemd < 250)"
    return p, None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--unit", required=True)
    ap.add_argument("--readme", default=os.path.join(
        os.environ.get("SMSGUARD_SRCDIR", os.path.join(os.path.dirname(__file__), "..", "..")),
        "README.md"))
    a = ap.parse_args()
    print("1..2")
    p, skip = analyze(a.unit)
    if skip:
        print(f"ok 1 - the README records the unit's score # SKIP {skip}")
        print(f"ok 2 - the README justifies every exposure # SKIP {skip}")
        return 0
    with open(a.readme, encoding="utf-8") as f:
        readme = f.read().replace("\\|", "|")
    failed = 0

    m = re.search(r"Overall exposure level for \S+: (\d+\.\d) (\w+)", p.stdout)
    recorded = re.search(r"rates it\s+\*\*(\d+\.\d) (\w+)\*\*", readme)
    got = f"{m.group(1)} {m.group(2)}" if m else None
    want = f"{recorded.group(1)} {recorded.group(2)}" if recorded else None
    if got is not None and got == want:
        print(f"ok 1 - the README records the unit's score ({got})")
    else:
        failed += 1
        print(f"not ok 1 - the README records the unit's score")
        print(f"# systemd-analyze: {got!r}, README.md: {want!r}")
        print("# " + (p.stdout + p.stderr).strip().replace("\n", "\n# ")[-2000:])

    exposures = re.findall(r"^✗ (\S+)", p.stdout, re.M)
    missing = [e for e in exposures if f"`{e}`" not in readme]
    if exposures and not missing:
        print(f"ok 2 - the README justifies every exposure ({len(exposures)})")
    else:
        failed += 1
        print("not ok 2 - the README justifies every exposure")
        print(f"# not in README.md's table: {missing or 'no exposure parsed'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
