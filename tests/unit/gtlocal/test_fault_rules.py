"""gtlocal.faults without a server: counting, matching, holding and ordering."""

from __future__ import annotations

from typing import Any

import pytest

from gtlocal.errors import ControlError
from gtlocal.faults import KILL_HEADER, CallFaults, EventFaults, fault_response


def test_a_call_fault_matches_its_operation_only_and_counts_down() -> None:
    faults = CallFaults()
    fault = faults.add({"service": "SNS", "operation": "Publish", "count": 2})
    assert (fault.code, fault.status) == ("Throttled", 429)
    assert faults.take("sns", "PublishBatch") is None
    assert faults.take("sqs", "Publish") is None
    assert faults.take("sns", "Publish") is fault and faults.active
    assert faults.take("sns", "Publish") is fault and not faults.active
    assert faults.take("sns", "Publish") is None
    assert [i["call"] for i in faults.injected] == ["sns:Publish", "sns:Publish"]
    error = faults.add({"service": "dynamodb", "operation": "Query", "kind": "error"})
    assert (error.code, error.status) == ("InternalServerError", 500)
    custom = faults.add({"service": "s3", "operation": "GetObject", "code": "SlowDown", "status": 503})
    assert (custom.code, custom.status) == ("SlowDown", 503)


def test_a_kill_fault_answers_the_services_internal_error_marked_for_the_handler_process() -> None:
    fault = CallFaults().add({"service": "sagemaker", "operation": "CreateLabelingJob", "kind": "kill"})
    assert (fault.code, fault.status) == ("InternalFailure", 500)
    answer = fault_response("sagemaker", "json", fault)
    assert answer.status_code == 500 and answer.headers[KILL_HEADER] == "kill"
    error = CallFaults().add({"service": "sagemaker", "operation": "CreateLabelingJob", "kind": "error"})
    assert KILL_HEADER not in fault_response("sagemaker", "json", error).headers


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"operation": "Publish"}, "service must be"),
        ({"service": "sns", "operation": "Publish", "kind": "boom"}, "kind must be one of"),
        ({"service": "sns", "operation": "Publish", "count": True}, "count must be"),
        ({"service": "sns", "operation": "Publish", "kind": "delay", "seconds": 61}, "seconds must be"),
        ({"service": "sns", "operation": "Publish", "extra": 1}, "unknown field"),
    ],
)
def test_bad_call_faults_are_refused(body: dict[str, Any], message: str) -> None:
    with pytest.raises(ControlError, match=message):
        CallFaults().add(body)


def test_held_events_arrive_when_due_and_reversed_ones_newest_first() -> None:
    faults = EventFaults()
    faults.add({"action": "delay", "events": "state", "count": 3, "seconds": 100, "reverse": True})
    faults.add({"action": "lose", "events": "task", "count": 1})
    delivered: list[str] = []

    def deliver(entries: list[dict[str, Any]]) -> None:
        delivered.extend(e["n"] for e in entries)

    assert faults.route("task", [{"n": "task"}], 0.0, deliver)  # lost
    for n, at in (("first", 0.0), ("second", 10.0), ("third", 20.0)):
        assert faults.route("state", [{"n": n}, {"n": n}], at, deliver)  # held, both copies
    assert not faults.route("state", [{"n": "fourth"}], 30.0, deliver)  # the count is spent
    assert not faults.route("task", [{"n": "task"}], 30.0, deliver)

    assert faults.due(99.0) == []  # nothing is due before its 100 s
    for held in faults.due(200.0):
        held.deliver(held.entries)
    assert delivered == ["third", "third", "second", "second", "first", "first"]
    assert faults.view() | {"pending": []} == {"pending": [], "held": 0, "lost": 1, "delivered_late": 3}


def test_a_delay_needs_time_and_clear_forgets_everything() -> None:
    faults = EventFaults()
    with pytest.raises(ControlError, match="a delay needs seconds"):
        faults.add({"action": "delay"})
    faults.add({"action": "delay", "seconds": 5, "events": "any"})
    assert faults.route("task", [{}], 0.0, lambda _: None)
    faults.clear()
    assert faults.view() == {"pending": [], "held": 0, "lost": 0, "delivered_late": 0}
