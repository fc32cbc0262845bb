"""Shared fixtures: the local cloud (moto + Ground Truth emulator) for integration tests.

- ``local_cloud`` (session): starts ``python -m gtlocal serve`` on a free port unless
  ``GTLOCAL_ENDPOINT`` is set, points boto3 at it through the standard environment variables,
  and yields ``gtlocal.testing.LocalCloud(endpoint, region, control)``.
- ``cloud`` (function): resets moto and the emulator (settings included) before the test.
- Tests under ``tests/integration/`` get the ``integration`` marker.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from gtlocal.client import GroundTruthControl
from gtlocal.testing import (
    LocalCloud,
    aws_environment,
    reset_local_cloud,
    running_local_cloud,
    wait_for_health,
)

INTEGRATION_DIR = Path(__file__).parent / "integration"
REGION = "us-east-1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def local_cloud() -> Iterator[LocalCloud]:
    saved = {
        k: os.environ.get(k)
        for k in (
            "AWS_ENDPOINT_URL",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_DEFAULT_REGION",
            "AWS_PROFILE",
        )
    }

    def _use(endpoint: str) -> LocalCloud:
        os.environ.update(aws_environment(endpoint, REGION))
        os.environ.pop("AWS_PROFILE", None)
        return LocalCloud(endpoint=endpoint, region=REGION, control=GroundTruthControl(endpoint))

    try:
        external = os.environ.get("GTLOCAL_ENDPOINT")
        if external:
            wait_for_health(external)
            yield _use(external)
        else:
            with running_local_cloud() as (endpoint, _proc):
                yield _use(endpoint)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def cloud(local_cloud: LocalCloud) -> LocalCloud:
    reset_local_cloud(local_cloud)
    return local_cloud
