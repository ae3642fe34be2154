"""Scripted operator journeys: items 1-6 of issue 12, as an operator meets them.

Each test builds its own central and satellite (harness.Site) on 127.0.0.1 and uses only the
`outpost` command line. They assert the behaviour the issue asks for.
"""

from __future__ import annotations

import json
import time

import pytest

from harness import LOOPBACK, Site, free_loopback_port

T = "fw.base"        # ENFORCED
R = "dna.adv"        # REPORTED


@pytest.fixture
def site():
    s = Site(vas=("default", "lab"),
             licenses=[("default", T, 5, True), ("default", R, 3, False)],
             central_serving=False)
    try:
        yield s
    finally:
        s.close()


def agree(site: Site, expected: dict, when: str) -> None:
    central = site.central.purchased()
    sat = site.sat.purchased()
    assert central == expected, f"{when}: central holds {central}, expected {expected}"
    assert sat == central, f"{when}: the satellite holds {sat} but central granted {central}"


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _fail_with(site: Site, message: str) -> str:
    return f"{message}\n\n=== commands ===\n{site.transcript(8)}"


# 1. A move breaks sync for good -----------------------------------------------------------------

def test_move_then_sync_and_move_back(site):
    agree(site, {("default", T): 5, ("default", R): 3}, "after the first sync")
    site.sat.ok("va", "move", "--from", "default", "--to", "lab", "--tag", T, "--count", "1")
    # A conversion travels in the same request: it must not stay PENDING behind a failed import.
    key = site.central.pak("lab", R, 2)
    site.sat.ok("convert", key, "--va", "lab")

    request = site.central.new_file("request.bin")
    assert site.sat.export(request).ok
    processed, response = site.central.process(request)
    assert processed.ok, processed.describe()
    imported = site.sat.import_(response)
    assert imported.ok, _fail_with(site, "the import after `va move` failed")
    agree(site, {("default", T): 4, ("lab", T): 1, ("default", R): 3, ("lab", R): 2},
          "after the move's round trip")
    conversions = site.sat.ok("conversions", json_out=True).data.get("conversions", [])
    assert [c["status"] for c in conversions] == ["CONVERTED"], conversions
    status = site.sat.sync_status()
    assert int(status.get("pending_moves", 0)) == 0, status
    assert int(status.get("pending_conversions", 0)) == 0, status

    # Moving back leaves a 0-quantity piece in central's set: later imports must still succeed.
    site.sat.ok("va", "move", "--from", "lab", "--to", "default", "--tag", T, "--count", "1")
    _, _, back = site.round_trip()
    agree(site, {("default", T): 5, ("default", R): 3, ("lab", R): 2}, "after moving back")
    site.round_trip()
    agree(site, {("default", T): 5, ("default", R): 3, ("lab", R): 2}, "a round trip later")
    assert not site.sat.sync_status().get("sync_overdue")


# 2. Two processes can serve one data directory --------------------------------------------------

def test_second_serve_on_same_data_dir_is_refused(site):
    first = site.sat.server
    starts_before = site.sat.audit_actions("satellite.start")
    assert starts_before >= 1
    other_port = free_loopback_port()
    log = site.root / "second-serve.log"
    second = site.op.start("serve", "--data-dir", site.sat.dir, "--listen",
                           f"{LOOPBACK}:{other_port}", log=log)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and second.poll() is None:
            if "is serving" in log.read_text(errors="replace"):
                break
            time.sleep(0.05)
        output = log.read_text(errors="replace")
        assert second.poll() is not None, (
            f"a second `outpost serve` on the same data directory is running beside pid "
            f"{first.pid}:\n{output}")
        assert second.returncode == 1, f"exit status {second.returncode}:\n{output}"
        assert str(first.pid) in output, (
            f"the refusal does not name the process holding the data directory (pid "
            f"{first.pid}):\n{output}")
    finally:
        if second.poll() is None:
            second.kill()
        second.wait(timeout=20)
    # The first one still serves, and the refused start left no trace in the audit trail.
    assert site.sat.audit_actions("satellite.start") == starts_before, (
        "a refused start wrote satellite.start to the audit trail")
    assert site.sat.verify_audit_online().ok


# 3. A refused export has already happened --------------------------------------------------------

