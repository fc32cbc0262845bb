"""The AWS requests intake and the job end make, pinned per image, per batch and per object (moto in
process, not timed): a regression in calls fails here. Every HTTP request a boto3 client sends
(retries included) is counted by botocore's ``request-created`` event; DescribeLabelingJob goes to
the fake jobs and is counted there."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from gtstream_world import REGION, World

from gtstream.intake import Drop, Outcome, dispatch, process_drop

JOB = "cats-0001"
BATCH = 10  # the intake queue's default batch size (variables.tf queues.intake.batch_size)
GOAL_PER_IMAGE = 3.5  # issue 11


class Requests:
    """Requests sent by every client of a Deps, by "service:Operation"."""

    def __init__(self, world: World) -> None:
        assert world.deps.clients is not None
        world.deps.clients.warm()
        self.counts: Counter[str] = Counter()
        for service, client in world.deps.clients.created().items():
            client.meta.events.register("request-created", self._counter(service))
        self._jobs = world.jobs
        real = world.jobs.describe

        def describe(name: str) -> Any:
            self.counts["sagemaker:DescribeLabelingJob"] += 1
            return real(name)

        world.jobs.describe = describe  # type: ignore[method-assign]

    def _counter(self, service: str) -> Any:
        def count(operation_name: str, **_: Any) -> None:
            self.counts[f"{service}:{operation_name}"] += 1

        return count

    def take(self) -> Counter[str]:
        counts, self.counts = self.counts, Counter()
        return counts


def _image(n: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), ((n * 37) % 256, (n * 91) % 256, n % 256)).save(out, format="JPEG")
    return out.getvalue()


def _drop(keys: list[str], start: int = 0) -> list[Drop]:
    s3 = boto3.client("s3", region_name=REGION)
    for n, key in enumerate(keys, start):
        s3.put_object(Bucket="cats-drop", Key=key, Body=_image(n))
    return [Drop("cats-drop", key) for key in keys]


def _batch(world: World, drops: list[Drop]) -> list[Outcome]:
    outcomes = [process_drop(world.deps, drop) for drop in drops]
    dispatch(world.deps, outcomes)
    return outcomes


@pytest.fixture
def running(world: World) -> Iterator[tuple[World, Requests]]:
    """A published config (already read: it is cached per container) and an InProgress job."""
    world.publish_config()
    ledger = world.deps.ledger
    assert ledger.acquire_lock("t", 60) and ledger.set_active_job("t", JOB, 1, "category")
    ledger.release_lock("t")
    world.jobs.statuses[JOB] = "InProgress"
    assert world.deps.project_config() is not None
    yield world, Requests(world)


def test_a_batch_of_new_images_costs_three_requests_each_and_five_per_batch(
    running: tuple[World, Requests],
) -> None:
    world, requests = running
    drops = _drop([f"batch/{n}.jpg" for n in range(BATCH)])
    requests.take()

    outcomes = _batch(world, drops)

    assert [o.action for o in outcomes] == ["accepted"] * BATCH
    counts = requests.take()
    assert counts == {
        # per image
        "s3:GetObject": BATCH,
        "s3:PutObject": BATCH,
        "dynamodb:PutItem": BATCH,
        # per batch: the drops, the job state (project item, the job), the send, the SENT marks
        "dynamodb:BatchWriteItem": 1,
        "dynamodb:GetItem": 1,
        "sagemaker:DescribeLabelingJob": 1,
        "sns:PublishBatch": 1,
        "dynamodb:TransactWriteItems": 1,
    }
    assert sum(counts.values()) / BATCH <= GOAL_PER_IMAGE
    assert len(world.input_messages()) == BATCH
    objects = [world.deps.ledger.get_object(o.object_id or "") for o in outcomes]
    assert {(o or {}).get("state") for o in objects} == {"SENT"}
    assert {(o or {}).get("job") for o in objects} == {JOB}
    assert world.deps.ledger.get_project().get("last_sent_at")
    drop_items = [world.deps.ledger.get_drop(d.key) for d in drops]
    assert [(d or {}).get("object_id") for d in drop_items] == [o.object_id for o in outcomes]


def test_a_redelivered_batch_writes_nothing_new_and_sends_nothing(running: tuple[World, Requests]) -> None:
    world, requests = running
    drops = _drop([f"again/{n}.jpg" for n in range(BATCH)])
    _batch(world, drops)
    world.input_messages()
    requests.take()

    outcomes = _batch(world, drops)  # the same S3 events again (at-least-once delivery)

    assert [o.action for o in outcomes] == ["duplicate"] * BATCH
    assert requests.take() == {
        "s3:GetObject": BATCH,
        "s3:PutObject": BATCH,  # If-None-Match: 412, the image is never overwritten
        "dynamodb:PutItem": BATCH,  # the condition fails and returns the object: no read
        "dynamodb:BatchWriteItem": 1,
    }
    assert world.input_messages() == []


def test_a_copy_under_another_key_only_adds_its_drop_key(running: tuple[World, Requests]) -> None:
    world, requests = running
    s3 = boto3.client("s3", region_name=REGION)
    [first] = _drop(["one.jpg"], start=7)
    [accepted] = _batch(world, [first])
    s3.put_object(Bucket="cats-drop", Key="copy of one.jpg", Body=_image(7))
    requests.take()

    [copy] = _batch(world, [Drop("cats-drop", "copy of one.jpg")])

    assert copy.action == "duplicate" and copy.object_id == accepted.object_id
    assert copy.input_uri == accepted.input_uri
    counts = requests.take()
    assert counts["dynamodb:UpdateItem"] == 1 and counts["dynamodb:GetItem"] == 0
    item = world.deps.ledger.get_object(accepted.object_id or "") or {}
    assert item["drop_keys"] == ["copy of one.jpg", "one.jpg"] and item["state"] == "SENT"


def test_each_image_is_decoded_once(running: tuple[World, Requests], monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    world, _ = running
    drops = _drop([f"decode/{n}.jpg" for n in range(3)])
    opened: list[int] = []
    real_open = Image.open

    def counting_open(*args: Any, **kwargs: Any) -> Any:
        opened.append(1)
        return real_open(*args, **kwargs)

    monkeypatch.setattr(Image, "open", counting_open)
    outcomes = _batch(world, drops)
    assert [o.action for o in outcomes] == ["accepted"] * 3
    assert len(opened) == 3


def test_clients_are_created_once_per_container(running: tuple[World, Requests]) -> None:
    world, _ = running
    assert world.deps.clients is not None
    before = world.deps.clients.created()
    _batch(world, _drop(["created/once.jpg"]))
    after = world.deps.clients.created()
    assert after.keys() == before.keys() and all(after[k] is before[k] for k in before)
