"""Model-based operator journeys (docs/journeys.md).

Hypothesis draws a sequence of operator and device actions against one central and one
satellite (the real binary, on 127.0.0.1), and after every step checks the satellite against a
small model of what it must hold:

- purchased per (VA, tag) = what central granted, plus the moves made locally and not yet
  acknowledged by central; after every sync, central's entitlement set and the satellite's
  agree per VA and tag;
- in use per pool = the sum of what the model's live devices were granted; never above purchased
  in an ENFORCED pool; every authorization decision is the one the pool arithmetic of
  server/licensing/core/pools.h gives (AUTHORIZED, OUT_OF_COMPLIANCE, DENIED, NOT_ENTITLED);
- reservations, moves and registrations succeed exactly when the model says they must;
- every sync round trip succeeds (none is left failing), the sync status counts what is still
  waiting for central, and `outpost audit verify` passes (online, and `--db` while stopped);
- nothing acknowledged is lost by a restart or a kill -9.

Environment: JOURNEY_SEED (default 20261128), JOURNEY_STEPS (total steps, default 240),
JOURNEY_STEPS_PER_RUN (steps per generated journey, default 30), JOURNEY_VERBOSE=1. Hypothesis
itself stops shrinking a failure after five minutes and reports the shortest journey found.
"""

from __future__ import annotations

import functools
import inspect
import math
import os
import time
from dataclasses import dataclass, field
from typing import Optional

from hypothesis import HealthCheck, Phase, Verbosity, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import harness
from harness import CommandFailed, Device, Site

ENF = "fw.base"       # ENFORCED everywhere
REP = "dna.adv"       # REPORTED everywhere
UNKNOWN = "no.such.tag"
VAS = ("default", "lab", "east")
TAGS = (ENF, REP)
KIND = {ENF: "ENFORCED", REP: "REPORTED"}
INITIAL = {("default", ENF): 6, ("default", REP): 4, ("lab", ENF): 3}
PID = "JRN-1"
SERIALS = tuple(f"S{i}" for i in range(1, 6))

SEED = int(os.environ.get("JOURNEY_SEED", "20261128"))
STEPS = int(os.environ.get("JOURNEY_STEPS", "240"))
STEPS_PER_RUN = max(1, int(os.environ.get("JOURNEY_STEPS_PER_RUN", "30")))
VERBOSE = bool(os.environ.get("JOURNEY_VERBOSE"))

_STATS = {"journeys": 0, "steps": 0, "checks": 0}
_RULES: dict = {}  # rule name -> times run


def step(fn, counter: str = "steps"):
    """Counts the step and remembers when the first failure happened; shows the transcript."""
    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        _STATS[counter] += 1
        if counter == "steps":
            _RULES[fn.__name__] = _RULES.get(fn.__name__, 0) + 1
        try:
            return fn(self, *args, **kwargs)
        except BaseException as e:  # noqa: BLE001 - re-raised
            if isinstance(e, AssertionError):
                raise AssertionError(
                    f"{e}\n\n=== the last commands of this journey ===\n"
                    f"{self.site.transcript(8)}") from None
            raise
    return wrapper


def check(fn):
    return step(fn, "checks")


@dataclass
class Dev:
    handle: Device
    va: str
    udi: str
    instance_id: str
    holdings: dict = field(default_factory=dict)  # tag -> count
    alive: bool = True


@dataclass
class Token:
    id: str
    secret: str
    va: str
    max_uses: Optional[int]
    uses: int = 0
    revoked: bool = False


@dataclass
class Move:
    id: str
    src: str
    dst: str
    tag: str
    count: int


