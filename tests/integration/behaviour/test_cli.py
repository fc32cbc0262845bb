"""`gtlocal deploy` and `gtlocal run-events` as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import boto3

from gtcontract.deployment import load_deployment_file
from gtlocal.testing import LocalCloud

from .conftest import image_bytes


def gtlocal(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gtlocal", *args], capture_output=True, text=True, timeout=120
    )


def test_deploy_then_run_events_drains_the_queues(cloud: LocalCloud, tmp_path: Path) -> None:
    document = tmp_path / "deployment.json"
    deployed = gtlocal("deploy", "--prefix", "cli", "--output", str(document), "--publish-config")
    assert deployed.returncode == 0, deployed.stderr
    deployment = load_deployment_file(document).document  # the contract's parser accepts it
    assert set(deployment["queues"]) == {"intake", "job_events", "worker_events", "labels"}
    boto3.client("s3").put_object(Bucket=deployment["buckets"]["drop"], Key="a b.jpg", Body=image_bytes(1))

    ran = gtlocal("run-events", "--deployment", str(document), "--reconcile")

    assert ran.returncode == 0, ran.stderr
    assert "intake: batch of" in ran.stdout and "reconcile: 1 run(s)" in ran.stdout
    jobs = boto3.client("sagemaker").list_labeling_jobs()["LabelingJobSummaryList"]
    assert [j["LabelingJobName"] for j in jobs] == ["cli-0001"]


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    missing = gtlocal("run-events", "--deployment", str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and "deployment file not found" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    bad = gtlocal("deploy", "--prefix", "bad_prefix!")
    assert bad.returncode == 2 and "invalid project prefix 'bad_prefix!': use 1-56 letters" in bad.stderr
