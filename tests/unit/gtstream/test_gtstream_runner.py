"""The local runner's pieces that need no cloud: the SQS event shape and reading deployments."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from tests.documents import deployment_document

from gtlocal.runner import DeploymentError, lambda_environment, load_deployment, sqs_event

DOC = deployment_document("x")


def test_sqs_event_has_the_shape_lambda_sends() -> None:
    event = sqs_event(
        [
            {
                "MessageId": "m1",
                "ReceiptHandle": "r1",
                "Body": "{}",
                "Attributes": {"ApproximateReceiveCount": "2"},
            }
        ],
        "arn:aws:sqs:us-east-1:123456789012:q",
        "us-east-1",
    )
    (record,) = event["Records"]
    assert record["messageId"] == "m1" and record["eventSource"] == "aws:sqs"
    assert record["attributes"]["ApproximateReceiveCount"] == "2"
    assert record["eventSourceARN"].endswith(":q") and len(record["md5OfBody"]) == 32


def test_deployment_from_a_file_or_terraform_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "d.json"
    path.write_text(json.dumps(DOC))
    assert load_deployment(path)["region"] == "us-east-1"
    fake = tmp_path / "bin" / "terraform"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\necho '{json.dumps(DOC)}'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    assert load_deployment(terraform_dir=tmp_path)["lambda_environment"]["PROJECT_PREFIX"] == "x"
    path.write_text(json.dumps({"region": "us-east-1"}))
    with pytest.raises(DeploymentError, match="queues: is required but missing") as caught:
        load_deployment(path)
    assert "handlers: is required" in str(caught.value) and "lambda_environment: is required" in str(
        caught.value
    )
    with pytest.raises(DeploymentError, match="give --deployment FILE or --terraform-dir DIR"):
        load_deployment()


def test_lambda_environment_is_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROJECT_PREFIX", raising=False)
    with lambda_environment(DOC):
        assert os.environ["PROJECT_PREFIX"] == "x"
    assert "PROJECT_PREFIX" not in os.environ
