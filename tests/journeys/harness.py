"""Drive the real `outpost` binary the way an operator does (docs/journeys.md).

A `Site` is one vendor central plus one satellite enrolled to it, each in its own temporary
directory, both listening on 127.0.0.1 only. Every command goes through the binary's command
line; nothing here touches a database or a key directly.

Rules kept everywhere in this file:
- servers listen on 127.0.0.1 (a free port picked here, or port 0 where nothing else needs it);
- every wait is a bounded poll (a deadline, never an unbounded loop);
- every process started is registered and killed in `close()`, and again at interpreter exit.
"""

from __future__ import annotations

import atexit
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional

REPO_ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"

# Every command gets this long before the harness kills it and fails the step.
COMMAND_TIMEOUT_S = float(os.environ.get("JOURNEY_COMMAND_TIMEOUT", "60"))
# A server must print its "is serving" line within this.
READY_TIMEOUT_S = float(os.environ.get("JOURNEY_READY_TIMEOUT", "30"))
STOP_TIMEOUT_S = 20.0

# Environment variables that would make the CLI talk to another satellite than ours.
_SCRUBBED_ENV = ("OUTPOST_SERVER", "OUTPOST_API_KEY", "OUTPOST_CA", "OUTPOST_DATA_DIR")


_SNAPSHOT: Optional[str] = None


def outpost_binary() -> str:
    """The binary under test: a private copy of OUTPOST_BIN, taken once per test process.

    The copy keeps one run on one binary even when the build tree is relinked meanwhile (a
    binary that changes in the middle of a Hypothesis run makes its replays inconsistent)."""
    global _SNAPSHOT
    if _SNAPSHOT is not None and os.path.exists(_SNAPSHOT):
        return _SNAPSHOT
    path = Path(os.environ.get("OUTPOST_BIN", "build/release/cli/outpost"))
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not path.is_file() or not os.access(path, os.X_OK):
        raise RuntimeError(
            f"outpost binary not found at {path}: build it "
            "(cmake --build --preset release --target outpost) or set OUTPOST_BIN")
    snapshot_dir = tempfile.mkdtemp(prefix="outpost-journey-bin-")
    atexit.register(shutil.rmtree, snapshot_dir, True)
    snapshot = os.path.join(snapshot_dir, "outpost")
    shutil.copy2(path, snapshot)
    _SNAPSHOT = snapshot
    print(f"journey: testing {path} (copied to {snapshot})")
    return snapshot


# Its own generator: Hypothesis seeds the global one for every example.
_PORTS_RANDOM = random.Random(os.urandom(16))
_PORTS_GIVEN: set = set()  # never the same port twice in one process (central, satellite, ...)


