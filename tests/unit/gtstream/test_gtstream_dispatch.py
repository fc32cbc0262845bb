"""Dispatch (``gtstream.dispatch``) in process: PublishBatch's limits (10 entries and 256 KiB a
request, API_PublishBatch) kept for any number of objects, and a failed PublishBatch request
leaving only its own entries PENDING, sent once by the next flush."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from gtstream_world import World
from test_gtstream_requests import Requests

from gtcontract.states import sent_state_key
from gtstream import dispatch
from gtstream.dispatch import flush_pending, send_objects
from gtstream.ledger import TRANSACTION_ITEMS

JOB = "cats-0001"
# PublishBatch: "up to 10 messages"; "The total aggregate size of all messages in a single
# PublishBatch request can't exceed 256 KiB (262,144 bytes)."
# https://docs.aws.amazon.com/sns/latest/api/API_PublishBatch.html
MAX_ENTRIES, MAX_BATCH_BYTES = 10, 262_144


def oid(n: int) -> str:
    return f"{n:064x}"


def objects(world: World, count: int, bucket: str = "cats-input") -> list[tuple[str, str]]:
    pairs = [(oid(n), f"s3://{bucket}/images/{oid(n)}.jpg") for n in range(count)]
    for object_id, uri in pairs:
        world.deps.ledger.add_object(object_id, uri, f"{object_id}.jpg")
    return pairs


def publish_batches(world: World) -> list[list[dict[str, Any]]]:
    """The entries of every PublishBatch request the deps' SNS client sends from now on."""
    assert world.deps.clients is not None
    sent: list[list[dict[str, Any]]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.append(params["PublishBatchRequestEntries"])

    world.deps.clients.client("sns").meta.events.register("provide-client-params.sns.PublishBatch", record)
    return sent


@pytest.mark.parametrize("count", [1, 10, 11, 31])
def test_any_number_of_objects_goes_in_requests_within_the_publish_batch_limits(
    world: World, count: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dispatch, "CHUNK", 20)  # objects read per chunk (100): 31 crosses one
    # the longest input URI there is: a 63-character bucket name (S3's limit) and a 64-hex-digit id
    pairs = objects(world, count, bucket="b" * 63)
    batches = publish_batches(world)

    assert send_objects(world.deps, JOB, pairs) == count

    assert [len(b) for b in batches] == [min(MAX_ENTRIES, count - s) for s in range(0, count, MAX_ENTRIES)]
    assert max(sum(len(e["Message"].encode()) for e in b) for b in batches) <= MAX_BATCH_BYTES
    assert sorted(m["source-ref"] for m in world.input_messages()) == sorted(uri for _, uri in pairs)
    sent = {i["object_id"] for i in world.deps.ledger.iter_state(sent_state_key(JOB))}
    assert sent == {object_id for object_id, _ in pairs}


def test_the_sent_marks_take_one_transaction_per_25_writes(world: World) -> None:
    pairs = objects(world, 30)
    requests = Requests(world)

    assert send_objects(world.deps, JOB, pairs) == 30

    counts = requests.take()
    assert counts["sns:PublishBatch"] == 3
    # the last transaction also carries the project's last_sent_at: 24 objects then
    assert counts["dynamodb:TransactWriteItems"] == 2 == len(range(0, 30, TRANSACTION_ITEMS - 1))
    assert counts["dynamodb:UpdateItem"] == 0  # no object marked alone


def test_a_failed_publish_batch_request_leaves_only_its_entries_pending_and_the_flush_sends_them_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    pairs = objects(world, 25)
    assert world.deps.clients is not None
    sns = world.deps.clients.client("sns")
    real = sns.publish_batch
    calls = 0

    def second_request_throttled(**params: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:  # what botocore raises once its standard-mode retries are spent
            error = {"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}
            raise ClientError(error, "PublishBatch")  # type: ignore[arg-type]
        return real(**params)

    monkeypatch.setattr(sns, "publish_batch", second_request_throttled)

    assert send_objects(world.deps, JOB, pairs) == 15

    pending = sorted(i["object_id"] for i in world.deps.ledger.iter_state("PENDING"))
    assert pending == [oid(n) for n in range(10, 20)]
    assert flush_pending(world.deps, JOB) == 10
    assert not world.deps.ledger.has_state("PENDING")
    uris = [m["source-ref"] for m in world.input_messages()]
    assert sorted(uris) == sorted(uri for _, uri in pairs)  # each object published exactly once


def test_an_object_labeled_meanwhile_is_published_but_not_marked_sent(world: World) -> None:
    pairs = objects(world, 5)
    ledger = world.deps.ledger
    assert ledger.mark_labeled(pairs[2][0], "cats-0000", pairs[2][1], "{}")  # labeled by the last job

    marked = send_objects(world.deps, JOB, pairs)

    # the transaction is cancelled by that object's condition; the others are marked one by one
    assert marked == 4
    assert (ledger.get_object(pairs[2][0]) or {})["state"] == "LABELED"
    sent = {i["object_id"] for i in ledger.iter_state(sent_state_key(JOB))}
    assert sent == {o for o, _ in pairs} - {pairs[2][0]}
