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
import http.client
import json
import os
import platform
import re
import selectors
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# DESIGN.md section 5.
TARGETS = {
    "authorize_ratio": 0.50,  # renewals/s >= 50% of nginx's
    "authorize_cpu_ratio": 3.0,  # server CPU per renewal <= 3x nginx's per `return 200`
    "p99_half_load_ms": 5.0,
    "handshake_ratio": 0.70,
    "registrations_per_s": 5000.0,
    "rss_mb": 300.0,
    "startup_s": 1.0,
    "sync_export_s": 2.0,
    "sync_import_s": 2.0,
    "console_p99_ms": 100.0,  # console and admin API pages at 1M devices
}
# Console rows measured for comparison only: the console no longer asks for them (the Licenses
# page pages; the CLI's `outpost licenses` still reads a whole listing).
CONSOLE_UNTARGETED = {"licenses, whole VA unpaged"}

FULL = dict(devices=1_000_000, tags=1000, vas=10, registrations=5000, connections=64,
            handshake_connections=32, duration=10.0, warmup=2.0, runs=3, audit_records=20000,
            sync_entitlements=100_000, sync_vas=100, console_audit_records=1_000_000,
            console_requests=200)
SMOKE = dict(devices=2000, tags=50, vas=2, registrations=200, connections=8,
             handshake_connections=4, duration=1.5, warmup=0.5, runs=1, audit_records=500,
             sync_entitlements=1000, sync_vas=10, console_audit_records=2000,
             console_requests=20)

AUTHORIZE_TAG = "bench.tag.0000"  # entitled in VA "default", where the bench token registers

# What --only can select, in the order the suite runs them. Prerequisites are added by
# Bench.plan(): the load sections need the registered devices, half-load needs authorize's rate.
SECTIONS = ("startup", "register", "authorize", "half-load", "heartbeat", "handshake",
            "sync-export", "normal", "audit", "registration-crypto", "sync-import", "backup",
            "console", "audit_growth")

# audit_growth: the fleet the per-day figure is for (issue 16), and its heartbeat period (the
# default floating lease, policy.floating_lease; one renewal per device per lease assumed).
FLEET_DEVICES = 100_000
HEARTBEAT_S = 15 * 60

CLK_TCK = os.sysconf("SC_CLK_TCK")


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


def cpu_ticks(pid):
    """utime + stime of process `pid`, all its threads, in clock ticks: fields 14 and 15 of
    /proc/PID/stat (counted after the command name, which may hold spaces and parentheses)."""
    with open(f"/proc/{pid}/stat") as f:
        after_comm = f.read().rsplit(")", 1)[1].split()
    return int(after_comm[11]) + int(after_comm[12])  # after_comm[0] is field 3


def child_pids(pid):
    """The children of `pid` (nginx's workers): /proc/PID/task/*/children where the kernel has
    it, else a scan of /proc for processes whose parent is `pid`."""
    children = set()
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                children.update(int(c) for c in f.read().split())
        return sorted(children)
    except OSError:
        pass
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    children.add(int(entry))
        except (OSError, ValueError, IndexError):
            continue  # exited meanwhile
    return sorted(children)


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


def server_cpu_ticks(pids):
    """utime + stime summed over `pids`; a process that exited meanwhile counts nothing."""
    total = 0
    for pid in pids:
        try:
            total += cpu_ticks(pid)
        except OSError:
            pass
    return total


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def parse_perf_script(text):
    """perf script output (-F tid,period,ip,sym,dso with call graphs) as a list of
    (tid, period, [(symbol, dso), ...] from the sampled frame outwards)."""
    samples, frames, tid, period = [], None, "", 0
    for line in text.splitlines():
        if not line.strip():
            if frames is not None:
                samples.append((tid, period, frames))
            frames = None
            continue
        if not line[0].isspace() or frames is None:
            fields = line.split()
            tid = fields[0] if fields else ""
            period = int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else 1
            frames = []
            continue
        body = line.strip().split(None, 1)  # "ADDRESS SYMBOL+OFFSET (DSO)"
        rest = body[1] if len(body) > 1 else ""
        dso = rest[rest.rfind(" (") + 2:-1] if rest.endswith(")") and " (" in rest else ""
        symbol = rest[:rest.rfind(" (")] if dso else rest
        if "+0x" in symbol:
            symbol = symbol[:symbol.rfind("+0x")]
        frames.append((symbol, os.path.basename(dso)))
    if frames is not None:
        samples.append((tid, period, frames))
    return samples


# Where a renewal's CPU goes: each perf sample is put in the group of the frame nearest to the
# sampled instruction that some rule recognises (so a SHA-256 in libcrypto counts for the audit
# chain or the Merkle tree by its caller, and malloc counts as allocation whoever called it).
# Kernel samples go by their system call. Rules are (group, dso substring, symbol regex).
PROFILE_GROUPS = (
    ("allocation", "libmimalloc", None),
    ("allocation", None, r"^(malloc|free|calloc|realloc|cfree|_int_malloc|_int_free|"
                         r"malloc_consolidate|unlink_chunk|operator new|operator delete|"
                         r"CRYPTO_(malloc|zalloc|free|realloc|clear_free)|sqlite3_free|"
                         r"sqlite3Malloc|sqlite3MemMalloc|sqlite3MemFree|sqlite3DbFree)"),
    ("locking/futex", None, r"pthread_(mutex|rwlock|cond|spin)|__lll_lock|CRYPTO_THREAD_|"
                            r"shared_mutex|^futex_"),
    ("TLS record crypto", "libssl", None),
    ("TLS record crypto", None, r"boost::asio::ssl::|boost::beast::flat_stream"),
    ("device identity from the client certificate", None,
     r"CommonNameOf|subject_common_name|serial_hex|crypto::Certificate::|"
     r"LicensingService::Identify"),
    ("signing (Merkle tree, Ed25519)", None,
     r"Merkle|PrivateKey::Sign|LicensingService::SignAnswers"),
    ("protobuf and answer building", "libprotobuf", None),
    ("protobuf and answer building", None,
     r"google::protobuf|outpost::v1::|LicensingService::ToAuthorization|licensing::FormatTime|"
     r"http::DecodeBody|http::Encode"),
    ("audit record and hash chain", "libboost_json", None),
    ("audit record and hash chain", None, r"outpost::server::audit::|LicensingService::Audit"),
    ("SQLite", "libsqlite3", None),
    ("SQLite", None, r"outpost::sqlite::|licensing::PersistDelta"),
    ("HTTP parsing and serialisation", None, r"boost::beast::http::|outpost::http::"),
    ("Asio scheduling", None, r"boost::asio::|boost::beast::basic_stream"),
    ("HTTP parsing and serialisation", None, r"boost::beast::"),
    ("licensing decision and state", None, r"outpost::server::licensing::"),
)
# System calls (kernel frames, or the libc wrapper a sample landed in) by name.
SYSCALL_GROUPS = (
    (r"futex|pthread_cond|pthread_mutex|lll_lock", "locking/futex"),
    (r"epoll|eventfd", "Asio scheduling"),
    (r"sendmsg|recvmsg|sendto|recvfrom|writev|readv", "kernel: loopback TCP send/receive"),
    (r"pwrite|pread|fsync|fdatasync|ftruncate|fcntl", "kernel: database file write/fsync"),
    (r"madvise|mmap|munmap|mprotect|brk", "allocation"),
)
# Kernel work that no system call names (interrupts, softirqs), by what the kernel was doing.
KERNEL_KEYWORDS = (
    (r"futex", "locking/futex"),
    (r"^ep_|epoll", "Asio scheduling"),
    (r"^tcp_|^sock_|^inet_|^ip_|skb|net_rx|napi", "kernel: loopback TCP send/receive"),
    (r"ext4|jbd2|^blk|iowrite|fsync|filemap|generic_perform_write|^vfs_write|^vfs_read",
     "kernel: database file write/fsync"),
    (r"exc_page_fault|handle_mm_fault", "allocation"),
)
LIBC_SYSCALL_WRAPPER = (r"^(?:__libc_|__GI___libc_|__GI___|__GI_|__)?(sendmsg|recvmsg|writev|"
                        r"readv|write|read|epoll_wait|epoll_ctl|pwrite64|pread64|fdatasync|fsync|"
                        r"madvise|munmap)")