def _ephemeral_range() -> tuple:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_loopback_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago.

    Servers keep their port across restarts (it is in outpost.toml), so it is taken below the
    kernel's ephemeral range, where the CLI's own outgoing connections never land."""
    low, _ = _ephemeral_range()
    for _ in range(50):  # bounded
        port = _PORTS_RANDOM.randrange(10000, max(10001, low))
        if port in _PORTS_GIVEN:
            continue
        _PORTS_GIVEN.add(port)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((LOOPBACK, port))
                return port
            except OSError:
                continue
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def child_env() -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in _SCRUBBED_ENV and not k.startswith("OUTPOST_SYNC_")}
    env.pop("OUTPOST_BIN", None)
    return env


# --- Processes -------------------------------------------------------------------------------

_LIVE: set = set()


def _kill_all_live() -> None:
    for proc in list(_LIVE):
        _hard_kill(proc)


atexit.register(_kill_all_live)


def _hard_kill(proc: subprocess.Popen) -> None:
    try:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=STOP_TIMEOUT_S)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    _LIVE.discard(proc)


@dataclass
class Result:
    """What one command did: exit status, both streams and, with --json, the parsed answer."""
    args: list
    rc: int
    out: str
    err: str
    data: Any = None

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def describe(self, limit: int = 1200) -> str:
        def cut(text: str) -> str:
            text = text.rstrip()
            if len(text) <= limit:
                return text
            return (text[:limit // 2] + f"\n... ({len(text) - limit} characters left out) ...\n"
                    + text[-limit // 2:])
        cmd = " ".join(str(a) for a in self.args)
        out = f"$ {cmd}\n[exit {self.rc}]"
        if self.out.strip():
            out += f"\n--- stdout ---\n{cut(self.out)}"
        if self.err.strip():
            out += f"\n--- stderr ---\n{cut(self.err)}"
        return out


class CommandFailed(AssertionError):
    def __init__(self, result: Result, what: str = ""):
        super().__init__((what + "\n" if what else "") + result.describe())
        self.result = result


class Outpost:
    """Runs `outpost ...` and remembers every command (the transcript shown on failure)."""

    def __init__(self, binary: Optional[str] = None, cwd: Optional[Path] = None):
        self.binary = binary or outpost_binary()
        self.cwd = cwd
        self.transcript: list = []

    def run(self, *args, json_out: bool = False, stdin: Optional[str] = None,
            timeout: float = COMMAND_TIMEOUT_S) -> Result:
        argv = [self.binary] + (["--json"] if json_out else []) + [str(a) for a in args]
        try:
            cp = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                                timeout=timeout, env=child_env(), cwd=self.cwd,
                                stdin=None if stdin is not None else subprocess.DEVNULL)
            rc, out, err = cp.returncode, cp.stdout, cp.stderr
        except subprocess.TimeoutExpired as e:
            rc = -9
            out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
            err = (e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes)
                   else (e.stderr or "")) + f"\n(harness: killed after {timeout} s)"
        data = None
        if json_out and rc == 0:
            try:
                data = json.loads(out)
            except ValueError:
                data = None
        result = Result(["outpost"] + argv[1:], rc, out, err, data)
        self.transcript.append(result)
        return result

    def ok(self, *args, json_out: bool = False, stdin: Optional[str] = None,
           what: str = "") -> Result:
        """Runs a command that must succeed (with --json: and print valid JSON)."""
        r = self.run(*args, json_out=json_out, stdin=stdin)
        if not r.ok:
            raise CommandFailed(r, what or "a command that must succeed failed")
        if json_out and r.data is None:
            raise CommandFailed(r, "--json printed no valid JSON")
        return r

    def start(self, *args, log: Path) -> subprocess.Popen:
        """Starts a long-running `outpost ...` with both streams in `log`."""
        argv = [self.binary] + [str(a) for a in args]
        with open(log, "ab") as f:
            proc = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=child_env(), cwd=self.cwd,
                                    start_new_session=True)
        _LIVE.add(proc)
        self.transcript.append(Result(["outpost"] + argv[1:] + ["&"], 0,
                                      f"(started, pid {proc.pid})", ""))
        return proc


class Server:
    """One `outpost serve` or `outpost central serve` process, restartable."""

    def __init__(self, op: Outpost, args: list, log: Path, ready_line: str):
        self.op = op
        self.args = args
        self.log = log
        self.ready_line = ready_line
        self.proc: Optional[subprocess.Popen] = None
        self.starts = 0

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        assert not self.running, "already running"
        offset = self.log.stat().st_size if self.log.exists() else 0
        self.proc = self.op.start(*self.args, log=self.log)
        self.starts += 1
        deadline = time.monotonic() + READY_TIMEOUT_S
        delay = 0.01
        while time.monotonic() < deadline:
            text = self._log_since(offset)
            if self.ready_line in text:
                return
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                _LIVE.discard(self.proc)
                self.proc = None
                raise AssertionError(
                    f"{' '.join(map(str, self.args))} exited with status {rc} before it was "
                    f"ready:\n{text}")
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
        text = self._log_since(offset)
        self.kill9()
        raise AssertionError(f"{' '.join(map(str, self.args))} did not print "
                             f"{self.ready_line!r} within {READY_TIMEOUT_S} s:\n{text}")

    def _log_since(self, offset: int) -> str:
        try:
            with open(self.log, "rb") as f:
                f.seek(offset)
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> int:
        """SIGTERM and wait (bounded); SIGKILL if it does not stop. Returns the exit status."""
        if self.proc is None:
            return 0
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                _hard_kill(proc)
                raise AssertionError(f"{' '.join(map(str, self.args))} ignored SIGTERM for "
                                     f"{STOP_TIMEOUT_S} s and was killed")
        _LIVE.discard(proc)
        self.op.transcript.append(Result(["kill", "-TERM", str(proc.pid)], proc.returncode, "", ""))
        return proc.returncode

    def kill9(self) -> None:
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        pid = proc.pid
        _hard_kill(proc)
        self.op.transcript.append(Result(["kill", "-9", str(pid)], 0, "", ""))

    def restart(self) -> None:
        self.stop()
        self.start()


# --- Central, satellite, devices --------------------------------------------------------------

ACCOUNT = "acme"


class Central:
    def __init__(self, op: Outpost, root: Path, port: Optional[int] = None):
        self.op = op
        self.dir = root / "central"
        self.port = port or free_loopback_port()
        self.files = root / "files"
        self.files.mkdir(parents=True, exist_ok=True)
        self._n = 0
        self.server = Server(op, ["central", "serve", "--data-dir", self.dir],
                             root / "central.log", "is serving")

    @property
    def url(self) -> str:
        return f"https://{LOOPBACK}:{self.port}"

    def cli(self, *args, json_out: bool = False) -> Result:
        return self.op.run("central", *args, "--data-dir", self.dir, json_out=json_out)

    def ok(self, *args, json_out: bool = False) -> Result:
        return self.op.ok("central", *args, "--data-dir", self.dir, json_out=json_out)

    def init(self) -> None:
        self.ok("init", "--listen", f"{LOOPBACK}:{self.port}")

    def new_file(self, stem: str) -> Path:
        self._n += 1
        return self.files / f"{self._n:04d}-{stem}"

    def account(self, account: str = ACCOUNT, vas: Iterable[str] = ()) -> None:
        self.ok("account", "create", account, "--name", account.title())
        for va in vas:
            self.ok("va", "create", account, va)

    def license(self, va: str, tag: str, count: int, enforced: bool = False,
                account: str = ACCOUNT) -> dict:
        args = ["license", "add", account, va, "--tag", tag, "--count", count]
        if enforced:
            args.append("--enforced")
        return self.ok(*args, json_out=True).data

    def enroll(self, name: str = "journey", account: str = ACCOUNT) -> Path:
        out = self.new_file("enroll.bundle")
        self.ok("satellite", "enroll", account, "--name", name, "-o", out)
        return out

    def pak(self, va: str, tag: str, count: int, account: str = ACCOUNT) -> str:
        r = self.ok("pak", "create", account, va, "--tag", tag, "--count", count, json_out=True)
        return r.data["key"]

    def process(self, request: Path) -> tuple:
        """`central sync process`; returns (Result, response path)."""
        response = self.new_file("response.bin")
        r = self.cli("sync", "process", request, "-o", response, json_out=True)
        return r, response

    def entitlements(self, account: str = ACCOUNT) -> list:
        return self.ok("license", "list", account, json_out=True).data.get("entitlements", [])

    def purchased(self, account: str = ACCOUNT, now: Optional[float] = None) -> dict:
        """(va, tag) -> quantity valid now, from central's complete entitlement set (0s dropped)."""
        now = time.time() if now is None else now
        totals: dict = {}
        for e in self.entitlements(account):
            start, end = int(e.get("start", 0)), int(e.get("end", 0))
            if start > now or (end != 0 and end <= now):
                continue
            key = (e["va"], e["tag"])
            totals[key] = totals.get(key, 0) + int(e.get("quantity", 0))
        return {k: v for k, v in totals.items() if v != 0}


