"""Max chain depth and the per-object failure limit stop the chain, with a recorded, notified reason."""

from __future__ import annotations

from collections import Counter

import boto3

from .conftest import Project


def stop(project: Project, index: int) -> None:
    boto3.client("sagemaker").stop_labeling_job(LabelingJobName=project.job_name(index))
    project.advance(5)
    project.run(reconcile=True)


def test_max_chain_depth_stops_chaining_on_a_permanently_declined_object(project: Project) -> None:
    project.deployment["lambda_environment"]["MAX_CHAIN_DEPTH"] = "2"
    project.drop_images(0, 1)
    project.run()
    for index in (1, 2):
        project.start_job_running(index)
        assert project.cloud.control.workforce(project.job_name(index), decline=1)["declined"] == 1
        stop(project, index)

    assert project.jobs() == [project.job_name(1), project.job_name(2)]
    item = project.project_item()
    assert item["last_decision"] == "stopped" and "max chain depth 2" in item["last_reason"]
    assert project.job_item(2)["decision"] == "stopped"
    stopped = [n for n in project.notifications() if n["event"] == "chain-stopped"]
    assert len(stopped) == 1 and "max chain depth" in stopped[0]["summary"]
    # The object is not lost: it stays PENDING, counted twice, and the audit says it is held back.
    (obj,) = project.objects()
    assert obj["state"] == "PENDING" and obj["failure_count"] == 2
    audit = project.audit()
    assert (audit.lost, audit.held_back, audit.failed) == (0, 1, 0)
    assert list(audit.held_back_keys.values()) == [item["last_reason"]]


def test_failure_limit_marks_the_object_failed_and_stops_the_chain(project: Project) -> None:
    project.deployment["lambda_environment"]["MAX_OBJECT_FAILURES"] = "2"
    project.drop_images(0, 2)
    project.run()
    project.start_job_running(1)
    assert project.cloud.control.workforce(project.job_name(1), label=1, decline=1) == {
        "labeled": 1,
        "declined": 1,
        "failed": 0,
    }
    stop(project, 1)
    project.start_job_running(2)
    assert project.cloud.control.workforce(project.job_name(2), fail=1)["failed"] == 1
    stop(project, 2)

    assert project.jobs() == [project.job_name(1), project.job_name(2)]
    assert Counter(o["state"] for o in project.objects()) == {"LABELED": 1, "FAILED": 1}
    failed = next(o for o in project.objects() if o["state"] == "FAILED")
    assert failed["failure_count"] == 2 and "consolidation failed" in failed["reason"]
    item = project.project_item()
    assert item["last_decision"] == "stopped" and "failure limit" in item["last_reason"]
    stopped = [n for n in project.notifications() if n["event"] == "chain-stopped"]
    assert len(stopped) == 1 and "failure limit" in stopped[0]["summary"]
    audit = project.audit()
    assert (audit.lost, audit.held_back, audit.failed, audit.labeled) == (0, 1, 1, 1)
    (reason,) = audit.held_back_keys.values()
    assert reason.startswith("per-object failure limit (2) reached after 2 attempts: ")