def syscall_group(frames):
    """The group of a sample taken in the kernel or in a libc system-call wrapper, by the system
    call's name, else by what the kernel was doing; None when neither tells (write and read:
    a socket, the database or Asio's eventfd, which only the caller tells)."""
    names = []
    for sym, dso in frames:
        if dso == "[kernel.kallsyms]":
            m = re.match(r"(?:__x64_sys_|__ia32_sys_|__do_sys_|__se_sys_|__sys_|ksys_)(\w+)$", sym)
            if m:
                names.append(m.group(1))
            continue
        if dso.startswith("libc.so"):
            m = re.match(LIBC_SYSCALL_WRAPPER, sym)
            if m:
                names.append(m.group(1))
        break  # the first user-space frame ends the system call
    for name in names:
        for pattern, group in SYSCALL_GROUPS:
            if re.search(pattern, name):
                return group
    for sym, dso in frames:
        if dso != "[kernel.kallsyms]":
            break
        for pattern, group in KERNEL_KEYWORDS:
            if re.search(pattern, sym):
                return group
    return None


def classify_sample(frames):
    """(group, leaf symbol) of one sample's frames, innermost first."""
    real = [f for f in frames if f[1] != "inlined"]
    leaf = f"{real[0][0]} ({real[0][1]})" if real else "?"
    in_kernel = bool(real) and real[0][1] == "[kernel.kallsyms]"
    if in_kernel or (real and real[0][1].startswith("libc.so")):
        group = syscall_group(real)
        if group:
            return group, leaf
    user = classify_user(frames)
    if in_kernel:
        # A system call that only its caller names (entry, exit, interrupts on the way): the
        # caller's group.
        return user or "kernel: other", leaf
    return user or "other", leaf


_GROUP_PATTERNS = None


def classify_user(frames, skip=()):
    """The group of the innermost user-space frame a rule recognises (rules of groups in `skip`
    ignored: what an allocation or a lock was for)."""
    global _GROUP_PATTERNS
    if _GROUP_PATTERNS is None:
        _GROUP_PATTERNS = [(g, d, re.compile(r) if r else None) for g, d, r in PROFILE_GROUPS]
    for sym, dso in frames:
        if dso == "[kernel.kallsyms]":
            continue
        for group, dso_part, pattern in _GROUP_PATTERNS:
            if group in skip:
                continue
            if dso_part is not None and dso_part in dso:
                return group
            if pattern is not None and pattern.search(sym):
                return group
    return None


PROFILE_SYSCALLS = ("recvmsg", "sendmsg", "read", "write", "epoll_wait", "epoll_ctl", "futex",
                    "pwrite64", "pread64", "fdatasync", "fsync", "fcntl", "madvise", "munmap",
                    "mmap")
PROFILE_SERVICE_GROUPS = ("allocation", "locking/futex")  # reported with what they served
# A sample's thread by what its stack runs (all threads are named "outpost").
THREAD_ROLES = (("writer", r"sqlite::Writer::Loop"), ("WAL", r"Writer::WalCheckpointLoop"),
                ("I/O", r"asio::detail::scheduler::run|io_context::run"))


def group_profile(text):
    """Shares of the samples by group and by thread (I/O threads, the database writer, the WAL
    checkpoint thread), each group's top leaf symbols, and for allocation and locking the
    groups they were done for."""
    samples = parse_perf_script(text)
    total = sum(p for _, p, _ in samples) or 1
    groups, leaves, symbols, served, threads = {}, {}, {}, {}, {}
    roles = [(name, re.compile(pattern)) for name, pattern in THREAD_ROLES]
    for _, period, frames in samples:
        group, leaf = classify_sample(frames)
        groups[group] = groups.get(group, 0) + period
        leaves.setdefault(group, {})
        leaves[group][leaf] = leaves[group].get(leaf, 0) + period
        symbols[leaf] = symbols.get(leaf, 0) + period
        role = next((name for name, pattern in roles
                     if any(pattern.search(sym) for sym, _ in frames)), "other")
        threads.setdefault(group, {})
        threads[group][role] = threads[group].get(role, 0) + period
        if group in PROFILE_SERVICE_GROUPS:
            for_group = classify_user(frames, skip=PROFILE_SERVICE_GROUPS) or "other"
            served.setdefault(group, {})
            served[group][for_group] = served[group].get(for_group, 0) + period

    def top(d, n):
        return [[k, v / total] for k, v in sorted(d.items(), key=lambda kv: -kv[1])[:n]]

    by_thread = {}
    for per_role in threads.values():
        for role, v in per_role.items():
            by_thread[role] = by_thread.get(role, 0) + v / total
    return {"samples": len(samples),
            "groups": {g: v / total for g, v in sorted(groups.items(), key=lambda kv: -kv[1])},
            "threads": by_thread,
            "group_threads": {g: {r: v / total for r, v in t.items()} for g, t in threads.items()},
            "group_top_symbols": {g: top(leaves[g], 6) for g in groups},
            "served": {g: top(v, 8) for g, v in served.items()},
            "top_symbols": top(symbols, 40)}


def format_groups(groups, us):
    roles = [name for name, _ in THREAD_ROLES] + ["other"]
    lines = [f"{groups['samples']} samples; shares of the satellite's CPU in the renewal window, "
             f"and us per renewal at {us:.1f} us of CPU per renewal", "",
             f"{'group':<48} {'share':>6} {'us':>6}   " + "  ".join(f"{r:>6}" for r in roles)]
    for name, share in groups["groups"].items():
        split = groups["group_threads"].get(name, {})
        lines.append(f"{name:<48} {100 * share:5.1f}% {share * us:6.1f}   " +
                     "  ".join(f"{split.get(r, 0) * us:6.1f}" for r in roles))
    lines.append(f"{'all (us per thread)':<48} {100.0:5.1f}% {us:6.1f}   " +
                 "  ".join(f"{groups['threads'].get(r, 0) * us:6.1f}" for r in roles))
    lines += ["", "Each group's top leaf symbols, and what allocation and locking served:"]
    for name, share in groups["groups"].items():
        lines.append(f"{name} ({100 * share:.1f}%)")
        for symbol, s in groups["group_top_symbols"][name]:
            lines.append(f"    {100 * s:5.1f}%  {symbol[:110]}")
        for for_group, s in groups["served"].get(name, []):
            lines.append(f"    for {for_group:<44} {100 * s:5.1f}% {s * us:6.1f} us")
    lines += ["", "Top symbols (where the samples landed):"]
    for symbol, s in groups["top_symbols"]:
        lines.append(f"  {100 * s:5.1f}% {s * us:6.2f} us  {symbol[:120]}")
    return "\n".join(lines) + "\n"


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

    def cpu_pids(self):
        """The I/O threads, the writer and every other thread are one process."""
        return [self.proc.pid]

    def answered(self):
        """Requests answered so far, every route and status (outpost_http_requests_total from
        /metrics, open by default; this scrape is counted once it is answered)."""
        context = ssl.create_default_context(cafile=str(Path(self.data_dir) / "ca.pem"))
        context.check_hostname = False  # loopback; the chain is still verified
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=context, timeout=10)
        try:
            conn.request("GET", "/metrics")
            response = conn.getresponse()
            body = response.read().decode()
            if response.status != 200:
                raise RuntimeError(f"GET /metrics: {response.status}")
        finally:
            conn.close()
        # The writer's transactions, to tell how many renewals shared a commit and a signature.
        self.counters = {}
        for line in body.splitlines():
            name, _, value = line.partition(" ")
            if name in ("outpost_db_writer_batches_total", "outpost_db_writer_units_total"):
                self.counters[name] = float(value)
        return sum(int(float(line.rsplit(" ", 1)[1])) for line in body.splitlines()
                   if line.startswith("outpost_http_requests_total{"))

    def stop(self):
        stop(self.proc)
        self.proc = None


