"""Our clients (``gtstream.aws.Clients``: botocore's standard retry mode) retry SNS's ``Throttled``.

Why they do: ``Throttled`` (HTTP 429) is not in botocore's list of throttling codes and the SNS
model's ``ThrottledException`` has no ``retryable`` trait, but Publish and PublishBatch do not list
that error, and standard mode retries a 429 that is not one of the operation's modeled errors (its
``ThrottlingStatusCodeChecker``). These tests answer PublishBatch through botocore's own
``before-send`` hook (the request goes through signing, parsing and the retry handler, not HTTP)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import botocore.retries.standard
import pytest
from botocore.awsrequest import AWSResponse
from gtstream_world import REGION

from gtstream.aws import Clients, Topics

TOPIC = f"arn:aws:sns:{REGION}:123456789012:cats-input"
THROTTLED = (
    b'<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type>'
    b"<Code>Throttled</Code><Message>Rate exceeded</Message></Error><RequestId>r</RequestId></ErrorResponse>"
)
SENT = (
    b'<PublishBatchResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishBatchResult>'
    b"<Successful><member><Id>0</Id><MessageId>m0</MessageId></member></Successful><Failed/>"
    b"</PublishBatchResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishBatchResponse>"
)


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


class Answers:
    """The first ``throttled`` attempts are answered 429 Throttled, the next one 200."""

    def __init__(self, throttled: int) -> None:
        self.throttled = throttled
        self.attempts = 0

    def __call__(self, request: Any, **_: Any) -> AWSResponse:
        self.attempts += 1
        if self.attempts <= self.throttled:
            return AWSResponse(request.url, 429, {"Content-Type": "text/xml"}, _Raw(THROTTLED))
        return AWSResponse(request.url, 200, {"Content-Type": "text/xml"}, _Raw(SENT))


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    # the retries and their count are tested, not botocore's real-time backoff between them
    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda *_: 0.0)


def answered(client: Any, answers: Answers) -> Any:
    client.meta.events.register("before-send.sns.PublishBatch", answers)
    return client


def test_sns_throttled_is_retried_by_our_clients() -> None:
    clients = Clients(REGION)
    answers = Answers(throttled=2)
    answered(clients.client("sns"), answers)

    assert Topics(clients).publish_batch(TOPIC, ["m"]) == []  # sent, on the third attempt
    assert answers.attempts == 3


def test_sns_throttled_on_every_attempt_fails_after_max_attempts() -> None:
    clients = Clients(REGION)
    answers = Answers(throttled=100)
    answered(clients.client("sns"), answers)

    assert Topics(clients).publish_batch(TOPIC, ["m"]) == [0]  # not sent: stays PENDING for later
    # Clients: standard mode, retries max_attempts 5 (botocore's Config: retries after the first)
    assert answers.attempts == 6


def test_publish_operations_do_not_model_sns_throttled_so_its_429_is_retried_by_status() -> None:
    """The condition the retry rests on: were a model to list ``ThrottledException`` for these
    operations without the ``retryable`` trait, standard mode would stop retrying it (a modeled 429
    is the model's to decide) and this fails first."""
    model = boto3.session.Session(region_name=REGION).client("sns").meta.service_model
    for operation in ("Publish", "PublishBatch"):
        errors = {shape.name for shape in model.operation_model(operation).error_shapes}
        assert "ThrottledException" not in errors or model.shape_for("ThrottledException").metadata.get(
            "retryable"
        )
