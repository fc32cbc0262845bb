"""Reconcile deletes the GroundTruth-<job> queues of ended jobs by the names in the ledger.

Regression (issue 9): it listed queues with sqs:ListQueues, which no deployment grants; now the
names come from the ledger's ended jobs, and only GetQueueUrl + DeleteQueue are called - exactly
the grant ``GroundTruthQueues`` of the reconcile role (Terraform, CloudFormation, SDK).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from gtstream_world import ENV as WORLD_ENV
from gtstream_world import REGION
from tests.inprocess import in_process_aws

from gtstream.config import Settings
from gtstream.deps import Deps
from gtstream.ledger import table_definition
from gtstream.reconcile import delete_ended_job_queues

# The reconcile role's environment: the shared one, with a mixed-case prefix (names are lower-cased).
ENV = {**WORLD_ENV, "PROJECT_PREFIX": "Cats", "AWS_REGION": REGION}


@pytest.fixture
def deps(monkeypatch: pytest.MonkeyPatch) -> Iterator[Deps]:
    with in_process_aws(monkeypatch, REGION):
        boto3.client("dynamodb", region_name=REGION).create_table(**table_definition(ENV["LEDGER_TABLE"]))
        yield Deps.build(Settings.from_env(ENV))


def sqs_calls(deps: Deps) -> list[str]:
    """Record the operation names of every SQS call the gateway makes from now on."""
    calls: list[str] = []

    def record(model: Any, **_: Any) -> None:
        calls.append(model.name)

    deps.queues._clients.client("sqs").meta.events.register("before-call.sqs", record)
    return calls


def job(deps: Deps, index: int, *, ended: bool) -> str:
    name = f"Cats-{index:04d}"
    deps.ledger.add_job(name, index, None, "test", None)
    if ended:
        assert deps.ledger.mark_job_ended(name, "Stopped", {}, None)
    return name


def chain_to(deps: Deps, index: int) -> None:
    assert deps.ledger.acquire_lock("test", 60)
    assert deps.ledger.set_active_job("test", f"Cats-{index:04d}", index, "category")
    deps.ledger.release_lock("test")


def queue_names() -> list[str]:
    urls = boto3.client("sqs", region_name=REGION).list_queues().get("QueueUrls", [])
    return sorted(u.rsplit("/", 1)[-1] for u in urls)


def test_queues_of_ended_jobs_are_deleted_by_name_and_only_theirs(deps: Deps) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    # Given jobs 1 and 2 ended (1's queue already gone), job 3 running, and a project "cats-v2"
    for name in ("GroundTruth-cats-0002", "GroundTruth-cats-0003", "GroundTruth-cats-v2-0002"):
        sqs.create_queue(QueueName=name)
    job(deps, 1, ended=True)
    job(deps, 2, ended=True)
    job(deps, 3, ended=False)
    chain_to(deps, 3)
    calls = sqs_calls(deps)

    # When reconcile cleans up
    deleted = delete_ended_job_queues(deps)

    # Then exactly the ended jobs' queues are gone (the missing one is fine), nothing was listed
    assert deleted == ["GroundTruth-cats-0002"]
    assert queue_names() == ["GroundTruth-cats-0003", "GroundTruth-cats-v2-0002"]
    assert set(calls) == {"GetQueueUrl", "DeleteQueue"}
    assert calls.count("GetQueueUrl") == 2  # jobs 1 and 2
    assert all(deps.ledger.get_job(f"Cats-000{i}")["queue_deleted_at"] for i in (1, 2))  # type: ignore[index]


def test_a_second_run_stops_at_the_first_handled_job(deps: Deps) -> None:
    for index in (1, 2):
        job(deps, index, ended=True)
    chain_to(deps, 2)
    assert delete_ended_job_queues(deps) == []  # no queue existed: nothing deleted, both handled
    calls = sqs_calls(deps)
    job(deps, 3, ended=True)
    chain_to(deps, 3)
    boto3.client("sqs", region_name=REGION).create_queue(QueueName="GroundTruth-cats-0003")

    assert delete_ended_job_queues(deps) == ["GroundTruth-cats-0003"]
    assert calls == ["GetQueueUrl", "DeleteQueue"]  # jobs 1 and 2 are not asked about again
