#!/usr/bin/env python3
"""Start-up after kill -9 with N devices changed since the state file was saved (docs/benchmarks.md,
"Start-up (round 3)"). DATADIR is a seeded installation (run_bench.py's work/satellite, copied);
TOKEN a file with its registration token (run_bench.py's work/token). Keep N under 20,000, or the
sweep saves the file before the kill.
usage: startup_changed.py BINARY LOADGEN DATADIR TOKEN N
1. serve DATADIR (a clean stop before saved the file); 2. N registrations (32 connections) and
5 s of renewals by them (64 connections); 3. kill -9; 4. three starts, each killed again."""
import json, os, selectors, signal, subprocess, sys, time
binary, loadgen, data, token_file, n = sys.argv[1:5] + [int(sys.argv[5])]
env = dict(os.environ, OUTPOST_POLICY_REGISTRATION_RATE_PER_MINUTE="1000000",
           OUTPOST_LOG_LEVEL="info")
log = open(os.path.join(os.path.dirname(os.path.abspath(data)), "serve.log"), "ab")

def start():
    t0 = time.monotonic()
    p = subprocess.Popen([binary, "serve", "--data-dir", data, "--listen", "127.0.0.1:0"],
                         stdout=subprocess.PIPE, stderr=log, env=env)
    sel = selectors.DefaultSelector(); sel.register(p.stdout.fileno(), selectors.EVENT_READ)
    buf = b""
    while b"URL:" not in buf:
        if p.poll() is not None: sys.exit("serve exited")
        if sel.select(0.5): buf += os.read(p.stdout.fileno(), 65536)
    t = time.monotonic() - t0
    port = int([l for l in buf.decode().splitlines() if "URL:" in l][0].strip().rsplit(":", 1)[1])
    return p, port, t

def lg(port, mode, extra):
    cmd = [loadgen, "--target", f"127.0.0.1:{port}", "--ca", os.path.join(data, "ca.pem"),
           "--mode", mode, "--label", mode, "--threads", "2", "--json", "-"] + extra
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    res = json.loads(r.stdout.strip().splitlines()[-1])
    print(f"{mode}: {str(res)[:400]}", flush=True)

p, port, t = start()
print(f"start (before the changes): {t:.3f} s", flush=True)
ids = os.path.join(os.path.dirname(os.path.abspath(data)), f"ids-{int(time.time())}.txt")
token = open(token_file).read().strip()
lg(port, "register", ["--connections", "32", "--requests", str(n), "--duration", "300",
                      "--token", token, "--serial-prefix", f"chg{int(time.time())}-",
                      "--save-identities", ids])
lg(port, "authorize", ["--connections", "64", "--duration", "5", "--warmup", "1",
                       "--identities", ids])
os.kill(p.pid, signal.SIGKILL); p.wait()
times = []
for i in range(3):
    p, port, t = start()
    times.append(t)
    os.kill(p.pid, signal.SIGKILL); p.wait()
    print(f"start after kill -9 {i + 1}: {t:.3f} s", flush=True)
print("median", sorted(times)[1])
