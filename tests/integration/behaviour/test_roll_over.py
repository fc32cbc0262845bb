"""``"on_publish": "roll-over"`` on the local cloud: a newer published config stops the running job
once, and the normal end handling chains it at once with the new config; nothing is lost and
nothing is labeled twice. The default (``"next-job"``) leaves the running job alone.

The decision itself (which configs roll over, once per job) is unit-tested in
``tests/unit/gtstream/test_roll_over.py``; the pipeline that publishes on ``git push`` in
``tests/integration/pipeline``.
"""

from __future__ import annotations

from collections import Counter

import boto3

from gtlocal.deploy import publish_project_config

from .conftest import Project
from .test_chaining import child_manifest_lines  # one helper, kept where main keeps it


def given_job_1_running_with_one_of_three_labeled(project: Project) -> None:
    project.drop_images(0, 3)
    project.run()
    project.start_job_running(1)
    assert project.cloud.control.workforce(project.job_name(1), label=1)["labeled"] == 1
    assert project.job_item(1)["config_version"] == "test-1"


def test_a_roll_over_config_stops_the_running_job_once_and_chains_it_with_the_new_config(
    project: Project,
) -> None:
    given_job_1_running_with_one_of_three_labeled(project)

    # When a config with new categories and "on_publish": "roll-over" is published, and the
    # scheduled reconcile runs (twice: the second run must not stop anything again)
    publish_project_config(
        project.deployment, version="test-2", categories=["cat", "dog", "fox"], on_publish="roll-over"
    )
    project.run(reconcile=True)
    project.advance(5)  # Stopping -> Stopped
    project.run(reconcile=True)

    # Then job 1 was stopped for test-2, once, and job 2 was chained from it with the new config
    assert project.cloud.control.job(project.job_name(1))["status"] == "Stopped"
    assert project.job_item(1)["roll_over_to"] == "test-2"
    assert project.jobs() == [project.job_name(1), project.job_name(2)]
    assert project.job_item(2)["config_version"] == "test-2"
    described = boto3.client("sagemaker").describe_labeling_job(LabelingJobName=project.job_name(2))
    assert described["LabelingJobStatus"] in ("Initializing", "InProgress")
    # ...its manifest keeps job 1's label and re-offers the two objects job 1 did not label
    lines = child_manifest_lines(project, 2)
    assert len(lines) == 3 and sum("category" in line for line in lines) == 1
    # ...and it runs on: its config is the published one, so reconcile does not stop it again
    project.start_job_running(2)
    project.run(reconcile=True)
    view = project.cloud.control.job(project.job_name(2))
    assert view["status"] == "InProgress" and view["categories"] == ["cat", "dog", "fox"]
    assert project.label_all(2) == 2
    boto3.client("sagemaker").stop_labeling_job(LabelingJobName=project.job_name(2))
    project.advance(5)
    project.run(reconcile=True)
    assert Counter(o["state"] for o in project.objects()) == {"LABELED": 3}
    assert project.jobs() == [project.job_name(1), project.job_name(2)]
    ended = [n for n in project.notifications() if n["event"] == "job-ended"]
    assert Counter(n["job"] for n in ended) == {project.job_name(1): 1, project.job_name(2): 1}
    assert project.lost() == []


def test_by_default_a_new_config_waits_for_the_next_job(project: Project) -> None:
    given_job_1_running_with_one_of_three_labeled(project)
    publish_project_config(project.deployment, version="test-2", categories=["cat", "dog", "fox"])
    project.run(reconcile=True)
    project.advance(5)
    project.run(reconcile=True)
    assert project.cloud.control.job(project.job_name(1))["status"] == "InProgress"
    assert project.jobs() == [project.job_name(1)]
    assert "roll_over_to" not in project.job_item(1)
