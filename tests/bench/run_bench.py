#!/usr/bin/env python3
"""The Outpost benchmark suite (docs/benchmarks.md): `make bench` and `make bench-smoke`.

Seeds a large installation with the satellite's own store code, starts `outpost serve` and an
nginx baseline on 127.0.0.1 (port 0 / a free port), drives both with outpost-loadgen, and prints
a table (and writes results.json) with medians over --runs runs and the ratios to nginx.

Every server this starts is stopped by its pid, also on failure. Nothing listens beyond loopback
and no traffic leaves the machine. Thresholds are judged here, never in ctest: --smoke only
checks that the harness works (it fails on errors or zero throughput, not on slowness).
"""

import argparse
import json
import os
import platform
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# DESIGN.md section 5.
TARGETS = {
    "authorize_ratio": 0.50,  # renewals/s >= 50% of nginx's
    "p99_half_load_ms": 5.0,
    "handshake_ratio": 0.70,
    "registrations_per_s": 5000.0,
    "rss_mb": 300.0,
    "startup_s": 1.0,
    "sync_export_s": 2.0,
    "sync_import_s": 2.0,
}

FULL = dict(devices=1_000_000, tags=1000, vas=10, registrations=5000, connections=64,
            handshake_connections=32, duration=10.0, warmup=2.0, runs=3, audit_records=20000,
            sync_entitlements=100_000, sync_vas=100)
SMOKE = dict(devices=2000, tags=50, vas=2, registrations=200, connections=8,
             handshake_connections=4, duration=1.5, warmup=0.5, runs=1, audit_records=500,
             sync_entitlements=1000, sync_vas=10)

AUTHORIZE_TAG = "bench.tag.0000"  # entitled in VA "default", where the bench token registers


def log(message):
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, deadline_s=30):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"process {proc.pid} exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {deadline_s} s")


def proc_status(pid):
    """VmRSS and VmHWM of `pid` in MB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024.0
    return out


def stop(proc, sig=signal.SIGTERM, timeout=120):
    """Stops a process this script started, by its pid."""
    if proc is None or proc.poll() is not None:
        return
    os.kill(proc.pid, sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        log(f"pid {proc.pid} did not stop within {timeout} s; killing it")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


class Satellite:
    """`outpost serve` on 127.0.0.1:0; the port comes from the URL line it prints."""

    def __init__(self, binary, data_dir, log_path, extra_env=None):
        self.binary, self.data_dir, self.log_path = binary, data_dir, log_path
        self.extra_env = extra_env or {}
        self.proc, self.port, self.startup_s = None, None, None

    def start(self, timeout_s=300):
        env = dict(os.environ)
        # The per-address registration limit (600/min by default) would cap the benchmark's
        # single source address; everything else is the default configuration.
        env["OUTPOST_POLICY_REGISTRATION_RATE_PER_MINUTE"] = "1000000"
        env["OUTPOST_LOG_LEVEL"] = "warn"
        env.update(self.extra_env)
        started = time.monotonic()
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--data-dir", str(self.data_dir), "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=open(self.log_path, "ab"), env=env)
        # Raw reads: a buffered readline() could swallow the URL line behind the first one while
        # select() no longer reports the pipe readable.
        fd = self.proc.stdout.fileno()
        sel = selectors.DefaultSelector()
        sel.register(fd, selectors.EVENT_READ)
        deadline = started + timeout_s
        printed = b""
        while self.port is None:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                stop(self.proc)
                raise RuntimeError(f"outpost serve did not start; see {self.log_path}")
            if not sel.select(timeout=0.5):
                continue
            printed += os.read(fd, 65536)
            for line in printed.decode(errors="replace").splitlines():
                if "URL:" in line:
                    self.port = int(line.strip().rsplit(":", 1)[1])
        self.startup_s = time.monotonic() - started
        sel.close()
        return self

    def stop(self):
        stop(self.proc)
        self.proc = None


class Nginx:
    """nginx answering `return 200` with the satellite's own TLS certificate (ECDSA P-256 from
    its CA) and client-certificate verification against the satellite CA, like the satellite."""

    def __init__(self, data_dir, work_dir, workers):
        self.data_dir, self.work_dir, self.workers = Path(data_dir), Path(work_dir), workers
        self.proc, self.port = None, None

    def start(self):
        nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx")
                                          else None)
        if nginx is None:
            raise FileNotFoundError("nginx is not installed (deploy/install-bench-deps.sh)")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        temp = {}
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            d = self.work_dir / f"tmp_{name}"
            d.mkdir(exist_ok=True)
            temp[name] = d
        conf = self.work_dir / "nginx.conf"
        conf.write_text(f"""