class Nginx:
    """nginx answering `return 200` with the satellite's own TLS certificate (ECDSA P-256 from
    its CA) and client-certificate verification against the satellite CA, like the satellite."""

    def __init__(self, data_dir, work_dir, workers):
        self.data_dir, self.work_dir, self.workers = Path(data_dir), Path(work_dir), workers
        self.proc, self.port, self.status_port = None, None, None

    def start(self):
        nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx")
                                          else None)
        if nginx is None:
            raise FileNotFoundError("nginx is not installed (deploy/install-bench-deps.sh)")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.status_port = free_port()
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
  # Request counts for the CPU-per-request figure, on plain HTTP so reading them costs no
  # handshake.
  server {{
    listen 127.0.0.1:{self.status_port};
    location = /status {{ stub_status; }}
  }}
}}
""")
        self.proc = subprocess.Popen([nginx, "-c", str(conf), "-e", str(self.work_dir / "error.log")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self.proc)
        wait_for_port(self.status_port, self.proc)
        return self

    def cpu_pids(self):
        """The master and its workers."""
        return [self.proc.pid] + child_pids(self.proc.pid)

    def answered(self):
        """Requests answered so far by all workers (stub_status; this read counts as one)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.status_port, timeout=10)
        try:
            conn.request("GET", "/status")
            response = conn.getresponse()
            lines = response.read().decode().splitlines()
            if response.status != 200:
                raise RuntimeError(f"nginx stub_status: {response.status}")
        finally:
            conn.close()
        # "Active connections: N" / "server accepts handled requests" / " A H R" / ...
        return int(lines[2].split()[2])

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
        # --compare-build-dir: a second satellite binary measured in the same invocation.
        self.compare = (str(Path(args.compare_build_dir).resolve() / "cli" / "outpost")
                        if getattr(args, "compare_build_dir", None) else None)
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

    def with_server_cpu(self, server, label, run, during=None):
        """Runs `run()` (one closed-loop load run of `label` against `server`) and measures the
        server's CPU per request: utime + stime of its processes (fields 14 and 15 of
        /proc/PID/stat) and its count of answered requests, both read once when the warm-up is
        over and once just before the measured window ends. The load generator's own CPU is not
        in it. The figure is added to run()'s result as "server_cpu". `during(seconds)`, if
        given, runs between the two readings (a profiler attached for that long)."""
        marks, failure = [], []

        def sample():
            try:
                # The load generator loads its identities (seconds for thousands of keys) before
                # it connects: time the window from the first answers, not from its launch.
                # Each reading is an answered request itself, hence `polls`.
                baseline, deadline, polls = server.answered(), time.monotonic() + 120, 1
                while server.answered() - baseline - polls < 20:
                    polls += 1
                    if time.monotonic() > deadline:
                        raise RuntimeError("the load did not start within 120 s")
                    time.sleep(0.05)
                started = time.monotonic()
                at = (started + self.p["warmup"],
                      started + self.p["warmup"] + self.p["duration"] - 0.5)
                for moment in at:
                    if during and marks:
                        during(max(0.5, moment - time.monotonic() - 0.2))
                    time.sleep(max(0.0, moment - time.monotonic()))
                    answered = server.answered()
                    ticks = server_cpu_ticks(server.cpu_pids())  # right after the count
                    marks.append((time.monotonic(), ticks, answered,
                                  dict(getattr(server, "counters", {}))))
            except Exception as e:  # reported below, after the load run
                failure.append(e)

        sampler = threading.Thread(target=sample, name="server-cpu", daemon=True)
        sampler.start()
        result = run()
        sampler.join(timeout=30)
        if failure or len(marks) != 2:
            raise RuntimeError(f"{label}: could not sample the server's CPU: "
                               f"{failure[0] if failure else 'sampler did not finish'}")
        (t0, ticks0, n0, counters0), (t1, ticks1, n1, counters1) = marks
        requests = n1 - n0
        if requests <= 0:
            raise RuntimeError(f"{label}: the server answered no requests in the CPU window")
        cpu_s = (ticks1 - ticks0) / CLK_TCK
        cpu = {"us_per_request": cpu_s * 1e6 / requests, "cpu_s": cpu_s, "requests": requests,
               "interval_s": t1 - t0, "cores": cpu_s / (t1 - t0),
               "requests_per_s": requests / (t1 - t0), "clock_ticks_per_s": CLK_TCK}
        batches = (counters1.get("outpost_db_writer_batches_total", 0) -
                   counters0.get("outpost_db_writer_batches_total", 0))
        if batches > 0:
            cpu["units_per_writer_batch"] = (counters1["outpost_db_writer_units_total"] -
                                             counters0["outpost_db_writer_units_total"]) / batches
        result["server_cpu"] = cpu
        # The window is inside the load generator's, so both rates should agree.
        generated = result["requests_per_s"]
        if generated and abs(cpu["requests_per_s"] / generated - 1) > 0.1:
            log(f"{label}: the server answered {cpu['requests_per_s']:.0f} req/s in the CPU window "
                f"against the load generator's {result['requests_per_s']:.0f} req/s")
        batch = (f", {cpu['units_per_writer_batch']:.1f} units per commit"
                 if "units_per_writer_batch" in cpu else "")
        print(f"  {'':10} {label:<26} server CPU {cpu['us_per_request']:8.1f} us/request "
              f"({cpu['cores']:.2f} cores, {requests} requests in {cpu['interval_s']:.1f} s"
              f"{batch})", flush=True)
        return result

    # --- phases --------------------------------------------------------------------------------
    def seed(self):
        if self.work.exists():
            shutil.rmtree(self.work)
        self.work.mkdir(parents=True)
        self.sync_central()
        # The console's audit pages need a trail: renewals and pool events after the devices.
        audit = (self.p["console_audit_records"] if "console" in self.results.get("sections", [])
                 else 0)
        log(f"seeding {self.p['devices']} devices, {self.p['tags']} tags x {self.p['vas']} VAs"
            + (f", {audit} audit records" if audit else ""))
        proc = subprocess.run(
            [self.seeder, "--data-dir", str(self.data), "--devices", str(self.p["devices"]),
             "--tags", str(self.p["tags"]), "--vas", str(self.p["vas"]),
             "--token-out", str(self.work / "token"),
             "--enroll", str(self.sync_dir / "seeded.enroll"), "--audit-records", str(audit)],
            capture_output=True, text=True, timeout=2400)
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
        # The same after kill -9 (no clean stop, no new state file): each start follows the kill
        # of the previous one.
        killed = []
        for i in range(self.p["runs"] + 1):
            sat = Satellite(self.outpost, self.data, self.work / "outpost.log").start()
            stop(sat.proc, signal.SIGKILL)
            if i > 0:  # the first one followed a clean stop
                killed.append(sat.startup_s)
                log(f"start-up after kill -9 {i}: {sat.startup_s:.3f} s")
        # The next section's satellite starts after a clean stop, as before.
        Satellite(self.outpost, self.data, self.work / "outpost.log").start().stop()
        self.results["startup_after_kill_s"] = median(killed)
        self.results["raw"]["startup_after_kill_s"] = killed

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

    def authorize(self, sat, nginx, sat_b=None):
        """Closed-loop renewals against the satellite and `return 200` from nginx, alternating,
        with each server's CPU per request. With `sat_b` (--compare-build-dir) each run measures
        both satellites, each followed by nginx, A first in even runs and B first in odd ones."""
        ours, theirs, p99, our_cpu, their_cpu = [], [], [], [], []
        b_cpu, b_nginx_cpu, b_rate = [], [], []
        for i in range(self.p["runs"]):
            if sat_b and i % 2 == 1:
                self.authorize_b(sat_b, nginx, b_cpu, b_nginx_cpu, b_rate)
            r = self.with_server_cpu(sat, "outpost authorize", lambda: self.closed_loop(
                "outpost authorize", sat.port, "authorize", self.p["connections"],
                ["--tag", AUTHORIZE_TAG, "--check"]))
            ours.append(r["requests_per_s"])
            p99.append(r["latency_ms"]["p99"])
            our_cpu.append(r["server_cpu"]["us_per_request"])
            if nginx:
                n = self.with_server_cpu(nginx, "nginx authorize", lambda: self.closed_loop(
                    "nginx authorize", nginx.port, "authorize", self.p["connections"],
                    ["--tag", AUTHORIZE_TAG]))
                theirs.append(n["requests_per_s"])
                their_cpu.append(n["server_cpu"]["us_per_request"])
            if sat_b and i % 2 == 0:
                self.authorize_b(sat_b, nginx, b_cpu, b_nginx_cpu, b_rate)
        self.results["authorize_per_s"] = median(ours)
        self.results["authorize_p99_full_ms"] = median(p99)
        self.results["nginx_authorize_per_s"] = median(theirs)
        self.results["authorize_cpu_us"] = median(our_cpu)
        self.results["nginx_cpu_us"] = median(their_cpu)
        self.results["raw"]["authorize_cpu_us"] = our_cpu
        self.results["raw"]["nginx_cpu_us"] = their_cpu
        # Each pair ran back to back under the same background load.
        self.results["raw"]["authorize_cpu_ratio_per_pair"] = [
            a / b for a, b in zip(our_cpu, their_cpu) if b]
        if sat_b:
            self.results["compare"] = {
                "binary": self.compare, "authorize_per_s": median(b_rate),
                "authorize_cpu_us": median(b_cpu), "nginx_cpu_us": median(b_nginx_cpu),
                "authorize_cpu_ratio": median(b_cpu) / median(b_nginx_cpu),
                "raw_cpu_us": b_cpu, "raw_nginx_cpu_us": b_nginx_cpu,
                "ratio_per_pair": [a / b for a, b in zip(b_cpu, b_nginx_cpu) if b]}

    def authorize_b(self, sat_b, nginx, cpu, nginx_cpu, rate):
        """One closed-loop authorize run against the comparison satellite, then nginx."""
        r = self.with_server_cpu(sat_b, "outpost-B authorize", lambda: self.closed_loop(
            "outpost-B authorize", sat_b.port, "authorize", self.p["connections"],
            ["--tag", AUTHORIZE_TAG, "--check"]))
        cpu.append(r["server_cpu"]["us_per_request"])
        rate.append(r["requests_per_s"])
        if nginx:
            n = self.with_server_cpu(nginx, "nginx authorize (B)", lambda: self.closed_loop(
                "nginx authorize (B)", nginx.port, "authorize", self.p["connections"],
                ["--tag", AUTHORIZE_TAG]))
            nginx_cpu.append(n["server_cpu"]["us_per_request"])

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

    def audit_footprint(self):
        """With the satellite stopped (its WAL checkpointed): the audit trail's bytes on disk
        (pages of audit_log and its time index, from SQLite's dbstat), the database file's size,
        and the number of records per action."""
        import sqlite3
        db = sqlite3.connect(f"file:{self.data / 'outpost.db'}?mode=ro", uri=True)
        try:
            pages = dict(db.execute(
                "SELECT name, sum(pgsize) FROM dbstat WHERE name IN ('audit_log', "
                "'audit_log_time') GROUP BY name").fetchall())
            actions = dict(db.execute(
                "SELECT action, count(*) FROM audit_log GROUP BY action").fetchall())
            payload = dict(db.execute(
                "SELECT action, avg(length(actor) + length(action) + length(object) + "
                "length(details) + length(prev_hash) + length(hash) + 8) FROM audit_log "
                "GROUP BY action").fetchall())
        finally:
            db.close()
        files = sum(f.stat().st_size for f in self.data.glob("outpost.db*"))
        return {"audit_bytes": sum(pages.values()), "file_bytes": files, "actions": actions,
                "payload": payload}

    def audit_growth(self):
        """Bytes of audit per renewal, measured on the real database: unchanged renewals
        (floating heartbeats from the registered devices, closed loop) and renewals that change
        the count every time (`outpost device authorize` alternating TAG:1 and TAG:2), each as
        the growth of the audit pages (dbstat) and of the database file between two clean
        stops, divided by the renewals audited in between. Then the disk growth per day for
        FLEET_DEVICES floating devices renewing every HEARTBEAT_S, and the size of an archive
        file (`outpost audit archive`) per record."""
        floating = f"bench.tag.{self.p['tags'] - 1:04d}"  # the seeder makes the last tags floating
        out = {}

        def measure(label, drive):
            before = self.audit_footprint()
            sat = Satellite(self.outpost, self.data, self.work / "outpost-growth.log").start()
            try:
                drive(sat)
            finally:
                sat.stop()
            after = self.audit_footprint()
            renewals = sum(after["actions"].get(a, 0) - before["actions"].get(a, 0)
                           for a in ("device.authorize", "device.renew"))
            records = sum(after["actions"].values()) - sum(before["actions"].values())
            if renewals <= 0:
                raise RuntimeError(f"audit_growth {label}: no renewal was audited")
            m = {"renewals": renewals, "records": records,
                 "full": after["actions"].get("device.authorize", 0) -
                 before["actions"].get("device.authorize", 0),
                 "compact": after["actions"].get("device.renew", 0) -
                 before["actions"].get("device.renew", 0),
                 "audit_bytes_per_renewal": (after["audit_bytes"] - before["audit_bytes"]) /
                 renewals,
                 "file_bytes_per_renewal": (after["file_bytes"] - before["file_bytes"]) /
                 renewals,
                 "record_bytes": after["payload"]}
            log(f"audit_growth {label}: {renewals} renewals ({m['compact']} compact, "
                f"{m['full']} full), {m['audit_bytes_per_renewal']:.0f} audit bytes and "
                f"{m['file_bytes_per_renewal']:.0f} file bytes per renewal")
            out[label] = m

        def heartbeats(sat):
            # Twice: the first request of each device takes the lease (a change), every later
            # one only extends it.
            for _ in range(2):
                self.closed_loop("outpost audit growth", sat.port, "heartbeat",
                                 self.p["connections"], ["--tag", floating, "--check"])

        measure("unchanged", heartbeats)

        # Changing renewals, through the CLI's device commands (a device's state directory
        # names the satellite's URL, so registration and renewals share one run; the audit pages
        # are read live, through the WAL, around the renewals alone).
        changing_devices, changing_rounds = 4, max(25, self.p["runs"] * 25)
        token = (self.work / "token").read_text().strip()
        sat = Satellite(self.outpost, self.data, self.work / "outpost-growth.log").start()
        try:
            states = []
            for i in range(changing_devices):
                state = self.work / f"growth-device-{i}"
                if state.exists():
                    shutil.rmtree(state)
                self.outpost_cli(["device", "register", "--server",
                                  f"https://127.0.0.1:{sat.port}", "--ca", self.data / "ca.pem",
                                  "--token", token, "--pid", "GROWTH", "--serial", f"G{i}",
                                  "--state-dir", state])
                states.append(state)
            before = self.audit_footprint()
            for n in range(changing_rounds):
                for state in states:
                    self.outpost_cli(["device", "authorize", "--state-dir", state,
                                      "--tag", f"{AUTHORIZE_TAG}:{1 + n % 2}"])
            after = self.audit_footprint()
        finally:
            sat.stop()
        renewals = (after["actions"].get("device.authorize", 0) -
                    before["actions"].get("device.authorize", 0))
        records = sum(after["actions"].values()) - sum(before["actions"].values())
        if renewals <= 0:
            raise RuntimeError("audit_growth changing: no renewal was audited")
        out["changing"] = {
            "renewals": renewals, "records": records, "full": renewals, "compact": 0,
            "audit_bytes_per_renewal": (after["audit_bytes"] - before["audit_bytes"]) / records,
            # The database file is not measured here (the WAL holds the pages while serving):
            # a full record grows the file as much as its pages, as the unchanged case shows.
            "file_bytes_per_renewal": (after["audit_bytes"] - before["audit_bytes"]) / records,
            "record_bytes": after["payload"]}
        log(f"audit_growth changing: {renewals} renewals in {records} records, "
            f"{out['changing']['audit_bytes_per_renewal']:.0f} audit bytes per renewal")

        renewals_per_day = FLEET_DEVICES * 86_400 / HEARTBEAT_S
        for label in ("unchanged", "changing"):
            m = out[label]
            m["gb_per_day_100k_floating"] = m["file_bytes_per_renewal"] * renewals_per_day / 1e9
            m["audit_gb_per_day_100k_floating"] = (m["audit_bytes_per_renewal"] *
                                                   renewals_per_day / 1e9)

        # An archive of everything so far: its bytes per record.
        archive = self.work / "audit-growth.outpost-audit"
        if archive.exists():
            archive.unlink()
        sat = Satellite(self.outpost, self.data, self.work / "outpost-growth.log").start()
        try:
            tomorrow = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86_400))
            proc = self.outpost_cli(["--json", "audit", "archive", "--before", tomorrow, "-o",
                                     archive, "--data-dir", self.data,
                                     "--server", f"https://127.0.0.1:{sat.port}"])
            committed = json.loads(proc.stdout)
            archived = int(committed["last_seq"]) - int(committed["first_seq"]) + 1
            out["archive_bytes_per_record"] = archive.stat().st_size / archived
            out["archived_records"] = archived
            self.outpost_cli(["audit", "verify", "--archive", archive, "--data-dir", self.data,
                              "--server", f"https://127.0.0.1:{sat.port}"])
        finally:
            sat.stop()
        out["renewals_per_day"] = renewals_per_day
        out["assumptions"] = (f"{FLEET_DEVICES} floating devices, one renewal each per "
                              f"{HEARTBEAT_S // 60}-minute lease, every renewal unchanged "
                              "(or, for 'changing', every one a full record)")
        self.results["audit_growth"] = out

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

    def backup_while_serving(self, sat):
        """`outpost backup` of the seeded database (docs/operations.md) while the satellite
        serves: its time with no load, then renewals at a fixed rate (half of the closed-loop
        rate when authorize ran, else 1,000/s) for as long as a backup takes, once without and
        once with a backup started when the load is warm. Reports the backup's time and size and
        the renewals' p99 both ways (the backup's reader holds one snapshot; the writer is never
        blocked, but the copy and the encryption take disk and CPU from the same 2 cores)."""
        rate = self.results.get("half_load_rate") or 1000.0
        passphrase = self.work / "backup.passphrase"
        passphrase.write_text("bench backup passphrase\n")
        out = self.work / "bench.bak"

        def backup():
            started = time.monotonic()
            proc = subprocess.run([self.outpost, "backup", "-o", str(out), "--force",
                                   "--data-dir", str(self.data), "--passphrase-file",
                                   str(passphrase)], capture_output=True, text=True, timeout=3600)
            if proc.returncode != 0:
                raise RuntimeError(f"outpost backup failed: {proc.stderr.strip()}")
            return time.monotonic() - started

        no_load = backup()
        db_bytes = os.path.getsize(self.data / "outpost.db")
        log(f"backup with no load: {no_load:.2f} s, database {db_bytes / 1e6:.0f} MB, "
            f"backup file {out.stat().st_size / 1e6:.0f} MB")
        # Long enough that the backup under load ends inside the measured window.
        duration = max(self.p["duration"], 2.0 * no_load + 5.0)

        def load(label):
            return self.run_loadgen(label, sat.port, "authorize",
                                    ["--connections", str(self.p["connections"]),
                                     "--rate", f"{rate:.0f}", "--duration", f"{duration:.1f}",
                                     "--warmup", str(self.p["warmup"]),
                                     "--identities", str(self.identities),
                                     "--tag", AUTHORIZE_TAG, "--check"],
                                    timeout=duration + self.p["warmup"] + 600)

        baseline = load("outpost authorize @rate, no backup")
        during = {}

        def backup_when_warm():
            try:
                # The load generator loads its identities before it connects: start the backup
                # once renewals are being answered and the warm-up is over.
                start, deadline = sat.answered(), time.monotonic() + 120
                while sat.answered() - start < 20:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the load did not start within 120 s")
                    time.sleep(0.05)
                time.sleep(self.p["warmup"] + 0.5)
                during["started"] = time.monotonic()
                during["s"] = backup()
            except Exception as e:  # reported after the load run
                during["error"] = e

        thread = threading.Thread(target=backup_when_warm, name="backup", daemon=True)
        thread.start()
        loaded = load("outpost authorize @rate, backup running")
        thread.join(timeout=3600)
        if "error" in during:
            raise RuntimeError(f"backup under load: {during['error']}")
        self.results["backup"] = {
            "rate": rate, "load_duration_s": duration, "database_bytes": db_bytes,
            "backup_bytes": out.stat().st_size, "backup_s_no_load": no_load,
            "backup_s_under_load": during.get("s"),
            "p99_no_backup_ms": baseline["latency_ms"]["p99"],
            "p99_during_backup_ms": loaded["latency_ms"]["p99"],
            "rate_no_backup": baseline["requests_per_s"],
            "rate_during_backup": loaded["requests_per_s"]}
        out.unlink()
        log(f"backup under load: {during.get('s', 0):.2f} s; renewal p99 at {rate:.0f}/s "
            f"{baseline['latency_ms']['p99']:.2f} ms without, "
            f"{loaded['latency_ms']['p99']:.2f} ms with the backup running")

    def console_pages(self):
        """The console's API answers at the seeded size (docs/console-api.md): p50/p99 of device
        search by UDI prefix, hostname prefix and tag, the licenses pages as the Licenses page
        asks for them (the first page, a later page through its cursor, one VA's page, a search
        on the server) and, for comparison, a whole VA unpaged, a tag's detail, a device's
        detail, and audit pages newest first, unfiltered and by device. One client on
        one keep-alive connection, requests one after the other, each with new random
        parameters (so no answer is a repeat), timed at the client: what a console user waits.
        The satellite is idle otherwise; the load average is recorded."""
        import random
        rng = random.Random(15)
        sat = Satellite(self.outpost, self.data, self.work / "outpost.log").start()
        try:
            log(f"outpost serving on 127.0.0.1:{sat.port} (pid {sat.proc.pid}), "
                f"start-up {sat.startup_s:.1f} s (with any schema migration)")
            key = (self.data / "admin.apikey").read_text().strip()
            context = ssl.create_default_context(cafile=str(self.data / "ca.pem"))
            context.check_hostname = False  # loopback; the chain is still verified
            conn = http.client.HTTPSConnection("127.0.0.1", sat.port, context=context,
                                               timeout=120)
            n, vas, tags = self.p["devices"], self.p["vas"], self.p["tags"]
            fixed = max(1, tags - 10)  # the seed's devices hold the non-floating tags

            def va(i):
                return "default" if i == 0 else f"va-{i:02d}"

            def device_id(i):
                return f"00000000-0000-0000-8000-{i:012d}"

            # Every page's cursor of the licenses listing, walked once (not measured), so the
            # "later page" requests land anywhere in it.
            license_cursors, after = [], ""
            for _ in range(100000):
                conn.request("GET", f"/v1/admin/licenses?limit=100&after={after}",
                             headers={"Authorization": f"Bearer {key}"})
                response = conn.getresponse()
                page = json.loads(response.read())
                if response.status != 200:
                    raise RuntimeError(f"licenses listing: {response.status} {page}")
                after = page.get("next_after", "")
                if not after:
                    break
                license_cursors.append(after)
            log(f"licenses listing: {len(license_cursors) + 1} pages of 100")
            if not license_cursors:
                license_cursors = [""]
            cases = {
                # Its count of active devices is a table scan, reused for a minute: the first
                # request (first_ms) pays it.
                "overview": lambda: "/v1/admin/overview",
                # "SEED-<k>:S<serial prefix>": a few hundred devices or fewer per prefix.
                "devices, UDI prefix": lambda: (
                    f"/v1/admin/devices?limit=100&udi=seed-{rng.randrange(16)}:s"
                    f"{rng.randrange(1, 1000)}"),
                "devices, hostname prefix": lambda: (
                    f"/v1/admin/devices?limit=100&hostname=SEED-{rng.randrange(1, 10000)}"),
                "devices, q (UDI or hostname)": lambda: (
                    f"/v1/admin/devices?limit=100&q=seed-{rng.randrange(1, 10000)}"),
                "devices, tag": lambda: (
                    f"/v1/admin/devices?limit=100&tag=bench.tag.{rng.randrange(fixed):04d}"),
                "devices, tag + VA": lambda: (
                    f"/v1/admin/devices?limit=100&tag=bench.tag.{rng.randrange(fixed):04d}"
                    f"&va={va(rng.randrange(vas))}"),
                # What the Licenses page asks (page-licenses.js): 100 rows of every VA in (va,
                # tag) order, a later page through its cursor, a search on the server.
                "licenses page, first (100 rows)": lambda: "/v1/admin/licenses?limit=100",
                "licenses page, later (cursor)": lambda: (
                    f"/v1/admin/licenses?limit=100&after={rng.choice(license_cursors)}"),
                "licenses page, one VA (100 rows)": lambda: (
                    f"/v1/admin/licenses?limit=100&va={va(rng.randrange(vas))}"),
                # One tag's pools in every VA: the walk looks at every pool (10,000) for them.
                "licenses search (?q=, tag part)": lambda: (
                    f"/v1/admin/licenses?limit=100&q=TAG.{rng.randrange(tags):04d}"),
                "licenses search in one VA": lambda: (
                    f"/v1/admin/licenses?limit=100&va={va(rng.randrange(vas))}"
                    f"&q=tag.{rng.randrange(tags // 10):03d}"),
                # The old page's single request: a whole VA (1,000 rows) unpaged.
                "licenses, whole VA unpaged": lambda: (
                    f"/v1/admin/licenses?va={va(rng.randrange(vas))}"),
                "tag detail": lambda: (
                    f"/v1/admin/licenses/{va(rng.randrange(vas))}/"
                    f"bench.tag.{rng.randrange(fixed):04d}"),
                "device detail": lambda: f"/v1/admin/devices/{device_id(rng.randrange(n))}",
                "audit page, newest first": lambda: (
                    "/v1/admin/audit/records?order=desc&limit=100"
                    + ("" if rng.random() < 0.5 else
                       f"&before={rng.randrange(2, self.p['console_audit_records'] + 2)}")),
                "audit page, by device": lambda: (
                    "/v1/admin/audit/records?order=desc&limit=100&device="
                    + device_id(rng.randrange(n))),
            }
            results = {}
            for name, target in cases.items():
                times, first_ms = [], None
                for i in range(self.p["console_requests"] + 5):
                    path = target()
                    started = time.perf_counter()
                    conn.request("GET", path, headers={"Authorization": f"Bearer {key}"})
                    response = conn.getresponse()
                    body = response.read()
                    elapsed = (time.perf_counter() - started) * 1000.0
                    if response.status != 200:
                        raise RuntimeError(f"GET {path}: {response.status} {body[:300]!r}")
                    if first_ms is None:
                        first_ms = elapsed
                    if i >= 5:  # the first few warm the caches and the statements
                        times.append(elapsed)
                times.sort()
                results[name] = {
                    "p50_ms": statistics.median(times),
                    "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))],
                    "max_ms": times[-1], "first_ms": first_ms, "requests": len(times),
                    "bytes_last": len(body)}
                log(f"console {name:<30} p50 {results[name]['p50_ms']:7.2f} ms  "
                    f"p99 {results[name]['p99_ms']:7.2f} ms  max {results[name]['max_ms']:7.2f} ms"
                    f"  first {first_ms:7.2f} ms  ({len(body)} bytes)")
            conn.close()
            self.results["console"] = {"pages": results, "loadavg": os.getloadavg(),
                                       "startup_s": sat.startup_s,
                                       "audit_records": self.p["console_audit_records"],
                                       "rss_mb": proc_status(sat.proc.pid)["VmRSS"]}
        finally:
            sat.stop()

    # --- the whole suite -----------------------------------------------------------------------
    def plan(self):
        """The sections to run: all of them, or --only's with their prerequisites."""
        if not self.args.only:
            chosen = set(SECTIONS)
        else:
            chosen = {name.strip() for name in self.args.only.split(",") if name.strip()}
            unknown = chosen - set(SECTIONS)
            if unknown:
                raise ValueError(f"--only: unknown section(s) {', '.join(sorted(unknown))}; "
                                 f"choose from {', '.join(SECTIONS)}")
            if "normal" in chosen:
                chosen.add("half-load")  # the same half-load rate
            if "half-load" in chosen:
                chosen.add("authorize")  # half of its rate
            if chosen & {"authorize", "heartbeat", "backup", "audit_growth"}:
                chosen.add("register")  # the devices that renew
        if self.args.smoke:
            chosen.discard("normal")
            if not (self.args.only and "backup" in self.args.only.split(",")):
                chosen.discard("backup")  # bench_smoke stays under its ctest timeout
            if not (self.args.only and "audit_growth" in self.args.only.split(",")):
                chosen.discard("audit_growth")
        if self.args.perf:
            chosen.update({"authorize", "register"})
        return chosen

    def run(self):
        started = time.monotonic()
        self.results["loadavg_start"] = os.getloadavg()
        self.results["satellite_env"] = self.satellite_env()
        sections = self.plan()
        self.results["sections"] = [name for name in SECTIONS if name in sections]
        for tool in (self.outpost, self.loadgen, self.seeder, self.audit, self.central_seeder,
                     self.reg_crypto):
            if not os.access(tool, os.X_OK):
                raise FileNotFoundError(f"{tool} is missing; build with `make bench`")
        log(f"sections: {', '.join(self.results['sections'])}; outpost binary {self.outpost}")
        self.seed()
        if "startup" in sections:
            self.startup()
        serving = {"register", "authorize", "half-load", "heartbeat", "handshake", "sync-export",
                   "backup"}
        if sections & serving:
            self.load_runs(sections)
        if "normal" in sections:
            self.durability_normal()
        if "audit_growth" in sections:
            self.audit_growth()
        if "audit" in sections:
            self.audit_append()
        if "registration-crypto" in sections:
            self.registration_crypto()
        if "sync-import" in sections:
            self.sync_import_timing()
        if "console" in sections:
            self.console_pages()
        self.results["elapsed_s"] = time.monotonic() - started
        self.results["parameters"] = self.p
        self.results["machine"] = {"cpus": os.cpu_count(), "kernel": platform.release(),
                                   "python": platform.python_version(),
                                   "loadavg": os.getloadavg()}
        self.report()

    def satellite_env(self):
        """--satellite-env NAME=VALUE settings for the load-run satellite (A/B of run-time
        settings such as allocator options without a rebuild)."""
        env = {}
        for setting in self.args.satellite_env or []:
            name, eq, value = setting.partition("=")
            if not eq or not name:
                raise ValueError(f"--satellite-env wants NAME=VALUE: {setting}")
            env[name] = value
        return env

    def load_runs(self, sections):
        """The sections against the one load-run satellite (and nginx)."""
        sat = Satellite(self.outpost, self.data, self.work / "outpost.log",
                        self.satellite_env()).start()
        nginx, sat_b = None, None
        try:
            log(f"outpost serving on 127.0.0.1:{sat.port} (pid {sat.proc.pid})")
            if "register" in sections:
                self.registrations(sat.port)
            if self.compare and "authorize" in sections:
                # The comparison satellite serves a copy of the same data directory, taken at a
                # clean stop after the registrations; both then serve side by side, idle while
                # the other is measured.
                sat.stop()
                data_b = self.work / "satellite-b"
                if data_b.exists():
                    shutil.rmtree(data_b)
                shutil.copytree(self.data, data_b, symlinks=True)
                sat = Satellite(self.outpost, self.data, self.work / "outpost.log",
                                self.satellite_env()).start()
                sat_b = Satellite(self.compare, data_b, self.work / "outpost-b.log",
                                  self.satellite_env()).start()
                log(f"outpost (A) serving on 127.0.0.1:{sat.port} (pid {sat.proc.pid}); "
                    f"outpost-B {self.compare} on 127.0.0.1:{sat_b.port} (pid {sat_b.proc.pid})")
            if sections & {"authorize", "handshake"}:
                try:
                    nginx = Nginx(self.data, self.work / "nginx",
                                  workers=os.cpu_count() or 1).start()
                    log(f"nginx serving on 127.0.0.1:{nginx.port} (pid {nginx.proc.pid})")
                except (FileNotFoundError, RuntimeError) as e:
                    if not self.args.smoke:
                        raise
                    log(f"no nginx baseline in the smoke run: {e}")
            if "authorize" in sections:
                self.authorize(sat, nginx, sat_b)
            if self.args.perf:
                self.profile(sat)
            if "half-load" in sections:
                self.half_load(sat.port)
            if "heartbeat" in sections:
                self.heartbeats(sat.port)
            if "handshake" in sections:
                self.handshakes(sat.port, nginx.port if nginx else None)
            if sections & {"authorize", "half-load", "heartbeat", "handshake"}:
                status = proc_status(sat.proc.pid)
                self.results["rss_loaded_mb"] = status["VmRSS"]
                self.results["rss_peak_mb"] = status["VmHWM"]
            if "sync-export" in sections:
                self.sync_export_timing(sat.port)
            if "backup" in sections:
                self.backup_while_serving(sat)
        finally:
            if nginx:
                nginx.stop()
            if sat_b:
                sat_b.stop()
            sat.stop()

    def profile(self, sat):
        """perf record of the satellite during the measured window of one more closed-loop
        authorize run (--perf), with DWARF call graphs (the build keeps no frame pointers) so
        that time in shared libraries is attributed to its caller. Writes perf-authorize.txt
        (flat, by library and symbol), perf-authorize-groups.txt (by kind of work, in % and in
        us per renewal at the CPU per renewal measured during the profile) and the groups
        into results.json ("profile")."""
        perf = shutil.which("perf")
        if not perf:
            log("perf not installed; skipping the profile")
            return
        data, counts = self.work / "perf.data", self.work / "perf-syscalls.csv"
        window = {}

        def record(seconds):
            # The system calls made per renewal, counted over the same window.
            events = ",".join(f"syscalls:sys_enter_{name}" for name in PROFILE_SYSCALLS)
            stat = subprocess.Popen([perf, "stat", "-x", ",", "-o", str(counts), "-e", events,
                                     "-p", str(sat.proc.pid), "--", "sleep", f"{seconds:.1f}"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            subprocess.run([perf, "record", "-F", str(self.args.perf_frequency), "--call-graph",
                            "dwarf,16384", "-o", str(data), "-p", str(sat.proc.pid), "--",
                            "sleep", f"{seconds:.1f}"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
            stat.wait(timeout=60)
            window["seconds"] = seconds

        r = self.with_server_cpu(sat, "outpost authorize (perf)", lambda: self.closed_loop(
            "outpost authorize (perf)", sat.port, "authorize", self.p["connections"],
            ["--tag", AUTHORIZE_TAG]), during=record)
        syscalls = {}
        if counts.exists():
            renewals = window["seconds"] * r["server_cpu"]["requests_per_s"]
            for line in counts.read_text().splitlines():
                fields = line.split(",")
                if len(fields) > 2 and fields[0].strip().isdigit() and "sys_enter_" in fields[2]:
                    syscalls[fields[2].split("sys_enter_")[1]] = int(fields[0]) / renewals
        report = subprocess.run([perf, "report", "-i", str(data), "--no-children", "--stdio",
                                 "--sort", "dso,symbol", "--percent-limit", "0.3", "-g", "none",
                                 "-w", "22,100"], capture_output=True, text=True)
        (self.out / "perf-authorize.txt").write_text(report.stdout)
        log(f"profile written to {self.out / 'perf-authorize.txt'}")
        script = subprocess.run([perf, "script", "-i", str(data), "-F", "tid,period,ip,sym,dso"],
                                capture_output=True, text=True, timeout=1800)
        groups = group_profile(script.stdout)
        us = self.results.get("authorize_cpu_us") or r["server_cpu"]["us_per_request"]
        self.results["profile"] = {"us_per_renewal_basis": us,
                                   "us_per_renewal_under_perf": r["server_cpu"]["us_per_request"],
                                   "syscalls_per_renewal": syscalls, **groups}
        text = format_groups(groups, us)
        if syscalls:
            text += "\nSystem calls per renewal (perf stat, same window):\n" + "".join(
                f"  {name:<12} {n:6.2f}\n" for name, n in
                sorted(syscalls.items(), key=lambda kv: -kv[1]) if n >= 0.005)
        (self.out / "perf-authorize-groups.txt").write_text(text)
        log(f"grouped profile written to {self.out / 'perf-authorize-groups.txt'}")

    # --- output --------------------------------------------------------------------------------
    def rows(self):
        r = self.results

        def ratio(a, b):
            return a / b if a and b else None

        auth_ratio = ratio(r.get("authorize_per_s"), r.get("nginx_authorize_per_s"))
        hs_ratio = ratio(r.get("handshakes_per_s"), r.get("nginx_handshakes_per_s"))
        cpu_ratio = ratio(r.get("authorize_cpu_us"), r.get("nginx_cpu_us"))
        r["authorize_ratio"], r["handshake_ratio"] = auth_ratio, hs_ratio
        r["authorize_cpu_ratio"] = cpu_ratio
        a = r.get("audit", {})
        rc = r.get("registration_crypto", {})
        b = r.get("backup", {})
        g = r.get("audit_growth", {})
        # (name, value, unit, target text, met: True/False/None)
        return [
            ("authorize renewals/s (keep-alive mTLS)", r.get("authorize_per_s"), "req/s",
             "", None),
            ("  nginx return 200, same load", r.get("nginx_authorize_per_s"), "req/s", "", None),
            ("  ratio to nginx", auth_ratio, "x", ">= 0.50",
             None if auth_ratio is None else auth_ratio >= TARGETS["authorize_ratio"]),
            ("  p99 at full load", r.get("authorize_p99_full_ms"), "ms", "", None),
            ("server CPU per renewal (utime+stime)", r.get("authorize_cpu_us"), "us/req", "",
             None),
            ("  nginx server CPU per return 200", r.get("nginx_cpu_us"), "us/req", "", None),
            ("  CPU ratio satellite/nginx", cpu_ratio, "x", "<= 3",
             None if cpu_ratio is None else cpu_ratio <= TARGETS["authorize_cpu_ratio"]),
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
            ("  start-up after kill -9", r.get("startup_after_kill_s"), "s", "< 1",
             None if r.get("startup_after_kill_s") is None
             else r["startup_after_kill_s"] < TARGETS["startup_s"]),
            ("registration certificate work (CSR)", rc.get("registration_csr_us"), "us CPU",
             "", None),
            ("  of which CSR signature check", rc.get("csr_verify_us"), "us CPU", "", None),
            ("audit bytes per unchanged renewal", g.get("unchanged", {}).get(
                "audit_bytes_per_renewal"), "bytes", "", None),
            ("  database file growth per unchanged renewal", g.get("unchanged", {}).get(
                "file_bytes_per_renewal"), "bytes", "", None),
            ("audit bytes per changing renewal", g.get("changing", {}).get(
                "audit_bytes_per_renewal"), "bytes", "", None),
            ("  database file growth per changing renewal", g.get("changing", {}).get(
                "file_bytes_per_renewal"), "bytes", "", None),
            (f"disk growth/day, {FLEET_DEVICES:,} floating, unchanged", g.get("unchanged", {}).get(
                "gb_per_day_100k_floating"), "GB/day", "", None),
            ("  the same if every renewal were full", g.get("changing", {}).get(
                "gb_per_day_100k_floating"), "GB/day", "", None),
            ("audit archive file per record", g.get("archive_bytes_per_record"), "bytes", "",
             None),
            ("audit append, in one unit", a.get("in_unit_us"), "us/record", "", None),
            ("audit append, 1 per unit, group commit", a.get("grouped_us"), "us/record", "", None),
            ("  empty units, group commit", a.get("grouped_empty_us"), "us/unit", "", None),
            ("audit append, 1 per commit (fsync)", a.get("serial_us"), "us/record", "", None),
            (f"backup, {self.p['devices']:,} devices, no load", b.get("backup_s_no_load"), "s",
             "", None),
            (f"  while renewing at {b.get('rate', 0):.0f} req/s", b.get("backup_s_under_load"),
             "s", "", None),
            ("  renewal p99 at that rate, no backup", b.get("p99_no_backup_ms"), "ms", "", None),
            ("  renewal p99, backup running", b.get("p99_during_backup_ms"), "ms", "", None),
        ] + [(f"console p99: {name}", page["p99_ms"], "ms", "< 100",
              page["p99_ms"] < TARGETS["console_p99_ms"])
             if name not in CONSOLE_UNTARGETED else
             (f"console p99: {name} (no page asks this)", page["p99_ms"], "ms", "", None)
             for name, page in r.get("console", {}).get("pages", {}).items()]

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
        c = self.results.get("compare")
        if c:
            table.append(f"{'B: server CPU per renewal (' + Path(c['binary']).parent.parent.name + ')':<46} "
                         f"{c['authorize_cpu_us']:>12,.2f} {'us/req':<10}")
            table.append(f"{'  B: nginx server CPU per return 200':<46} "
                         f"{c['nginx_cpu_us']:>12,.2f} {'us/req':<10}")
            table.append(f"{'  B: CPU ratio satellite/nginx':<46} "
                         f"{c['authorize_cpu_ratio']:>12,.2f} {'x':<10} {'<= 3':<8}")
            table.append(f"{'  B: authorize renewals/s':<46} {c['authorize_per_s']:>12,.0f} req/s")
        table.append(f"(suite took {self.results['elapsed_s']:.0f} s; raw runs in "
                     f"{self.out / ('results-smoke.json' if self.args.smoke else 'results.json')})")
        print("\n".join(table), flush=True)
        self.results["table"] = out_rows
        name = "results-smoke.json" if self.args.smoke else "results.json"
        (self.out / name).write_text(json.dumps(self.results, indent=2) + "\n")

    def check_smoke(self):
        """The harness works: every phase that ran produced throughput and (almost) no errors,
        and the CPU-per-request figures exist (nginx's and the ratio where nginx ran)."""
        r = self.results
        sections = set(r["sections"])
        required = {"register": ["registrations_per_s"],
                    "authorize": ["authorize_per_s", "authorize_cpu_us"],
                    "heartbeat": ["heartbeats_per_s"], "handshake": ["handshakes_per_s"],
                    "startup": ["startup_s"], "sync-export": ["sync_export_s"],
                    "sync-import": ["sync_import_s"]}
        if "backup" in sections and not r.get("backup", {}).get("backup_s_under_load"):
            self.failures.append("backup: no time under load")
        keys = [key for section, names in required.items() if section in sections
                for key in names]
        if "authorize" in sections and r.get("nginx_authorize_per_s"):
            keys += ["nginx_cpu_us", "authorize_cpu_ratio"]
        for key in keys:
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
    parser.add_argument("--perf-frequency", type=int, default=499,
                        help="perf samples per second per thread (--perf)")
    parser.add_argument("--satellite-env", action="append", metavar="NAME=VALUE",
                        help="environment for the load-run satellite (repeatable)")
    parser.add_argument("--compare-build-dir", metavar="DIR",
                        help="A/B: also measure DIR/cli/outpost in the authorize runs, on a copy "
                             "of the same data, alternating with the --build-dir satellite")
    parser.add_argument("--only", metavar="SECTIONS",
                        help="run only these comma-separated sections (and what they need): "
                             + ", ".join(SECTIONS))
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