class Satellite:
    def __init__(self, op: Outpost, root: Path, port: Optional[int] = None):
        self.op = op
        self.dir = root / "satellite"
        self.port = port or free_loopback_port()
        self.root = root
        self.server = Server(op, ["serve", "--data-dir", self.dir], root / "satellite.log",
                             "is serving")

    @property
    def url(self) -> str:
        return f"https://{LOOPBACK}:{self.port}"

    @property
    def ca(self) -> Path:
        return self.dir / "ca.pem"

    @property
    def db(self) -> Path:
        return self.dir / "outpost.db"

    def init(self, enroll: Optional[Path]) -> Result:
        args = ["init", "--data-dir", self.dir, "--listen", f"{LOOPBACK}:{self.port}"]
        if enroll is not None:
            args += ["--enroll", enroll]
        return self.op.ok(*args)

    def cli(self, *args, json_out: bool = False, stdin: Optional[str] = None) -> Result:
        """A command against the running satellite, located by --data-dir (docs/cli.md)."""
        return self.op.run(*args, "--data-dir", self.dir, json_out=json_out, stdin=stdin)

    def ok(self, *args, json_out: bool = False, what: str = "") -> Result:
        return self.op.ok(*args, "--data-dir", self.dir, json_out=json_out, what=what)

    def set_config(self, section: str, key: str, value: str) -> None:
        """Sets `[section] key = "value"` in outpost.toml (the satellite must be restarted)."""
        path = self.dir / "outpost.toml"
        text = path.read_text()
        line = f'{key} = "{value}"'
        header = f"[{section}]"
        pattern = re.compile(rf"(?ms)^\[{re.escape(section)}\]\s*$(.*?)(?=^\[|\Z)")
        m = pattern.search(text)
        if m is None:
            text = text.rstrip("\n") + f"\n\n{header}\n{line}\n"
        else:
            body = m.group(1)
            key_re = re.compile(rf"(?m)^\s*#?\s*{re.escape(key)}\s*=.*$")
            body = key_re.sub(line, body, count=1) if key_re.search(body) else "\n" + line + body
            text = text[:m.start(1)] + body + text[m.end(1):]
        path.write_text(text)

    # Operator views ----------------------------------------------------------------------------

    def pools(self) -> dict:
        """(va, tag) -> the pool as `outpost licenses --json` prints it (numbers as int)."""
        data = self.ok("licenses", json_out=True).data
        out = {}
        for p in data.get("pools", []):
            q = dict(p)
            for k in ("purchased", "in_use", "reserved", "available"):
                q[k] = int(p.get(k, 0))
            out[(p["va"], p["tag"])] = q
        return out

    def purchased(self) -> dict:
        return {k: p["purchased"] for k, p in self.pools().items() if p["purchased"] != 0}

    def devices(self) -> dict:
        """instance id -> {va, udi, holdings: {tag: count}}."""
        data = self.ok("devices", "--limit", "10000", json_out=True).data
        out = {}
        for d in data.get("devices", []):
            out[d["instance_id"]] = {
                "va": d.get("va"), "udi": d.get("udi"),
                "holdings": {h["tag"]: int(h.get("count", 0)) for h in d.get("holdings", [])}}
        return out

    def sync_status(self) -> dict:
        return self.ok("sync", "status", json_out=True).data

    def audit_actions(self, action: str) -> int:
        r = self.ok("audit", "export", "--action", action)
        return sum(1 for line in r.out.splitlines() if line.strip())

    def verify_audit_online(self) -> Result:
        return self.cli("audit", "verify", json_out=True)

    def verify_audit_offline(self) -> Result:
        """`outpost audit verify --db` with the satellite stopped (docs/security.md)."""
        return self.op.run("audit", "verify", "--db", self.db, "--data-dir", self.dir,
                           json_out=True)

    # Offline sync ------------------------------------------------------------------------------

    def export(self, path: Path) -> Result:
        return self.cli("sync", "export", "-o", path, json_out=True)

    def import_(self, path: Path) -> Result:
        return self.cli("sync", "import", path, json_out=True)


