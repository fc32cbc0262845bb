"""Review stages (gtstream.stages, intake, live labels, the job end): an upstream stage's line is
taken once per round, a review's rejection goes back once and resets the upstream object for a
new round (or holds it back), and late or duplicated messages change nothing."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import boto3
import pytest
from gtstream_world import ACCOUNT, REGION, World

from gtstream import intake
from gtstream.chaining import _labeled_and_pending_lines, handle_job_end
from gtstream.dispatch import flush_pending
from gtstream.live_labels import handle_output
from gtstream.manifest import label_json
from gtstream.stages import REJECTED_DETAIL_TYPE, rejected_message

UPSTREAM_JOB, JOB = "boxes-0001", "cats-0001"
REJECTED_URL = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/boxes-intake"
UPSTREAM_TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:boxes-gt-output"


def _oid(n: int) -> str:
    return f"{n:064x}"


def _uri(n: int) -> str:
    return f"s3://boxes-input/images/{_oid(n)}.png"


def _upstream_line(n: int, review_round: int = 0, left: int = 1) -> dict[str, Any]:
    """An output line of the upstream bounding-box stage (as its output topic delivers it raw)."""
    line: dict[str, Any] = {
        "source-ref": _uri(n),
        "boxes": {"annotations": [{"class_id": 0, "left": left, "top": 2, "width": 3, "height": 4}]},
        "boxes-metadata": {"job-name": f"labeling-job/{UPSTREAM_JOB}", "human-annotated": "yes"},
        "dataset-objectid-attribute-name": "source-ref",
    }
    if review_round:
        line.update(
            {
                "gtstream-round": review_round,
                "gtstream-object-id": f"{_oid(n)}-r{review_round}",
                "dataset-objectid-attribute-name": "gtstream-object-id",
            }
        )
    return line


def _review_line(sent_line: dict[str, Any], answer: str, job: str = JOB) -> dict[str, Any]:
    """The review stage's output line for a line it was sent: the verification label added."""
    return {
        **sent_line,
        "category": 0 if answer == "good" else 1,
        "category-metadata": {
            "job-name": f"labeling-job/{job}",
            "class-name": answer,
            "type": "groundtruth/label-verification",
            "human-annotated": "yes",
        },
    }


def _stage(world: World, **settings: Any) -> World:
    world.deps = replace(
        world.deps,
        settings=replace(
            world.deps.settings,
            upstream_output_topic_arn=UPSTREAM_TOPIC,
            rejected_queue_url=REJECTED_URL,
            **settings,
        ),
    )
    return world


@pytest.fixture
def review(world: World) -> World:
    """The review stage (bounding-box verification, "good" accepts) with a running job."""
    world.publish_config(
        task_type="bounding-box-verification",
        categories=["good", "bad"],
        audit_label_attribute_name="boxes",
        review={"accept": ["good"], "on_reject": "relabel"},
    )
    world.jobs.statuses[JOB] = "InProgress"
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName="cats-ledger",
        Item={"pk": {"S": "PROJECT"}, "sk": {"S": "PROJECT"}, "active_job": {"S": JOB}},
    )
    return _stage(world)


def _take(world: World, *bodies: dict[str, Any]) -> list[intake.Outcome]:
    outcomes = [
        intake.process(world.deps, message)
        for body in bodies
        for message in intake.parse_message(body, "boxes")
    ]
    intake.dispatch(world.deps, outcomes)
    return outcomes


def test_an_upstream_line_is_taken_once_per_round_and_its_line_sent_with_the_reviewed_label(
    review: World,
) -> None:
    ledger = review.deps.ledger
    first = _take(review, _upstream_line(1))
    assert [(o.action, o.object_id) for o in first] == [("accepted", _oid(1))]
    item = ledger.get_object(_oid(1))
    assert item is not None and item["state"] == "SENT" and item["job"] == JOB
    assert (item["review_round"], item["upstream_job"], item.get("drop_keys")) == (0, UPSTREAM_JOB, None)
    [sent] = review.input_messages()
    assert sent["boxes"] == _upstream_line(1)["boxes"] and sent["boxes-metadata"]["job-name"]
    assert sent["dataset-objectid-attribute-name"] == "gtstream-object-id"
    assert sent["gtstream-object-id"] == f"{_oid(1)}-r0"
    assert ledger.get_drop(_uri(1)) is None  # no drop record: nothing was dropped here

    # Re-delivered (SNS delivers at least once): nothing changes, nothing is sent.
    assert [o.action for o in _take(review, _upstream_line(1))] == ["duplicate"]
    assert review.input_messages() == []
    # A newer round (the upstream relabeled it): PENDING again with the new line, sent again.
    assert handle_output(review.deps, _review_line(sent, "good")).action == "recorded"
    assert [o.action for o in _take(review, _upstream_line(1, 1, left=9))] == ["accepted"]
    item = ledger.get_object(_oid(1))
    assert item is not None and (item["state"], item["review_round"]) == ("SENT", 1)
    assert "label" not in item and "verdict" not in item
    [again] = review.input_messages()
    assert again["boxes"]["annotations"][0]["left"] == 9 and again["gtstream-object-id"] == f"{_oid(1)}-r1"
    # The old round's line, late: the round never goes back.
    assert [o.action for o in _take(review, _upstream_line(1))] == ["duplicate"]
    assert ledger.get_object(_oid(1))["review_round"] == 1  # type: ignore[index]
    # ... nor does the old round's review label count for the new round.
    assert handle_output(review.deps, _review_line(sent, "bad")).action == "unchanged"
    assert review.queues.sent == []


