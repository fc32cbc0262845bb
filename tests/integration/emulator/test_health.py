"""The local cloud answers on one port and its process is gone after use (start time: `make bench`)."""

from __future__ import annotations

import boto3

from gtlocal.testing import LocalCloud, running_local_cloud


def test_health_and_moto_behind_one_port(cloud: LocalCloud) -> None:
    assert cloud.control.health()["status"] == "ok"
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="health-bucket")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["health-bucket"]


def test_a_started_local_cloud_answers_and_stops_with_its_context() -> None:
    with running_local_cloud() as (endpoint, proc):
        assert endpoint.startswith("http://127.0.0.1:")
        assert proc.poll() is None
    assert proc.returncode is not None, "the server process must be gone after the context"
