"""Witnesses of the audit chain outside the database (issue 14, finding 1), as an auditor and
an attacker with file access meet them.

- An auditor saves the head (`outpost audit head --json > FILE`) and keeps it off the appliance;
  `audit verify --since-checkpoint FILE` later proves the chain still extends it, and fails when
  the end of the trail was cut together with the checkpoints that covered it (which the file
  alone cannot show).
- A running satellite refuses every write once the chain in its database no longer extends
  the head it committed, and /readyz says why.
"""

from __future__ import annotations

import json
import sqlite3
import ssl
import urllib.error
import urllib.request

import pytest

from harness import Site


@pytest.fixture
def site():
    s = Site(vas=("default",), licenses=[("default", "fw.base", 5, True)], first_sync=False)
    try:
        yield s
    finally:
        s.close()


def some_activity(site: Site, n: int) -> None:
    for i in range(n):
        site.token("default", "--description", f"witness {i}")


def cut_the_end(site: Site, keep: int) -> None:
    """What the attacker does: remove every record after `keep` and the checkpoints over them."""
    db = sqlite3.connect(site.sat.db, timeout=10)
    try:
        db.execute("DELETE FROM audit_log WHERE seq > ?", (keep,))
        db.execute("DELETE FROM audit_checkpoints WHERE seq > ?", (keep,))
        db.commit()
    finally:
        db.close()


def readyz(site: Site) -> tuple:
    context = ssl.create_default_context(cafile=str(site.sat.ca))
    try:
        with urllib.request.urlopen(f"{site.sat.url}/readyz", context=context, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_saved_head_proves_the_chain_extends_it_and_finds_a_cut_end(site):
    some_activity(site, 3)
    saved = site.root / "head.json"
    saved.write_text(site.sat.ok("audit", "head", json_out=True).out)
    saved_seq = int(json.loads(saved.read_text())["seq"])
    some_activity(site, 3)

    online = site.sat.cli("audit", "verify", "--since-checkpoint", saved, json_out=True)
    assert online.ok, online.describe()
    assert int(online.data["saved_head_seq"]) == saved_seq, online.data
    human = site.sat.cli("audit", "verify", "--since-checkpoint", saved)
    assert human.ok and f"seq {saved_seq}" in human.out, human.describe()

    site.sat.server.stop()
    cut_the_end(site, saved_seq - 2)
    alone = site.sat.verify_audit_offline()
    assert alone.ok, "the documented limit: the cut file verifies on its own\n" + alone.describe()
    witnessed = site.op.run("audit", "verify", "--db", site.sat.db, "--data-dir", site.sat.dir,
                            "--since-checkpoint", saved)
    assert witnessed.rc == 1, witnessed.describe()
    assert "were removed after that head was saved" in witnessed.err, witnessed.describe()
    assert f"seq {saved_seq}" in witnessed.err, witnessed.describe()


def test_bad_saved_head_files_get_a_clear_error(site):
    cases = {
        "missing.json": (None, "missing.json"),
        "not-json.json": ("this is not json", "is not a saved audit head"),
        "empty-head.json": ("{}", "names record 0"),
        "bad-hash.json": ('{"seq": "3", "hash": "xyz"}', "not 64 hex digits"),
    }
    for name, (text, expected) in cases.items():
        path = site.root / name
        if text is not None:
            path.write_text(text)
        r = site.sat.cli("audit", "verify", "--since-checkpoint", path)
        assert r.rc == 1, f"{name}: {r.describe()}"
        assert expected in r.err, f"{name}: {r.describe()}"
    # A head from another chain (same seq, another hash) fails verification: exit 1.
    head = json.loads(site.sat.ok("audit", "head", json_out=True).out)
    head["hash"] = "ab" * 32
    foreign = site.root / "foreign.json"
    foreign.write_text(json.dumps(head))
    r = site.sat.cli("audit", "verify", "--since-checkpoint", foreign)
    assert r.rc == 1 and "saved_head_mismatch" in r.err, r.describe()


def test_running_satellite_refuses_to_continue_a_cut_chain(site):
    some_activity(site, 4)
    head = int(json.loads(site.sat.ok("audit", "head", json_out=True).out)["seq"])
    status, body = readyz(site)
    assert status == 200 and body["checks"]["audit_chain"] == "ok", body

    cut_the_end(site, head - 3)  # while it serves
    refused = site.sat.cli("token", "create", "--va", "default")
    assert refused.rc != 0, refused.describe()
    assert "removed behind its back" in refused.err, refused.describe()
    status, body = readyz(site)
    assert status == 503, body
    assert "removed behind its back" in body["checks"]["audit_chain"], body
    after = sqlite3.connect(site.sat.db, timeout=10)
    try:
        (last,) = after.execute("SELECT max(seq) FROM audit_log").fetchone()
    finally:
        after.close()
    assert last == head - 3, "the chain was continued from the cut"
    # Reads still work, so the operator can investigate.
    assert site.sat.cli("audit", "head", json_out=True).ok
