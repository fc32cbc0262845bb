"""The Lambdas follow a new job to InProgress themselves: no InProgress event is needed.

AWS documents labeling-job state-change events only for Completed, Failed and Stopped ("Monitor
Labeling Job Status"), and objects are sent to a streaming job only once it is InProgress ("Send
data to a streaming labeling job"). The emulator's documented default emits exactly those events.
"""

from __future__ import annotations

from collections import Counter

import boto3

from gtstream.job_checks import check_delay

from .conftest import Project

STEP = 30  # seconds of emulated time between two runs of what is due
INITIALIZING = 200  # between the 2nd (180 s) and 3rd (420 s) check of the default schedule


def test_images_dropped_while_initializing_reach_it_within_one_check_interval_with_no_inprogress_event(
    project: Project,
) -> None:
    # Given the documented emulator (no InProgress event) where a job initializes for 200 s, and a
    # recorder of every state-change event
    assert project.emulator["state_change_events"] == "terminal"
    project.cloud.control.update_settings(initializing_seconds=INITIALIZING)
    project.record_job_state_events()
    job = project.job_name(1)
    first_delay = int(project.deployment["lambda_environment"].get("JOB_CHECK_SECONDS", "60"))

    # When images are dropped before the first job exists and while it is Initializing
    project.drop_images(0, 3, folder="before job")
    project.run()
    assert project.jobs() == [job]
    created = boto3.client("sagemaker").describe_labeling_job(LabelingJobName=job)["CreationTime"].timestamp()
    project.drop_images(3, 2, folder="initializing")
    project.run()
    assert Counter(o["state"] for o in project.objects()) == {"PENDING": 5}

    # ... and emulated time passes in small steps, the Lambdas running whatever is due after each
    in_progress_at = reached_at = None
    now = project.cloud.control.now() - created
    while reached_at is None and now < INITIALIZING + 2 * 900:
        now = project.cloud.control.advance_clock(STEP) - created
        project.run()
        view = project.cloud.control.job(job)
        if view["status"] == "Initializing":
            assert view["objects"] == [], "an object was sent while the job was Initializing"
            continue
        assert view["status"] == "InProgress"
        in_progress_at = in_progress_at if in_progress_at is not None else now
        if len(view["objects"]) == 5:
            reached_at = now

    # Then the job turned InProgress and the next check sent all five to it, within that check's
    # interval (the Lambdas run only at the test's steps, so a check due between two steps runs
    # at the next one: one STEP of slack), and no InProgress event was ever emitted.
    assert in_progress_at is not None and reached_at is not None, "the objects never reached the job"
    attempt = int(project.job_item(1)["check_attempt"]) + 1  # the check that found it InProgress
    interval = check_delay(attempt, first_delay)
    assert attempt > 1 and sum(check_delay(n, first_delay) for n in range(1, attempt)) < INITIALIZING
    assert reached_at - in_progress_at <= interval + STEP, (in_progress_at, reached_at, attempt, interval)
    view = project.cloud.control.job(job)
    assert view["discarded"] == []
    assert Counter(o["state"] for o in project.objects()) == {"SENT": 5}
    assert project.job_state_events() == []

    # The recorder does see the events AWS documents: stopping the job emits Stopped.
    boto3.client("sagemaker").stop_labeling_job(LabelingJobName=job)
    project.advance(5)
    project.run()
    assert project.job_state_events() == [(job, "Stopped")]
