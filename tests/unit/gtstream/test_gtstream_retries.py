"""Our clients (``gtstream.aws.Clients``: botocore's standard retry mode) retry SNS's ``Throttled``.

SNS answers a throttled Publish/PublishBatch ``Throttled`` (HTTP 429). botocore's standard mode
retries it only where botocore retries a 429 that the operation does not model (1.44's
``ThrottlingStatusCodeChecker``; botocore 1.40 has no such rule): ``Throttled`` is not in its list
of throttling codes and the SNS model gives ``ThrottledException`` no ``retryable`` trait. The
Lambda runtime's boto3 may be older than ours, so ``Clients`` registers botocore's own
``ThrottledRetryableChecker`` for it (``gtstream.aws.retry_sns_throttled``); the tests take the
status rule away to show the retry does not rest on it. They answer PublishBatch through botocore's
``before-send`` hook (the request goes through signing, parsing and the retry handler, not HTTP)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import botocore.retries.standard
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from gtstream_world import REGION
from tests.inprocess import offline_credentials

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
    offline_credentials(monkeypatch)
    # the retries and their count are tested, not botocore's real-time backoff between them
    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda *_: 0.0)


def answered(client: Any, answers: Answers) -> Any:
    client.meta.events.register("before-send.sns.PublishBatch", answers)
    return client


def without_the_status_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore as before its rule that retries an unmodeled 429 by its status."""
    checker = botocore.retries.standard.ThrottlingStatusCodeChecker
    monkeypatch.setattr(checker, "is_retryable", lambda *_: False)


@pytest.fixture(params=["botocore retries a 429 by status", "botocore without that rule"])
def status_rule(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Each test with botocore as installed and as before its 429 rule (no retry by status)."""
    if request.param == "botocore without that rule":
        without_the_status_rule(monkeypatch)
        return False
    return True


def test_without_the_status_rule_botocore_alone_does_not_retry_sns_throttled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the registered checker is for: a plain standard-mode client gives up at the first 429."""
    without_the_status_rule(monkeypatch)
    plain = boto3.session.Session(region_name=REGION).client(
        "sns", config=Config(retries={"mode": "standard", "max_attempts": 5})
    )
    answers = Answers(throttled=2)
    answered(plain, answers)

    with pytest.raises(plain.exceptions.ClientError, match="Throttled"):
        plain.publish_batch(TopicArn=TOPIC, PublishBatchRequestEntries=[{"Id": "0", "Message": "m"}])
    assert answers.attempts == 1


@pytest.mark.usefixtures("status_rule")
def test_sns_throttled_is_retried_by_our_clients() -> None:
    clients = Clients(REGION)
    answers = Answers(throttled=2)
    answered(clients.client("sns"), answers)

    assert Topics(clients).publish_batch(TOPIC, ["m"]) == []  # sent, on the third attempt
    assert answers.attempts == 3


@pytest.mark.usefixtures("status_rule")
def test_sns_throttled_on_every_attempt_fails_after_max_attempts() -> None:
    clients = Clients(REGION)
    answers = Answers(throttled=100)
    answered(clients.client("sns"), answers)

    assert Topics(clients).publish_batch(TOPIC, ["m"]) == [0]  # not sent: stays PENDING for later
    # Clients: standard mode, retries max_attempts 5 (botocore's Config: retries after the first)
    assert answers.attempts == 6
