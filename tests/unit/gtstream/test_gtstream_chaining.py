"""The chaining decision (``gtstream.chaining.ensure_job``) in process: the project lock and its
lease, a child adopted after a crash (found by DescribeLabelingJob, or ``ResourceInUse`` on
CreateLabelingJob), the maximum chain depth, and no child when nothing is left to label."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from gtstream_world import World

from gtcontract.states import JOB_CREATED
from gtstream.chaining import ensure_job

JOB1, JOB2, JOB3 = "cats-0001", "cats-0002", "cats-0003"


@pytest.fixture
def notices(world: World, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """Every notification the decisions send, as (event, fields)."""
    sent: list[tuple[str, dict[str, Any]]] = []
    real = world.deps.notifier.notify

    def notify(event: str, message: str, **fields: Any) -> None:
        sent.append((event, fields))
        real(event, message, **fields)

    monkeypatch.setattr(world.deps.notifier, "notify", notify)
    return sent


def job_1_ended_with_objects_unlabeled(world: World) -> None:
    """Job 1 created for two waiting objects, then ended (Failed) before labeling any."""
    world.publish_config()
    world.add_pending("o1", "o2")
    assert ensure_job(world.deps, "2 new object(s)").job == JOB1
    world.jobs.end(JOB1, "Failed")


def created(world: World) -> list[str]:
    return [r["LabelingJobName"] for r in world.jobs.created]


def project(world: World) -> dict[str, Any]:
    return world.deps.ledger.get_project()


def test_a_lock_held_by_another_invocation_decides_nothing_until_released(world: World) -> None:
    job_1_ended_with_objects_unlabeled(world)
    ledger = world.deps.ledger
    assert ledger.acquire_lock("another-invocation", 900)

    decision = ensure_job(world.deps, "job 1 ended")

    assert decision.action == "busy"
    assert created(world) == [JOB1]
    assert project(world)["active_job"] == JOB1  # its end not even processed
    ledger.release_lock("another-invocation")
    assert ensure_job(world.deps, "job 1 ended").job == JOB2
    assert created(world) == [JOB1, JOB2]


def test_an_expired_lease_is_taken_over_and_the_lock_released_after(world: World) -> None:
    job_1_ended_with_objects_unlabeled(world)
    assert world.deps.ledger.acquire_lock("crashed-invocation", -1)  # its lease already over

    decision = ensure_job(world.deps, "job 1 ended")

    assert (decision.action, decision.job) == ("created", JOB2)
    assert "lock_owner" not in project(world)
    assert world.deps.ledger.acquire_lock("next", 60)


def test_a_duplicated_end_event_after_the_chain_keeps_one_child(world: World) -> None:
    job_1_ended_with_objects_unlabeled(world)
    assert ensure_job(world.deps, "job 1 ended").job == JOB2

    again = ensure_job(world.deps, "job 1 ended (a copy of the event)")

    assert (again.action, again.job) == ("active", JOB2)
    assert created(world) == [JOB1, JOB2]
    assert int(project(world)["chain_index"]) == 2


def test_a_child_created_by_a_crashed_invocation_is_adopted_not_created_again(
    world: World, notices: list[tuple[str, dict[str, Any]]]
) -> None:
    job_1_ended_with_objects_unlabeled(world)
    world.jobs.statuses[JOB2] = "InProgress"  # created, then the invocation died before recording it

    decision = ensure_job(world.deps, "job 1 ended")

    assert (decision.action, decision.job) == ("active", JOB2)
    assert "adopted" in decision.reason
    assert created(world) == [JOB1]
    assert (project(world)["active_job"], int(project(world)["chain_index"])) == (JOB2, 2)
    assert [f["job"] for event, f in notices if event == JOB_CREATED] == [JOB1]


def test_an_adopted_child_that_ended_too_is_merged_and_chained_once(world: World) -> None:
    job_1_ended_with_objects_unlabeled(world)
    world.jobs.statuses[JOB2] = "Stopped"  # created by a crashed invocation and ended since

    decision = ensure_job(world.deps, "job 1 ended")

    assert (decision.action, decision.job) == ("created", JOB3)
    assert created(world) == [JOB1, JOB3]
    assert (world.deps.ledger.get_job(JOB2) or {}).get("ended_at")
    sent = sorted(i["object_id"] for i in world.deps.ledger.iter_state(f"SENT#{JOB3}"))
    assert sent == ["o1", "o2"]


def test_resource_in_use_on_create_adopts_the_job_and_announces_no_creation(
    world: World, notices: list[tuple[str, dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    job_1_ended_with_objects_unlabeled(world)
    # Another invocation creates job 2 between this one's DescribeLabelingJob and its create.
    real = world.jobs.describe

    def describe(name: str) -> Any:
        found = real(name)
        if name == JOB2 and JOB2 not in world.jobs.statuses:
            world.jobs.statuses[JOB2] = "Initializing"
        return found

    monkeypatch.setattr(world.jobs, "describe", describe)

    decision = ensure_job(world.deps, "job 1 ended")

    assert decision.action == "created" and "already existed (adopted)" in decision.reason
    assert created(world) == [JOB1]
    assert project(world)["active_job"] == JOB2
    assert [f["job"] for event, f in notices if event == JOB_CREATED] == [JOB1]
    sent = sorted(i["object_id"] for i in world.deps.ledger.iter_state(f"SENT#{JOB2}"))
    assert sent == ["o1", "o2"]  # the child's manifest objects are its own, not PENDING


def test_the_maximum_chain_depth_stops_the_chain_and_keeps_the_objects_pending(
    world: World, notices: list[tuple[str, dict[str, Any]]]
) -> None:
    world.deps = replace(world.deps, settings=replace(world.deps.settings, max_chain_depth=1))
    job_1_ended_with_objects_unlabeled(world)

    decision = ensure_job(world.deps, "job 1 ended")
    again = ensure_job(world.deps, "job 1 ended (a copy of the event)")

    assert decision.action == again.action == "stopped"
    assert "max chain depth 1" in decision.reason
    assert created(world) == [JOB1]
    assert sorted(i["object_id"] for i in world.deps.ledger.iter_state("PENDING")) == ["o1", "o2"]
    assert len([e for e, _ in notices if "stopped" in e]) == 1  # notified once, not per event


def test_nothing_left_to_label_makes_no_child(world: World) -> None:
    world.publish_config()
    world.add_pending("o1", "o2")
    assert ensure_job(world.deps, "2 new object(s)").job == JOB1
    for object_id in ("o1", "o2"):
        uri = f"s3://cats-input/images/{object_id}.jpg"
        assert world.deps.ledger.mark_labeled(object_id, JOB1, uri, "{}")
    world.jobs.end(JOB1, "Completed")

    decision = ensure_job(world.deps, "job 1 ended")

    assert decision.action == "idle"
    assert created(world) == [JOB1]
    assert "active_job" not in project(world)


def test_only_objects_past_the_failure_limit_left_stop_the_chain_with_their_count(world: World) -> None:
    world.publish_config()
    world.add_pending("o1", "o2")
    assert ensure_job(world.deps, "2 new object(s)").job == JOB1
    ledger = world.deps.ledger
    assert ledger.mark_labeled("o1", JOB1, "s3://cats-input/images/o1.jpg", "{}")
    for job in ("cats-0000a", "cats-0000b", JOB1):  # o2 failed in three jobs: the limit
        ledger.record_failure("o2", job, "expired", max_failures=3)
    world.jobs.end(JOB1, "Completed")

    decision = ensure_job(world.deps, "job 1 ended")

    assert decision.action == "stopped"
    assert "1 object(s) reached the per-object failure limit (3)" in decision.reason
    assert created(world) == [JOB1]


def test_objects_held_back_by_review_stop_the_chain_with_that_reason(world: World) -> None:
    """A FAILED object a downstream review rejected in MAX_REVIEW_ROUNDS rounds is not said to
    have reached the per-object failure limit; each limit is named with its count."""
    world.publish_config()
    world.add_pending("o1", "o2", "o3")
    assert ensure_job(world.deps, "3 new object(s)").job == JOB1
    ledger = world.deps.ledger
    rounds = world.deps.settings.max_review_rounds
    for object_id in ("o1", "o2"):
        for review_round in range(rounds):  # labeled, rejected, relabeled ... held back
            uri = f"s3://cats-input/images/{object_id}.jpg"
            assert ledger.mark_labeled(object_id, JOB1, uri, "{}", review_round)
            state = ledger.reopen_rejected(object_id, review_round, "cats-verify", "wrong", rounds)
            assert state == ("FAILED" if review_round == rounds - 1 else "PENDING")
            if state == "PENDING":
                assert ledger.mark_sent(object_id, JOB1)
    for job in ("cats-0000a", "cats-0000b", JOB1):
        ledger.record_failure("o3", job, "expired", max_failures=3)
    world.jobs.end(JOB1, "Completed")

    decision = ensure_job(world.deps, "job 1 ended")

    assert decision.action == "stopped"
    assert "1 object(s) reached the per-object failure limit (3)" in decision.reason
    assert "2 object(s) were rejected by review in MAX_REVIEW_ROUNDS=" in decision.reason
