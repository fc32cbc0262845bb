"""PublishBatch: an entry the answer lists neither as successful nor as failed was not sent."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import Stubber
from gtstream_world import ENV, REGION, World
from tests.inprocess import offline_credentials

from gtstream.aws import Clients, Topics
from gtstream.dispatch import send_objects


def stubbed_topics(responses: list[dict[str, Any]]) -> tuple[Topics, Stubber]:
    clients = Clients(REGION)
    sns = clients.client("sns")
    stubber = Stubber(sns)
    for response in responses:
        stubber.add_response("publish_batch", response)
    stubber.activate()
    return Topics(clients), stubber


def test_publish_batch_treats_entries_missing_from_the_answer_as_not_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    offline_credentials(monkeypatch)
    topics, stubber = stubbed_topics(
        [
            # 0-7 sent, 8 failed, 9 in neither list
            {
                "Successful": [{"Id": str(i), "MessageId": f"m{i}"} for i in range(8)],
                "Failed": [{"Id": "8", "Code": "InternalError", "SenderFault": False}],
            },
            # an answer with neither list: nothing of that batch is known to be sent
            {},
        ]
    )
    failed = topics.publish_batch(ENV["INPUT_TOPIC_ARN"], [f"message {i}" for i in range(12)])
    assert failed == [8, 9, 10, 11]
    stubber.assert_no_pending_responses()


def test_objects_missing_from_the_publish_answer_stay_pending_and_are_sent_later(world: World) -> None:
    world.add_pending("o1", "o2", "o3")
    real = world.deps.topics

    class AnswersOnlyTheFirst(Topics):
        def publish_batch(self, topic_arn: str, messages: Any) -> list[int]:
            real.publish_batch(topic_arn, messages[:1])
            return list(range(1, len(messages)))  # as publish_batch reports entries in neither list

    objects = [(o, f"s3://cats-input/images/{o}.jpg") for o in ("o1", "o2", "o3")]
    world.deps.topics = AnswersOnlyTheFirst(Clients(REGION))
    assert send_objects(world.deps, "cats-0001", objects) == 1
    assert sorted(i["object_id"] for i in world.deps.ledger.iter_state("PENDING")) == ["o2", "o3"]
    world.deps.topics = real
    assert send_objects(world.deps, "cats-0001", objects[1:]) == 2
    assert not world.deps.ledger.has_state("PENDING")
    assert sorted(m["source-ref"] for m in world.input_messages()) == [uri for _, uri in objects]
