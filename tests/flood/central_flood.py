"""Overload of central: bounded floods against `outpost central serve` on loopback (issue 17).

A central (tests/journeys/harness.py) with two customer accounts, each with a satellite enrolled
and synced online: `acme` (the legitimate customer) and `evilcorp` (the attacker, who controls
its own satellite and its key). A third satellite of acme is enrolled but never installed, so
central has a pending enrollment: a request whose key id no satellite is bound to is then parsed
to find the satellite it names (the worst case for junk). During each flood a prober runs acme's
`outpost sync now` (a fresh CLI process that makes acme's running satellite export, POST it to
central, import the answer) again and again from 127.0.0.1, and a sampler reads central's
resident memory (VmRSS) every 0.1 s:

  junk_large    POST /v1/sync with 8-15 MiB bodies: parseable sync requests naming acme's real
                satellite and account, ~1.6-3.1M tiny usage reports, a junk signature; half under
                acme's real key id, half under a random one; 16-24 connections, each from its own
                address
  junk_small    many small requests fast: garbage bodies, small badly signed requests, wrong
                content types, unknown paths
  idle          plain TCP connections that never start TLS, all from one address
  evil_reports  evilcorp's satellite key signing valid requests of 10,000 new usage reports each
                (the most one request may carry), from several connections: the per-satellite
                writer slot and the daily report quota
  evil_items    evilcorp's valid requests without an audit head, each with 1,000 moves and 1,000
                conversions (rejected ones, but each is stored): the daily request quota

Every flood comes from 127.x.y.z addresses other than 127.0.0.1 and is bounded in count and in
time; every socket is closed at its end. `python3 tests/flood/central_flood.py --size large`
(part of `make flood-test`) prints a table; tests/flood/test_central_flood.py (ctest
`flood_central`, label `flood`) runs the small size and asserts only what must hold. Nothing
here reads central's /metrics.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import select
import socket
import ssl
import statistics
import struct
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Callable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "journeys"))
import flood as fl  # noqa: E402
import harness as h  # noqa: E402

TAG = "fw.base"
ACME = h.ACCOUNT
EVIL = "evilcorp"

SIZES = {
    "small": dict(junk_total=48, junk_conns=16, junk_mib=8, small_total=3000, small_conns=16,
                  idle_total=1500, idle_hold_s=4.0, evil_total=24, evil_conns=4,
                  items_total=24, max_s=40.0),
    # Counts high enough that the junk floods last until max_s once central refuses cheaply.
    "large": dict(junk_total=20000, junk_conns=24, junk_mib=15, small_total=400000,
                  small_conns=32, idle_total=10100, idle_hold_s=10.0, evil_total=200,
                  evil_conns=8, items_total=300, max_s=60.0),
}

# server.max_connections_per_address of central's HTTP server (common/net/server.h).
PER_ADDRESS = 1000


# --- protobuf, by hand (the few messages a sync request needs; field numbers from proto/) -----

def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _int(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value) if value else b""


def _bytes(field: int, value) -> bytes:
    if isinstance(value, str):
        value = value.encode()
    return _varint((field << 3) | 2) + _varint(len(value)) + value if value else b""


def usage_report(report_id: str, va: str, tag: str, start: int, end: int, peak: int) -> bytes:
    return (_bytes(1, report_id) + _bytes(2, va) + _bytes(3, tag) + _int(4, start)
            + _int(5, end) + _int(6, peak))


def sync_request(satellite_id: str, account_id: str, sequence: int, central_key_id: str,
                 reports: bytes = b"", moves: list = (), conversions: list = ()) -> bytes:
    """A serialized SyncRequest; `reports` is the already encoded repeated field 7."""
    out = (_bytes(1, satellite_id) + _bytes(2, account_id) + _int(3, sequence)
           + _bytes(6, central_key_id))
    out += reports
    for m in moves:
        out += _bytes(9, m)
    for c in conversions:
        out += _bytes(10, c)
    return out + _int(12, int(time.time())) + _bytes(13, "0.1.0")


def bundle(request: bytes, key_id: str, sign: Callable[[bytes], bytes]) -> bytes:
    """A serialized SignedBundle of a BundlePayload (format 1, kind sync request)."""
    payload = _int(1, 1) + _int(2, 2) + _bytes(4, request)
    signature = sign(b"outpost/sync-request/v1\x00" + payload)
    return _bytes(1, payload) + _bytes(2, key_id) + _bytes(3, "ed25519") + _bytes(4, signature)


def junk_reports(n: int) -> bytes:
    """`n` tiny usage reports (an id of one byte each): 5 bytes a report."""
    return (_varint((7 << 3) | 2) + _varint(3) + _bytes(1, "A")) * n


def load_key(path: Path):
    from cryptography.hazmat.primitives import serialization
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def key_id(private_key) -> str:
    import hashlib
    from cryptography.hazmat.primitives import serialization
    der = private_key.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).digest()[:16].hex()


# --- HTTP for the attackers -------------------------------------------------------------------

class Conn(fl.Conn):
    """flood.Conn that sends a body in pieces and stops when the server answers before the end
    (central refuses from the header, e.g. 503 beyond its body budget, and closes): that answer
    is what the attacker gets, not a broken pipe."""

    CHUNK = 256 << 10

    def request(self, method: str, path: str, body: bytes = b"",
                headers: Optional[dict] = None) -> int:
        if len(body) <= self.CHUNK:
            return super().request(method, path, body, headers)
        hdr = {"Host": "127.0.0.1", "Content-Length": str(len(body)),
               "Content-Type": "application/json"}
        hdr.update(headers or {})
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdr.items())
        self.sock.sendall(head.encode() + b"\r\n")
        view = memoryview(body)
        for offset in range(0, len(body), self.CHUNK):
            if self._answered_early():
                raise fl._Closed(self._read_response())  # the body is cut: close after it
            try:
                self.sock.sendall(view[offset:offset + self.CHUNK])
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                self.sock.settimeout(1.0)
                raise fl._Closed(self._read_response())  # or the error of reading it
        return self._read_response()

    def _answered_early(self) -> bool:
        """True if the server has sent application data (not only TLS session tickets)."""
        if not select.select([self.sock], [], [], 0)[0]:
            return False
        timeout = self.sock.gettimeout()
        self.sock.setblocking(False)
        try:
            chunk = self.sock.recv(65536)
        except (ssl.SSLWantReadError, BlockingIOError):
            return False
        finally:
            self.sock.settimeout(timeout)
        if not chunk:
            raise ConnectionError("closed by the server while the body was sent")
        self.buf += chunk
        return True


def request_loop(port: int, ca: Path, sources: list, total: int, conns: int, deadline: float,
                 make: Callable[[random.Random, int], tuple], statuses: Counter,
                 lock: threading.Lock, timeout: float = 60.0) -> None:
    """flood.request_loop with this file's Conn, a request number for `make`, one address per
    connection round-robin, and a per-request socket timeout."""
    left = [total]
    number = [0]

    def take() -> Optional[int]:
        with lock:
            if left[0] <= 0 or time.monotonic() > deadline:
                return None
            left[0] -= 1
            number[0] += 1
            return number[0]

    def worker(i: int) -> None:
        rng = random.Random(i)
        conn = None
        for _ in range(total + 1):  # bounded
            n = take()
            if n is None:
                break
            try:
                if conn is None:
                    conn = Conn(port, ca, sources[i % len(sources)], timeout=timeout)
                method, path, body, headers = make(rng, n)
                status = conn.request(method, path, body, headers)
                with lock:
                    statuses[status] += 1
            except fl._Closed as c:
                with lock:
                    statuses[c.status] += 1
                conn.close()
                conn = None
            except (OSError, ConnectionError, ssl.SSLError, ValueError, IndexError) as e:
                with lock:
                    statuses[f"error:{type(e).__name__}"] += 1
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.05)
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(0.1, deadline - time.monotonic() + timeout + 15))


# --- The legitimate satellite and the memory sampler ------------------------------------------

class Prober:
    """acme's `outpost sync now`, again and again, and central's VmRSS every 0.1 s."""

    def __init__(self, sat: h.Satellite, pid: int):
        self.sat = sat
        self.pid = pid
        self.latency: list = []
        self.failures: list = []
        self.rss: list = []
        self.stop = threading.Event()
        self.threads: list = []

    def probe_once(self) -> None:
        t0 = time.monotonic()
        r = self.sat.op.run("sync", "now", "--data-dir", self.sat.dir, json_out=True, timeout=60)
        self.latency.append(time.monotonic() - t0)
        if not r.ok:
            self.failures.append(r.describe(400))

    def _probe(self) -> None:
        for _ in range(100_000):  # bounded
            if self.stop.is_set():
                return
            self.probe_once()
            self.stop.wait(0.2)

    def _sample(self) -> None:
        for _ in range(1_000_000):  # bounded
            if self.stop.is_set():
                return
            self.rss.append(fl.rss_kb(self.pid))
            self.stop.wait(0.1)

    def start(self) -> None:
        self.threads = [threading.Thread(target=self._probe, daemon=True),
                        threading.Thread(target=self._sample, daemon=True)]
        for t in self.threads:
            t.start()

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=90)
        if not self.latency:  # the flood was over before the first sync finished
            self.probe_once()


# --- The bench ------------------------------------------------------------------------------

class Bench:
    def __init__(self, size: str):
        fl.raise_fd_limit()  # before central starts: it inherits the limit
        self.cfg = SIZES[size]
        self.size = size
        self.results: list = []
        self.site = h.Site(vas=("default",), licenses=[("default", TAG, 1000, False)],
                           central_serving=True, first_sync=False)
        try:
            self._setup()
        except BaseException:
            self.site.close()
            raise

    def _setup(self) -> None:
        site, central = self.site, self.site.central
        self.acme = site.sat  # sync.mode stays "offline": no scheduled syncs, `sync now` works
        central.account(EVIL)
        central.license("default", TAG, 1000, account=EVIL)
        (site.root / "evil").mkdir()
        self.evil = h.Satellite(site.op, site.root / "evil")
        self.evil.init(central.enroll("evil-sat", account=EVIL))
        self.evil.server.start()
        central.enroll("acme-pending")  # never installed: a pending enrollment
        for sat in (self.acme, self.evil):
            r = sat.cli("sync", "now", json_out=True)
            if not r.ok:
                raise h.CommandFailed(r, "the first online sync failed")
        sats = central.ok("satellite", "list", json_out=True).data.get("satellites", [])
        by_name = {s.get("name"): s for s in sats}
        self.acme_id = by_name["journey"]["satellite_id"]
        self.evil_id = by_name["evil-sat"]["satellite_id"]
        self.acme_key_id = key_id(load_key(self.acme.dir / "keys" / "signing.key"))
        self.evil_key = load_key(self.evil.dir / "keys" / "signing.key")
        self.evil_key_id = key_id(self.evil_key)
        self.central_key_id = key_id(load_key(central.dir / "keys" / "signing.key"))
        self.evil_sequence = 1_000  # above anything the real satellite sent
        self.seq_lock = threading.Lock()

    def close(self) -> None:
        for sat in (getattr(self, "evil", None),):
            if sat is not None:
                try:
                    sat.server.kill9()
                except Exception:  # noqa: BLE001 - teardown goes on
                    pass
        self.site.close()

    @property
    def central(self) -> h.Central:
        return self.site.central

    @property
    def pid(self) -> int:
        return self.central.server.pid

    TABLES = ("usage_reports", "moves", "conversions", "audit_heads")

    def central_db(self) -> dict:
        """central.db's logical size (pages, the WAL's committed ones included) and row counts,
        read-only (a measurement only: nothing in the floods depends on it)."""
        import sqlite3
        uri = f"file:{self.central.dir / 'central.db'}?mode=ro"
        with sqlite3.connect(uri, uri=True, timeout=30) as db:
            out = {"bytes": db.execute("PRAGMA page_count").fetchone()[0]
                   * db.execute("PRAGMA page_size").fetchone()[0]}
            for table in self.TABLES:
                out[table] = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        return out

    def measure(self, name: str, what: str, flood: Callable[[float], dict],
                rss_slack_mb: float, settle_s: float = 20.0) -> dict:
        prober = Prober(self.acme, self.pid)
        baseline = []
        for _ in range(3):
            t0 = time.monotonic()
            prober.probe_once()
            baseline.append(time.monotonic() - t0)
        base_failures, prober.failures, prober.latency = list(prober.failures), [], []
        rss_before = fl.rss_kb(self.pid)
        db_before = self.central_db()
        deadline = time.monotonic() + self.cfg["max_s"]
        t0 = time.monotonic()
        prober.start()
        try:
            detail = flood(deadline)
        finally:
            flood_s = time.monotonic() - t0
            prober.finish()
        up = self.central.server.running
        rss_end = fl.rss_kb(self.pid) if up else 0
        rss_after = rss_end
        settle_deadline = time.monotonic() + settle_s
        while up and rss_after > rss_before + rss_slack_mb * 1024 and \
                time.monotonic() < settle_deadline:
            time.sleep(0.5)
            rss_after = fl.rss_kb(self.pid)
        # Central serves acme again once it has worked off what the flood left queued: acme
        # syncs until it succeeds, for at most 90 s after the flood ended.
        after_sync = None
        if up:
            t_after = time.monotonic()
            attempts = 0
            for _ in range(30):  # bounded
                attempts += 1
                r = self.acme.cli("sync", "now", json_out=True)
                if r.ok or time.monotonic() - t_after > 90:
                    break
                time.sleep(2)
            after_sync = {"ok": r.ok, "attempts": attempts,
                          "seconds_after_flood": round(time.monotonic() - t0 - flood_s, 1),
                          "error": "" if r.ok else r.describe(400)}
        lat = prober.latency
        db_after = self.central_db() if up else db_before
        result = {
            "flood": name, "what": what, "seconds": round(flood_s, 1),
            "baseline_ms": round(1000 * statistics.median(baseline)),
            "syncs": len(lat),
            "p50_ms": round(1000 * fl.percentile(lat, 50)),
            "p95_ms": round(1000 * fl.percentile(lat, 95)),
            "max_ms": round(1000 * max(lat)),
            "sync_failures": base_failures + prober.failures,
            "rss_mb": {"before": round(rss_before / 1024, 1),
                       "peak": round(max(prober.rss + [rss_end]) / 1024, 1),
                       "end": round(rss_end / 1024, 1), "after": round(rss_after / 1024, 1)},
            "central_up": up and after_sync is not None and after_sync["ok"],
            "sync_after": after_sync,
            "db_growth_kb": round((db_after["bytes"] - db_before["bytes"]) / 1024),
            "rows_added": {t: db_after[t] - db_before[t] for t in self.TABLES},
            "detail": detail,
        }
        self.results.append(result)
        print(f"central_flood: {name}: {json.dumps(result, default=str)}", flush=True)
        return result

    # (a) large junk bodies
    def junk_large(self, deadline: float) -> dict:
        n = (self.cfg["junk_mib"] << 20) // 5 - 64
        request = sync_request(self.acme_id, ACME, 1 << 40, self.central_key_id, junk_reports(n))
        random_sig = lambda _: secrets.token_bytes(64)  # noqa: E731
        bodies = [bundle(request, self.acme_key_id, random_sig),
                  bundle(request, secrets.token_hex(16), random_sig)]
        statuses: Counter = Counter()
        lock = threading.Lock()
        sources = [f"127.0.2.{i}" for i in range(1, self.cfg["junk_conns"] + 1)]
        hdr = {"Content-Type": "application/x-protobuf"}

        def make(rng: random.Random, number: int) -> tuple:
            return "POST", "/v1/sync", bodies[number % 2], hdr

        t0 = time.monotonic()
        request_loop(self.central.port, self.central.dir / "ca.pem", sources,
                     self.cfg["junk_total"], self.cfg["junk_conns"], deadline, make, statuses,
                     lock)
        dt = time.monotonic() - t0
        total = sum(statuses.values())
        return {"requests": total, "per_s": round(total / max(dt, 1e-3), 1),
                "body_mib": round(len(bodies[0]) / (1 << 20), 1), "reports_each": n,
                "statuses": dict(statuses)}

    # (b) small junk, fast
    def junk_small(self, deadline: float) -> dict:
        def bad_sig(_: bytes) -> bytes:
            return secrets.token_bytes(64)

        report = _bytes(7, usage_report("r1", "default", TAG, 1_700_000_000, 1_700_003_600, 1))
        small = [bundle(sync_request(self.acme_id, ACME, 7, self.central_key_id, report),
                        kid, bad_sig)
                 for kid in (self.acme_key_id, secrets.token_hex(16))]
        proto = {"Content-Type": "application/x-protobuf"}
        kinds = [
            lambda rng: ("POST", "/v1/sync", rng.choice(small), proto),
            lambda rng: ("POST", "/v1/sync", secrets.token_bytes(rng.randrange(1, 2048)), proto),
            lambda rng: ("POST", "/v1/sync", b'{"satellite_id": "x"}',
                         {"Content-Type": "application/json"}),
            lambda rng: ("GET", "/v1/sync", b"", None),
            lambda rng: ("POST", f"/v1/{secrets.token_hex(4)}", b"x", None),
        ]
        statuses: Counter = Counter()
        lock = threading.Lock()
        sources = [f"127.0.3.{i}" for i in range(1, 5)]

        def make(rng: random.Random, number: int) -> tuple:
            return kinds[number % len(kinds)](rng)

        t0 = time.monotonic()
        request_loop(self.central.port, self.central.dir / "ca.pem", sources,
                     self.cfg["small_total"], self.cfg["small_conns"], deadline, make, statuses,
                     lock, timeout=20.0)
        dt = time.monotonic() - t0
        total = sum(statuses.values())
        return {"requests": total, "per_s": round(total / max(dt, 1e-3)),
                "statuses": dict(statuses)}

    # (c) idle TCP connections, never a handshake, one address
    def idle(self, deadline: float) -> dict:
        source = "127.0.4.1"
        socks = []
        refused = 0
        t0 = time.monotonic()
        for _ in range(self.cfg["idle_total"]):
            if time.monotonic() > deadline:
                break
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.bind((source, 0))
                s.connect_ex((h.LOOPBACK, self.central.port))
                socks.append(s)
            except OSError:
                refused += 1
                s.close()
        opened_s = time.monotonic() - t0
        hold_until = min(deadline, time.monotonic() + self.cfg["idle_hold_s"])
        time.sleep(max(0.0, hold_until - time.monotonic()))
        closed = 0
        for s in socks:
            try:
                if s.recv(1) == b"":
                    closed += 1
            except BlockingIOError:
                pass
            except OSError:
                closed += 1
        for s in socks:
            s.close()
        return {"connections": len(socks), "open_seconds": round(opened_s, 2),
                "refused_locally": refused, "closed_by_server_while_held": closed,
                "held_open": len(socks) - closed}

    def _evil_sign(self, data: bytes) -> bytes:
        return self.evil_key.sign(data)

    def _next_evil_sequence(self) -> int:
        with self.seq_lock:
            self.evil_sequence += 1
            return self.evil_sequence

    def _evil_flood(self, deadline: float, total: int, make_request: Callable[[int], bytes],
                    source_base: str) -> dict:
        statuses: Counter = Counter()
        lock = threading.Lock()
        sources = [f"{source_base}.{i}" for i in range(1, 5)]
        hdr = {"Content-Type": "application/x-protobuf"}

        def make(rng: random.Random, number: int) -> tuple:
            sequence = self._next_evil_sequence()
            body = bundle(make_request(sequence), self.evil_key_id, self._evil_sign)
            return "POST", "/v1/sync", body, hdr

        t0 = time.monotonic()
        request_loop(self.central.port, self.central.dir / "ca.pem", sources, total,
                     self.cfg["evil_conns"], deadline, make, statuses, lock)
        dt = time.monotonic() - t0
        n = sum(statuses.values())
        return {"requests": n, "per_s": round(n / max(dt, 1e-3), 1), "statuses": dict(statuses)}

    # (d) evilcorp's valid requests, 10,000 new usage reports each
    def evil_reports(self, deadline: float) -> dict:
        now = int(time.time())
        end = now - now % 3600
        per = 10_000

        def make_request(sequence: int) -> bytes:
            reports = b"".join(
                _bytes(7, usage_report(f"flood-{sequence}-{i}", "default", TAG,
                                       end - 3600 * (1 + i % 48), end - 3600 * (i % 48), 1))
                for i in range(per))
            return sync_request(self.evil_id, EVIL, sequence, self.central_key_id, reports)

        out = self._evil_flood(deadline, self.cfg["evil_total"], make_request, "127.0.5")
        out["reports_each"] = per
        return out

    # (e) evilcorp's valid requests without an audit head, 1,000 moves and conversions each
    def evil_items(self, deadline: float) -> dict:
        def make_request(sequence: int) -> bytes:
            moves = [_bytes(1, f"m-{sequence}-{i}") + _bytes(2, "default") + _bytes(3, "nowhere")
                     + _bytes(4, TAG) + _int(5, 1) for i in range(1000)]
            conversions = [_bytes(1, f"c-{sequence}-{i}") + _bytes(2, "PAK-" + "0" * 36)
                           + _bytes(3, "default") for i in range(1000)]
            return sync_request(self.evil_id, EVIL, sequence, self.central_key_id,
                                moves=moves, conversions=conversions)

        out = self._evil_flood(deadline, self.cfg["items_total"], make_request, "127.0.6")
        out["moves_each"] = out["conversions_each"] = 1000
        return out

    FLOODS = (
        ("junk_large", "POST /v1/sync, 8-15 MiB badly signed requests naming acme's satellite",
         "junk_large"),
        ("junk_small", "small junk requests, fast, 4 addresses", "junk_small"),
        ("idle", "plain TCP connections that never start TLS, one address", "idle"),
        ("evil_reports", "evilcorp's own key: valid requests of 10,000 new usage reports",
         "evil_reports"),
        ("evil_items", "evilcorp's own key: valid requests, 1,000 moves + 1,000 conversions, "
         "no audit head", "evil_items"),
    )

    def run(self, names: Optional[list] = None, rss_slack_mb: float = 64.0) -> list:
        for name, what, method in self.FLOODS:
            if names and name not in names:
                continue
            self.measure(name, what, getattr(self, method), rss_slack_mb)
        return self.results


def table(results: list) -> str:
    head = ("| flood | requests / connections | answers | acme `sync now` p50 / p95 / max (ms), "
            "syncs | baseline (ms) | central RSS before / peak / after (MB) | central.db "
            "growth | acme synced again after (s) |")
    lines = [head, "|" + "---|" * 8]
    for r in results:
        d = r["detail"]
        count = d.get("requests", d.get("connections", ""))
        if "per_s" in d:
            count = f"{count} ({d['per_s']}/s)"
        answers = d.get("statuses") or {k: v for k, v in d.items()
                                        if k not in ("requests", "connections", "per_s")}
        ans = ", ".join(f"{k}: {v}" for k, v in sorted(answers.items(), key=str))
        fails = f", {len(r['sync_failures'])} failed" if r["sync_failures"] else ""
        added = {k: v for k, v in r.get("rows_added", {}).items() if v}
        rows = (" (" + ", ".join(f"{k} +{v:,}" for k, v in added.items()) + ")") if added else ""
        a = r["sync_after"] or {}
        after = (f"{a['seconds_after_flood']} ({a['attempts']} tries)" if a.get("ok")
                 else "NOT SERVED" if a else "central DOWN")
        lines.append(
            f"| {r['flood']} | {count} | {ans} | {r['p50_ms']} / {r['p95_ms']} / {r['max_ms']}, "
            f"{r['syncs']}{fails} | {r['baseline_ms']} | {r['rss_mb']['before']:.0f} / "
            f"{r['rss_mb']['peak']:.0f} / {r['rss_mb']['after']:.0f} | "
            f"{r['db_growth_kb']} KB{rows} | {after} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="large")
    ap.add_argument("--only", action="append", help="run only this flood (repeatable)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--latency-bound", type=float, default=15.0,
                    help="seconds acme's sync may take during a flood")
    args = ap.parse_args()
    bench = Bench(args.size)
    try:
        results = bench.run(args.only)
    finally:
        bench.close()
    print()
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    bad = [r["flood"] for r in results
           if not r["central_up"] or r["sync_failures"]
           or r["max_ms"] > args.latency_bound * 1000]
    if bad:
        print(f"central_flood: acme's sync failed or took over {args.latency_bound} s, or "
              f"central went down, during: {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
