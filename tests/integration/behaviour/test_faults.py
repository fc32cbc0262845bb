"""Faults the local cloud injects (``/_localcloud/faults``): nothing lost, nothing sent twice.

Each scenario injects one fault class into what the Lambdas call or receive (throttled, failed,
delayed, answered-then-lost or process-killing calls; lost, late, duplicated, reordered events),
lets the project recover (``run_until_idle``: failed and crashed batches come back at once; with
reconcile, the reconciler runs when the queues are idle) and asserts the invariants of issue 10:
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
import os
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import botocore.retries.standard
import pytest

from gtlocal.runner import RunStats, function_environment
from gtlocal.testing import check_invariants
from gtstream.chaining import LOCK_LEASE_SECONDS
from gtstream.config import Settings
from gtstream.deps import Deps
from gtstream.ledger import utcnow
from gtstream.reconcile import reconcile

from .conftest import Project

DAY = 86_400
DELAY = 0.1  # seconds of real time a "delay" fault holds a call (a "delay" is real time by definition)


@contextlib.contextmanager
def no_backoff_waits() -> Iterator[None]:
    """botocore's standard-mode retries, without their real-time backoff."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda *_: 0.0)
        yield


def inject(project: Project, faults: list[tuple[str, str, str, int]]) -> None:
    for service, operation, kind, count in faults:
        seconds = DELAY if kind == "delay" else None
        project.cloud.control.inject_call_fault(service, operation, kind, count=count, seconds=seconds)


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


def given_job_running(project: Project, images: int, start: int = 0) -> None:
    """``images`` dropped (seeds from ``start``) and job 1 running with them."""
    project.drop_images(start, images)
    project.run()
    project.start_job_running(1)


def stop_job(project: Project, index: int) -> None:
    """Stop the job; the emulator ends it (Stopping, then Stopped) a few seconds later."""
    boto3.client("sagemaker").stop_labeling_job(LabelingJobName=project.job_name(index))
    project.advance(5)