class Journey(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        _STATS["journeys"] += 1
        licenses = [(va, tag, n, KIND[tag] == "ENFORCED") for (va, tag), n in INITIAL.items()]
        self.site = Site(vas=VAS, licenses=licenses, central_serving=True)
        self.central_has = dict(INITIAL)          # (va, tag) -> quantity central holds
        self.entitled = set(INITIAL)              # pools that have an entitlement row
        self.pending_moves: list = []             # local moves central has not acknowledged
        self.moves_done: list = []                # every move made (for moving back)
        self.pending_conversions: list = []       # (key, va, count) not yet answered
        self.request = None                       # (file, moves, conversions) exported, unsent
        self.old_requests: list = []              # request files central processed
        self.responses: list = []                 # response files imported, oldest first
        self.newest_response = None               # the last response imported, if from a file
        self.exports = 1                          # the first round trip in Site()
        self.tokens: list = []
        self.devices: list = []
        self.reservations: dict = {}              # (va, tag, udi) -> count
        if VERBOSE:
            print(f"journey {_STATS['journeys']} in {self.site.root}")
        # Every journey starts with a token per VA and three registered devices, so that device
        # actions are possible from the first step (the same code as the rules, not counted).
        try:
            for va in ("default", "lab"):
                inspect.unwrap(Journey.create_token)(self, va, None)
            for i, serial in ((0, "S1"), (0, "S2"), (1, "S3")):
                inspect.unwrap(Journey.register)(self, i, serial, False)
        except BaseException:
            self.site.close()
            raise

    def teardown(self):
        site = getattr(self, "site", None)
        if site is not None:
            site.close()

    # --- the model's arithmetic (server/licensing/core/pools.h) ------------------------------------

    def purchased(self) -> dict:
        p = dict(self.central_has)
        for m in self.pending_moves:
            p[(m.src, m.tag)] = p.get((m.src, m.tag), 0) - m.count
            p[(m.dst, m.tag)] = p.get((m.dst, m.tag), 0) + m.count
        return p

    def live(self) -> list:
        return [d for d in self.devices if d.alive]

    def in_use(self, va: str, tag: str, exclude: Optional[Dev] = None) -> int:
        return sum(d.holdings.get(tag, 0) for d in self.live() if d.va == va and d is not exclude)

    def used_by(self, va: str, udi: str, tag: str) -> int:
        return sum(d.holdings.get(tag, 0) for d in self.live() if d.va == va and d.udi == udi)

    def held_back(self, va: str, tag: str, reservations: dict, except_udi: str = "") -> int:
        return sum(max(0, r - self.used_by(va, u, tag)) for (v, t, u), r in reservations.items()
                   if v == va and t == tag and u != except_udi)

    def available_for(self, d: Dev, tag: str) -> int:
        return (self.purchased().get((d.va, tag), 0) - self.in_use(d.va, tag, exclude=d)
                - self.held_back(d.va, tag, self.reservations, except_udi=d.udi))

    def movable(self, va: str, tag: str) -> int:
        return max(0, self.purchased().get((va, tag), 0) - self.in_use(va, tag)
                   - self.held_back(va, tag, self.reservations))

    def expect_decision(self, d: Dev, tag: str, count: int) -> tuple:
        if tag not in KIND or (d.va, tag) not in self.entitled:
            return "NOT_ENTITLED", 0
        if count <= self.available_for(d, tag):
            return "AUTHORIZED", count
        return ("DENIED", 0) if KIND[tag] == "ENFORCED" else ("OUT_OF_COMPLIANCE", count)

    def reservation_fits(self, va: str, tag: str, udi: str, count: int) -> bool:
        after = dict(self.reservations)
        after[(va, tag, udi)] = after.get((va, tag, udi), 0) + count
        purchased = self.purchased().get((va, tag), 0)
        total = sum(r for (v, t, _), r in after.items() if v == va and t == tag)
        if total > purchased:
            return False
        if KIND[tag] != "ENFORCED":
            return True
        used = self.in_use(va, tag)
        before = used + self.held_back(va, tag, self.reservations)
        after_held = used + self.held_back(va, tag, after)
        return after_held <= purchased or after_held <= before

    # --- helpers -------------------------------------------------------------------------------

    def fail(self, message: str, result=None):
        raise AssertionError(message + ("\n" + result.describe() if result is not None else ""))

    def expect_ok(self, result, what: str):
        if not result.ok:
            raise CommandFailed(result, what)
        return result

    def expect_refused(self, result, what: str):
        if result.ok:
            self.fail(f"{what}: expected a refusal (exit 1), but the command succeeded", result)
        if result.rc != 1:
            self.fail(f"{what}: expected exit status 1 (refused with a message), got "
                      f"{result.rc}", result)
        if not result.err.strip():
            self.fail(f"{what}: refused without a message on stderr", result)

    def apply_answered(self, moves: list, conversions: list) -> None:
        """Central applied `moves` and `conversions` (a processed request)."""
        for m in moves:
            self.central_has[(m.src, m.tag)] = self.central_has.get((m.src, m.tag), 0) - m.count
            self.central_has[(m.dst, m.tag)] = self.central_has.get((m.dst, m.tag), 0) + m.count
        for key, va, count in conversions:
            self.central_has[(va, REP)] = self.central_has.get((va, REP), 0) + count
            self.entitled.add((va, REP))
        done_moves = {m.id for m in moves}
        self.pending_moves = [m for m in self.pending_moves if m.id not in done_moves]
        done_conv = {c[0] for c in conversions}
        self.pending_conversions = [c for c in self.pending_conversions if c[0] not in done_conv]

    def check_agreement(self, when: str) -> None:
        """Central holds what the model says; the satellite holds that plus unsent moves."""
        nonzero = lambda m: {k: v for k, v in m.items() if v != 0}  # noqa: E731
        central = self.site.central.purchased()
        if central != nonzero(self.central_has):
            self.fail(f"{when}: central's entitlements per (VA, tag) are {sorted(central.items())}"
                      f" but the model expects {sorted(nonzero(self.central_has).items())}")
        sat = self.site.sat.purchased()
        if sat != nonzero(self.purchased()):
            self.fail(f"{when}: the satellite's purchased per (VA, tag) is {sorted(sat.items())} "
                      f"but central granted {sorted(central.items())} and the moves not yet "
                      f"acknowledged are {[(m.src, m.dst, m.tag, m.count) for m in self.pending_moves]}"
                      f" (expected {sorted(nonzero(self.purchased()).items())})")

    # --- rules: tokens and devices -------------------------------------------------------------

    @precondition(lambda self: len(self.tokens) < 8)
    @rule(va=st.sampled_from(VAS), max_uses=st.sampled_from([None, None, 1, 2]))
    @step
    def create_token(self, va, max_uses):
        extra = ["--max-uses", str(max_uses)] if max_uses else []
        token_id, secret = self.site.token(va, *extra)
        self.tokens.append(Token(token_id, secret, va, max_uses))

    @precondition(lambda self: any(not t.revoked for t in self.tokens))
    @rule(i=st.integers(0, 7))
    @step
    def revoke_token(self, i):
        active = [t for t in self.tokens if not t.revoked]
        t = active[i % len(active)]
        self.expect_ok(self.site.sat.cli("token", "revoke", t.id), "token revoke")
        t.revoked = True

    @precondition(lambda self: self.tokens and len(self.devices) < 24)
    @rule(i=st.integers(0, 7), serial=st.sampled_from(SERIALS), own_dir=st.booleans())
    @step
    def register(self, i, serial, own_dir):
        """A device registers; a UDI that is live registers again only from its own state
        directory (its current ID certificate is the proof) and only into its own VA."""
        t = self.tokens[i % len(self.tokens)]
        udi = f"{PID}:{serial}"
        old = next((d for d in self.live() if d.udi == udi), None)
        dev = old.handle if old is not None and own_dir else self.site.new_device(PID, serial)
        r = dev.register(self.site.sat, t.secret)
        used_up = t.max_uses is not None and t.uses >= t.max_uses
        if t.revoked or used_up:
            self.expect_refused(r, f"register with a {'revoked' if t.revoked else 'used-up'} "
                                   "token")
            return
        if old is not None and not own_dir:
            self.expect_refused(r, f"register {udi}, which is live, from another state directory "
                                   "(no proof of the device's key)")
            return
        if old is not None and old.va != t.va:
            self.expect_refused(r, f"register {udi} (live in {old.va}) with a token of {t.va}")
            return
        self.expect_ok(r, "device register with an active token")
        t.uses += 1
        if r.data.get("va") != t.va:
            self.fail(f"registered into VA {r.data.get('va')!r}, the token is for {t.va!r}", r)
        new = Dev(dev, t.va, udi, r.data["instance_id"])
        replaced = r.data.get("replaced_instance_id", "")
        if old is not None:
            if replaced != old.instance_id:
                self.fail(f"re-registering {udi} should replace instance {old.instance_id}, the "
                          f"answer says replaced_instance_id={replaced!r}", r)
            new.holdings = dict(old.holdings)  # its consumption carries over
            old.alive = False
        elif replaced:
            self.fail(f"a first registration of {udi} claims to replace {replaced}", r)
        self.devices.append(new)

    @precondition(lambda self: any(d.alive for d in self.devices))
    @rule(i=st.integers(0, 23),
          want=st.dictionaries(st.sampled_from(TAGS + (UNKNOWN,)), st.integers(1, 5),
                               min_size=1, max_size=3))
    @step
    def authorize(self, i, want):
        live = self.live()
        d = live[i % len(live)]
        expected = {tag: self.expect_decision(d, tag, n) for tag, n in want.items()}
        r = self.expect_ok(d.handle.authorize(want), "device authorize")
        answers = {a["tag"]: a for a in r.data.get("tags", [])}
        for tag, (status, granted) in expected.items():
            a = answers.get(tag)
            if a is None:
                self.fail(f"the authorization has no answer for tag {tag}", r)
            if a["status"] != status or int(a.get("granted", 0)) != granted:
                self.fail(
                    f"device {d.udi} in {d.va} asked for {tag}:{want[tag]}: expected {status} "
                    f"granting {granted} (purchased {self.purchased().get((d.va, tag), 0)}, "
                    f"others use {self.in_use(d.va, tag, exclude=d)}, reserved for others "
                    f"and unused {self.held_back(d.va, tag, self.reservations, d.udi)}), got "
                    f"{a['status']} granting {a.get('granted')}: {a.get('reason')}", r)
        d.holdings = {tag: g for tag, (_, g) in expected.items() if g > 0}

    # The same action twice: rules are drawn uniformly, and authorizations are what the pools,
    # reservations and moves are for.
    @precondition(lambda self: any(d.alive for d in self.devices))
    @rule(i=st.integers(0, 23),
          want=st.dictionaries(st.sampled_from(TAGS + (UNKNOWN,)), st.integers(1, 5),
                               min_size=1, max_size=3))
    @step
    def authorize_again(self, i, want):
        inspect.unwrap(Journey.authorize)(self, i, want)

    @precondition(lambda self: any(d.alive for d in self.devices))
    @rule(i=st.integers(0, 23), by_operator=st.booleans())
    @step
    def release(self, i, by_operator):
        live = self.live()
        d = live[i % len(live)]
        if by_operator:
            r = self.expect_ok(self.site.sat.cli("devices", "release", d.instance_id,
                                                 json_out=True), "devices release")
        else:
            r = self.expect_ok(d.handle.release(), "device release")
        released = {u["tag"]: int(u.get("count", 0)) for u in (r.data or {}).get("released", [])}
        if released != d.holdings:
            self.fail(f"release of {d.udi} returned {released}, the device held {d.holdings}", r)
        d.alive = False
        d.holdings = {}
        after = d.handle.authorize({ENF: 1})
        if after.ok:
            self.fail(f"a released device ({d.udi}) could still authorize", after)

    # --- rules: reservations and moves ---------------------------------------------------------

    @rule(va=st.sampled_from(VAS), tag=st.sampled_from(TAGS), serial=st.sampled_from(SERIALS),
          count=st.integers(1, 3))
    @step
    def reserve(self, va, tag, serial, count):
        udi = f"{PID}:{serial}"
        fits = self.reservation_fits(va, tag, udi, count)
        r = self.site.sat.cli("reserve", "--va", va, "--tag", tag, "--count", str(count),
                              "--udi", udi, json_out=True)
        if fits:
            self.expect_ok(r, f"reserve {count} of {tag} in {va} for {udi} (the model says it "
                              f"fits: purchased {self.purchased().get((va, tag), 0)}, in use "
                              f"{self.in_use(va, tag)}, reservations {self.reservations})")
            self.reservations[(va, tag, udi)] = self.reservations.get((va, tag, udi), 0) + count
        else:
            self.expect_refused(r, f"reserve {count} of {tag} in {va} for {udi} beyond what the "
                                   f"pool allows (purchased {self.purchased().get((va, tag), 0)},"
                                   f" in use {self.in_use(va, tag)}, reservations "
                                   f"{self.reservations})")

    @precondition(lambda self: self.reservations)
    @rule(i=st.integers(0, 20))
    @step
    def unreserve(self, i):
        keys = sorted(self.reservations)
        va, tag, udi = keys[i % len(keys)]
        self.expect_ok(self.site.sat.cli("unreserve", "--va", va, "--tag", tag, "--udi", udi),
                       "unreserve")
        del self.reservations[(va, tag, udi)]

    def _move(self, src, dst, tag, count):
        movable = self.movable(src, tag)
        r = self.site.sat.cli("va", "move", "--from", src, "--to", dst, "--tag", tag, "--count",
                              str(count), json_out=True)
        if count <= movable:
            self.expect_ok(r, f"va move {count} of {tag} from {src} to {dst} ({movable} movable)")
            m = Move(r.data.get("move_id", f"move-{len(self.moves_done)}"), src, dst, tag, count)
            self.pending_moves.append(m)
            self.moves_done.append(m)
            self.entitled.add((dst, tag))
        else:
            self.expect_refused(r, f"va move {count} of {tag} from {src} to {dst} with only "
                                   f"{movable} movable")

    @rule(src=st.sampled_from(VAS), dst=st.sampled_from(VAS), tag=st.sampled_from(TAGS),
          count=st.integers(1, 4))
    @step
    def move(self, src, dst, tag, count):
        if src == dst:
            return
        self._move(src, dst, tag, count)

    @precondition(lambda self: self.moves_done)
    @rule(i=st.integers(0, 20))
    @step
    def move_back(self, i):
        m = self.moves_done[i % len(self.moves_done)]
        self._move(m.dst, m.src, m.tag, m.count)

    # --- rules: conversions and sync -----------------------------------------------------------

    @precondition(lambda self: len(self.pending_conversions) < 3)
    @rule(va=st.sampled_from(VAS), count=st.integers(1, 3))
    @step
    def convert(self, va, count):
        key = self.site.central.pak(va, REP, count)
        self.expect_ok(self.site.sat.cli("convert", key, "--va", va, json_out=True),
                       f"convert a PAK central created for {va}")
        self.pending_conversions.append((key, va, count))

    @rule()
    @step
    def sync_export(self):
        path = self.site.central.new_file("request.bin")
        r = self.expect_ok(self.site.sat.export(path), "sync export")
        self.exports += 1
        got = (int(r.data.get("moves", -1)), int(r.data.get("conversions", -1)))
        want = (len(self.pending_moves), len(self.pending_conversions))
        if got != want:
            self.fail(f"sync export carries {got[0]} moves and {got[1]} conversions; the model "
                      f"has {want[0]} moves and {want[1]} conversions waiting for central", r)
        # A superseded request that central never saw is simply dropped (a lost file): central
        # would still accept it, which is right but not what this step models.
        self.request = (path, list(self.pending_moves), list(self.pending_conversions))

    @precondition(lambda self: self.request is not None)
    @rule()
    @step
    def sync_process_and_import(self):
        path, moves, conversions = self.request
        self.request = None
        self.old_requests.append(path)
        p, response = self.site.central.process(path)
        self.expect_ok(p, "central sync process of the newest request")
        self.apply_answered(moves, conversions)
        i = self.site.sat.import_(response)
        self.expect_ok(i, "sync import of central's answer to the newest request "
                          "(a sync left failing)")
        self.responses.append(response)
        self.newest_response = response
        self.check_agreement("after an offline sync round trip")

    @rule()
    @step
    def sync_now(self):
        r = self.site.sat.cli("sync", "now", json_out=True)
        self.expect_ok(r, "sync now (online, central is serving on 127.0.0.1)")
        self.exports += 1
        self.request = None  # superseded, never processed: dropped (see sync_export)
        self.newest_response = None  # the newest response came online, not from a file
        self.apply_answered(list(self.pending_moves), list(self.pending_conversions))
        self.check_agreement("after sync now")

    @precondition(lambda self: self.old_requests)
    @rule(i=st.integers(0, 20))
    @step
    def replay_old_request(self, i):
        path = self.old_requests[i % len(self.old_requests)]
        before = self.site.central.purchased()
        p, _ = self.site.central.process(path)
        if p.ok and not (p.data or {}).get("resent"):
            self.fail("central applied an old request again (a replay) instead of refusing it "
                      "or resending its stored answer", p)
        if self.site.central.purchased() != before:
            self.fail("an old request changed central's entitlements", p)

    @precondition(lambda self: self.responses)
    @rule(i=st.integers(0, 20))
    @step
    def reimport_response(self, i):
        k = i % len(self.responses)
        r = self.site.sat.import_(self.responses[k])
        if self.responses[k] == self.newest_response:
            self.expect_ok(r, "importing the newest response again (a no-op)")
            if not (r.data or {}).get("already_imported"):
                self.fail("importing the same response twice did not say it was already "
                          "imported", r)
        else:
            self.expect_refused(r, "importing an older response (rollback)")

    # --- rules: restarts -----------------------------------------------------------------------

    def _verify_offline(self):
        r = self.site.sat.verify_audit_offline()
        if not r.ok or not (r.data or {}).get("ok"):
            self.fail("outpost audit verify --db failed with the satellite stopped", r)

    @rule()
    @step
    def restart(self):
        rc = self.site.sat.server.stop()
        if rc != 0:
            self.fail(f"outpost serve exited with status {rc} on SIGTERM")
        self._verify_offline()
        self.site.sat.server.start()

    @rule()
    @step
    def kill9_restart(self):
        self.site.sat.server.kill9()
        self._verify_offline()
        self.site.sat.server.start()

    # --- invariants ----------------------------------------------------------------------------

    @invariant()
    @check
    def pools_match_model(self):
        pools = self.site.sat.pools()
        want_purchased = {k: v for k, v in self.purchased().items() if v != 0}
        got_purchased = {k: p["purchased"] for k, p in pools.items() if p["purchased"] != 0}
        if got_purchased != want_purchased:
            self.fail(f"purchased per (VA, tag): the satellite shows {sorted(got_purchased.items())}, "
                      f"the model expects {sorted(want_purchased.items())}")
        keys = set(pools) | {(d.va, t) for d in self.live() for t in d.holdings}
        for va, tag in sorted(keys):
            p = pools.get((va, tag), {"in_use": 0, "purchased": 0, "reserved": 0,
                                      "enforcement": KIND.get(tag)})
            want = self.in_use(va, tag)
            if p["in_use"] != want:
                self.fail(f"pool {va}/{tag}: in use {p['in_use']}, but the live devices were "
                          f"granted {want} in total")
            if p.get("enforcement") == "ENFORCED" and p["in_use"] > p["purchased"]:
                self.fail(f"ENFORCED pool {va}/{tag} has {p['in_use']} in use of "
                          f"{p['purchased']} purchased")
            reserved = sum(r for (v, t, _), r in self.reservations.items() if v == va and t == tag)
            if p["reserved"] != reserved:
                self.fail(f"pool {va}/{tag}: reserved {p['reserved']}, the model holds {reserved}")

    @invariant()
    @check
    def devices_match_model(self):
        got = self.site.sat.devices()
        want = {d.instance_id: d for d in self.live()}
        if set(got) != set(want):
            self.fail(f"registered instances: the satellite lists {sorted(got)}, the model has "
                      f"{sorted(want)} (released or replaced ones must be gone)")
        for iid, d in want.items():
            if got[iid]["holdings"] != d.holdings:
                self.fail(f"device {d.udi} ({iid}) holds {got[iid]['holdings']} on the "
                          f"satellite; it was granted {d.holdings}")

    @invariant()
    @check
    def sync_is_healthy(self):
        st_ = self.site.sat.sync_status()
        if st_.get("sync_overdue"):
            self.fail(f"SYNC_OVERDUE raised: {st_}")
        got = (int(st_.get("pending_moves", 0)), int(st_.get("pending_conversions", 0)))
        want = (len(self.pending_moves), len(self.pending_conversions))
        if got != want:
            self.fail(f"sync status says {got[0]} moves and {got[1]} conversions wait for "
                      f"central; the model has {want}")
        if int(st_.get("last_request_sequence", 0)) != self.exports:
            self.fail(f"sync status names request {st_.get('last_request_sequence')}; "
                      f"{self.exports} requests were exported")

    @invariant()
    @check
    def audit_verifies(self):
        r = self.site.sat.verify_audit_online()
        if not r.ok or not (r.data or {}).get("ok"):
            self.fail("outpost audit verify failed", r)


# Hypothesis starts every run with short examples (its "small example" phase: while at most
# min(50, max(10, max_examples // 10)) examples are valid, each journey is cut to about twice the
# length of the shortest one: a step or two, and some of them do not count as examples). The
# journeys after them run JOURNEY_STEPS_PER_RUN steps; max_examples counts both.
def journeys_for(steps: int, per_run: int) -> int:
    full = max(1, math.ceil(steps / per_run))
    examples = full
    for _ in range(5):  # the small-example cap depends on max_examples itself
        examples = full + min(50, max(10, examples // 10)) + 1
    return examples


def test_operator_journeys():
    examples = journeys_for(STEPS, STEPS_PER_RUN)
    print(f"\njourney: seed={SEED} steps={STEPS} ({examples} journeys, the first ones short, then "
          f"{STEPS_PER_RUN} steps each); reproduce with JOURNEY_SEED={SEED} JOURNEY_STEPS={STEPS} "
          f"JOURNEY_STEPS_PER_RUN={STEPS_PER_RUN}")
    machine = seed(SEED)(Journey)
    started = time.monotonic()
    try:
        harness.outpost_binary()  # a missing binary is one clear error, not a shrunk journey
        from hypothesis.stateful import run_state_machine_as_test
        run_state_machine_as_test(machine, settings=settings(
            max_examples=examples,
            stateful_step_count=STEPS_PER_RUN,
            deadline=None,
            database=None,
            derandomize=False,
            report_multiple_bugs=False,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
            verbosity=Verbosity.verbose if VERBOSE else Verbosity.normal,
        ))
    finally:
        print(f"journey: {_STATS['journeys']} journeys, {_STATS['steps']} steps, "
              f"{_STATS['checks']} checks in {time.monotonic() - started:.0f} s (seed {SEED})")
        print("journey: steps run: " + ", ".join(f"{k} {v}" for k, v in sorted(_RULES.items())))
