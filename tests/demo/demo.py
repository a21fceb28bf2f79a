#!/usr/bin/env python3
"""make demo: smsguard against the bundled simulator, no root needed.

Starts the daemon on a demo configuration in a temporary directory, shows
`smsguardctl status`, and stops it cleanly.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser()
ap.add_argument("--smsguard", required=True)
ap.add_argument("--smsguardctl", required=True)
args = ap.parse_args()

tmp = tempfile.mkdtemp(prefix="smsguard-demo-")
sock = os.path.join(tmp, "smsguard.sock")


def say(msg):
    print(f"\n\033[1m== {msg}\033[0m" if sys.stdout.isatty() else f"\n== {msg}", flush=True)


def ctl(*a):
    p = subprocess.run([args.smsguardctl, "-s", sock, *a], capture_output=True, text=True)
    sys.stdout.write(p.stdout)
    sys.stderr.write(p.stderr)
    return p.returncode


with open(os.path.join(tmp, "credentials"), "w") as f:
    f.write("ak=DEMOAK0000000000000\nsk=demo-secret-key-not-real\n")
os.chmod(os.path.join(tmp, "credentials"), 0o600)
conf = os.path.join(tmp, "smsguard.conf")
with open(conf, "w") as f:
    f.write(f"""[daemon]
state_dir = {tmp}/state
[cloud]
endpoint = http://127.0.0.1:9
credentials = {tmp}/credentials
[task]
id = 7a9a9540-5c9f-4f5a-9b3c-0e2d1b6f8a11
[agent]
restart = never
[control]
socket = {sock}
""")

say(f"configuration check: smsguard -n -f {conf}")
subprocess.run([args.smsguard, "-n", "-f", conf], check=True)
say("starting smsguard in the foreground")
log = open(os.path.join(tmp, "smsguard.log"), "w")
d = subprocess.Popen([args.smsguard, "-f", conf], stdout=log, stderr=subprocess.STDOUT)
status = 1
try:
    deadline = time.monotonic() + 10
    while subprocess.run([args.smsguardctl, "-s", sock, "status", "--json"],
                         capture_output=True).returncode == 3:
        if time.monotonic() > deadline or d.poll() is not None:
            raise SystemExit("smsguard did not come up")
        time.sleep(0.1)
    say("smsguardctl status")
    ctl("status")
    say("stopping smsguard (SIGTERM)")
    d.send_signal(signal.SIGTERM)
    status = d.wait(timeout=10)
    log.close()
    print(open(os.path.join(tmp, "smsguard.log")).read())
    print(f"smsguard exited {status}")
finally:
    if d.poll() is None:
        d.kill()
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(status)
