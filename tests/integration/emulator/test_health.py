from __future__ import annotations

import time

import boto3

from gtlocal.testing import LocalCloud, running_local_cloud


def test_health_and_moto_behind_one_port(cloud: LocalCloud) -> None:
    assert cloud.control.health()["status"] == "ok"
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="health-bucket")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["health-bucket"]


def test_startup_under_three_seconds() -> None:
    started = time.monotonic()
    with running_local_cloud() as (endpoint, proc):
        elapsed = time.monotonic() - started
        assert endpoint.startswith("http://127.0.0.1:")
    assert proc.returncode is not None, "the server process must be gone after the context"
    assert elapsed < 3.0, f"local cloud took {elapsed:.2f} s to answer"
