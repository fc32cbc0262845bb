"""Helpers for tests: start a local cloud on a free port and describe it as ``LocalCloud``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from gtlocal.client import ControlApiError, GroundTruthControl


@dataclass(frozen=True)
class LocalCloud:
    endpoint: str
    region: str
    control: GroundTruthControl


def reset_local_cloud(cloud: LocalCloud) -> None:
    """Reset moto's state and the emulator (jobs, clock, settings)."""
    request = urllib.request.Request(f"{cloud.endpoint}/moto-api/reset", data=b"", method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - local endpoint
        response.read()
    cloud.control.reset()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_health(
    endpoint: str, timeout: float = 15.0, proc: subprocess.Popen[bytes] | None = None
) -> float:
    """Wait until ``/_groundtruth/health`` answers; return the seconds it took."""
    control = GroundTruthControl(endpoint, timeout=2)
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"local cloud exited with code {proc.returncode} before answering")
        try:
            control.health()
            return time.monotonic() - started
        except (OSError, ControlApiError):
            time.sleep(0.05)
    raise TimeoutError(f"local cloud at {endpoint} did not answer within {timeout} s")


@contextmanager
def running_local_cloud(port: int | None = None) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start ``python -m gtlocal serve`` on a free port; stop it (and wait) at exit."""
    port = port or free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "GTLOCAL_AWS_ENDPOINT"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gtlocal", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=None,
    )
    try:
        wait_for_health(endpoint, proc=proc)
        yield endpoint, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def aws_environment(endpoint: str, region: str = "us-east-1") -> dict[str, str]:
    """The environment variables that point boto3 at the local cloud."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": region,
    }


def allow_delivery(sqs: Any, queue_url: str, service: str, source_arn: str) -> None:
    """Give ``queue_url`` the queue policy AWS requires before ``service`` (``s3.amazonaws.com``,
    ``events.amazonaws.com``, ``sns.amazonaws.com``) delivers to it from ``source_arn`` (the local
    cloud drops deliveries the policy does not allow, as AWS does)."""
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    grant = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sqs:SendMessage",
        "Resource": arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": source_arn}},
    }
    policy = {"Version": "2012-10-17", "Statement": [grant]}
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
