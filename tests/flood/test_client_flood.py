"""ctest `flood_client` (label `flood`): the small size of tests/flood/client_flood.py.

The real `outpost device authorize / status / register` (and `register` into a new directory)
against a hostile satellite that stalls, drips, floods, never ends a header, a chunk extension
or a trailer, answers 503 + Retry-After: 0, or keeps renegotiating. Asserts only what must hold
on any machine, for every case:
- the command ends by itself within the client's timeout (30 s) per request it sends, plus
  CLIENT_FLOOD_SLACK_S (10 s; less than the timeout, so a request that takes two timeouts fails);
- its peak RSS stays under CLIENT_FLOOD_RSS_MB (64; an idle `outpost device` is ~17 MB);
- it exits 1 with one short, printable error line on stderr and nothing on stdout;
- it sends no more requests than the command needs (no retry loop, whatever Retry-After says);
- the state directory is byte for byte as it was, and `device status --offline` still shows the
  authorization stored before (a new directory stays empty).
Figures: `python3 tests/flood/client_flood.py` (docs/reliability.md, "Device client library").
"""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import client_flood as cf  # noqa: E402

SLACK_S = float(os.environ.get("CLIENT_FLOOD_SLACK_S", "10"))
RSS_MB = float(os.environ.get("CLIENT_FLOOD_RSS_MB", "64"))
CASES = cf.plan("small")


@pytest.fixture(scope="module")
def results():
    bench = cf.Bench("small")
    try:
        yield {r["case"]: r for r in bench.run()}
    finally:
        print("\n" + cf.table(bench.results))
        bench.close()


@pytest.mark.parametrize("name", [c.name for c in CASES])
def test_the_device_ends_the_call_and_keeps_its_state(results, name):
    r = results[name]
    what = f"{name}: {r}"
    assert not r["killed"], f"killed after {cf.KILL_AFTER_S} s: {what}"
    bound = r["expected_requests"] * cf.CLIENT_TIMEOUT_S + SLACK_S
    assert r["wall_s"] <= bound, f"took {r['wall_s']} s, more than {bound} s: {what}"
    assert 0 < r["peak_rss_mb"] <= RSS_MB, f"peak RSS {r['peak_rss_mb']} MB: {what}"
    assert r["rc"] == 1, what
    err = r["stderr"]
    assert err.startswith("outpost: ") and err.endswith("\n") and err.count("\n") == 1, what
    assert len(err) <= 2048, what
    assert all(c.isprintable() for c in err.rstrip("\n")), what
    assert r["stdout"] == "", what
    assert r["requests"] <= r["expected_requests"], f"a retry loop: {what}"
    assert r["state_unchanged"], f"the state directory changed: {what}"
    assert r["offline_unchanged"], f"`device status --offline` changed: {what}"


def test_the_answerers_misbehaved(results):
    """The floods were offered: each answerer got its request (but for `handshake`, which never
    completes one) and the endless ones sent more than the client takes."""
    for name, r in results.items():
        if r["scenario"] != "handshake":
            assert r["requests"] >= 1, f"{name}: no request reached the answerer: {r}"
    for scenario in ("endless-body", "endless-chunked"):
        r = results[f"{scenario}/authorize"]
        assert r["offered"] > 1 << 20, r
    # A line without end: the client hangs up once it holds 64 KiB of it, so how much more the
    # answerer got out before that depends on timing; more than the limit it always is.
    for scenario in ("chunk-ext", "long-header"):
        r = results[f"{scenario}/authorize"]
        assert r["offered"] > 64 << 10, r
    assert results["retry-503/register"]["requests"] == 2, results["retry-503/register"]