def test_a_stage_without_an_upstream_skips_lines_and_bad_messages_fail_with_one_line(world: World) -> None:
    [outcome] = [intake.process(world.deps, m) for m in intake.parse_message(_upstream_line(2))]
    assert outcome.action == "skipped" and "UPSTREAM_OUTPUT_TOPIC_ARN" in str(outcome.reason)
    assert world.deps.ledger.get_object(_oid(2)) is None
    failed = {**_upstream_line(2), "boxes-metadata": {"job-name": "x", "failure-reason": "expired"}}
    with pytest.raises(ValueError, match="without a label 'boxes' to review"):
        intake.parse_message(failed, "boxes")
    with pytest.raises(ValueError, match="not an image of an upstream stage"):
        intake.parse_message({"source-ref": "s3://elsewhere/x.png"})
    with pytest.raises(ValueError, match="round must be an integer"):
        intake.parse_message(
            {
                "detail-type": REJECTED_DETAIL_TYPE,
                "detail": {"object_id": _oid(2), "input_uri": _uri(2), "round": "1", "rejected_by": JOB},
            }
        )


def test_a_rejected_label_goes_back_once_and_an_accepted_one_is_recorded(review: World) -> None:
    ledger = review.deps.ledger
    _take(review, _upstream_line(1), _upstream_line(2))
    sent = {m["source-ref"]: m for m in review.input_messages()}
    rejected, accepted = _review_line(sent[_uri(1)], "bad"), _review_line(sent[_uri(2)], "good")
    for _ in range(3):  # duplicated deliveries
        handle_output(review.deps, json.dumps(rejected))
        handle_output(review.deps, json.dumps(accepted))
    assert ledger.get_object(_oid(1))["verdict"] == "rejected"  # type: ignore[index]
    assert ledger.get_object(_oid(2))["verdict"] == "accepted"  # type: ignore[index]
    [(url, body, _)] = review.queues.sent
    assert url == REJECTED_URL and body["detail-type"] == REJECTED_DETAIL_TYPE
    assert body["detail"] == {
        "object_id": _oid(1),
        "input_uri": _uri(1),
        "round": 0,
        "rejected_by": JOB,
        "reason": "review answer 'bad' is not one of ['good']",
    }


def test_the_job_end_decides_what_the_live_path_missed_and_not_again(review: World) -> None:
    ledger = review.deps.ledger
    _take(review, _upstream_line(1), _upstream_line(2), _upstream_line(3))
    sent = {m["source-ref"]: m for m in review.input_messages()}
    lines = [
        _review_line(sent[_uri(1)], "bad"),
        _review_line(sent[_uri(2)], "bad"),
        _review_line(sent[_uri(3)], "good"),
    ]
    handle_output(review.deps, json.dumps(lines[0]))  # live for object 1 only
    manifest = "\n".join(json.dumps(line) for line in lines)
    boto3.client("s3", region_name=REGION).put_object(
        Bucket="cats-output", Key=f"jobs/{JOB}/manifests/output/output.manifest", Body=manifest.encode()
    )
    review.jobs.end(JOB, "Stopped")
    desc = review.deps.jobs.describe(JOB)
    assert desc is not None
    stats = handle_job_end(review.deps, desc)
    assert stats is not None and stats.labeled == 3
    assert [body["detail"]["object_id"] for _, body, _ in review.queues.sent] == [_oid(1), _oid(2)]
    assert [ledger.get_object(_oid(n))["verdict"] for n in (1, 2, 3)] == [  # type: ignore[index]
        "rejected",
        "rejected",
        "accepted",
    ]
    # A late live message after the merge changes nothing and sends nothing.
    handle_output(review.deps, json.dumps(lines[1]))
    assert len(review.queues.sent) == 2