@dataclass
class Device:
    """One device state directory (`outpost device ...`)."""
    op: Outpost
    state_dir: Path
    pid: str
    serial: str
    va: str = ""
    instance_id: str = ""

    @property
    def udi(self) -> str:
        return f"{self.pid}:{self.serial}"

    def register(self, sat: Satellite, token: str, extra: Iterable[str] = ()) -> Result:
        r = self.op.run("device", "register", "--server", sat.url, "--ca", sat.ca, "--token",
                        token, "--pid", self.pid, "--serial", self.serial, "--hostname",
                        f"h-{self.serial.lower()}", "--state-dir", self.state_dir, *extra,
                        json_out=True)
        if r.ok and r.data:
            self.instance_id = r.data.get("instance_id", "")
            self.va = r.data.get("va", "")
        return r

    def authorize(self, tags: dict) -> Result:
        args = []
        for tag, count in tags.items():
            args += ["--tag", f"{tag}:{count}"]
        return self.op.run("device", "authorize", "--state-dir", self.state_dir, *args,
                           json_out=True)

    def release(self) -> Result:
        return self.op.run("device", "release", "--state-dir", self.state_dir, json_out=True)

    def status(self, offline: bool = False) -> Result:
        return self.op.run("device", "status", "--state-dir", self.state_dir,
                           *(["--offline"] if offline else []), json_out=True)


