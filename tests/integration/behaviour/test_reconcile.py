"""Reconcile repairs what lost, late or crashed events left behind."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import boto3
import pytest

from gtlocal.runner import lambda_environment
from gtstream.chaining import LOCK_LEASE_SECONDS
from gtstream.config import Settings
from gtstream.deps import Deps
from gtstream.ledger import Ledger, utcnow
from gtstream.reconcile import reconcile

from .conftest import Project


def purge(project: Project, kind: str) -> None:
    boto3.client("sqs").purge_queue(QueueUrl=project.deployment["queues"][kind]["url"])


def test_a_lost_end_event_is_caught_by_reconcile(project: Project) -> None:
    project.drop_images(0, 2)
    project.run()
    project.start_job_running(1)
    project.cloud.control.fail_job(project.job_name(1), "ClientError: injected")
    purge(project, "job_events")  # the end event is lost

    project.run(reconcile=True)

    assert project.jobs() == [project.job_name(1), project.job_name(2)]
    assert project.job_item(1)["status"] == "Failed"
    # The GroundTruth queue of the ended job was an orphan: deleted.
    queues = boto3.client("sqs").list_queues(QueueNamePrefix="GroundTruth-").get("QueueUrls", [])
    assert [q.rsplit("/", 1)[-1] for q in queues] == [f"GroundTruth-{project.job_name(2)}"]


def test_images_dropped_after_reconcile_deleted_an_ended_jobs_queue_all_reach_the_running_job(
    project: Project,
) -> None:
    # Given job 1 failed (a Failed job keeps its queue's subscription to the input topic), job 2
    # runs, and reconcile deleted job 1's GroundTruth queue: the topic has a dead subscriber.
    project.drop_images(0, 2)
    project.run()
    project.start_job_running(1)
    project.cloud.control.workforce(project.job_name(1), label=1)
    project.cloud.control.fail_job(project.job_name(1), "ClientError: injected")
    project.run(reconcile=True)
    project.start_job_running(2)
    sqs, sns = boto3.client("sqs"), boto3.client("sns")
    queues = sqs.list_queues(QueueNamePrefix="GroundTruth-").get("QueueUrls", [])
    assert [q.rsplit("/", 1)[-1] for q in queues] == [f"GroundTruth-{project.job_name(2)}"]
    endpoints = [
        s["Endpoint"].rsplit(":", 1)[-1]
        for s in sns.list_subscriptions_by_topic(TopicArn=project.deployment["topics"]["input"])[
            "Subscriptions"
        ]
    ]
    assert f"GroundTruth-{project.job_name(1)}" in endpoints  # the dead subscriber

    # When 45 images are dropped in three bursts while job 2 runs
    for burst in range(3):
        project.drop_images(100 + 15 * burst, 15, folder=f"burst {burst}")
        project.run(reconcile=True)

    # Then every one reached job 2 (and the unlabeled one carried from job 1), and no extra job
    view = project.cloud.control.job(project.job_name(2))
    assert Counter(o["state"] for o in view["objects"]) == {"labeled": 1, "available": 46}  # 1 carried
    assert not view["discarded"]
    assert Counter(o["state"] for o in project.objects()) == {"LABELED": 1, "SENT": 46}
    sent = {o["input_uri"] for o in project.objects() if o["state"] == "SENT"}
    assert sent == {o["source"] for o in view["objects"] if o["state"] == "available"}
    assert {o["job"] for o in project.objects() if o["state"] == "SENT"} == {project.job_name(2)}
    assert project.jobs() == [project.job_name(1), project.job_name(2)]


def test_a_chain_that_crashed_half_way_is_finished_after_the_lease(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.drop_images(0, 2)
    project.run()
    project.start_job_running(1)
    project.cloud.control.workforce(project.job_name(1), label=1)
    boto3.client("sagemaker").stop_labeling_job(LabelingJobName=project.job_name(1))
    project.advance(5)

    # The process dies right after CreateLabelingJob: nothing recorded, the lock is left behind.
    def die(*_args: Any, **_kwargs: Any) -> None:
        raise SystemExit("killed")

    monkeypatch.setattr(Ledger, "set_active_job", die)
    monkeypatch.setattr(Ledger, "release_lock", lambda *_a, **_k: None)
    with pytest.raises(SystemExit):
        project.run()
    monkeypatch.undo()
    assert project.jobs() == [project.job_name(1), project.job_name(2)]
    assert project.project_item().get("active_job") is None

    with lambda_environment(project.deployment):
        import os

        settings = Settings.from_env(os.environ)
    early = Deps.build(settings)
    assert reconcile(early).decision is not None
    assert early.ledger.get_project().get("active_job") is None  # the lease still holds
    later = Deps.build(settings, now=lambda: utcnow() + timedelta(seconds=LOCK_LEASE_SECONDS + 1))

    report = reconcile(later)

    assert report.decision is not None and report.decision.job == project.job_name(2)
    assert project.project_item()["active_job"] == project.job_name(2)
    assert project.jobs() == [project.job_name(1), project.job_name(2)]
    project.start_job_running(2)
    assert project.label_all(2) == 1


def test_no_config_yet_waits_with_a_notification_then_starts_when_published(project: Project) -> None:
    s3 = project.s3()
    bucket, key = project.deployment["project_config_uri"][5:].split("/", 1)
    s3.delete_object(Bucket=bucket, Key=key)
    project.drop_images(0, 1)
    project.run(reconcile=True)
    assert project.jobs() == []
    assert project.project_item()["last_decision"] == "waiting"
    waiting = [n for n in project.notifications() if n["event"] == "chain-waiting"]
    assert len(waiting) == 1 and "waiting for project config" in waiting[0]["summary"]

    from gtlocal.deploy import publish_project_config

    publish_project_config(project.deployment)
    project.run(reconcile=True)
    assert project.jobs() == [project.job_name(1)]


def test_idle_warning_and_stale_pending_resend(project: Project) -> None:
    project.deployment["lambda_environment"]["IDLE_WARN_SECONDS"] = "0"
    project.drop_images(0, 1)
    project.run()
    project.start_job_running(1)
    # An object recorded PENDING whose send was lost (e.g. the publish failed) is re-sent.
    project.drop_images(1, 1)
    with lambda_environment(project.deployment):
        import os

        deps = Deps.build(Settings.from_env(os.environ))
    from gtstream.intake import Drop, process_drop

    process_drop(deps, Drop(project.deployment["buckets"]["drop"], "batch/img 1.jpg"))
    purge(project, "intake")

    project.run(reconcile=True)
    project.run(reconcile=True)

    assert Counter(o["state"] for o in project.objects()) == {"SENT": 2}
    assert len(project.cloud.control.job(project.job_name(1))["objects"]) == 2
    warnings = [n for n in project.notifications() if n["event"] == "idle-stop-warning"]
    assert len(warnings) == 1 and warnings[0]["job"] == project.job_name(1)


def test_worker_declines_become_metrics_and_a_spike_is_notified_once(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.drop_images(0, 8)
    project.run()
    project.start_job_running(1)
    project.cloud.control.workforce(project.job_name(1), label=1, decline=7)

    stats = project.run()

    assert stats.succeeded["worker_events"] == 8
    out = capsys.readouterr().out
    assert '"TasksDeclined"' in out and '"TasksSubmitted"' in out  # CloudWatch EMF lines
    spikes = [n for n in project.notifications() if n["event"] == "decline-spike"]
    assert len(spikes) == 1 and spikes[0]["declined"] >= 5
