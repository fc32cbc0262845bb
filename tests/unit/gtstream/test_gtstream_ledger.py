"""Ledger transitions against moto's in-process DynamoDB (the table of docs/interfaces.md section 4)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from tests.inprocess import in_process_aws

from gtstream.aws import Clients
from gtstream.ledger import Ledger, table_definition


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ledger]:
    with in_process_aws(monkeypatch):
        boto3.client("dynamodb", region_name="us-east-1").create_table(**table_definition("t"))
        yield Ledger("t", Clients("us-east-1"), now=clock)


def test_same_image_twice_is_one_object_with_both_drop_keys(ledger: Ledger) -> None:
    assert ledger.add_object("o1", "s3://in/images/o1.jpg", "a.jpg") is True
    assert ledger.add_object("o1", "s3://in/images/o1.jpg", "copy of a.jpg") is False
    item = ledger.get_object("o1")
    assert item is not None and item["state"] == "PENDING" and item["drop_keys"] == ["a.jpg", "copy of a.jpg"]


def test_a_batch_record_splits_at_the_transaction_limit_and_keeps_every_drop(ledger: Ledger) -> None:
    """20 objects with a drop each (40 actions) and one object dropped under 30 keys: within
    TRANSACTION_ITEMS actions per request, an object's drops after it; all recorded once."""
    from collections import Counter

    from gtstream.ledger import TRANSACTION_ITEMS

    ddb = ledger._clients.client("dynamodb")
    sizes: list[int] = []
    counts: Counter[str] = Counter()
    ddb.meta.events.register(
        "before-parameter-build.dynamodb.TransactWriteItems",
        lambda params, **_: sizes.append(len(params["TransactItems"])),
    )
    ddb.meta.events.register("request-created", lambda operation_name, **_: counts.update([operation_name]))
    claims = [(f"o{n}", f"s3://in/images/o{n}.jpg", [f"d{n}.jpg"]) for n in range(20)]
    many = [f"many/{n}.jpg" for n in range(30)]
    claims.append(("big", "s3://in/images/big.jpg", many))
    drops = [(f"d{n}.jpg", f"o{n}") for n in range(20)] + [(k, "big") for k in many]

    result = ledger.record_batch(claims)

    assert result == dict.fromkeys([*(f"o{n}" for n in range(20)), "big"])
    assert max(sizes) <= TRANSACTION_ITEMS and sum(sizes) == 21 + 20 + 30
    # 12 objects and their drops; 8; then the big one, which fits in no open request, and its rest
    assert counts == {"TransactWriteItems": len(sizes)} and sizes == [24, 16, TRANSACTION_ITEMS, 6]
    assert (ledger.get_object("big") or {})["drop_keys"] == sorted(many)
    assert all((ledger.get_drop(k) or {}).get("object_id") == o for k, o in drops)
    assert ledger.record_batch(claims) == {o: ledger.get_object(o) for o, _, _ in claims}


def test_sent_labeled_and_back_to_pending_are_conditional(ledger: Ledger) -> None:
    ledger.add_object("o1", "s3://in/images/o1.jpg", "a.jpg")
    assert ledger.mark_sent("o1", "p-0001") and ledger.mark_sent("o1", "p-0001")
    assert [i["object_id"] for i in ledger.iter_state("SENT#p-0001")] == ["o1"]
    assert ledger.return_to_pending("o1", "p-0002") is False  # not sent to that job
    assert ledger.mark_labeled("o1", "p-0001", "s3://in/images/o1.jpg", '{"category": 1}')
    assert ledger.mark_labeled("o1", "p-0002", "s3://in/images/o1.jpg", '{"category": 2}') is False
    assert ledger.mark_sent("o1", "p-0003") is False
    item = ledger.get_object("o1")
    assert item is not None and item["label"] == '{"category": 1}' and item["job"] == "p-0001"


def test_failures_count_once_per_job_and_fail_for_good_at_the_limit(ledger: Ledger) -> None:
    ledger.add_object("o1", "s3://in/images/o1.jpg", "a.jpg")
    assert ledger.record_failure("o1", "p-0001", "declined", max_failures=2) == "PENDING"
    assert ledger.record_failure("o1", "p-0001", "declined", max_failures=2) is None  # duplicate merge
    assert ledger.record_failure("o1", "p-0002", "expired", max_failures=2) == "FAILED"
    assert ledger.record_failure("o1", "p-0003", "expired", max_failures=2) is None
    item = ledger.get_object("o1")
    assert item is not None and item["failure_count"] == 2 and item["state_key"] == "FAILED"


def test_project_lock_is_exclusive_until_its_lease_expires(ledger: Ledger, clock: Clock) -> None:
    assert ledger.acquire_lock("a", 300)
    assert not ledger.acquire_lock("b", 300)
    clock.now += timedelta(seconds=301)
    assert ledger.acquire_lock("b", 300)
    assert ledger.set_active_job("a", "p-0001", 1, "category") is False  # lost its lock
    assert ledger.set_active_job("b", "p-0001", 1, "category")
    assert ledger.set_active_job("b", "p-0001", 1, "category") is False  # index only moves forward
    ledger.release_lock("b")
    assert ledger.acquire_lock("c", 300)


def test_job_end_is_recorded_once_and_decisions_notify_once(ledger: Ledger) -> None:
    ledger.add_job("p-0001", 1, None, "first", None)
    assert ledger.mark_job_ended("p-0001", "Stopped", {"TotalLabeled": 1}, None)
    assert not ledger.mark_job_ended("p-0001", "Stopped", {"TotalLabeled": 1}, None)
    assert ledger.record_decision("stopped", "depth")
    assert not ledger.record_decision("stopped", "depth")
    assert ledger.record_decision("stopped", "failure limit")


def test_iterating_a_state_while_moving_its_items_visits_each_once(ledger: Ledger) -> None:
    for n in range(250):
        ledger.add_object(f"o{n:03d}", f"s3://in/images/o{n:03d}.jpg", f"{n}.jpg")
    moved = [
        item["object_id"]
        for item in ledger.iter_state("PENDING", page_size=40)
        if ledger.mark_sent(item["object_id"], "p-0001")
    ]
    assert len(moved) == 250 and len(set(moved)) == 250
    assert not ledger.has_state("PENDING")
    back = [
        i["object_id"]
        for i in ledger.iter_state("SENT#p-0001", page_size=40)
        if ledger.return_to_pending(i["object_id"], "p-0001")
    ]
    assert len(set(back)) == 250


def test_clients_use_the_standard_retry_mode() -> None:
    clients = Clients("us-east-1")
    for client in (clients.client("sns"), clients.client("dynamodb")):
        retries = client.meta.config.retries
        assert retries["mode"] == "standard" and retries["total_max_attempts"] == 6
