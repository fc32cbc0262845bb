"""The check loop that follows a new job to InProgress (no InProgress event is documented)."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from gtstream_world import ENV, World

from gtstream.chaining import ensure_job
from gtstream.job_checks import JobCheck, check_delay, parse_job_check, start_following
from gtstream.job_events import handle_message

JOB = "cats-0001"
URL = ENV["JOB_EVENTS_QUEUE_URL"]


def check(job: str = JOB, attempt: int = 1) -> dict[str, object]:
    body: dict[str, object] = json.loads(JobCheck(job, attempt).to_message())
    return body


def created_job(world: World) -> str:
    """The first job, created by the chaining decision as intake would (objects waiting)."""
    world.publish_config()
    world.add_pending("o1", "o2")
    decision = ensure_job(world.deps, "2 new object(s) while no job is active")
    assert (decision.action, decision.job) == ("created", JOB)
    return JOB


def test_the_schedule_doubles_from_job_check_seconds_up_to_the_sqs_limit() -> None:
    assert [check_delay(n, 60) for n in range(1, 8)] == [60, 120, 240, 480, 900, 900, 900]
    assert [check_delay(n, 1) for n in (1, 2, 10, 11)] == [1, 2, 512, 900]
    assert check_delay(1, 900) == 900
    assert check_delay(10_000, 60) == 900


def test_the_check_message_round_trips_and_malformed_ones_are_refused() -> None:
    assert parse_job_check(check(JOB, 3)) == JobCheck(JOB, 3)
    for bad in (
        {"source": "gtstream", "detail-type": "Labeling Job Check"},
        {**check(), "detail": {"LabelingJobName": JOB, "attempt": 0}},
        {**check(), "detail": {"LabelingJobName": "", "attempt": 1}},
        {**check(), "detail": {"LabelingJobName": JOB, "attempt": "1"}},
    ):
        with pytest.raises(ValueError):
            parse_job_check(bad)


def test_creating_a_job_schedules_its_first_check(world: World) -> None:
    created_job(world)
    assert world.queues.sent == [(URL, check(JOB, 1), 60)]
    # Objects wait while it initializes: nothing was published.
    assert world.input_messages() == []
    assert {i["state"] for i in world.deps.ledger.iter_state("PENDING")} == {"PENDING"}


def test_while_initializing_each_check_schedules_the_next_with_a_longer_delay(world: World) -> None:
    job = created_job(world)
    world.queues.sent.clear()

    first = handle_message(world.deps, check(job, 1), "m-a")
    second = handle_message(world.deps, check(job, 2), "m-b")

    assert (first.action, first.next_check_seconds) == ("check-again", 120)
    assert (second.action, second.next_check_seconds) == ("check-again", 240)
    assert world.queues.sent == [(URL, check(job, 2), 120), (URL, check(job, 3), 240)]
    assert world.input_messages() == []


def test_duplicated_checks_do_not_multiply_but_a_retried_one_continues(world: World) -> None:
    job = created_job(world)
    world.queues.sent.clear()

    assert handle_message(world.deps, check(job, 1), "m-a").action == "check-again"
    # Another message for the same attempt (e.g. the adopter's first check): dropped.
    assert handle_message(world.deps, check(job, 1), "m-other").action == "duplicate-check"
    # An older attempt arriving late: dropped.
    handle_message(world.deps, check(job, 2), "m-b")
    assert handle_message(world.deps, check(job, 1), "m-late").action == "duplicate-check"
    # The same message again (its first run failed after the claim): it may send its next check.
    assert handle_message(world.deps, check(job, 2), "m-b").action == "check-again"
    assert [(body["detail"]["attempt"], delay) for _, body, delay in world.queues.sent] == [
        (2, 120),
        (3, 240),
        (3, 240),
    ]


def test_in_progress_sends_what_waited_and_stops_checking(world: World) -> None:
    job = created_job(world)
    world.add_pending("o3")  # dropped while the job was initializing
    world.queues.sent.clear()
    world.jobs.statuses[job] = "InProgress"

    result = handle_message(world.deps, check(job, 2), "m-b")

    assert (result.action, result.sent) == ("flushed", 3)
    sent = sorted(m["source-ref"] for m in world.input_messages())
    assert sent == [f"s3://cats-input/images/{o}.jpg" for o in ("o1", "o2", "o3")]
    assert world.queues.sent == []
    assert Counter(i["state_key"] for i in world.deps.ledger.iter_state(f"SENT#{job}")) == {f"SENT#{job}": 3}
    assert not world.deps.ledger.has_state("PENDING")


def test_an_ended_job_gets_the_normal_end_handling_and_no_more_checks(world: World) -> None:
    job = created_job(world)
    world.queues.sent.clear()
    world.jobs.end(job, "Failed")

    result = handle_message(world.deps, check(job, 2), "m-b")

    assert result.action == "ended"
    item = world.deps.ledger.get_job(job)
    assert item is not None and item["status"] == "Failed" and item.get("ended_at")
    # The end chained the next job (objects still wait), which is followed in turn; none for job 1.
    assert result.decision is not None and result.decision.job == "cats-0002"
    assert world.queues.sent == [(URL, check("cats-0002", 1), 60)]


def test_a_check_of_an_unknown_job_is_dropped(world: World) -> None:
    result = handle_message(world.deps, check("cats-0042", 1), "m-a")
    assert result.action == "unknown-job"
    assert world.queues.sent == []


def test_a_failed_first_check_does_not_fail_the_creation(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.queues.fail = True
    created_job(world)
    assert "could not schedule the first check of cats-0001" in caplog.text
    start_following(world.deps, JOB)  # and never raises
