"""Crash consistency: `kill -9` the satellite at random moments under load (issue 14).

A central and a satellite enrolled to it and synced (so it has ENFORCED and REPORTED pools),
built with the journey harness (tests/journeys/harness.py). Each iteration:

1. several concurrent workers drive the real binary: device workers register devices, renew
   (authorize) with random tags and counts, and release them (`device release` or the
   operator's `devices release ID`); an operator worker makes license moves in both directions
   and reserves/unreserves units for named UDIs; a sync worker runs offline round trips
   (`sync export`, `central sync process`, `sync import`);
2. at a random moment (seeded RNG) the satellite is killed with SIGKILL; no new command starts
   after that, and the commands in flight fail or finish;
3. with the satellite stopped, `outpost audit verify --db` must pass; then `serve` again;
4. the state must hold everything acknowledged (every command that exited 0):
   - a registered device is still registered (unless a release was acknowledged) and holds
     exactly what its last acknowledged authorization granted; a command that failed may have
     been applied or not (either outcome is accepted, nothing in between);
   - a device whose release was acknowledged never comes back; an instance the model does not
     know is only allowed for a registration that failed, and holds nothing;
   - every acknowledged move is listed by `outpost moves`; every acknowledged reservation is
     there with its count, every acknowledged unreservation gone;
   - the stored response number is the last acknowledged import's (or an import in flight at the
     kill), and the purchased quantities are exactly those of that response plus the moves still
     PENDING: an import is applied entirely or not at all;
   - in use per pool equals the sum of the devices' holdings, never above purchased in an
     ENFORCED pool; reserved equals the reservations;
   - `outpost audit verify` passes online;
   - the restart read the licensing state file and the rows changed since it was saved
   (docs/operations.md, "Start-up and the licensing state file"), and what it serves equals
   what a satellite serves that reads only the tables: a copy of the data directory taken at the
   kill, without `licensing.state`, is served beside it and its devices and pools compared.
   After the checks the model is re-based on what was observed (an uncertain outcome becomes the
   one observed), and the next iteration continues on the same site.

Run `python3 tests/crash/crash.py --iterations 100` (what `make crash-test` does) or through
pytest (tests/crash/test_crash.py, ctest label `crash`). The seed is printed first; the same
seed gives the same choices (the kill moments depend on timing, so a replay is not exact).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "journeys"))
import harness as h  # noqa: E402

FW = "fw.base"      # ENFORCED
DNA = "dna.adv"     # REPORTED
NOPE = "no.such"    # NOT_ENTITLED
VAS = ("default", "lab")
LICENSES = (("default", FW, 30, True), ("default", DNA, 20, False),
            ("lab", FW, 12, True), ("lab", DNA, 6, False))
RESERVED_UDIS = ("RSV-1:R1", "RSV-1:R2", "RSV-1:R3")

# A command in a worker gets this long (the satellite answers in milliseconds; after the kill a
# command fails at once with "connection refused").
CMD_TIMEOUT_S = float(os.environ.get("CRASH_COMMAND_TIMEOUT", "20"))
DEVICE_WORKERS = 3
DEVICES_PER_WORKER = 3


class CrashCheckFailed(AssertionError):
    pass


# --- The model of what was acknowledged --------------------------------------------------------

def holdings_match(actual: dict, allowed: dict) -> bool:
    """actual: tag -> count; allowed: tag -> set of counts (a tag not named allows only 0)."""
    for tag in set(actual) | set(allowed):
        if actual.get(tag, 0) not in allowed.get(tag, {0}):
            return False
    return True


class DevModel:
    """One device: its state directory, and the states it may be in after a crash.

    A candidate is None (not registered) or a dict tag -> set of allowed counts."""

    def __init__(self, dev: h.Device):
        self.dev = dev
        self.instance_id = ""
        self.va = ""
        self.candidates: list = []
        self.retired = False  # a release was attempted: never used again

    def describe(self) -> str:
        return (f"{self.dev.udi} instance {self.instance_id} ({self.va}): candidates "
                f"{[None if c is None else {t: sorted(v) for t, v in c.items()} for c in self.candidates]}")


class Model:
    def __init__(self):
        self.lock = threading.Lock()
        self.devices: list = []            # DevModel with a known instance id
        self.released_ids: set = set()     # instance ids whose release was observed
        self.uncertain_udis: set = set()   # registrations that failed: may exist, hold nothing
        self.acked_moves: set = set()
        self.reservations: dict = {}       # (va, tag, udi) -> set of allowed counts (0 = none)
        self.totals: dict = {}             # response number -> {(va, tag): quantity}
        self.acked_response = 0            # highest response number whose import exited 0
        self.attempted_responses: set = set()  # imports that failed (may or may not be stored)


# --- Workers -----------------------------------------------------------------------------------

class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.ok = Counter()
        self.failed = Counter()

    def note(self, kind: str, ok: bool) -> None:
        with self.lock:
            (self.ok if ok else self.failed)[kind] += 1


class Run:
    def __init__(self, seed: int, verbose: bool = False):
        self.seed = seed
        self.rng = random.Random(seed)
        self.verbose = verbose
        self.site: Optional[h.Site] = None
        self.model = Model()
        self.stats = Stats()
        self.stop = threading.Event()
        self.tokens: dict = {}
        self.serial = 0
        self.iteration = 0
        self.kill_delays: list = []
        self.inflight_at_kill = Counter()
        self._inflight = Counter()
        self._inflight_lock = threading.Lock()
        self._files = 0
        self.starts_from_state_file = 0
        self.changed_after_state_file = 0

    # Set-up ------------------------------------------------------------------------------------

    def setup(self) -> None:
        self.site = h.Site(vas=VAS, licenses=LICENSES, first_sync=False)
        e, p, i = self.site.round_trip()
        self._record_response(p.data)
        self.model.acked_response = int(i.data["response_number"])
        for va in VAS:
            self.tokens[va] = self.site.token(va)[1]
        # A clean stop saves the licensing state file; from then on every restart after a kill
        # reads it and the rows changed since.
        self.site.sat.server.restart()
        print(f"crash: site {self.site.root}, satellite {self.site.sat.url}", flush=True)

    def close(self) -> None:
        if self.site is not None:
            self.site.close()

    def _record_response(self, process_data: dict) -> int:
        resp = process_data["response"]
        n = int(resp["response_number"])
        now = time.time()
        totals: dict = {}
        for e in resp.get("entitlements", []):
            start, end = int(e.get("start", 0)), int(e.get("end", 0))
            if start > now + 60 or (end != 0 and end <= now):
                continue
            key = (e["va"], e["tag"])
            totals[key] = totals.get(key, 0) + int(e.get("quantity", 0))
        with self.model.lock:
            self.model.totals[n] = {k: v for k, v in totals.items() if v}
        return n

    # Commands ----------------------------------------------------------------------------------

    def run_cmd(self, kind: str, *args, json_out: bool = True) -> h.Result:
        with self._inflight_lock:
            self._inflight[kind] += 1
        try:
            r = self.site.op.run(*args, json_out=json_out, timeout=CMD_TIMEOUT_S)
        finally:
            with self._inflight_lock:
                self._inflight[kind] -= 1
        ok = r.ok and (not json_out or r.data is not None)
        self.stats.note(kind, ok)
        if self.verbose:
            print(f"  [{kind}] exit {r.rc}", flush=True)
        return r

    def sat_cmd(self, kind: str, *args) -> h.Result:
        return self.run_cmd(kind, *args, "--data-dir", self.site.sat.dir)

    def new_file(self, stem: str) -> Path:
        self._files += 1
        return self.site.root / "files" / f"crash-{self._files:05d}-{stem}"

    # Device worker -----------------------------------------------------------------------------

    def device_worker(self, rng: random.Random, mine: list) -> None:
        for _ in range(10_000):  # bounded; the stop flag ends it long before
            if self.stop.is_set():
                return
            live = [d for d in mine if not d.retired]
            if len(live) < DEVICES_PER_WORKER and (not live or rng.random() < 0.3):
                self._register(rng, mine)
                continue
            d = rng.choice(live)
            roll = rng.random()
            if roll < 0.75:
                self._authorize(rng, d)
            else:
                self._release(rng, d)

    def _register(self, rng: random.Random, mine: list) -> None:
        with self.model.lock:
            self.serial += 1
            serial = f"C{self.serial:05d}"
        va = rng.choice(VAS)
        dev = h.Device(self.site.op, self.site.root / "devices" / serial, "CRASH-1", serial)
        r = self.run_cmd("register", "device", "register", "--server", self.site.sat.url,
                         "--ca", self.site.sat.ca, "--token", self.tokens[va], "--pid", dev.pid,
                         "--serial", serial, "--hostname", f"h-{serial.lower()}",
                         "--state-dir", dev.state_dir)
        with self.model.lock:
            if r.ok and r.data:
                m = DevModel(dev)
                m.instance_id = r.data["instance_id"]
                m.va = r.data["va"]
                m.candidates = [{}]
                self.model.devices.append(m)
                mine.append(m)
            else:
                self.model.uncertain_udis.add(dev.udi)

    def _authorize(self, rng: random.Random, d: DevModel) -> None:
        want = {}
        for tag in rng.sample([FW, DNA, NOPE], rng.choice([1, 2, 2, 3])):
            if tag == NOPE and rng.random() < 0.7:
                continue
            want[tag] = rng.randint(0, 3) if tag != NOPE else 1
        want = {t: c for t, c in want.items() if c > 0} or {FW: 1}
        args = []
        for tag, count in want.items():
            args += ["--tag", f"{tag}:{count}"]
        r = self.run_cmd("authorize", "device", "authorize", "--state-dir", d.dev.state_dir, *args)
        with self.model.lock:
            if r.ok and r.data:
                granted = {t["tag"]: int(t.get("granted", 0)) for t in r.data.get("tags", [])}
                d.candidates = [{t: {c} for t, c in granted.items() if c}]
            else:
                pattern = {t: {0, c} for t, c in want.items()}
                d.candidates = d.candidates + [pattern]

    def _release(self, rng: random.Random, d: DevModel) -> None:
        d.retired = True
        if rng.random() < 0.5:
            r = self.run_cmd("release", "device", "release", "--state-dir", d.dev.state_dir)
        else:
            r = self.sat_cmd("release-op", "devices", "release", d.instance_id)
        with self.model.lock:
            if r.ok and r.data is not None:
                d.candidates = [None]
            else:
                d.candidates = d.candidates + [None]

    # Operator worker ---------------------------------------------------------------------------

    def operator_worker(self, rng: random.Random) -> None:
        for _ in range(10_000):
            if self.stop.is_set():
                return
            if rng.random() < 0.5:
                src, dst = rng.sample(VAS, 2)
                tag = rng.choice([FW, DNA])
                r = self.sat_cmd("move", "va", "move", "--from", src, "--to", dst, "--tag", tag,
                                 "--count", rng.randint(1, 2))
                if r.ok and r.data:
                    with self.model.lock:
                        self.model.acked_moves.add(r.data["move_id"])
            else:
                va = rng.choice(VAS)
                udi = rng.choice(RESERVED_UDIS)
                tag = rng.choice([FW, DNA])
                key = (va, tag, udi)
                if rng.random() < 0.6:
                    count = rng.randint(1, 2)
                    r = self.sat_cmd("reserve", "reserve", "--va", va, "--tag", tag, "--count",
                                     count, "--udi", udi)
                else:
                    count = 0
                    r = self.sat_cmd("unreserve", "unreserve", "--va", va, "--tag", tag,
                                     "--udi", udi)
                with self.model.lock:
                    # `reserve` adds to a reservation and answers the total held; `unreserve`
                    # removes it.
                    before = self.model.reservations.get(key, {0})
                    if r.ok and r.data is not None:
                        after = {int(r.data.get("count", 0))} if count else {0}
                    else:
                        after = before | ({b + count for b in before} if count else {0})
                    self.model.reservations[key] = after

    # Sync worker -------------------------------------------------------------------------------

    def sync_worker(self, rng: random.Random) -> None:
        for _ in range(1_000):
            if self.stop.is_set():
                return
            time.sleep(rng.uniform(0.0, 0.3))
            request = self.new_file("request.bin")
            e = self.sat_cmd("export", "sync", "export", "-o", request)
            if not e.ok or self.stop.is_set():
                continue
            response = self.new_file("response.bin")
            p = self.run_cmd("central-process", "central", "sync", "process", request, "-o",
                             response, "--data-dir", self.site.central.dir)
            if not p.ok or p.data is None:
                raise CrashCheckFailed("central sync process failed:\n" + p.describe())
            n = self._record_response(p.data)
            if self.stop.is_set():
                continue
            i = self.sat_cmd("import", "sync", "import", response)
            with self.model.lock:
                if i.ok and i.data:
                    self.model.acked_response = max(self.model.acked_response,
                                                     int(i.data["response_number"]))
                else:
                    self.model.attempted_responses.add(n)

    # One iteration -----------------------------------------------------------------------------

    def iterate(self) -> dict:
        self.iteration += 1
        rng = random.Random(self.rng.getrandbits(64))
        mine_by_worker: list = [[] for _ in range(DEVICE_WORKERS)]
        for i, d in enumerate(d for d in self.model.devices if not d.retired):
            mine_by_worker[i % DEVICE_WORKERS].append(d)
        self.stop.clear()
        errors: list = []

        def guarded(fn, *args):
            try:
                fn(*args)
            except BaseException as e:  # noqa: BLE001 - reported by the main thread
                errors.append(e)

        threads = [threading.Thread(target=guarded, args=(self.device_worker,
                                                           random.Random(rng.getrandbits(64)), m),
                                    daemon=True) for m in mine_by_worker]
        threads.append(threading.Thread(target=guarded, args=(
            self.operator_worker, random.Random(rng.getrandbits(64))), daemon=True))
        threads.append(threading.Thread(target=guarded, args=(
            self.sync_worker, random.Random(rng.getrandbits(64))), daemon=True))
        ok_before = sum(self.stats.ok.values())
        delay = rng.uniform(0.1, 2.5)
        self.kill_delays.append(delay)
        for t in threads:
            t.start()
        time.sleep(delay)
        self.stop.set()
        with self._inflight_lock:
            inflight = +self._inflight
        self.site.sat.server.kill9()
        self.inflight_at_kill.update(inflight)
        deadline = time.monotonic() + CMD_TIMEOUT_S * 2 + 10
        for t in threads:
            t.join(timeout=max(0.1, deadline - time.monotonic()))
        if any(t.is_alive() for t in threads):
            raise CrashCheckFailed(f"a worker did not stop within {CMD_TIMEOUT_S * 2 + 10} s of "
                                   "the kill")
        if errors:
            raise errors[0]
        acked = sum(self.stats.ok.values()) - ok_before

        # Stopped: the database file must verify on its own.
        r = self.site.sat.verify_audit_offline()
        if not r.ok or not (r.data or {}).get("ok"):
            raise CrashCheckFailed("audit verify --db failed after kill -9:\n" + r.describe())
        tables_copy = self.copy_without_state_file()
        log = self.site.sat.server.log
        offset = log.stat().st_size if log.exists() else 0
        self.site.sat.server.start()
        self.check()
        self.check_state_file_start(log, offset, tables_copy)
        del self.site.op.transcript[:-300]
        return {"delay": delay, "acked": acked, "inflight": dict(inflight)}

    # Checks ------------------------------------------------------------------------------------

    def copy_without_state_file(self) -> Path:
        """The killed satellite's data directory (database, WAL and all) as it is now, without
        licensing.state and listening on another port: served, it reads only the tables."""
        root = self.site.root / "tables-copy"
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(self.site.sat.dir, root / "satellite")
        (root / "satellite" / "licensing.state").unlink(missing_ok=True)
        toml = root / "satellite" / "outpost.toml"
        port = h.free_loopback_port()
        toml.write_text(re.sub(r'(?m)^listen = ".*"$', f'listen = "{h.LOOPBACK}:{port}"',
                               toml.read_text(), count=1))
        return root

    def check_state_file_start(self, log: Path, offset: int, tables_copy: Path) -> None:
        with open(log, "rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
        m = re.search(r"licensing state loaded from .*?\((\d+) changed since it was saved", text)
        if m is None:
            raise CrashCheckFailed(f"crash iteration {self.iteration}: the restart after kill -9 "
                                   f"did not read the licensing state file:\n{text[-2000:]}")
        self.starts_from_state_file += 1
        self.changed_after_state_file += int(m.group(1))
        sat = self.site.sat
        copy = h.Satellite(self.site.op, tables_copy, port=int(re.search(
            r'(?m)^listen = ".*:(\d+)"$', (tables_copy / "satellite" / "outpost.toml").read_text())
            .group(1)))
        copy.server.start()
        try:
            if "licensing state loaded:" not in copy.server.log.read_text(errors="replace"):
                raise CrashCheckFailed("the copy without licensing.state did not read the tables")
            problems = []
            if copy.devices() != sat.devices():
                problems.append(f"devices differ:\n  file+changes {sat.devices()}\n"
                                f"  tables       {copy.devices()}")
            if copy.pools() != sat.pools():
                problems.append(f"pools differ:\n  file+changes {sat.pools()}\n"
                                f"  tables       {copy.pools()}")
            if problems:
                raise CrashCheckFailed(
                    f"crash iteration {self.iteration} (seed {self.seed}): the state read from "
                    "licensing.state and the rows changed since is not what the tables give:\n- "
                    + "\n- ".join(problems))
        finally:
            copy.server.kill9()
            shutil.rmtree(tables_copy, ignore_errors=True)

    def check(self) -> None:
        sat = self.site.sat
        m = self.model
        pools = sat.pools()
        devices = sat.devices()
        moves = {mv["move_id"]: mv for mv in
                 sat.ok("moves", json_out=True).data.get("moves", [])}
        reservations = {(x["va"], x["tag"], x["udi"]): int(x.get("count", 0)) for x in
                        sat.ok("reservations", json_out=True).data.get("reservations", [])}
        status = sat.sync_status()
        audit = sat.verify_audit_online()
        problems: list = []

        # Devices.
        known = {d.instance_id: d for d in m.devices}
        for d in m.devices:
            actual = devices.get(d.instance_id)
            matched = any((c is None and actual is None) or
                          (c is not None and actual is not None
                           and holdings_match(actual["holdings"], c)) for c in d.candidates)
            if not matched:
                problems.append(f"device {d.describe()}; `outpost devices` shows "
                                f"{actual['holdings'] if actual else 'nothing (not registered)'}")
        for iid, actual in devices.items():
            if iid in known:
                continue
            if iid in m.released_ids:
                problems.append(f"released instance {iid} ({actual['udi']}) is registered again")
            elif actual["udi"] not in m.uncertain_udis:
                problems.append(f"unknown instance {iid} ({actual['udi']}) holding "
                                f"{actual['holdings']}")
            elif any(actual["holdings"].values()):
                problems.append(f"instance {iid} of a failed registration ({actual['udi']}) holds "
                                f"{actual['holdings']}")

        # Moves and reservations.
        for mid in sorted(m.acked_moves - set(moves)):
            problems.append(f"acknowledged move {mid} is not listed by `outpost moves`")
        for key, allowed in sorted(m.reservations.items()):
            if reservations.get(key, 0) not in allowed:
                problems.append(f"reservation {key}: expected one of {sorted(allowed)}, "
                                f"found {reservations.get(key, 0)}")
        for key in sorted(set(reservations) - set(m.reservations)):
            problems.append(f"reservation {key} that was never made: {reservations[key]}")

        # Sync: the stored response, and entitlements that agree with it.
        stored = int(status.get("last_response_number", 0))
        allowed = {m.acked_response} | {n for n in m.attempted_responses if n > m.acked_response}
        if stored not in allowed:
            problems.append(f"stored response number {stored}, expected one of {sorted(allowed)} "
                            f"(last acknowledged import: {m.acked_response})")
        expected = dict(m.totals.get(stored, {}))
        pending = [mv for mv in moves.values() if mv.get("status") == "PENDING"]
        for mv in pending:
            c = int(mv["count"])
            expected[(mv["from_va"], mv["tag"])] = expected.get((mv["from_va"], mv["tag"]), 0) - c
            expected[(mv["to_va"], mv["tag"])] = expected.get((mv["to_va"], mv["tag"]), 0) + c
        expected = {k: v for k, v in expected.items() if v}
        purchased = {k: p["purchased"] for k, p in pools.items() if p["purchased"]}
        if stored in m.totals and purchased != expected:
            problems.append(f"purchased {sorted(purchased.items())} != response {stored}'s "
                            f"entitlements plus {len(pending)} pending moves "
                            f"{sorted(expected.items())}: a half-applied import or move")

        # Pools against devices and reservations.
        use: dict = {}
        for actual in devices.values():
            for tag, c in actual["holdings"].items():
                use[(actual["va"], tag)] = use.get((actual["va"], tag), 0) + c
        for key, p in sorted(pools.items()):
            if p["in_use"] != use.get(key, 0):
                problems.append(f"pool {key}: in use {p['in_use']} but the devices hold "
                                f"{use.get(key, 0)}")
            if p.get("enforcement") == "ENFORCED" and p["in_use"] > p["purchased"]:
                problems.append(f"ENFORCED pool {key}: in use {p['in_use']} > purchased "
                                f"{p['purchased']}")
            held = sum(c for (va, tag, _), c in reservations.items() if (va, tag) == key)
            if p["reserved"] != held:
                problems.append(f"pool {key}: reserved {p['reserved']} but reservations hold "
                                f"{held}")
        for key, n in use.items():
            if n and key not in pools and key[1] != NOPE:
                problems.append(f"devices hold {n} of {key}, which has no pool")

        if not audit.ok or not (audit.data or {}).get("ok"):
            problems.append("outpost audit verify failed:\n" + audit.describe())

        if problems:
            raise CrashCheckFailed(
                f"crash iteration {self.iteration} (seed {self.seed}): {len(problems)} problem(s)"
                f" after kill -9 and restart:\n- " + "\n- ".join(problems))

        # Re-base the model on what was observed.
        for d in list(m.devices):
            actual = devices.get(d.instance_id)
            if actual is None:
                m.released_ids.add(d.instance_id)
                m.devices.remove(d)
            else:
                d.candidates = [{t: {c} for t, c in actual["holdings"].items() if c}]
        m.reservations = {k: {reservations.get(k, 0)} for k in m.reservations}
        m.acked_response = stored
        m.attempted_responses = set()


def run(iterations: int, seed: Optional[int] = None, time_limit_s: float = 1800.0,
        verbose: bool = False) -> dict:
    """Runs the crash iterations; raises CrashCheckFailed on the first broken invariant."""
    seed = int(seed if seed is not None else int.from_bytes(os.urandom(4), "big"))
    print(f"crash: seed={seed} iterations={iterations} (reproduce the choices with "
          f"CRASH_SEED={seed})", flush=True)
    run = Run(seed, verbose=verbose)
    started = time.monotonic()
    done = 0
    try:
        run.setup()
        for _ in range(iterations):  # bounded
            if time.monotonic() - started > time_limit_s:
                print(f"crash: time limit of {time_limit_s:.0f} s reached", flush=True)
                break
            t0 = time.monotonic()
            info = run.iterate()
            done += 1
            print(f"crash: iteration {done}: killed after {info['delay']:.2f} s, "
                  f"{info['acked']} commands acknowledged, in flight at the kill "
                  f"{info['inflight'] or 'none'}; checks passed ({time.monotonic() - t0:.1f} s)",
                  flush=True)
    except BaseException:
        if run.site is not None:
            print("crash: last commands:\n" + run.site.transcript(last=25, limit=600),
                  flush=True)
        run.close()
        raise
    run.close()
    elapsed = time.monotonic() - started
    summary = {
        "seed": seed, "iterations": done, "seconds": round(elapsed, 1),
        "acknowledged": dict(run.stats.ok), "failed": dict(run.stats.failed),
        "inflight_at_kill": dict(run.inflight_at_kill),
        "starts_from_state_file": run.starts_from_state_file,
        "changed_after_state_file": run.changed_after_state_file,
    }
    print(f"crash: {done} iterations passed in {elapsed:.0f} s (seed {seed})", flush=True)
    print(f"crash: commands acknowledged: {dict(sorted(run.stats.ok.items()))}", flush=True)
    print(f"crash: commands failed (in flight at a kill, or refused): "
          f"{dict(sorted(run.stats.failed.items()))}", flush=True)
    print(f"crash: commands in flight at the kills: {dict(sorted(run.inflight_at_kill.items()))}",
          flush=True)
    print(f"crash: restarts from the licensing state file: {run.starts_from_state_file}, "
          f"re-reading {run.changed_after_state_file} changed instances in all", flush=True)
    return summary


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iterations", type=int, default=int(os.environ.get("CRASH_ITERATIONS", 100)))
    ap.add_argument("--seed", type=int, default=(int(os.environ["CRASH_SEED"])
                                                 if os.environ.get("CRASH_SEED") else None))
    ap.add_argument("--time-limit", type=float, default=float(os.environ.get(
        "CRASH_TIME_LIMIT", 1800)), help="seconds; no new iteration starts after this")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    summary = run(args.iterations, args.seed, args.time_limit, args.verbose)
    if summary["iterations"] < args.iterations:
        print(f"crash: only {summary['iterations']} of {args.iterations} iterations ran within "
              f"the time limit", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
