"""Faults the local cloud injects (``/_localcloud/faults``): nothing lost, nothing sent twice.

Each scenario injects one fault class into what the Lambdas call or receive, lets the project
recover (``run_until_idle`` with reconcile: failed messages come back at once, the reconciler
runs when the queues are idle) and asserts the invariants of issue 10:
- every dropped object is labeled, sent, quarantined or held back with a reason (none lost);
- no object is sent twice to one job, nor open (available to workers) in two running jobs (an
  ended job's unlabeled objects are re-offered by its child: that is the chain, not a duplicate);
- no job has two children (the jobs are exactly the expected chain);
- every dead-letter queue is empty.

The Lambdas' clients use botocore's standard retry mode (gtstream.aws.Clients); its backoff waits
(up to seconds of real time per retry) are set to zero here: the retries and their count are
what is tested, not the waiting. Every scenario takes only ``project``, so the Terraform and
CloudFormation deployments can run it too.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.retries.standard
import pytest

from gtlocal.runner import RunStats
from gtlocal.testing import check_invariants

from .conftest import Project

DAY = 86_400


@contextlib.contextmanager
def no_backoff_waits() -> Iterator[None]:
    """botocore's standard-mode retries, without their real-time backoff."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda *_: 0.0)
        yield


def inject(project: Project, faults: list[tuple[str, str, str, int]]) -> None:
    for service, operation, kind, count in faults:
        project.cloud.control.inject_call_fault(service, operation, kind, count=count)


def assert_every_fault_was_met(project: Project, faults: list[tuple[str, str, str, int]]) -> None:
    state = project.cloud.control.faults()
    assert state["calls"] == [], f"faults never met: {state['calls']}"
    expected: Counter[str] = Counter()
    for service, operation, _, count in faults:
        expected[f"{service}:{operation}"] += count
    assert Counter(i["call"] for i in state["injected"]) == expected


def assert_invariants(project: Project, stats: RunStats, jobs: int) -> None:
    """Issue 10's invariants after recovery (``gtlocal.testing.check_invariants``)."""
    names = [project.job_name(i) for i in range(1, jobs + 1)]
    checked = check_invariants(project.cloud, project.deployment, stats.dead_letters, names)
    assert checked.violations() == []


def test_throttled_and_failing_service_calls_lose_nothing_and_send_nothing_twice(project: Project) -> None:
    project.drop_images(100, 1)
    project.run()
    project.start_job_running(1)
    faults = [
        ("s3", "GetObject", "error", 3),
        ("dynamodb", "PutItem", "throttle", 3),
        # the batch's SENT marks (one TransactWriteItems per 24 objects) and its drop records
        ("dynamodb", "TransactWriteItems", "throttle", 4),
        ("dynamodb", "TransactWriteItems", "error", 2),
        ("dynamodb", "BatchWriteItem", "throttle", 1),
        ("sns", "PublishBatch", "throttle", 2),
        ("sns", "PublishBatch", "error", 1),
    ]
    inject(project, faults)

    with no_backoff_waits():
        project.drop_images(0, 8)
        stats = project.run(reconcile=True)

    assert_every_fault_was_met(project, faults)
    assert_invariants(project, stats, jobs=1)
    view = project.cloud.control.job(project.job_name(1))
    assert len(view["objects"]) == 9
    assert Counter(str(o["state"]) for o in project.objects()) == {"SENT": 9}


def test_answers_lost_after_the_service_acted_duplicate_no_task_and_no_job(project: Project) -> None:
    project.drop_images(0, 4)
    project.run()
    project.start_job_running(1)
    assert project.cloud.control.workforce(project.job_name(1), label=2)["labeled"] == 2
    intake = [
        ("sns", "PublishBatch", "lose-response", 1),
        ("dynamodb", "UpdateItem", "lose-response", 2),
        ("dynamodb", "PutItem", "lose-response", 1),
    ]
    inject(project, intake)
    with no_backoff_waits():
        project.drop_images(10, 3)
        stats = project.run(reconcile=True)
    assert_every_fault_was_met(project, intake)
    assert_invariants(project, stats, jobs=1)

    # The job ends; the child's CreateLabelingJob is applied but its answer lost, twice over.
    project.cloud.control.clear_faults()
    chaining = [
        ("sagemaker", "CreateLabelingJob", "lose-response", 1),
        ("sagemaker", "DescribeLabelingJob", "throttle", 2),
        ("s3", "PutObject", "error", 1),
    ]
    inject(project, chaining)
    boto3.client("sagemaker").stop_labeling_job(LabelingJobName=project.job_name(1))
    project.advance(5)
    with no_backoff_waits():
        stats = project.run(reconcile=True)

    assert_every_fault_was_met(project, chaining)
    assert_invariants(project, stats, jobs=2)
    project.start_job_running(2)
    child = project.cloud.control.job(project.job_name(2))["objects"]
    assert len(child) == 7  # job 1's 7 objects, each once (its 2 labels carried)


def test_lost_end_events_leave_the_chain_to_the_reconciler_once(project: Project) -> None:
    project.drop_images(0, 3)
    project.run()
    project.start_job_running(1)
    project.cloud.control.inject_event_fault("lose", "state", count=100)

    boto3.client("sagemaker").stop_labeling_job(LabelingJobName=project.job_name(1))
    project.advance(5)
    stats = project.run(reconcile=True)

    assert project.cloud.control.faults()["events"]["lost"] >= 1
    assert stats.reconciles >= 1
    assert_invariants(project, stats, jobs=2)


def test_end_events_days_late_five_times_and_out_of_order_start_no_second_child(project: Project) -> None:
    project.cloud.control.update_settings(duplicate_events=5, state_change_events="all")
    project.drop_images(0, 3)
    project.run()
    project.cloud.control.inject_event_fault("delay", "state", count=100, seconds=2 * DAY, reverse=True)
    project.start_job_running(1)
    project.cloud.control.workforce(project.job_name(1), label=1)

    boto3.client("sagemaker").stop_labeling_job(LabelingJobName=project.job_name(1))
    project.advance(5)
    stats = project.run(reconcile=True)  # no event yet: the reconciler chains
    assert_invariants(project, stats, jobs=2)
    faults: dict[str, Any] = project.cloud.control.faults()["events"]
    assert faults["held"] >= 3 and faults["delivered_late"] == 0  # InProgress, Stopping, Stopped

    project.advance(2 * DAY + 60)  # every held event arrives now, 5 copies each, newest first
    stats = project.run(reconcile=True)

    assert project.cloud.control.faults()["events"]["delivered_late"] >= 3
    assert stats.succeeded.get("job_events", 0) >= 5  # at least the 5 copies of job 1's Stopped
    assert_invariants(project, stats, jobs=2)
