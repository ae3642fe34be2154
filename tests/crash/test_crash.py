"""ctest `crash_consistency` (label `crash`): a few kill -9 iterations of tests/crash/crash.py.

`make crash-test` runs 100 or more; CRASH_ITERATIONS and CRASH_SEED override the defaults here.
"""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import crash  # noqa: E402


def test_kill9_loses_nothing_acknowledged():
    iterations = int(os.environ.get("CRASH_ITERATIONS", "6"))
    seed = int(os.environ["CRASH_SEED"]) if os.environ.get("CRASH_SEED") else None
    summary = crash.run(iterations, seed, time_limit_s=float(os.environ.get(
        "CRASH_TIME_LIMIT", "90")))
    assert summary["iterations"] >= min(iterations, 3), summary
    # The kills must have hit work: something was acknowledged, something was in flight.
    assert sum(summary["acknowledged"].values()) > 0, summary
    assert sum(summary["inflight_at_kill"].values()) > 0, summary
    # Every restart read the state file, and re-read changed instances from the tables.
    assert summary["starts_from_state_file"] == summary["iterations"], summary
    assert summary["changed_after_state_file"] > 0, summary


def test_the_checks_catch_a_lost_acknowledgement():
    """The checker itself: an acknowledgement the satellite never saw must be reported."""
    run = crash.Run(seed=7)
    try:
        run.setup()
        run.iterate()
        run.model.acked_moves.add("00000000-0000-4000-8000-000000000000")
        with pytest.raises(crash.CrashCheckFailed, match="acknowledged move"):
            run.check()
        run.model.acked_moves.discard("00000000-0000-4000-8000-000000000000")
        victim = next((d for d in run.model.devices), None)
        if victim is not None:
            victim.candidates = [{crash.FW: {99}}]
            with pytest.raises(crash.CrashCheckFailed, match="device"):
                run.check()
        run.model.acked_response += 1
        with pytest.raises(crash.CrashCheckFailed, match="stored response number"):
            run.check()
    finally:
        run.close()