class Site:
    """A central with account `acme` and a satellite enrolled to it, in a temporary directory.

    Use as a context manager (or call close()): every server is stopped and the directory
    removed, even when the journey fails. Set JOURNEY_KEEP=1 to keep the directory.
    """

    def __init__(self, vas=("default", "lab"), licenses=(), central_serving: bool = False,
                 first_sync: bool = True):
        self.op = Outpost()  # first: a missing binary leaves no directory behind
        self.root = Path(tempfile.mkdtemp(prefix="outpost-journey-"))
        self.op.cwd = self.root
        self.central = Central(self.op, self.root)
        self.sat = Satellite(self.op, self.root)
        self._devices = 0
        self._closed = False
        try:
            self.central.init()
            self.central.account(ACCOUNT, [va for va in vas if va != "default"])
            for va, tag, count, enforced in licenses:
                self.central.license(va, tag, count, enforced=enforced)
            self.sat.init(self.central.enroll())
            if central_serving:
                self.central.server.start()
            self.sat.server.start()
            if first_sync:
                self.round_trip()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> "Site":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for server in (self.sat.server, self.central.server):
            try:
                server.kill9()
            except Exception:  # noqa: BLE001 - teardown must go on
                pass
        if os.environ.get("JOURNEY_KEEP"):
            print(f"journey: kept {self.root}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)

    def new_device(self, pid: str = "JRN-1", serial: Optional[str] = None) -> Device:
        self._devices += 1
        serial = serial or f"SN{self._devices:04d}"
        return Device(self.op, self.root / "devices" / f"d{self._devices:04d}", pid, serial)

    def token(self, va: str, *extra) -> tuple:
        """Creates a registration token; returns (token id, whole token)."""
        r = self.sat.ok("token", "create", "--va", va, *extra, json_out=True)
        return r.data["record"]["id"], r.data["token"]

    def round_trip(self) -> tuple:
        """Offline sync: export, central process, import; each must succeed.

        Returns (export Result, process Result, import Result)."""
        request = self.central.new_file("request.bin")
        e = self.sat.export(request)
        if not e.ok:
            raise CommandFailed(e, "sync export failed")
        p, response = self.central.process(request)
        if not p.ok:
            raise CommandFailed(p, "central sync process failed")
        i = self.sat.import_(response)
        if not i.ok:
            raise CommandFailed(i, "sync import of central's response failed")
        return e, p, i

    def transcript(self, last: int = 40, limit: int = 400) -> str:
        """The last commands run, with exit status and (shortened) output."""
        return "\n\n".join(r.describe(limit) for r in self.op.transcript[-last:])
