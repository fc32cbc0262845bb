"""The load bench's code path (``bench.load.run_load``, ``make bench``'s ``load``) at a small size:
drops in bursts while job 1 expires and its child starts, then issue 10's invariants. The bench
runs it at 10,000 drops and reports drops/s; here only what it finds is asserted, never a time."""

from __future__ import annotations

from bench.load import run_load

from gtlocal.testing import LocalCloud, reset_local_cloud

DROPS, BURST = 60, 15


def test_drops_in_bursts_across_a_job_end_lose_nothing_and_chain_once(cloud: LocalCloud) -> None:
    try:
        result = run_load(cloud, DROPS, BURST, prefix="lt")
    finally:
        reset_local_cloud(cloud)  # the bench's emulator settings (expiry, initializing) go with it

    checked = result.invariants
    assert checked.violations() == []
    assert checked.drops == DROPS and checked.lost == []
    assert checked.jobs == ["lt-0001", "lt-0002"]
    # job 1 ended with drops uploaded after it and drops still queued; its child started mid-load
    assert DROPS // 2 <= result.ended_after_drops < DROPS
    assert result.child_started_after_drops < DROPS
    assert result.labeled_before_end > 0
    assert sum(checked.states.values()) == DROPS
    assert checked.states.get("LABELED") == result.labeled_before_end
    # every object reached the child: job 1's unlabeled ones and those dropped after its end
    assert checked.tasks["lt-0002"] == DROPS
