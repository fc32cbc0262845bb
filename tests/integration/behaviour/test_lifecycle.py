"""Images dropped at any moment of a job's life are all labeled; the ledger accounts for every drop."""

from __future__ import annotations

from collections import Counter

import boto3

from .conftest import Project


def test_images_dropped_before_during_and_after_jobs_are_all_labeled(project: Project) -> None:
    # Given no job yet: 3 images dropped -> the first job is created, objects wait PENDING.
    project.drop_images(0, 3, folder="before job")
    project.run()
    assert project.jobs() == [project.job_name(1)]
    assert project.cloud.control.job(project.job_name(1))["status"] == "Initializing"

    # When 2 more arrive while the job is Initializing, nothing is sent (it would be discarded).
    project.drop_images(3, 2, folder="initializing")
    project.run()
    assert Counter(o["state"] for o in project.objects()) == {"PENDING": 5}

    # Then InProgress flushes all 5; 2 more dropped while InProgress are sent directly.
    project.start_job_running(1)
    project.drop_images(5, 2, folder="in progress ü")
    project.run()
    view = project.cloud.control.job(project.job_name(1))
    assert len(view["objects"]) == 7 and not view["discarded"]
    assert project.label_all(1) == 7

    # When the job stops and 2 images are dropped after its end, a chained job labels them.
    boto3.client("sagemaker").stop_labeling_job(LabelingJobName=project.job_name(1))
    project.advance(5)
    project.drop_images(7, 2, folder="after end")
    project.run()
    assert project.jobs() == [project.job_name(1), project.job_name(2)]
    project.start_job_running(2)
    assert project.label_all(2) == 2
    boto3.client("sagemaker").stop_labeling_job(LabelingJobName=project.job_name(2))
    project.advance(5)
    project.run(reconcile=True)

    # Then every dropped image is LABELED, exactly once, and nothing is lost.
    states = Counter(o["state"] for o in project.objects())
    assert states == {"LABELED": 9}
    assert project.lost() == []
    assert project.jobs() == [project.job_name(1), project.job_name(2)]
    assert project.project_item()["last_decision"] == "idle"


def test_the_same_image_dropped_twice_is_one_object_and_one_task(project: Project) -> None:
    from .conftest import image_bytes

    project.drop_images(0, 1)
    project.run()
    project.start_job_running(1)
    project.drop("again/first.jpg", image_bytes(0))
    project.drop("again/second ü.jpg", image_bytes(0))
    project.run()

    (obj,) = project.objects()
    assert sorted(obj["drop_keys"]) == ["again/first.jpg", "again/second ü.jpg", "batch/img 0.jpg"]
    assert len(project.cloud.control.job(project.job_name(1))["objects"]) == 1
    input_keys = project.s3().list_objects_v2(Bucket=project.deployment["buckets"]["input"])["Contents"]
    assert [o["Key"] for o in input_keys] == [f"images/{obj['object_id']}.jpg"]
    assert project.lost() == []
