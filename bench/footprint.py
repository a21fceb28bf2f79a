#!/usr/bin/env python3
"""Footprint, side by side: smsguard and monit watching the same three target
ports every 2 s for DURATION seconds (default 60) on loopback.

Prints each one's resident memory (VmRSS, peak VmHWM), CPU time used and
threads. smsguard also polls the task from the bundled simulator (HTTPS) and
watches the agent, which monit cannot; monit only checks the ports.

    make bench            # or: python3 bench/footprint.py --smsguard build/src/smsguard
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "sim"))
import simctl  # noqa: E402

AK, SK = "BENCHAK0000000000000", "bench-secret-key-0123456789abcdefghij"


def proc_stats(pid):
    st = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "Threads"):
                st[k] = v.strip()
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    st["cpu_s"] = (int(fields[11]) + int(fields[12])) / tick
    return st


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smsguard", default=os.path.join(HERE, "..", "build", "src", "smsguard"))
    ap.add_argument("--duration", type=int, default=60)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="smsguard-bench-")
    ports = simctl.free_ports(3)
    procs = []
    try:
        sim = simctl.Sim(os.path.join(tmp, "sim"), ak=AK, sk=SK, tasks=[{
            "id": "b0000000-0000-4000-8000-000000000001", "migration_ip": "127.0.0.1",
            "simulate": False}]).start()
        target = simctl.FakeTarget("127.0.0.1", ports).start()
        creds = os.path.join(tmp, "credentials")
        with open(creds, "w") as f:
            f.write(f"ak={AK}\nsk={SK}\n")
        os.chmod(creds, 0o600)
        conf = os.path.join(tmp, "smsguard.conf")
        with open(conf, "w") as f:
            f.write(f"[daemon]\nstate_dir = {tmp}/state\nlog_level = warn\n"
                    f"[cloud]\nendpoint = {sim.url}\nca_file = {sim.ca_file}\ncredentials = {creds}\n"
                    f"[task]\nid = {sim.task_id}\npoll = 30s\n"
                    f"[target]\naddress = 127.0.0.1\nports = {','.join(map(str, ports))}\n"
                    f"interval = 2s\ntimeout = 2s\n[agent]\nrestart = never\n"
                    f"[ratelimit]\napply = off\n[control]\nsocket = {tmp}/s.sock\n")
        sg = subprocess.Popen([args.smsguard, "-f", conf], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        procs.append(sg)
        rows = [("smsguard", sg)]
        monit = shutil.which("monit")
        if monit:
            mconf = os.path.join(tmp, "monitrc")
            with open(mconf, "w") as f:
                f.write(f"set daemon 2\nset logfile {tmp}/monit.log\nset idfile {tmp}/monit.id\n"
                        f"set statefile {tmp}/monit.state\n"
                        "check host target with address 127.0.0.1\n")
                for p in ports:
                    f.write(f"  if failed port {p} type tcp with timeout 2 seconds then alert\n")
            os.chmod(mconf, 0o600)
            mo = subprocess.Popen([monit, "-I", "-c", mconf], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
            procs.append(mo)
            rows.append(("monit", mo))
        else:
            print("monit is not installed (apt-get install monit): smsguard alone", flush=True)
        time.sleep(args.duration)  # the measurement window itself
        print(f"{args.duration} s, 3 TCP ports every 2 s on loopback")
        print(f"{'':10} {'VmRSS':>10} {'VmHWM':>10} {'CPU s':>7} {'threads':>7}")
        for name, p in rows:
            st = proc_stats(p.pid)
            print(f"{name:10} {st['VmRSS']:>10} {st['VmHWM']:>10} {st['cpu_s']:>7.2f} "
                  f"{st['Threads']:>7}")
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
        simctl._cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


main()
