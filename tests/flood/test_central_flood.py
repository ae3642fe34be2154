"""ctest `flood_central` (label `flood`): the small size of tests/flood/central_flood.py.

A central with two customers' satellites (acme, legitimate; evilcorp, the attacker) and five
bounded floods against central from 127.x.y.z addresses other than 127.0.0.1. Asserts only what
must hold on any machine: acme's `outpost sync now` succeeds during every flood and each takes
at most CENTRAL_FLOOD_LATENCY_BOUND (15 s) (with 2c74130's admission, which parsed junk before
checking its signature, acme's sync timed out during the large junk flood; e0e3f8a and b5e3fce
fixed it); central stays up and serves acme again within 90 s of each flood's end;
its memory comes back within CENTRAL_FLOOD_RSS_SLACK_MB (64) of where it was; every answer an
attacker gets is a 4xx or a 503, never another 5xx; the per-address connection limit holds; none
of the junk is accepted; evilcorp's valid requests are not all refused (they are valid) and are
refused beyond its quotas (100,000 usage reports, 10,000 moves and conversions a day). Figures come from `python3 tests/flood/central_flood.py --size large`
(docs/reliability.md, "Floods and overload", "Central").
"""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import central_flood as cf  # noqa: E402

LATENCY_BOUND_S = float(os.environ.get("CENTRAL_FLOOD_LATENCY_BOUND", "15"))
RSS_SLACK_MB = float(os.environ.get("CENTRAL_FLOOD_RSS_SLACK_MB", "64"))


@pytest.fixture(scope="module")
def results():
    bench = cf.Bench("small")
    try:
        yield {r["flood"]: r for r in bench.run(rss_slack_mb=RSS_SLACK_MB)}
    finally:
        print("\n" + cf.table(bench.results))
        bench.close()


def statuses(r):
    return {k: v for k, v in r["detail"].get("statuses", {}).items() if isinstance(k, int)}


@pytest.mark.parametrize("name", [f[0] for f in cf.Bench.FLOODS])
def test_acme_syncs_during_the_flood(results, name):
    r = results[name]
    assert not r["sync_failures"], (f"acme's sync failed during the {name} flood:\n"
                                    + "\n".join(r["sync_failures"][:3]))
    assert r["syncs"] > 0, r
    assert r["max_ms"] <= LATENCY_BOUND_S * 1000, (
        f"acme's sync took {r['max_ms']} ms (bound {LATENCY_BOUND_S} s) during the {name} flood")


@pytest.mark.parametrize("name", [f[0] for f in cf.Bench.FLOODS])
def test_central_stays_up_and_recovers(results, name):
    r = results[name]
    assert r["central_up"], f"central went down or refused acme after the {name} flood: {r}"
    assert r["rss_mb"]["after"] <= r["rss_mb"]["before"] + RSS_SLACK_MB, (
        f"central's memory did not come back after the {name} flood: {r['rss_mb']}")
    server_errors = {k: v for k, v in statuses(r).items() if k >= 500 and k != 503}
    assert not server_errors, f"{name}: central answered {server_errors}"


@pytest.mark.parametrize("name", ["junk_large", "junk_small"])
def test_junk_is_refused(results, name):
    s = statuses(results[name])
    assert s, f"{name}: no answer at all: {results[name]['detail']}"
    assert all(400 <= k < 500 or k == 503 for k in s), s


def test_idle_connections_are_limited_per_address(results):
    d = results["idle"]["detail"]
    assert d["held_open"] <= cf.PER_ADDRESS, d
    assert d["closed_by_server_while_held"] >= d["connections"] - cf.PER_ADDRESS, d


def test_evilcorp_is_served_then_held_to_its_quota(results):
    s = statuses(results["evil_reports"])
    assert s.get(200, 0) > 0, f"none of evilcorp's valid requests was answered: {s}"
    # 10,000 reports a request and 100,000 a day: at most 10 are accepted.
    assert s.get(200, 0) <= 10, s
    assert s.get(429, 0) > 0, f"no request was refused for the quota or a busy satellite: {s}"


def test_evilcorp_moves_and_conversions_are_held_to_their_quota(results):
    s = statuses(results["evil_items"])
    # 1,000 moves and 1,000 conversions a request, 10,000 of them a day (kMaxItemsPerDay).
    assert 0 < s.get(200, 0) <= 5, s
    assert s.get(429, 0) > 0, s
    added = results["evil_items"]["rows_added"]
    assert added["moves"] + added["conversions"] <= 10_000, added

