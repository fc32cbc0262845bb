"""The docs-only boto3 walkthrough runs unchanged against the local cloud; the test plays the workers.

It follows "Create a Streaming Labeling Job with the SageMaker API" (the request of that page)
and "Monitor Labeling Job Status" (a Stopped event, and no event for the statuses AWS does not
document)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
from emulator_world import groundtruth_role

from gtlocal.testing import LocalCloud, aws_environment

SCRIPT = Path(__file__).with_name("aws_docs_walkthrough.py")


def test_walkthrough_runs_unchanged(cloud: LocalCloud) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        **aws_environment(cloud.endpoint),
    }
    name = "docs-walkthrough"
    # Given the Ground Truth execution role the page asks for (the emulator acts as it)
    role = groundtruth_role(
        boto3.client("iam"),
        "GroundTruthExecution",
        buckets=(f"{name}-input", f"{name}-output"),
        topics=(f"{name}-*",),
        kms=True,
    )
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--name", name, "--role-arn", role, "--timeout", "60", "--poll", "0.2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # When the manifest's object and the three published ones wait, workers label two.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            jobs = {j["name"] for j in cloud.control.jobs()}
            if name in jobs and len(cloud.control.job(name)["objects"]) == 4:
                assert cloud.control.workforce(name, label=2)["labeled"] == 2
                break
            time.sleep(0.1)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert lines[0] == f"created arn:aws:sagemaker:us-east-1:123456789012:labeling-job/{name}"
    assert (
        "status InProgress" in lines
        and "published 3" in lines
        and "labeled 2" in lines
        and "status Stopped" in lines
    )
    assert "events Stopped" in lines  # AWS documents events for Completed, Failed and Stopped only
    assert "output-topic 2 labeled 2" in lines
    # The labeled objects and, as the manifest it was fed, the two never labeled.
    manifest = next(line for line in lines if line.startswith("manifest "))
    assert manifest.endswith("lines 4 labeled 2")
    assert f"/output/{name}/manifests/output/output.manifest" in manifest
    assert len([line for line in lines if line.startswith("label s3://")]) == 2
