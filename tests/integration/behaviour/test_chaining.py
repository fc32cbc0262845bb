"""A job that ends with objects unlabeled gets exactly one chained child, whatever the events do."""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

import boto3
import pytest

from gtlocal.runner import LambdaContext, function_environment, resolve_handler, sqs_event

from .conftest import Project, across_variants

ENDINGS = ["expired", "idle-stopped", "stopped", "failed"]
HOUR = 3600


def given_a_running_job_with_two_of_four_labeled(project: Project) -> None:
    project.drop_images(0, 4)
    project.run()
    project.start_job_running(1)
    assert project.cloud.control.workforce(project.job_name(1), label=2)["labeled"] == 2


def end_job(project: Project, how: str) -> None:
    """End job 1 the way ``how`` says; assert the end status the emulator's variant gives it."""
    name = project.job_name(1)
    status = {"stopped": "Stopped", "failed": "Failed"}.get(how)
    if how == "expired":
        project.cloud.control.update_settings(idle_stop_seconds=90 * 86400)
        project.advance(project.emulator["job_expiry_seconds"] + HOUR)  # objects' lifetime elapses first
        status = project.emulator["expiry_status"]
    elif how == "idle-stopped":
        # The idle timer starts only once nothing is left to label and nothing waits ("Stop a
        # Streaming Labeling Job"): after the unlabeled objects' availability lifetime, then the
        # idle days. The job is still running an hour before that, and ended an hour after.
        idle_at = project.published_config()["task_availability_lifetime_seconds"]
        idle_at += project.emulator["idle_stop_seconds"]
        project.advance(idle_at - HOUR)
        assert project.cloud.control.job(name)["status"] == "InProgress"
        project.advance(2 * HOUR)
        status = project.emulator["idle_stop_status"]
    elif how == "stopped":
        boto3.client("sagemaker").stop_labeling_job(LabelingJobName=name)
        project.advance(5)
    else:
        project.cloud.control.fail_job(name, "ClientError: injected failure")
    assert project.cloud.control.job(name)["status"] == status


def child_manifest_lines(project: Project, index: int) -> list[dict[str, Any]]:
    s3 = project.s3()
    body = s3.get_object(
        Bucket=project.deployment["buckets"]["input"],
        Key=f"manifests/{project.job_name(index)}/input.manifest",
    )["Body"].read()
    return [json.loads(line) for line in body.splitlines() if line.strip()]


@across_variants
@pytest.mark.parametrize("how", ENDINGS)
def test_job_ending_with_unlabeled_objects_is_chained_once(project: Project, how: str) -> None:
    given_a_running_job_with_two_of_four_labeled(project)

    end_job(project, how)
    stats = project.run(reconcile=True)

    assert stats.succeeded.get("job_events", 0) >= project.emulator["duplicate_events"]
    assert project.jobs() == [project.job_name(1), project.job_name(2)]
    # The child's manifest keeps both labels and re-offers the two unlabeled objects.
    lines = child_manifest_lines(project, 2)
    assert len(lines) == 4
    assert sum("category" in line for line in lines) == 2
    project.start_job_running(2)
    view = project.cloud.control.job(project.job_name(2))
    carried = [o for o in view["objects"] if o.get("carried")]
    assert len(carried) == 2 and len(view["objects"]) == 4
    assert project.label_all(2) == 2
    boto3.client("sagemaker").stop_labeling_job(LabelingJobName=project.job_name(2))
    project.advance(5)
    project.run(reconcile=True)
    assert Counter(o["state"] for o in project.objects()) == {"LABELED": 4}
    assert project.jobs() == [project.job_name(1), project.job_name(2)]
    ended = [n for n in project.notifications() if n["event"] == "job-ended"]
    assert Counter(n["job"] for n in ended) == {project.job_name(1): 1, project.job_name(2): 1}
    assert project.job_item(1)["decision"] == "chained"


@across_variants
def test_out_of_order_and_late_events_create_no_second_child(project: Project) -> None:
    given_a_running_job_with_two_of_four_labeled(project)
    end_job(project, "stopped")
    project.run()
    assert project.jobs() == [project.job_name(1), project.job_name(2)]

    # Late and out-of-order: the parent's Stopped, then its InProgress and Initializing, again.
    sqs = boto3.client("sqs")
    arn = project.cloud.control.job(project.job_name(1))["arn"]
    for status in ("Stopped", "InProgress", "Stopping", "Initializing", "Stopped"):
        event = {
            "version": "0",
            "id": f"late-{status}",
            "detail-type": "SageMaker Ground Truth Labeling Job State Change",
            "source": "aws.sagemaker",
            "resources": [arn],
            "detail": {"LabelingJobStatus": status},
        }
        sqs.send_message(
            QueueUrl=project.deployment["queues"]["job_events"]["url"], MessageBody=json.dumps(event)
        )
    stats = project.run(reconcile=True)

    assert stats.failed.get("job_events", 0) == 0
    assert project.jobs() == [project.job_name(1), project.job_name(2)]
    assert project.project_item()["active_job"] == project.job_name(2)


@across_variants
def test_concurrent_handler_calls_create_exactly_one_child(project: Project) -> None:
    given_a_running_job_with_two_of_four_labeled(project)
    end_job(project, "stopped")
    # Take the real events off the queue and deliver the same batch to 6 concurrent invocations.
    sqs = boto3.client("sqs")
    url = project.deployment["queues"]["job_events"]["url"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    event = sqs_event(
        messages, project.deployment["queues"]["job_events"]["arn"], project.deployment["region"]
    )
    results: list[Any] = []
    errors: list[BaseException] = []
    with function_environment(project.deployment, "job_events"):
        handler = resolve_handler(project.deployment["handlers"]["job_events"])
        barrier = threading.Barrier(6)

        def call() -> None:
            barrier.wait()
            try:
                results.append(handler(event, LambdaContext("job_events")))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=call) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert not errors
    assert project.jobs() == [project.job_name(1), project.job_name(2)]
    created = [n for n in project.notifications() if n["event"] == "job-created"]
    assert [n["job"] for n in created] == [project.job_name(1), project.job_name(2)], created
    # The lock losers and later runs still converge: reconcile changes nothing.
    project.run(reconcile=True)
    assert project.jobs() == [project.job_name(1), project.job_name(2)]