def test_throttled_and_failing_service_calls_lose_nothing_and_send_nothing_twice(project: Project) -> None:
    given_job_running(project, 1, start=100)
    faults = [
        ("s3", "GetObject", "error", 3),
        # a batch's objects and drop records (one TransactWriteItems), its SENT marks (another)
        ("dynamodb", "TransactWriteItems", "throttle", 8),
        ("dynamodb", "TransactWriteItems", "error", 2),
        ("sns", "PublishBatch", "throttle", 2),
        ("sns", "PublishBatch", "error", 1),
        # then slow answers (DELAY each): an answer, however late, is an answer
        ("s3", "GetObject", "delay", 1),
        ("sns", "PublishBatch", "delay", 1),
        ("dynamodb", "TransactWriteItems", "delay", 2),
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
    given_job_running(project, 4)
    assert project.cloud.control.workforce(project.job_name(1), label=2)["labeled"] == 2
    intake = [
        ("sns", "PublishBatch", "lose-response", 1),
        ("dynamodb", "UpdateItem", "lose-response", 2),
        # a batch's objects written, the answer lost: botocore sends it again, which DynamoDB
        # cancels on the objects' conditions (moto keeps no ClientRequestToken): all "seen"
        ("dynamodb", "TransactWriteItems", "lose-response", 1),
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
        ("dynamodb", "Query", "throttle", 2),  # the ledger's by-state query (pending objects)
        ("dynamodb", "Query", "error", 1),
    ]
    inject(project, chaining)
    stop_job(project, 1)
    with no_backoff_waits():
        stats = project.run(reconcile=True)

    assert_every_fault_was_met(project, chaining)
    assert_invariants(project, stats, jobs=2)
    project.start_job_running(2)
    child = project.cloud.control.job(project.job_name(2))["objects"]
    assert len(child) == 7  # job 1's 7 objects, each once (its 2 labels carried)


def test_lost_end_events_leave_the_chain_to_the_reconciler_once(project: Project) -> None:
    given_job_running(project, 3)
    project.cloud.control.inject_event_fault("lose", "state", count=100)

    stop_job(project, 1)
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

    stop_job(project, 1)
    stats = project.run(reconcile=True)  # no event yet: the reconciler chains
    assert_invariants(project, stats, jobs=2)
    faults: dict[str, Any] = project.cloud.control.faults()["events"]
    assert faults["held"] >= 3 and faults["delivered_late"] == 0  # InProgress, Stopping, Stopped

    project.advance(2 * DAY + 60)  # every held event arrives now, 5 copies each, newest first
    stats = project.run(reconcile=True)

    assert project.cloud.control.faults()["events"]["delivered_late"] >= 3
    assert stats.succeeded.get("job_events", 0) >= 5  # at least the 5 copies of job 1's Stopped
    assert_invariants(project, stats, jobs=2)


def test_create_and_describe_failing_beyond_the_sdk_retries_chain_later_exactly_once(
    project: Project,
) -> None:
    given_job_running(project, 3)
    project.cloud.control.workforce(project.job_name(1), label=1)
    # every attempt of one call: gtstream.aws.Clients' standard mode, the first and 5 retries
    attempts = 6
    chaining = [
        ("sagemaker", "DescribeLabelingJob", "error", attempts),
        ("sagemaker", "CreateLabelingJob", "throttle", attempts),
        ("sagemaker", "CreateLabelingJob", "error", attempts),
        # then slow answers (DELAY each) while the chain goes on
        ("sagemaker", "DescribeLabelingJob", "delay", 1),
        ("sagemaker", "CreateLabelingJob", "delay", 1),
        ("dynamodb", "UpdateItem", "delay", 1),
    ]
    inject(project, chaining)
    stop_job(project, 1)
    with no_backoff_waits():
        stats = project.run()

    assert_every_fault_was_met(project, chaining)
    # the end event failed 3 times, each when a call failed after its last retry, then chained
    assert stats.failed.get("job_events") == 3
    assert_invariants(project, stats, jobs=2)
    project.start_job_running(2)
    child = project.cloud.control.job(project.job_name(2))["objects"]
    assert len(child) == 3 and project.label_all(2) == 2  # job 1's label carried, the 2 others open


def after_the_lease(project: Project) -> Any:
    """The scheduled reconcile once the project lock's lease is over (its clock moved past it): the
    lease is on the Lambdas' clock, so a lock a killed invocation left is only taken over then."""
    with function_environment(project.deployment, "reconcile"):
        settings = Settings.from_env(os.environ)
        later = Deps.build(settings, now=lambda: utcnow() + timedelta(seconds=LOCK_LEASE_SECONDS + 1))
        return reconcile(later)


def test_handler_processes_killed_mid_batch_lose_nothing_and_start_no_second_child(project: Project) -> None:
    given_job_running(project, 3)
    # The intake's process dies at its PublishBatch, then (the batch again) after it, at the
    # TransactWriteItems that marks the published objects SENT.
    intake = [("sns", "PublishBatch", "kill", 1), ("dynamodb", "TransactWriteItems", "kill", 1)]
    inject(project, intake)
    project.drop_images(10, 4)
    stats = project.run()

    assert stats.crashes == 2
    assert_every_fault_was_met(project, intake)
    assert_invariants(project, stats, jobs=1)
    assert Counter(str(o["state"]) for o in project.objects()) == {"SENT": 7}

    # The job ends; the job-events handler's process dies at CreateLabelingJob, holding the lock.
    project.cloud.control.workforce(project.job_name(1), label=2)
    chaining = [("sagemaker", "CreateLabelingJob", "kill", 1)]
    inject(project, chaining)
    stop_job(project, 1)
    stats = project.run()

    assert stats.crashes == 1
    assert_every_fault_was_met(project, intake + chaining)
    assert project.jobs() == [project.job_name(1)]  # the lock is held: no one chains before its lease ends
    report = after_the_lease(project)
    assert report.decision is not None and report.decision.job == project.job_name(2)
    stats = project.run()
    assert_invariants(project, stats, jobs=2)
    project.start_job_running(2)
    assert project.label_all(2) == 5  # job 1's 7 objects, 2 labels carried, each once
