"""moto in process for the contract tests that touch S3 (nothing leaves the process)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.inprocess import in_process_aws

REGION = "us-east-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An empty in-process AWS (moto) with dummy credentials; no endpoint of a running local cloud."""
    with in_process_aws(monkeypatch, REGION):
        yield