def _labeled_upstream(world: World, n: int, review_round: int = 0) -> None:
    """Object n of the upstream stage (this world), labeled by its job in ``review_round``."""
    ledger = world.deps.ledger
    ledger.add_object(_oid(n), _uri(n), f"{n}.png")
    line = _upstream_line(n)
    line["category"], line["category-metadata"] = line.pop("boxes"), line.pop("boxes-metadata")
    line["category-metadata"]["job-name"] = f"labeling-job/{JOB}"
    assert ledger.mark_labeled(_oid(n), JOB, _uri(n), label_json(line, "category"))


def test_a_rejection_puts_the_upstream_object_back_for_a_new_round_once(world: World) -> None:
    upstream = _stage(world)
    ledger = upstream.deps.ledger
    upstream.jobs.statuses[JOB] = "InProgress"
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName="cats-ledger",
        Item={"pk": {"S": "PROJECT"}, "sk": {"S": "PROJECT"}, "active_job": {"S": JOB}},
    )
    _labeled_upstream(upstream, 1)
    message = json.loads(rejected_message(_oid(1), _uri(1), 0, "cats-verify-0001", "answer 'bad'"))
    for _ in range(3):  # duplicated
        _take(upstream, message)
    item = ledger.get_object(_oid(1))
    assert item is not None and (item["state"], item["review_round"]) == ("SENT", 1)
    assert item["rejected_by"] == "cats-verify-0001" and "label" not in item
    # Sent once, as a new data object for Ground Truth (its id carries the round).
    assert upstream.input_messages() == [
        {
            "source-ref": _uri(1),
            "gtstream-object-id": f"{_oid(1)}-r1",
            "gtstream-round": 1,
            "dataset-objectid-attribute-name": "gtstream-object-id",
        }
    ]
    # A late label of round 0 (the rejected one) is no label of round 1.
    old = {"source-ref": _uri(1), "category": 1, "category-metadata": {"job-name": f"labeling-job/{JOB}"}}
    assert handle_output(upstream.deps, json.dumps(old)).action == "unchanged"
    new = {**old, "gtstream-round": 1}
    assert handle_output(upstream.deps, json.dumps(new)).action == "recorded"
    # The flush and the chained manifest send round 1's line too.
    ledger.reopen_rejected(_oid(1), 1, "cats-verify-0001", "again", 3)
    assert flush_pending(upstream.deps, JOB) == 1
    assert upstream.input_messages()[0]["gtstream-object-id"] == f"{_oid(1)}-r2"


def test_past_max_review_rounds_a_rejected_object_is_held_back_with_the_reason(world: World) -> None:
    upstream = _stage(world, max_review_rounds=2)
    ledger = upstream.deps.ledger
    _labeled_upstream(upstream, 1)
    assert ledger.reopen_rejected(_oid(1), 0, "v-0001", "bad", 2) == "PENDING"
    assert ledger.mark_labeled(_oid(1), JOB, _uri(1), "{}", 1)
    _take(upstream, json.loads(rejected_message(_oid(1), _uri(1), 1, "v-0002", "answer 'bad'")))
    item = ledger.get_object(_oid(1))
    assert item is not None and item["state"] == "FAILED" and "label" in item
    assert "held back" in item["reason"] and "MAX_REVIEW_ROUNDS=2" in item["reason"]
    assert upstream.input_messages() == []


def test_the_chained_manifest_of_a_stage_keeps_the_reviewed_label_and_the_round(review: World) -> None:
    _take(review, _upstream_line(1), _upstream_line(2))
    sent = {m["source-ref"]: m for m in review.input_messages()}
    handle_output(review.deps, json.dumps(_review_line(sent[_uri(1)], "good")))
    review.deps.ledger.return_to_pending(_oid(2), JOB)
    import io

    lines = [json.loads(x) for x in _labeled_and_pending_lines(review.deps, "category", io.StringIO())]
    by_uri = {line["source-ref"]: line for line in lines}
    assert by_uri[_uri(1)]["category-metadata"]["class-name"] == "good" and "boxes" in by_uri[_uri(1)]
    assert by_uri[_uri(2)]["boxes"] and by_uri[_uri(2)]["gtstream-object-id"] == f"{_oid(2)}-r0"
