"""A job end's merge (``gtstream.chaining.handle_job_end``) of an output manifest that repeats
objects or lists their outcomes out of order, and its resumption from a checkpoint with an object
on both sides of it: one outcome per object, no failure counted twice, a label never undone
(moto in process)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from gtstream_world import REGION, World

from gtstream import chaining
from gtstream.chaining import handle_job_end

JOB = "cats-0001"
DECLINED = "ClientError: Every worker assigned to the task declined it."


def oid(name: str) -> str:
    return name * 64


def uri(name: str) -> str:
    return f"s3://cats-input/images/{oid(name)}.jpg"


def labeled(name: str, label: int) -> str:
    meta = {"job-name": f"labeling-job/{JOB}", "class-name": str(label)}
    return json.dumps({"source-ref": uri(name), "category": label, "category-metadata": meta})


def failed(name: str) -> str:
    meta = {"job-name": f"labeling-job/{JOB}", "failure-reason": DECLINED}
    return json.dumps({"source-ref": uri(name), "category-metadata": meta})


def end_with(world: World, names: str, lines: list[str]) -> Any:
    """``names`` SENT to JOB, which ended Completed with ``lines`` as its output manifest."""
    ledger = world.deps.ledger
    for name in names:
        ledger.add_object(oid(name), uri(name), f"{name}.jpg")
    assert len(ledger.mark_sent_many([oid(n) for n in names], JOB)) == len(names)
    boto3.client("s3", region_name=REGION).put_object(
        Bucket="cats-output",
        Key=f"jobs/{JOB}/manifests/output/output.manifest",
        Body="".join(line + "\n" for line in lines).encode(),
    )
    world.jobs.statuses[JOB] = "Completed"
    desc = world.jobs.describe(JOB)
    assert desc is not None
    return handle_job_end(world.deps, desc)


def state(world: World, name: str) -> tuple[str, int, int | None]:
    """(state, failure count, label) of an object."""
    item = world.deps.ledger.get_object(oid(name)) or {}
    label = json.loads(item["label"])["category"] if item.get("label") else None
    return str(item.get("state")), int(item.get("failure_count", 0)), label


def test_repeated_lines_give_one_outcome_per_object(world: World) -> None:
    lines = [labeled("a", 1), labeled("a", 1), failed("b"), failed("b"), labeled("c", 2)]

    end_with(world, "abc", lines)

    assert state(world, "a") == ("LABELED", 0, 1)
    assert state(world, "b") == ("PENDING", 1, None)  # one failed attempt in this job, not two
    assert state(world, "c") == ("LABELED", 0, 2)


def test_a_failure_listed_before_or_after_the_label_never_undoes_it(world: World) -> None:
    lines = [failed("a"), labeled("a", 0), labeled("b", 1), failed("b")]

    end_with(world, "ab", lines)

    assert state(world, "a")[0::2] == ("LABELED", 0)
    assert state(world, "b")[0::2] == ("LABELED", 1)


def test_two_different_labels_of_one_object_keep_exactly_one(world: World) -> None:
    end_with(world, "a", [labeled("a", 0), labeled("a", 2)])

    status, failures, label = state(world, "a")
    assert (status, failures) == ("LABELED", 0)
    assert label in (0, 2)


def test_a_resumed_merge_with_an_object_on_both_sides_of_the_checkpoint_counts_it_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chaining, "CHECKPOINT_EVERY", 3)
    ledger = world.deps.ledger
    real = ledger.merge_outcomes
    attempts = 0

    def time_out_after_the_first_checkpoint(job: str, outcomes: Any, max_failures: int) -> Any:
        nonlocal attempts
        attempts += 1
        if attempts == 2:  # the writes of lines 3..5, after the checkpoint at line 2
            raise RuntimeError("injected: the invocation timed out")
        return real(job, outcomes, max_failures)

    monkeypatch.setattr(ledger, "merge_outcomes", time_out_after_the_first_checkpoint)
    # "b" failed before the checkpoint (line 2) and again after it (line 5): one attempt
    lines = [labeled("a", 1), failed("b"), labeled("c", 0), failed("d"), failed("b"), labeled("e", 2)]
    with pytest.raises(RuntimeError, match="injected"):
        end_with(world, "abcde", lines)
    assert int((ledger.get_job(JOB) or {}).get("merged_lines", 0)) == 2
    assert state(world, "b") == ("PENDING", 1, None)

    desc = world.jobs.describe(JOB)
    assert desc is not None
    handle_job_end(world.deps, desc)  # the retry, from the checkpoint

    assert [state(world, n) for n in "abcde"] == [
        ("LABELED", 0, 1),
        ("PENDING", 1, None),
        ("LABELED", 0, 0),
        ("PENDING", 1, None),
        ("LABELED", 0, 2),
    ]
    assert (ledger.get_job(JOB) or {}).get("ended_at")