worker_processes {self.workers};
daemon off;
pid {self.work_dir}/nginx.pid;
error_log {self.work_dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 10000000;
  keepalive_timeout 60s;
  client_body_temp_path {temp['client_body']};
  proxy_temp_path {temp['proxy']};
  fastcgi_temp_path {temp['fastcgi']};
  uwsgi_temp_path {temp['uwsgi']};
  scgi_temp_path {temp['scgi']};
  server {{
    listen 127.0.0.1:{self.port} ssl;
    ssl_certificate {self.data_dir}/tls/server.pem;
    ssl_certificate_key {self.data_dir}/keys/tls.key;
    ssl_client_certificate {self.data_dir}/ca.pem;
    ssl_verify_client optional;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {{ return 200; }}
  }}
}}
""")
        self.proc = subprocess.Popen([nginx, "-c", str(conf), "-e", str(self.work_dir / "error.log")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self.proc)
        return self

    def stop(self):
        # SIGQUIT: graceful; the master stops its workers.
        stop(self.proc, signal.SIGQUIT, timeout=30)
        self.proc = None


class Bench:
    def __init__(self, args, params):
        self.args, self.p = args, params
        self.build = Path(args.build_dir).resolve()
        self.out = Path(args.out).resolve()
        self.work = self.out / ("smoke" if args.smoke else "work")
        self.data = self.work / "satellite"
        self.outpost = str(self.build / "cli" / "outpost")
        self.loadgen = str(self.build / "tests" / "bench" / "outpost-loadgen")
        self.seeder = str(self.build / "tests" / "bench" / "outpost-bench-seed")
        self.audit = str(self.build / "tests" / "bench" / "outpost-bench-audit")
        self.central_seeder = str(self.build / "tests" / "bench" / "outpost-bench-central")
        self.reg_crypto = str(self.build / "tests" / "bench" / "outpost-bench-registration-crypto")
        self.sync_dir = self.work / "sync"
        self.central = self.sync_dir / "central"
        self.identities = self.work / "identities.pem"
        self.results = {"raw": {}}
        self.failures = []

    # --- helpers -------------------------------------------------------------------------------
    def run_loadgen(self, label, port, mode, extra, timeout=None):
        cmd = [self.loadgen, "--target", f"127.0.0.1:{port}", "--ca", str(self.data / "ca.pem"),
               "--mode", mode, "--label", label, "--threads", "2", "--json", "-"] + extra
        budget = timeout or (self.p["duration"] + self.p["warmup"] + 60)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=budget)
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f"loadgen {label} failed ({proc.returncode}): {proc.stderr.strip()}"
                               f" {proc.stdout.strip()}")
        print("  " + "\n  ".join(lines[:-1]), flush=True)
        result = json.loads(lines[-1])
        self.results["raw"].setdefault(label, []).append(result)
        if result["errors_total"] > 0:
            log(f"{label}: {result['errors_total']} errors: {result['errors']}")
        return result

    def closed_loop(self, label, port, mode, connections, extra=()):
        return self.run_loadgen(label, port, mode,
                                ["--connections", str(connections),
                                 "--duration", str(self.p["duration"]),
                                 "--warmup", str(self.p["warmup"]),
                                 "--identities", str(self.identities)] + list(extra))

    # --- phases --------------------------------------------------------------------------------
    def seed(self):
        if self.work.exists():
            shutil.rmtree(self.work)
        self.work.mkdir(parents=True)
        self.sync_central()
        log(f"seeding {self.p['devices']} devices, {self.p['tags']} tags x {self.p['vas']} VAs")
        proc = subprocess.run(
            [self.seeder, "--data-dir", str(self.data), "--devices", str(self.p["devices"]),
             "--tags", str(self.p["tags"]), "--vas", str(self.p["vas"]),
             "--token-out", str(self.work / "token"),
             "--enroll", str(self.sync_dir / "seeded.enroll")],
            capture_output=True, text=True, timeout=1200)
        if proc.returncode != 0:
            raise RuntimeError(f"seeding failed: {proc.stderr.strip()}")
        self.results["seed"] = json.loads(proc.stdout.strip().splitlines()[-1])
        log(f"seeded in {self.results['seed']['seconds']:.1f} s")

    def startup(self):
        times, rss = [], []
        for i in range(self.p["runs"]):
            sat = Satellite(self.outpost, self.data, self.work / "outpost.log").start()
            times.append(sat.startup_s)
            rss.append(proc_status(sat.proc.pid)["VmRSS"])
            sat.stop()
            log(f"start-up {i + 1}: {sat.startup_s:.3f} s, RSS {rss[-1]:.0f} MB")
        self.results["startup_s"] = median(times)
        self.results["rss_idle_mb"] = median(rss)
        self.results["raw"]["startup_s"] = times
        self.results["raw"]["rss_idle_mb"] = rss

    def registrations(self, port):
        token = (self.work / "token").read_text().strip()
        rates = []
        per_run = max(1, self.p["registrations"] // self.p["runs"])
        for i in range(self.p["runs"]):
            r = self.run_loadgen("outpost register", port, "register",
                                 ["--connections", "32", "--requests", str(per_run),
                                  "--duration", "120", "--token", token,
                                  "--serial-prefix", f"run{i}",
                                  "--save-identities", str(self.identities)], timeout=600)
            rates.append(r["requests_per_s"])
        self.results["registrations_per_s"] = median(rates)

    def authorize(self, sat_port, nginx_port):
        ours, theirs, p99 = [], [], []
        for _ in range(self.p["runs"]):
            r = self.closed_loop("outpost authorize", sat_port, "authorize",
                                 self.p["connections"], ["--tag", AUTHORIZE_TAG, "--check"])
            ours.append(r["requests_per_s"])
            p99.append(r["latency_ms"]["p99"])
            if nginx_port:
                n = self.closed_loop("nginx authorize", nginx_port, "authorize",
                                     self.p["connections"], ["--tag", AUTHORIZE_TAG])
                theirs.append(n["requests_per_s"])
        self.results["authorize_per_s"] = median(ours)
        self.results["authorize_p99_full_ms"] = median(p99)
        self.results["nginx_authorize_per_s"] = median(theirs)

    def half_load(self, sat_port):
        rate = max(1.0, 0.5 * self.results["authorize_per_s"])
        p99s = []
        for _ in range(self.p["runs"]):
            r = self.run_loadgen("outpost authorize @half", sat_port, "authorize",
                                 ["--connections", str(self.p["connections"]),
                                  "--rate", f"{rate:.0f}",
                                  "--duration", str(self.p["duration"]),
                                  "--warmup", str(self.p["warmup"]),
                                  "--identities", str(self.identities),
                                  "--tag", AUTHORIZE_TAG, "--check"])
            p99s.append(r["latency_ms"]["p99"])
        self.results["half_load_rate"] = rate
        self.results["p99_half_load_ms"] = median(p99s)

    def durability_normal(self):
        """Authorize again with database.synchronous = "normal" (the WAL is fsynced at
        checkpoints, not before every answer): what power-loss durability, the default, costs.
        Same rate at half load as the default run, so the p99s compare."""
        sat = Satellite(self.outpost, self.data, self.work / "outpost-normal.log",
                        {"OUTPOST_DATABASE_SYNCHRONOUS": "normal"}).start()
        try:
            ours, p99 = [], []
            for _ in range(self.p["runs"]):
                r = self.closed_loop("outpost authorize (normal)", sat.port, "authorize",
                                     self.p["connections"], ["--tag", AUTHORIZE_TAG, "--check"])
                ours.append(r["requests_per_s"])
                h = self.run_loadgen("outpost authorize @half (normal)", sat.port, "authorize",
                                     ["--connections", str(self.p["connections"]),
                                      "--rate", f"{self.results['half_load_rate']:.0f}",
                                      "--duration", str(self.p["duration"]),
                                      "--warmup", str(self.p["warmup"]),
                                      "--identities", str(self.identities),
                                      "--tag", AUTHORIZE_TAG, "--check"])
                p99.append(h["latency_ms"]["p99"])
            self.results["normal_authorize_per_s"] = median(ours)
            self.results["normal_p99_half_load_ms"] = median(p99)
        finally:
            sat.stop()

    def heartbeats(self, sat_port):
        floating = f"bench.tag.{self.p['tags'] - 1:04d}"  # the seeder makes the last tags floating
        rates = []
        for _ in range(self.p["runs"]):
            r = self.closed_loop("outpost heartbeat", sat_port, "heartbeat",
                                 self.p["connections"], ["--tag", floating, "--check"])
            rates.append(r["requests_per_s"])
        self.results["heartbeats_per_s"] = median(rates)

    def handshakes(self, sat_port, nginx_port):
        ours, theirs = [], []
        for _ in range(self.p["runs"]):
            ours.append(self.closed_loop("outpost handshake", sat_port, "handshake",
                                         self.p["handshake_connections"])["requests_per_s"])
            if nginx_port:
                theirs.append(self.closed_loop("nginx handshake", nginx_port, "handshake",
                                               self.p["handshake_connections"])["requests_per_s"])
        self.results["handshakes_per_s"] = median(ours)
        self.results["nginx_handshakes_per_s"] = median(theirs)

    def registration_crypto(self):
        """CPU per registration spent on certificates (CSR parse and verify, issue, PEM)."""
        proc = subprocess.run([self.reg_crypto, "--inputs", "300", "--runs", str(self.p["runs"])],
                              capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"registration crypto micro-benchmark failed: {proc.stderr.strip()}")
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        self.results["raw"]["registration_crypto"] = r
        self.results["registration_crypto"] = {k: r[k] for k in (
            "registration_csr_us", "csr_verify_us", "issue_from_csr_us", "csr_from_pem_us")}

    def audit_append(self):
        runs = []
        for _ in range(self.p["runs"]):
            proc = subprocess.run([self.audit, "--dir", str(self.work / "audit"),
                                   "--records", str(self.p["audit_records"])],
                                  capture_output=True, text=True, timeout=300)
            if proc.returncode != 0:
                raise RuntimeError(f"audit micro-benchmark failed: {proc.stderr.strip()}")
            runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        self.results["raw"]["audit"] = runs
        self.results["audit"] = {k: median([r[k] for r in runs])
                                 for k in ("in_unit_us", "grouped_us", "grouped_empty_us",
                                           "serial_us")}

    def sync_central(self):
        """A reference central (outpost-bench-central) with one account, `sync_vas` VAs and
        `sync_entitlements` entitlements, and enrollment bundles for the seeded satellite and
        for the fresh satellite that imports (sync_import_timing)."""
        self.sync_dir.mkdir(parents=True, exist_ok=True)
        log(f"central: {self.p['sync_entitlements']} entitlements in {self.p['sync_vas']} VAs")
        proc = subprocess.run(
            [self.central_seeder, "--data-dir", str(self.central),
             "--entitlements", str(self.p["sync_entitlements"]), "--vas", str(self.p["sync_vas"]),
             "--enroll", f"bench-1m={self.sync_dir / 'seeded.enroll'}",
             "--enroll", f"bench-import={self.sync_dir / 'import.enroll'}"],
            capture_output=True, text=True, timeout=1200)
        if proc.returncode != 0:
            raise RuntimeError(f"central seeding failed: {proc.stderr.strip()}")
        self.results["central_seed"] = json.loads(proc.stdout.strip().splitlines()[-1])
        log(f"central seeded in {self.results['central_seed']['seconds']:.1f} s")

    def outpost_cli(self, args, timeout=600):
        proc = subprocess.run([self.outpost] + [str(a) for a in args], capture_output=True,
                              text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"outpost {' '.join(str(a) for a in args[:3])} failed "
                               f"({proc.returncode}): {proc.stderr.strip()} {proc.stdout.strip()}")
        return proc

    def sync_export(self, data_dir, port, out):
        """Wall time of `outpost sync export -o FILE` against the running satellite."""
        started = time.monotonic()
        self.outpost_cli(["sync", "export", "-o", out, "--data-dir", data_dir,
                          "--server", f"https://127.0.0.1:{port}"])
        return time.monotonic() - started

    def sync_export_timing(self, sat_port):
        """Exports of the seeded satellite, serving, after the load runs."""
        times = []
        for i in range(self.p["runs"]):
            times.append(self.sync_export(self.data, sat_port,
                                          self.sync_dir / f"seeded-request-{i + 1}.bin"))
            log(f"sync export {i + 1}: {times[-1]:.3f} s")
        self.results["sync_export_s"] = median(times)
        self.results["raw"]["sync_export_s"] = times
        self.results["sync_request_bytes"] = (self.sync_dir / "seeded-request-1.bin").stat().st_size

    def sync_import_timing(self):
        """Imports of responses carrying the whole catalogue into a fresh enrolled satellite:
        each run exports a new request, central processes it (untimed), and only
        `outpost sync import` is timed (the same response again would be a no-op)."""
        data = self.sync_dir / "import-satellite"
        self.outpost_cli(["init", "--data-dir", data, "--enroll", self.sync_dir / "import.enroll",
                          "--listen", "127.0.0.1:0"])
        sat = Satellite(self.outpost, data, self.work / "outpost-import.log").start()
        times, sizes = [], []
        try:
            for i in range(self.p["runs"]):
                request = self.sync_dir / f"import-request-{i + 1}.bin"
                response = self.sync_dir / f"import-response-{i + 1}.bin"
                self.sync_export(data, sat.port, request)
                self.outpost_cli(["central", "sync", "process", request, "-o", response,
                                  "--data-dir", self.central])
                sizes.append(response.stat().st_size)
                started = time.monotonic()
                self.outpost_cli(["sync", "import", response, "--data-dir", data,
                                  "--server", f"https://127.0.0.1:{sat.port}"])
                times.append(time.monotonic() - started)
                log(f"sync import {i + 1}: {times[-1]:.3f} s ({sizes[-1] / 1e6:.1f} MB response)")
        finally:
            sat.stop()
        self.results["sync_import_s"] = median(times)
        self.results["raw"]["sync_import_s"] = times
        self.results["sync_response_bytes"] = median(sizes)

    # --- the whole suite -----------------------------------------------------------------------
    def run(self):
        started = time.monotonic()
        for tool in (self.outpost, self.loadgen, self.seeder, self.audit, self.central_seeder,
                     self.reg_crypto):
            if not os.access(tool, os.X_OK):
                raise FileNotFoundError(f"{tool} is missing; build with `make bench`")
        self.seed()
        self.startup()
        sat = Satellite(self.outpost, self.data, self.work / "outpost.log").start()
        nginx = None
        try:
            log(f"outpost serving on 127.0.0.1:{sat.port} (pid {sat.proc.pid})")
            self.registrations(sat.port)
            try:
                nginx = Nginx(self.data, self.work / "nginx", workers=os.cpu_count() or 1).start()
                log(f"nginx serving on 127.0.0.1:{nginx.port} (pid {nginx.proc.pid})")
            except (FileNotFoundError, RuntimeError) as e:
                if not self.args.smoke:
                    raise
                log(f"no nginx baseline in the smoke run: {e}")
            nginx_port = nginx.port if nginx else None
            self.authorize(sat.port, nginx_port)
            if self.args.perf:
                self.profile(sat)
            self.half_load(sat.port)
            self.heartbeats(sat.port)
            self.handshakes(sat.port, nginx_port)
            status = proc_status(sat.proc.pid)
            self.results["rss_loaded_mb"] = status["VmRSS"]
            self.results["rss_peak_mb"] = status["VmHWM"]
            self.sync_export_timing(sat.port)
        finally:
            if nginx:
                nginx.stop()
            sat.stop()
        if not self.args.smoke:
            self.durability_normal()
        self.audit_append()
        self.registration_crypto()
        self.sync_import_timing()
        self.results["elapsed_s"] = time.monotonic() - started
        self.results["parameters"] = self.p
        self.results["machine"] = {"cpus": os.cpu_count(), "kernel": platform.release(),
                                   "python": platform.python_version()}
        self.report()

    def profile(self, sat):
        """perf record of the satellite under closed-loop authorize load (--perf)."""
        perf = shutil.which("perf")
        if not perf:
            log("perf not installed; skipping the profile")
            return
        data = self.work / "perf.data"
        rec = subprocess.Popen([perf, "record", "-F", "999", "-g", "-o", str(data), "-p",
                                str(sat.proc.pid)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        try:
            self.closed_loop("outpost authorize (perf)", sat.port, "authorize",
                             self.p["connections"], ["--tag", AUTHORIZE_TAG])
        finally:
            stop(rec, signal.SIGINT, timeout=60)
        report = subprocess.run([perf, "report", "-i", str(data), "--no-children", "--stdio",
                                 "--sort", "dso,symbol", "--percent-limit", "1"],
                                capture_output=True, text=True)
        (self.out / "perf-authorize.txt").write_text(report.stdout)
        log(f"profile written to {self.out / 'perf-authorize.txt'}")

    # --- output --------------------------------------------------------------------------------
    def rows(self):
        r = self.results

        def ratio(a, b):
            return a / b if a and b else None

        auth_ratio = ratio(r.get("authorize_per_s"), r.get("nginx_authorize_per_s"))
        hs_ratio = ratio(r.get("handshakes_per_s"), r.get("nginx_handshakes_per_s"))
        r["authorize_ratio"], r["handshake_ratio"] = auth_ratio, hs_ratio
        a = r.get("audit", {})
        rc = r.get("registration_crypto", {})
        # (name, value, unit, target text, met: True/False/None)
        return [
            ("authorize renewals/s (keep-alive mTLS)", r.get("authorize_per_s"), "req/s",
             "", None),
            ("  nginx return 200, same load", r.get("nginx_authorize_per_s"), "req/s", "", None),
            ("  ratio to nginx", auth_ratio, "x", ">= 0.50",
             None if auth_ratio is None else auth_ratio >= TARGETS["authorize_ratio"]),
            ("  p99 at full load", r.get("authorize_p99_full_ms"), "ms", "", None),
            (f"p99 at half load ({r.get('half_load_rate', 0):.0f} req/s)",
             r.get("p99_half_load_ms"), "ms", "< 5",
             None if r.get("p99_half_load_ms") is None
             else r["p99_half_load_ms"] < TARGETS["p99_half_load_ms"]),
            ("  with database.synchronous = normal", r.get("normal_authorize_per_s"), "req/s",
             "", None),
            ("  p99 at the same half load, normal", r.get("normal_p99_half_load_ms"), "ms", "",
             None),
            ("floating heartbeats/s", r.get("heartbeats_per_s"), "req/s", "", None),
            ("TLS handshakes/s (mTLS, no resumption)", r.get("handshakes_per_s"), "conn/s", "",
             None),
            ("  nginx, same load", r.get("nginx_handshakes_per_s"), "conn/s", "", None),
            ("  ratio to nginx", hs_ratio, "x", ">= 0.70",
             None if hs_ratio is None else hs_ratio >= TARGETS["handshake_ratio"]),
            ("registrations/s (keep-alive, CSR)", r.get("registrations_per_s"), "req/s",
             ">= 5000", None if r.get("registrations_per_s") is None
             else r["registrations_per_s"] >= TARGETS["registrations_per_s"]),
            (f"sync export, {self.p['devices']:,} devices", r.get("sync_export_s"), "s", "< 2",
             None if r.get("sync_export_s") is None
             else r["sync_export_s"] < TARGETS["sync_export_s"]),
            (f"sync import, {self.p['sync_entitlements']:,} entitlements", r.get("sync_import_s"),
             "s", "< 2", None if r.get("sync_import_s") is None
             else r["sync_import_s"] < TARGETS["sync_import_s"]),
            (f"RSS idle at {self.p['devices']:,} devices", r.get("rss_idle_mb"), "MB", "< 300",
             None if r.get("rss_idle_mb") is None else r["rss_idle_mb"] < TARGETS["rss_mb"]),
            ("  RSS peak after the load runs", r.get("rss_peak_mb"), "MB", "", None),
            (f"start-up at {self.p['devices']:,} devices", r.get("startup_s"), "s", "< 1",
             None if r.get("startup_s") is None else r["startup_s"] < TARGETS["startup_s"]),
            ("registration certificate work (CSR)", rc.get("registration_csr_us"), "us CPU",
             "", None),
            ("  of which CSR signature check", rc.get("csr_verify_us"), "us CPU", "", None),
            ("audit append, in one unit", a.get("in_unit_us"), "us/record", "", None),
            ("audit append, 1 per unit, group commit", a.get("grouped_us"), "us/record", "", None),
            ("  empty units, group commit", a.get("grouped_empty_us"), "us/unit", "", None),
            ("audit append, 1 per commit (fsync)", a.get("serial_us"), "us/record", "", None),
        ]

    def report(self):
        rows = self.rows()
        table = []
        mode = "smoke (harness check only; figures are not comparable)" if self.args.smoke else \
            f"medians of {self.p['runs']} runs"
        table.append(f"Outpost benchmarks — {mode}; {os.cpu_count()} CPUs, shared")
        table.append(f"{'metric':<46} {'value':>12} {'unit':<10} {'target':<8} verdict")
        table.append("-" * 92)
        out_rows = []
        for name, value, unit, target, met in rows:
            if isinstance(met, str):  # not measured, with the reason
                shown, verdict = "-", met
            elif value is None:
                shown, verdict = "-", "not measured" if target else ""
            else:
                shown = f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
                verdict = "" if met is None else ("met" if met else "NOT MET")
            if self.args.smoke and verdict in ("met", "NOT MET"):
                verdict = ""  # smoke figures say nothing about the targets
            table.append(f"{name:<46} {shown:>12} {unit:<10} {target:<8} {verdict}")
            out_rows.append({"metric": name.strip(), "value": value, "unit": unit,
                             "target": target, "verdict": verdict})
        table.append(f"(suite took {self.results['elapsed_s']:.0f} s; raw runs in "
                     f"{self.out / ('results-smoke.json' if self.args.smoke else 'results.json')})")
        print("\n".join(table), flush=True)
        self.results["table"] = out_rows
        name = "results-smoke.json" if self.args.smoke else "results.json"
        (self.out / name).write_text(json.dumps(self.results, indent=2) + "\n")

    def check_smoke(self):
        """The harness works: every phase produced throughput and (almost) no errors."""
        r = self.results
        for key in ("registrations_per_s", "authorize_per_s", "heartbeats_per_s",
                    "handshakes_per_s", "startup_s", "sync_export_s", "sync_import_s"):
            if not r.get(key):
                self.failures.append(f"{key} is {r.get(key)}")
        for label, runs in r["raw"].items():
            if isinstance(runs, list) and runs and isinstance(runs[0], dict) and "errors" in runs[0]:
                errors = sum(x["errors_total"] for x in runs)
                ok = sum(x["ok"] for x in runs)
                # A few timeouts on a loaded CI machine are not a broken harness.
                if errors > max(5, ok // 100):
                    self.failures.append(f"{label}: {errors} errors ({runs[-1]['errors']})")
        return not self.failures


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--build-dir", default="build/release")
    parser.add_argument("--out", default="build/bench")
    parser.add_argument("--smoke", action="store_true", help="small N, one run: harness check")
    parser.add_argument("--runs", type=int, help="runs per measurement (median)")
    parser.add_argument("--devices", type=int, help="seeded devices")
    parser.add_argument("--duration", type=float, help="measured seconds per load run")
    parser.add_argument("--perf", action="store_true",
                        help="also record a perf profile of the satellite under authorize load")
    args = parser.parse_args()
    params = dict(SMOKE if args.smoke else FULL)
    for key in ("runs", "devices", "duration"):
        if getattr(args, key) is not None:
            params[key] = getattr(args, key)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    bench = Bench(args, params)
    bench.run()
    if args.smoke and not bench.check_smoke():
        print("bench-smoke FAILED:\n  " + "\n  ".join(bench.failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
