#!/usr/bin/env python3
"""Start-up by hand (docs/benchmarks.md, "Start-up (round 3)"): times `outpost serve` from exec
until it prints its URL, then stops it with SIGTERM (a clean stop: the state file is saved) or
SIGKILL (nothing saved). With --perf, `perf record -e cpu-clock -g` of the start into OUT.
The serve log is appended to serve.log beside DATADIR.

usage: startup_time.py BINARY DATADIR term|kill [--perf OUT]"""
import os, selectors, signal, subprocess, sys, time
binary, data, how = sys.argv[1:4]
perf = sys.argv[5] if len(sys.argv) > 5 and sys.argv[4] == "--perf" else None
env = dict(os.environ, OUTPOST_LOG_LEVEL=os.environ.get("OUTPOST_LOG_LEVEL", "info"))
cmd = [binary, "serve", "--data-dir", data, "--listen", "127.0.0.1:0"]
if perf:
    cmd = ["perf", "record", "-e", "cpu-clock", "-F", "999", "-g", "-o", perf, "--"] + cmd
log = open(os.path.join(os.path.dirname(os.path.abspath(data)), "serve.log"), "ab")
t0 = time.monotonic()
p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, env=env)
sel = selectors.DefaultSelector(); sel.register(p.stdout.fileno(), selectors.EVENT_READ)
buf = b""
while b"URL:" not in buf:
    if p.poll() is not None: sys.exit("serve exited")
    if sel.select(0.5): buf += os.read(p.stdout.fileno(), 65536)
t = time.monotonic() - t0
target = p.pid
if perf:  # the serve child of perf
    target = int(subprocess.check_output(["pgrep", "-P", str(p.pid)]).split()[0])
os.kill(target, signal.SIGKILL if how == "kill" else signal.SIGTERM)
p.wait()
print(f"{t:.3f}")
