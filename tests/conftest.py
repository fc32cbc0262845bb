"""Shared fixtures: the local cloud (moto + Ground Truth emulator) for integration tests.

- ``local_cloud`` (session): starts ``python -m gtlocal serve`` on a free port unless
  ``GTLOCAL_ENDPOINT`` is set, points boto3 at it through the standard environment variables,
  and yields ``gtlocal.testing.LocalCloud(endpoint, region, control)``.
- ``cloud`` (function): resets moto and the emulator (settings included) before the test.
- Tests under ``tests/integration/`` get the ``integration`` marker.

The local cloud this session starts records every IAM authorization of a restricted principal to
``build/iam/calls.jsonl`` (``GTLOCAL_IAM_LOG``), and the behaviour suite's runs per deployment
flavour to ``build/iam/calls/<flavour>.jsonl`` with the roles' policies in ``build/iam/policies.json``
(``tests/iam_recording.py``), from which ``scripts/iam_coverage.py`` builds docs/iam-coverage.md.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.iam_recording import start_session

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
    # pytest's MonkeyPatch restores every variable it touched when the session ends.
    with pytest.MonkeyPatch.context() as env:

        def _use(endpoint: str) -> LocalCloud:
            for key, value in aws_environment(endpoint, REGION).items():
                env.setenv(key, value)
            env.delenv("AWS_PROFILE", raising=False)
            return LocalCloud(endpoint=endpoint, region=REGION, control=GroundTruthControl(endpoint))

        external = os.environ.get("GTLOCAL_ENDPOINT")
        if external:
            wait_for_health(external)
            yield _use(external)
        else:
            env.setenv("GTLOCAL_IAM_LOG", str(start_session()))  # the server's recorder log
            with running_local_cloud() as (endpoint, _proc):
                yield _use(endpoint)


@pytest.fixture
def cloud(local_cloud: LocalCloud) -> LocalCloud:
    reset_local_cloud(local_cloud)
    return local_cloud
