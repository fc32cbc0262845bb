"""Labels are recorded as Ground Truth publishes them on the output topic (issue 13, live labels):
`gtctl status --json` shows them while the job runs, and the end-of-job merge leaves them as they are."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import boto3
from click.testing import CliRunner

from gtctl.__main__ import cli
from gtctl.report import build_timeline

from .conftest import Project


def _status(project: Project) -> dict[str, Any]:
    """``gtctl --deployment FILE status --json``."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "deployment.json"
        path.write_text(json.dumps(project.deployment))
        result = CliRunner().invoke(cli, ["--deployment", str(path), "status", "--json"])
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def _labeled(project: Project) -> dict[str, dict[str, Any]]:
    return {str(o["object_id"]): o for o in project.objects() if o["state"] == "LABELED"}


def test_labels_show_in_status_while_the_job_runs_and_the_merge_keeps_them(project: Project) -> None:
    # Given a running job with 4 images, 3 of which the workers label.
    project.drop_images(0, 4)
    project.run()
    project.start_job_running(1)
    job = project.job_name(1)
    assert project.cloud.control.workforce(job, label=3)["labeled"] == 3

    # When the Lambdas run (the labels queue), before the job ends:
    stats = project.run()
    assert stats.succeeded.get("labels") and not stats.dead_letters.get("labels")

    # Then gtctl status --json shows the 3 labels, the job still InProgress and not ended.
    status = _status(project)
    assert status["totals"]["LABELED"] == 3 and status["totals"]["SENT"] == 1
    (row,) = status["jobs"]
    assert (row["name"], row["status"], row["ended_at"]) == (job, "InProgress", None)
    live = _labeled(project)
    assert {o["job"] for o in live.values()} == {job}
    for obj in live.values():  # the label attribute as the output line carries it, with its metadata
        label = json.loads(obj["label"])
        assert set(label) == {"category", "category-metadata"}
        assert label["category-metadata"]["job-name"] == f"labeling-job/{job.lower()}"
    assert build_timeline(project.objects(), []).rows[-1]["labeled"] == 3  # gtctl report

    # When an output message comes again (SNS delivers at least once), nothing changes.
    obj = next(iter(live.values()))
    line = {"source-ref": obj["input_uri"], **json.loads(obj["label"])}
    boto3.client("sns", region_name=project.deployment["region"]).publish(
        TopicArn=project.deployment["topics"]["output"], Message=json.dumps(line)
    )
    assert project.run().succeeded.get("labels") == 1
    assert _labeled(project) == live

    # When the job ends, its merge writes nothing over the live labels (it agrees with them).
    boto3.client("sagemaker").stop_labeling_job(LabelingJobName=job)
    project.advance(5)
    project.run()
    assert project.job_item(1)["ended_at"]
    assert _labeled(project) == live
    assert _status(project)["totals"]["LABELED"] == 3
    assert project.lost() == []