def test_export_to_existing_file_changes_nothing(site):
    before = site.sat.sync_status()
    exports_before = site.sat.audit_actions("sync.export")
    existing = site.root / "existing.bin"
    existing.write_bytes(b"an operator's file\n")
    r = site.sat.export(existing)
    assert r.rc == 1, r.describe()
    assert r.err.strip(), r.describe()
    assert existing.read_bytes() == b"an operator's file\n", "the existing file was changed"
    after = site.sat.sync_status()
    assert after.get("last_request_sequence") == before.get("last_request_sequence"), (
        f"sync status names request {after.get('last_request_sequence')} after a refused "
        f"export; before it named {before.get('last_request_sequence')}\n{r.describe()}")
    assert site.sat.audit_actions("sync.export") == exports_before, (
        "the refused export was audited as sync.export")
    # The next export is the next number: the refused one used none.
    fresh = site.root / "fresh.bin"
    e = site.sat.export(fresh)
    assert e.ok, e.describe()
    assert int(e.data["sequence"]) == int(before.get("last_request_sequence", 0)) + 1, e.describe()


# 4. device register into a state directory that holds another device ----------------------------

def test_register_into_occupied_state_dir_needs_force(site):
    _, token = site.token("default")
    first = site.new_device("JRN-1", "FIRST1")
    r = first.register(site.sat, token)
    assert r.ok, r.describe()
    first_id = first.instance_id
    a = first.authorize({T: 2})
    assert a.ok and a.data["tags"][0]["status"] == "AUTHORIZED", a.describe()

    second = site.new_device("JRN-1", "SECOND2")
    second.state_dir = first.state_dir  # the same directory
    refused = second.register(site.sat, token)
    assert refused.rc == 1, _fail_with(
        site, "registering a second device into a state directory that holds one was not "
              "refused")
    assert "--force" in refused.err, refused.describe()
    assert first_id in refused.err or "FIRST1" in refused.err, (
        "the refusal does not say which device --force would abandon\n" + refused.describe())
    # Nothing changed: the first device still works from its directory.
    status = first.status()
    assert status.ok, status.describe()
    assert status.data["registration"]["instance_id"] == first_id, status.describe()
    assert first.authorize({T: 1}).ok
    devices = site.sat.devices()
    assert set(devices) == {first_id}, devices

    forced = second.register(site.sat, token, extra=["--force"])
    assert forced.ok, forced.describe()
    assert forced.data["instance_id"] != first_id


# 5. Unknown names are accepted --------------------------------------------------------------------

def test_unknown_virtual_accounts_are_refused(site):
    r = site.sat.cli("token", "create", "--va", "nosuch", json_out=True)
    assert r.rc == 1, _fail_with(site, "token create --va nosuch was accepted")
    assert "nosuch" in r.err, r.describe()
    tokens = site.sat.ok("token", "list", json_out=True).data.get("tokens", [])
    assert all(t["va"] != "nosuch" for t in tokens), tokens

    pools_before = site.sat.pools()
    m = site.sat.cli("va", "move", "--from", "default", "--to", "nowhere", "--tag", T,
                     "--count", "1", json_out=True)
    assert m.rc == 1, _fail_with(site, "va move --to nowhere was accepted")
    assert "nowhere" in m.err, m.describe()
    pools_after = site.sat.pools()
    assert not any(va == "nowhere" for va, _ in pools_after), (
        f"a phantom pool appeared: {sorted(pools_after)}")
    assert {k: p["purchased"] for k, p in pools_after.items()} == \
        {k: p["purchased"] for k, p in pools_before.items()}


def test_va_list_and_moves_show_central_verdicts(site):
    vas = site.sat.ok("va", "list")
    assert "default" in vas.out and "lab" in vas.out, vas.describe()

    moved = site.sat.ok("va", "move", "--from", "default", "--to", "lab", "--tag", T,
                        "--count", "2", json_out=True)
    move_id = moved.data["move_id"]
    listed = site.sat.ok("moves")
    assert move_id in listed.out, listed.describe()
    site.round_trip()
    listed = site.sat.ok("moves")
    line = next((l for l in listed.out.splitlines() if move_id in l), "")
    assert "APPLIED" in line.upper(), (
        f"`outpost moves` does not show central's verdict for move {move_id}\n"
        + listed.describe())


# 6. Offline sync status hides failed imports ------------------------------------------------------

def test_offline_status_shows_last_failed_import(site):
    good = site.central.new_file("request.bin")
    assert site.sat.export(good).ok
    _, response = site.central.process(good)
    damaged = site.root / "damaged.bin"
    damaged.write_bytes(response.read_bytes()[:100])
    r = site.sat.import_(damaged)
    assert r.rc == 1, r.describe()
    message = r.err.strip().removeprefix("outpost:").strip()
    assert message, r.describe()
    fragment = message[:40]

    text = site.sat.ok("sync", "status")
    assert fragment in text.out, _fail_with(
        site, f"offline `sync status` does not show the failed import ({fragment!r})")
    status = site.sat.sync_status()
    assert any(fragment in v for v in _strings(status)), (
        f"`sync status --json` does not carry the failed import: {json.dumps(status)}")

    # The good response still imports afterwards: a failure is shown, not left standing.
    assert site.sat.import_(response).ok
