"""A job's end (output-manifest merge, SENT sweep, end record) at scale: one write per object, on a
bounded pool of threads, resumable from its checkpoint and idempotent (moto in process, not timed)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import boto3
import pytest
from gtstream_world import REGION, World
from test_gtstream_requests import Requests

from gtstream import chaining
from gtstream.chaining import handle_job_end

JOB = "cats-0001"
LABELED, FAILED_ATTEMPTS, NOT_WORKED_ON = 80, 20, 20
N = LABELED + FAILED_ATTEMPTS + NOT_WORKED_ON


def _oid(n: int) -> str:
    return f"{n:064x}"


def _uri(n: int) -> str:
    return f"s3://cats-input/images/{_oid(n)}.jpg"


def _line(n: int) -> dict[str, Any]:
    meta: dict[str, Any] = {"job-name": f"labeling-job/{JOB}", "human-annotated": "yes"}
    if n < LABELED:
        return {"source-ref": _uri(n), "category": n % 3, "category-metadata": {**meta, "class-name": "cat"}}
    if n < LABELED + FAILED_ATTEMPTS:
        meta["failure-reason"] = "ClientError: Every worker assigned to the task declined it."
        return {"source-ref": _uri(n), "category-metadata": meta}
    return {"source-ref": _uri(n)}  # never worked on: the job ended first


@pytest.fixture
def ended(world: World) -> World:
    """N objects SENT to JOB, which ended Completed with its output manifest written."""
    ledger = world.deps.ledger
    for n in range(N):
        ledger.add_object(_oid(n), _uri(n), f"{n}.jpg")
    assert len(ledger.mark_sent_many([_oid(n) for n in range(N)], JOB)) == N
    assert ledger.acquire_lock("t", 60) and ledger.set_active_job("t", JOB, 1, "category")
    ledger.release_lock("t")
    body = "".join(json.dumps(_line(n)) + "\n" for n in range(N))
    boto3.client("s3", region_name=REGION).put_object(
        Bucket="cats-output", Key=f"jobs/{JOB}/manifests/output/output.manifest", Body=body.encode()
    )
    world.jobs.statuses[JOB] = "Completed"
    return world


def _end(world: World) -> Any:
    desc = world.jobs.describe(JOB)
    assert desc is not None
    return handle_job_end(world.deps, desc)


def _states(world: World) -> Counter[tuple[str, int]]:
    objects = (world.deps.ledger.get_object(_oid(n)) or {} for n in range(N))
    return Counter((o["state"], int(o.get("failure_count", 0))) for o in objects)


EXPECTED = Counter({("LABELED", 0): LABELED, ("PENDING", 1): FAILED_ATTEMPTS, ("PENDING", 0): NOT_WORKED_ON})


def test_a_job_end_writes_each_object_once_and_reads_none(ended: World) -> None:
    requests = Requests(ended)

    stats = _end(ended)

    counts = requests.take()
    assert (stats.labeled, stats.failed_attempts, stats.not_processed) == (
        LABELED,
        FAILED_ATTEMPTS,
        NOT_WORKED_ON,
    )
    assert _states(ended) == EXPECTED
    # one conditional update per object (labeled, failed attempt, returned to PENDING), 25 objects
    # per TransactWriteItems request; then the end record and the project's active job: no read of
    # an object, no second write
    assert counts["dynamodb:TransactWriteItems"] == (LABELED + FAILED_ATTEMPTS) // 25 + 1
    assert counts["dynamodb:UpdateItem"] == 2
    assert counts["dynamodb:GetItem"] == 1  # the job item, once
    assert counts["dynamodb:PutItem"] == 0
    item = ended.deps.ledger.get_job(JOB) or {}
    assert item.get("ended_at") and item.get("status") == "Completed"


def test_an_interrupted_job_end_resumes_from_its_checkpoint(
    ended: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chaining, "CHECKPOINT_EVERY", 25)
    ledger = ended.deps.ledger
    real = ledger.merge_outcomes
    calls: list[str] = []

    def crash_at_object_60(job: str, outcomes: Any, max_failures: int) -> Any:
        calls.extend(o[1] for o in outcomes if o[0] == "labeled")
        if any(o[1] == _oid(60) for o in outcomes) and not hasattr(crash_at_object_60, "done"):
            crash_at_object_60.done = True  # type: ignore[attr-defined]
            raise RuntimeError("injected: the invocation timed out")
        return real(job, outcomes, max_failures)

    monkeypatch.setattr(ledger, "merge_outcomes", crash_at_object_60)
    with pytest.raises(RuntimeError, match="injected"):
        _end(ended)
    # every write before line 50 finished, so the checkpoint says 49; the end is not recorded
    assert (ledger.get_job(JOB) or {}).get("merged_lines") == 49
    assert not (ledger.get_job(JOB) or {}).get("ended_at")

    calls.clear()
    stats = _end(ended)  # the retry

    assert sorted(calls) == sorted(_oid(n) for n in range(49, LABELED))  # from the checkpoint on
    assert stats.labeled == LABELED - 49
    assert _states(ended) == EXPECTED
    assert _end(ended) is None  # recorded: a third delivery does nothing


def test_a_job_end_merged_twice_counts_each_failure_once(
    ended: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = ended.deps.ledger
    real = ledger.mark_job_ended

    def crash(*args: Any) -> bool:
        raise RuntimeError("injected: crashed before the end was recorded")

    monkeypatch.setattr(ledger, "mark_job_ended", crash)
    with pytest.raises(RuntimeError, match="injected"):
        _end(ended)
    monkeypatch.setattr(ledger, "mark_job_ended", real)
    requests = Requests(ended)

    _end(ended)  # the whole manifest again: no checkpoint was reached

    # the repeated writes are conditional and change nothing; only the end record is new
    assert requests.take()["dynamodb:UpdateItem"] == LABELED + FAILED_ATTEMPTS + 2
    assert _states(ended) == EXPECTED  # no failure counted twice, no label lost


def test_an_object_reaching_the_failure_limit_fails_for_good(ended: World) -> None:
    ledger = ended.deps.ledger
    for n in range(LABELED, LABELED + FAILED_ATTEMPTS):  # two earlier jobs already failed each
        for job in ("cats-0000a", "cats-0000b"):
            ledger.record_failure(_oid(n), job, "expired", max_failures=99)
    assert ended.deps.settings.max_object_failures == 3

    stats = _end(ended)

    assert stats.permanently_failed == FAILED_ATTEMPTS
    assert _states(ended)[("FAILED", 3)] == FAILED_ATTEMPTS
