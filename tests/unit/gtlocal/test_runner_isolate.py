"""``gtlocal.runner.invoke(isolate=True)``: an invocation in a forked child process, as Lambda runs a
function in an execution environment of its own; a ``kill`` fault's answer ends that process."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from tests.inprocess import offline_credentials

from gtlocal.faults import KILL_HEADER
from gtlocal.runner import HandlerCrashed, HandlerFailed, LambdaContext, invoke
from gtstream.aws import Clients, error_code

CONTEXT = LambdaContext("cats-intake")
REGION = "us-east-1"


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    offline_credentials(monkeypatch)


def test_the_answer_of_a_forked_invocation_comes_back_and_its_memory_stays_there() -> None:
    seen: list[int] = []

    def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        seen.append(os.getpid())
        return {"batchItemFailures": [{"itemIdentifier": event["id"]}], "pid": os.getpid()}

    answer = invoke(handler, {"id": "m1"}, CONTEXT, isolate=True)

    assert answer["batchItemFailures"] == [{"itemIdentifier": "m1"}]
    assert answer["pid"] != os.getpid()  # it ran in another process
    assert seen == []  # what the invocation changed in memory stayed in the child


def test_an_error_in_the_child_fails_the_invocation_with_its_type_and_message() -> None:
    def handler(_event: dict[str, Any], _context: Any) -> None:
        raise ValueError("bad record")

    with pytest.raises(HandlerFailed, match="ValueError: bad record"):
        invoke(handler, {}, CONTEXT, isolate=True)


def test_a_child_that_dies_is_a_crashed_invocation() -> None:
    def handler(_event: dict[str, Any], _context: Any) -> None:
        try:
            os.kill(os.getpid(), signal.SIGKILL)
        finally:
            print("never printed")

    with pytest.raises(HandlerCrashed, match="SIGKILL"):
        invoke(handler, {}, CONTEXT, isolate=True)


def kill_marked(request: Any, **_: Any) -> AWSResponse:
    """What the local cloud answers a call met by a ``kill`` fault."""
    body = (
        b'<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Receiver</Type>'
        b"<Code>InternalError</Code><Message>kill</Message></Error><RequestId>r</RequestId></ErrorResponse>"
    )
    return AWSResponse(request.url, 500, {KILL_HEADER: "kill"}, _Raw(body))


def test_a_call_answered_with_the_kill_mark_ends_the_handler_process_before_any_retry() -> None:
    clients = Clients(REGION)
    parent_client = clients.client("sns")

    def handler(_event: dict[str, Any], _context: Any) -> None:
        sns = clients.client("sns")  # the child's own client (its parent's pool is not shared)
        assert sns is not parent_client
        sns.meta.events.register("before-send.sns.Publish", kill_marked)
        try:
            sns.publish(TopicArn=f"arn:aws:sns:{REGION}:123456789012:t", Message="m")
        finally:
            raise AssertionError("the process should have died at the marked answer")

    with pytest.raises(HandlerCrashed, match="SIGKILL"):
        invoke(handler, {}, CONTEXT, isolate=True)


def test_without_isolation_the_mark_is_only_an_internal_error() -> None:
    """The runner's own process (and any other client) never dies of a kill fault."""
    clients = Clients(REGION)
    sns = clients.client("sns")
    sns.meta.events.register("before-send.sns.Publish", kill_marked)

    def handler(_event: dict[str, Any], _context: Any) -> str:
        try:
            sns.publish(TopicArn=f"arn:aws:sns:{REGION}:123456789012:t", Message="m")
        except Exception as exc:
            return error_code(exc)
        return "sent"

    with pytest.MonkeyPatch.context() as patch:
        import botocore.retries.standard

        patch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda *_: 0.0)
        assert invoke(handler, {}, CONTEXT, isolate=False) == "InternalError"
