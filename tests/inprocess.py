"""moto in process for unit tests: dummy credentials, nothing points at a running local cloud.

Import as ``from tests.inprocess import in_process_aws``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber

_one_at_a_time = threading.RLock()


def offline_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials, and nothing (endpoint, profile, session token) that points at a real or
    running cloud: for clients whose requests a test answers itself."""
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@contextmanager
def in_process_aws(monkeypatch: pytest.MonkeyPatch, region: str = "us-east-1") -> Iterator[None]:
    """An empty in-process AWS (moto), with :func:`offline_credentials` meanwhile."""
    offline_credentials(monkeypatch)
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)
    # moto's backends are not safe for concurrent requests (a TransactWriteItems copies the table
    # while another thread writes an item); real DynamoDB makes each write atomic, and the local
    # cloud serialises DynamoDB requests for the same reason (gtlocal.server). In process, moto
    # answers one request at a time (the job end writes from a pool of threads).
    real_call = BotocoreStubber.__call__

    def one_at_a_time(self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
        with _one_at_a_time:
            return real_call(self, event_name, request, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", one_at_a_time)
    with mock_aws():
        yield
