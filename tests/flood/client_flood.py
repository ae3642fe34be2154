"""The device side under a hostile satellite: floods and stalls against `outpost device` (issue 17).

A device trusts the satellite it registered with. Someone who holds only the satellite's TLS key
(or a compromised satellite) can answer in its place; this runs the real `outpost device
authorize`, `device status` and `device register` against such an answerer and measures what
each costs the device: wall time, peak RSS and CPU time (GNU time), exit status, stderr, the
requests it sent, and whether its state directory is unchanged.

Set-up: a central and a satellite (tests/journeys/harness.py) and one device registered and
authorized there: the good state. The satellite is then stopped. Every case gets a copy of that
state whose `server-url` names the hostile answerer's own listener (127.0.0.1, port 0), which
presents the satellite's own TLS certificate and key: what an attacker holding the TLS key and
answering at the satellite's address looks like to the device. `register-new` registers a fresh
state directory against an answerer with a self-signed certificate (made with `openssl req`),
given to the CLI with --ca.

Scenarios (each against every command; the "burns" ones only against `authorize` in size
`small`):
  handshake        TCP accepted, the ClientHello read, never a TLS handshake
  drip             200 OK header, then a body of 1 MB announced, one byte per second
  late-drip        the handshake held until just before the client's timeout, then the drip
  endless-body     200 OK without Content-Length or chunking, body until the client stops
  endless-chunked  a chunked body of 1-byte chunks without end
  chunk-ext        a chunk header whose extension never ends (no CRLF)
  endless-trailer  a chunked body whose last chunk is followed by a trailer line without end
  huge-length      Content-Length: 10 GB, then body until the client stops
  many-headers     short header lines without end
  long-header      one header line that never ends
  retry-503        every request answered 503 with Retry-After: 0 (keep-alive); a device that
                   retried in a loop would show here as many requests per second
  tiny-records     a 200 OK whose header and body come one byte per TLS record, without end
  renegotiation    TLS 1.2 (`openssl s_server`) renegotiating full handshakes as fast as it can
  key-updates      TLS 1.3 (`openssl s_server`) sending KeyUpdate requests as fast as it can

Every answerer, every loop and every process is bounded in time and bytes (an answerer offers at
most 64 MiB in size `small`, 512 MiB in `large`); every listener is on 127.0.0.1 and closed at
the end. `python3 tests/flood/client_flood.py` (size `large`, ~6 min; `--only SCENARIO`,
`--command COMMAND`, `--json FILE`) prints a table; tests/flood/test_client_flood.py (ctest
`flood_client`, label `flood`, ~75 s) runs size `small` and asserts only what must hold.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import select
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "journeys"))
import harness as h  # noqa: E402

FW = "fw.base"
# ClientOptions::timeout (client/device_client.h, docs/client.md): the time a request may take.
CLIENT_TIMEOUT_S = 30.0
# No case may run longer than this; the process is killed (and the case fails) beyond it.
KILL_AFTER_S = 4 * CLIENT_TIMEOUT_S + 60

# Requests each command sends: `register` in a directory holding this device's registration first
# asks the satellite whether it is still live (GET /v1/devices/self), then registers.
REQUESTS = {"authorize": 1, "status": 1, "register": 2, "register-new": 1}
COMMANDS = tuple(REQUESTS)

# How a scenario spends the device's time: "waits" (idle until the client's timeout or a quick
# refusal), "fast" (refused within a second or so, after a burst), "burns" (keeps both sides busy
# until the client's timeout).
SCENARIOS = (
    ("handshake", "TCP accepted, never a TLS handshake", "waits"),
    ("drip", "200 header, then 1 byte/s of a 1 MB body", "waits"),
    ("late-drip", "handshake held until timeout - 2 s, then 1 byte/s", "waits"),
    ("endless-body", "200, no Content-Length, body until the client stops", "fast"),
    ("endless-chunked", "chunked, 1-byte chunks without end", "fast"),
    ("chunk-ext", "a chunk extension without end (no CRLF)", "fast"),
    ("endless-trailer", "a chunked body's trailer without end", "fast"),
    ("huge-length", "Content-Length: 10 GB", "fast"),
    ("many-headers", "header lines without end (12 bytes each)", "fast"),
    ("long-header", "one header line without end", "fast"),
    ("retry-503", "503 + Retry-After: 0 to every request, keep-alive", "fast"),
    ("tiny-records", "header and body one byte per TLS record, without end", "burns"),
    ("renegotiation", "TLS 1.2, full renegotiations as fast as possible (s_server)", "burns"),
    ("key-updates", "TLS 1.3, KeyUpdate requests as fast as possible (s_server)", "burns"),
)
SCENARIO_NAMES = tuple(s[0] for s in SCENARIOS)
KIND = {s[0]: s[2] for s in SCENARIOS}

SIZES = {
    # cap: bytes an answerer offers at most; burns_commands: the commands "burns" scenarios run
    # against (the others run against all); jobs: "fast" and "burns" cases at a time ("waits"
    # cases all run at once).
    "small": dict(cap=64 << 20, burns_commands=("authorize",), jobs=2),
    "large": dict(cap=512 << 20, burns_commands=COMMANDS, jobs=2),
}


@dataclass
class Case:
    scenario: str
    command: str
    result: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.scenario}/{self.command}"


def plan(size: str, scenarios: Optional[list] = None, commands: Optional[list] = None) -> list:
    """The cases of one run, in table order."""
    out = []
    for name in SCENARIO_NAMES:
        if scenarios and name not in scenarios:
            continue
        allowed = SIZES[size]["burns_commands"] if KIND[name] == "burns" else COMMANDS
        for command in COMMANDS:
            if command in allowed and (not commands or command in commands):
                out.append(Case(name, command))
    return out


OK_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\n")


# --- Certificates ------------------------------------------------------------------------------

def self_signed(directory: Path) -> tuple:
    """(certificate, key) for 127.0.0.1, made by `openssl req`."""
    cert, key = directory / "self-signed.pem", directory / "self-signed.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=hostile",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out",
                    str(cert)], check=True, capture_output=True, timeout=30)
    return cert, key


# --- The hostile answerers ---------------------------------------------------------------------

class Answerer:
    """One hostile satellite on 127.0.0.1 port 0, for one case. Counts the HTTP requests it
    reads (their monotonic times in `requests`)."""

    def __init__(self, scenario: str, cert: Path, key: Path, cap: int, lifetime_s: float):
        self.scenario = scenario
        self.cap = cap
        self.end = time.monotonic() + lifetime_s
        self.requests: list = []
        self.sent = 0
        self.notes: list = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        self.ctx.load_cert_chain(str(cert), str(key))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((h.LOOPBACK, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.threads: list = []
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    @property
    def url(self) -> str:
        return f"https://{h.LOOPBACK}:{self.port}"

    def over(self) -> bool:
        return self.stop.is_set() or time.monotonic() > self.end

    def close(self) -> None:
        self.stop.set()
        self.acceptor.join(timeout=5)
        self.sock.close()
        for t in self.threads:
            t.join(timeout=5)

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        for _ in range(100_000):  # bounded: 0.2 s per empty turn, and the lifetime
            if self.over():
                return
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            if len(self.threads) >= 32:
                conn.close()
                continue
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, raw: socket.socket) -> None:
        tls = None
        try:
            raw.settimeout(1.0)
            if self.scenario == "handshake":
                self._hold(raw, read=True)
                return
            if self.scenario == "late-drip":
                # The ClientHello waits in the socket while the client's timer runs.
                self.stop.wait(max(0.0, CLIENT_TIMEOUT_S - 2.0))
            raw.settimeout(10.0)
            tls = self.ctx.wrap_socket(raw, server_side=True)
            for _ in range(10_000):  # requests on one keep-alive connection, bounded
                if self.over() or not self._read_request(tls):
                    return
                if not self._answer(tls):
                    return
        except (OSError, ssl.SSLError, ValueError) as e:
            with self.lock:
                self.notes.append(type(e).__name__)
        finally:
            try:
                (tls or raw).close()
            except OSError:
                pass

    def _hold(self, s, read: bool) -> None:
        """Keeps the connection open, sending nothing, until the peer closes or the end."""
        while not self.over():
            r, _, _ = select.select([s], [], [], 0.2)
            if r:
                if not read or not s.recv(65536):
                    return

    def _read_request(self, tls: ssl.SSLSocket) -> bool:
        buf = b""
        tls.settimeout(0.5)
        while b"\r\n\r\n" not in buf:
            if self.over() or len(buf) > 65536:
                return False
            try:
                chunk = tls.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                return False
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < min(length, 1 << 20):
            if self.over():
                return False
            try:
                chunk = tls.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                return False
            body += chunk
        with self.lock:
            self.requests.append(time.monotonic())
        return True

    def _send(self, tls: ssl.SSLSocket, data: bytes) -> bool:
        """False once the client is gone, the cap is reached or the answerer's time is up."""
        if self.over() or self.sent >= self.cap:
            return False
        tls.settimeout(2.0)
        try:
            tls.sendall(data)
        except socket.timeout:
            return not self.over()  # the client reads slowly or not at all: try again later
        except (ssl.SSLError, OSError):
            # The client hung up while taking this block: it was offered all the same (a client
            # that stops at its 64 KiB header limit may close before the block's last record).
            self.sent += len(data)
            raise
        self.sent += len(data)
        return True

    def _endless(self, tls: ssl.SSLSocket, block: bytes) -> None:
        for _ in range(self.cap // max(1, len(block)) + 1):
            if not self._send(tls, block):
                return

    def _answer(self, tls: ssl.SSLSocket) -> bool:
        """Answers one request; True to read another on the same connection."""
        s = self.scenario
        if s in ("drip", "late-drip"):
            self._send(tls, OK_HEAD + b"Content-Length: 1000000\r\n\r\n")
            for _ in range(1_000_000):
                if not self._send(tls, b"\x0a") or self.stop.wait(1.0):
                    return False
            return False
        if s == "endless-body":
            self._send(tls, OK_HEAD + b"Connection: close\r\n\r\n")
            self._endless(tls, b"\x0a" * 65536)
            return False
        if s == "endless-chunked":
            self._send(tls, OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n")
            self._endless(tls, b"1\r\nx\r\n" * 10923)
            return False
        if s == "chunk-ext":
            self._send(tls, OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n1;x=")
            self._endless(tls, b"y" * 65536)
            return False
        if s == "endless-trailer":
            self._send(tls, OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nX-T: ")
            self._endless(tls, b"y" * 65536)
            return False
        if s == "huge-length":
            self._send(tls, OK_HEAD + b"Content-Length: 10737418240\r\n\r\n")
            self._endless(tls, b"\x0a" * 65536)
            return False
        if s == "many-headers":
            self._send(tls, OK_HEAD)
            self._endless(tls, b"".join(b"X-F%05d: v\r\n" % i for i in range(5461)))
            return False
        if s == "long-header":
            self._send(tls, OK_HEAD + b"X-Long: ")
            self._endless(tls, b"a" * 65536)
            return False
        if s == "retry-503":
            body = json.dumps({"error": {"reason": "UNAVAILABLE",
                                         "message": "overloaded; try again"}}).encode()
            return self._send(tls, b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\n"
                              b"Content-Type: application/json\r\nContent-Length: "
                              + str(len(body)).encode() + b"\r\n\r\n" + body)
        if s == "tiny-records":
            head = OK_HEAD + b"Content-Length: 4194303\r\n\r\n"
            for i in range(len(head)):
                if not self._send(tls, head[i:i + 1]):
                    return False
            for _ in range(4194303):  # one record per byte; the client's timeout ends it
                if not self._send(tls, b"\x0a"):
                    return False
            return False
        raise ValueError(f"no such scenario {s}")


class SServer:
    """`openssl s_server` on 127.0.0.1 port 0, fed a renegotiation ("r") or key update ("K")
    command every few milliseconds while a client is connected. Counts the requests it prints."""

    def __init__(self, scenario: str, cert: Path, key: Path, lifetime_s: float):
        version = "-tls1_2" if scenario == "renegotiation" else "-tls1_3"
        self.command = b"r\n" if scenario == "renegotiation" else b"K\n"
        self.end = time.monotonic() + lifetime_s
        self.stop = threading.Event()
        self.requests: list = []
        self.handshakes = 0
        self.sent = 0
        # -no_cache: every renegotiation is a full handshake (no session resumption).
        self.proc = subprocess.Popen(
            ["openssl", "s_server", "-accept", f"{h.LOOPBACK}:0", "-cert", str(cert), "-key",
             str(key), version, "-no_cache", "-crlf"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            start_new_session=True)
        self.port = 0
        self.connected = threading.Event()
        first = threading.Event()
        self.reader = threading.Thread(target=self._read, args=(first,), daemon=True)
        self.feeder = threading.Thread(target=self._feed, daemon=True)
        self.reader.start()
        if not first.wait(10) or not self.port:
            self.close()
            raise RuntimeError("openssl s_server did not print its ACCEPT line")
        self.feeder.start()

    @property
    def url(self) -> str:
        return f"https://{h.LOOPBACK}:{self.port}"

    def _read(self, first: threading.Event) -> None:
        assert self.proc.stdout is not None
        for _ in range(100_000_000):  # bounded by the process's output
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.startswith(b"ACCEPT") and not self.port:
                self.port = int(line.split(b":")[-1])
                first.set()
            elif line.startswith((b"GET /v1/", b"POST /v1/")):
                self.requests.append(time.monotonic())
                self.connected.set()
            elif line.startswith(b"SSL_do_handshake -> 1"):
                self.handshakes += 1  # printed after each renegotiation or key update
        first.set()

    def _feed(self) -> None:
        assert self.proc.stdin is not None
        for _ in range(10_000_000):  # bounded: 2 ms a turn, and the lifetime
            if self.stop.is_set() or time.monotonic() > self.end or self.proc.poll() is not None:
                return
            if not self.connected.is_set():
                self.connected.wait(0.05)
                continue
            try:
                self.proc.stdin.write(self.command)
                self.proc.stdin.flush()
                self.sent += 1
            except (BrokenPipeError, OSError):
                return
            time.sleep(0.002)

    def close(self) -> None:
        self.stop.set()
        if self.feeder.is_alive():
            self.feeder.join(timeout=5)
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.reader.join(timeout=5)
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                if f:
                    f.close()
            except OSError:
                pass


# --- The device ---------------------------------------------------------------------------------

def tree_digest(directory: Path) -> dict:
    """file name -> SHA-256 of its content, for every file in `directory` (none if missing)."""
    if not directory.exists():
        return {}
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.iterdir()) if p.is_file()}


@dataclass
class Run:
    rc: int
    wall_s: float
    maxrss_kb: int
    cpu_s: float
    out: str
    err: str
    killed: bool


def vm_hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _gnu_time() -> Optional[str]:
    return "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def run_measured(argv: list, kill_after_s: float = KILL_AFTER_S) -> Run:
    """Runs `argv`; its wall time, and its peak RSS and CPU time from GNU time (the rusage of a
    child of this process would count the pages it shared with Python before exec; without GNU
    time, VmHWM is read every 20 ms and the CPU time is not known). Killed (and marked so) after
    `kill_after_s`."""
    gnu_time = _gnu_time()
    with tempfile.TemporaryDirectory() as tmp:
        out_path, err_path, usage_path = (Path(tmp) / n for n in ("out", "err", "usage"))
        wrapped = ([gnu_time, "-o", str(usage_path), "-f", "%M %U %S", "--"] + argv
                   if gnu_time else argv)
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            t0 = time.monotonic()
            proc = subprocess.Popen(wrapped, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                    env=h.child_env(), start_new_session=True)
            killed = False
            hwm_kb = 0
            deadline = t0 + kill_after_s
            for _ in range(10_000_000):  # bounded by the deadline
                if proc.poll() is not None:
                    break
                if time.monotonic() > deadline:
                    killed = True
                    os.killpg(proc.pid, 9)  # its own session: the CLI and GNU time, nothing else
                    break
                if not gnu_time:
                    hwm_kb = max(hwm_kb, vm_hwm_kb(proc.pid))
                time.sleep(0.02)
            rc = proc.wait(timeout=30)
            wall = time.monotonic() - t0
        maxrss_kb, cpu = hwm_kb, 0.0
        if usage_path.exists():
            fields = usage_path.read_text().split()
            if len(fields) >= 3 and not killed:
                # "Command exited with non-zero status N" comes first when it failed.
                maxrss_kb, cpu = int(fields[-3]), float(fields[-2]) + float(fields[-1])
        return Run(rc=rc, wall_s=wall, maxrss_kb=maxrss_kb, cpu_s=cpu,
                   out=out_path.read_bytes()[:1 << 20].decode(errors="replace"),
                   err=err_path.read_bytes()[:1 << 20].decode(errors="replace"), killed=killed)


class Bench:
    def __init__(self, size: str):
        self.cfg = SIZES[size]
        self.size = size
        self.site = h.Site(vas=("default",), licenses=[("default", FW, 100, False)])
        try:
            self.op = self.site.op
            self.sat = self.site.sat
            _, token = self.site.token("default")
            self.device = self.site.new_device(pid="FLOOD-DEV", serial="C0001")
            r = self.device.register(self.sat, token)
            if not r.ok:
                raise h.CommandFailed(r, "the device could not register")
            r = self.device.authorize({FW: 1})
            if not r.ok:
                raise h.CommandFailed(r, "the device could not authorize")
            self.good = self.offline_status(self.device.state_dir)
            if self.good is None or not self.good.get("last_authorization"):
                raise AssertionError("no good authorization stored before the floods")
            self.sat.server.stop()  # from here on only hostile answerers
            self.work = self.site.root / "client-flood"
            self.work.mkdir()
            self.tls_cert = self.sat.dir / "tls" / "server.pem"
            self.tls_key = self.sat.dir / "keys" / "tls.key"
            self.self_cert, self.self_key = self_signed(self.work)
        except BaseException:
            self.site.close()
            raise
        self.results: list = []

    def close(self) -> None:
        self.site.close()

    def offline_status(self, state_dir: Path) -> Optional[dict]:
        r = self.op.run("device", "status", "--offline", "--state-dir", state_dir, json_out=True)
        return r.data if r.ok else None

    def run_case(self, case: Case) -> dict:
        d = self.work / case.scenario / case.command
        d.mkdir(parents=True)
        state = d / "device"
        new = case.command == "register-new"
        cert, key = ((self.self_cert, self.self_key) if new else (self.tls_cert, self.tls_key))
        lifetime = KILL_AFTER_S + 10
        if case.scenario in ("renegotiation", "key-updates"):
            answerer = SServer(case.scenario, cert, key, lifetime)
        else:
            answerer = Answerer(case.scenario, cert, key, self.cfg["cap"], lifetime)
        try:
            if not new:
                shutil.copytree(self.device.state_dir, state)
                (state / "server-url").write_text(answerer.url + "\n")
            before_files = tree_digest(state)
            before = self.offline_status(state) if not new else None
            argv = [self.op.binary, "device"]
            if case.command == "authorize":
                argv += ["authorize", "--tag", f"{FW}:1"]
            elif case.command == "status":
                argv += ["status"]
            else:
                argv += ["register", "--server", answerer.url, "--ca",
                         str(self.self_cert if new else self.sat.ca), "--token", "opt_flood",
                         "--pid", self.device.pid, "--serial", self.device.serial]
            argv += ["--state-dir", str(state)]
            run = run_measured(argv)
        finally:
            answerer.close()
        after_files = tree_digest(state)
        after = self.offline_status(state) if not new else None
        times = list(answerer.requests)
        span = (times[-1] - times[0]) if len(times) > 1 else 0.0
        result = {
            "case": case.name, "scenario": case.scenario, "command": case.command,
            "rc": run.rc, "killed": run.killed, "wall_s": round(run.wall_s, 2),
            "peak_rss_mb": round(run.maxrss_kb / 1024, 1), "cpu_s": round(run.cpu_s, 2),
            "requests": len(times), "requests_span_s": round(span, 2),
            "expected_requests": REQUESTS[case.command],
            "offered": answerer.sent,
            "stderr": run.err, "stdout": run.out[:2000],
            "state_unchanged": before_files == after_files,
            "offline_unchanged": (not after_files) if new else (before == after == self.good
                                                                 if before else False),
        }
        if isinstance(answerer, SServer):
            result["tls_handshakes_or_key_updates"] = answerer.handshakes
        else:
            result["answerer_errors"] = sorted(set(answerer.notes))
        case.result = result
        print(f"client-flood: {case.name}: " + json.dumps(
            {k: v for k, v in result.items() if k not in ("stderr", "stdout")}), flush=True)
        print(f"client-flood: {case.name}: stderr: {run.err.strip()[:300]!r}", flush=True)
        return result

    def run(self, scenarios: Optional[list] = None, commands: Optional[list] = None) -> list:
        """Idle cases (waiting is all they do) all at once; busy ones `jobs` at a time."""
        cases = plan(self.size, scenarios, commands)
        idle = [c for c in cases if KIND[c.scenario] == "waits"]
        busy = [c for c in cases if KIND[c.scenario] != "waits"]
        with ThreadPoolExecutor(max_workers=max(1, len(idle))) as idle_pool, \
                ThreadPoolExecutor(max_workers=self.cfg["jobs"]) as busy_pool:
            futures = [idle_pool.submit(self.run_case, c) for c in idle]
            futures += [busy_pool.submit(self.run_case, c) for c in busy]
            for f in futures:
                f.result(timeout=KILL_AFTER_S * (len(busy) + 2) + 120)
        self.results = [c.result for c in cases]
        return self.results


def first_line(text: str, limit: int = 110) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[:limit] + "..."


def table(results: list) -> str:
    lines = ["| scenario | command | exit | wall (s) | peak RSS (MB) | CPU (s) | requests | "
             "state | error (first 110 characters) |", "|" + "---|" * 9]
    for r in results:
        state = "unchanged" if r["state_unchanged"] and r["offline_unchanged"] else "**CHANGED**"
        lines.append(f"| {r['scenario']} | {r['command']} | {r['rc']}"
                     f"{' (killed)' if r['killed'] else ''} | {r['wall_s']:.1f} | "
                     f"{r['peak_rss_mb']:.1f} | {r['cpu_s']:.2f} | {r['requests']} | {state} | "
                     f"`{first_line(r['stderr'])}` |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="large")
    ap.add_argument("--only", action="append", choices=SCENARIO_NAMES,
                    help="run only this scenario (repeatable)")
    ap.add_argument("--command", action="append", choices=COMMANDS,
                    help="run only this command (repeatable)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    bench = Bench(args.size)
    try:
        results = bench.run(args.only, args.command)
    finally:
        bench.close()
    print()
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    bad = [r["case"] for r in results
           if r["rc"] == 0 or r["killed"] or not r["state_unchanged"]
           or not r["offline_unchanged"] or r["requests"] > r["expected_requests"]]
    if bad:
        print(f"client-flood: failed: {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
