"""Live labels (gtstream.live_labels): each output-topic message records its label once, the
end-of-job merge after it changes nothing, and late or duplicated messages change nothing."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from gtstream_world import REGION, World

from gtstream.chaining import handle_job_end
from gtstream.live_labels import handle_output, labels_in, output_line
from gtstream.manifest import label_json

JOB, NEXT = "cats-0001", "cats-0002"


def _oid(n: int) -> str:
    return f"{n:064x}"


def _uri(n: int) -> str:
    return f"s3://cats-input/images/{_oid(n)}.jpg"


def _line(n: int, job: str = JOB, label: Any = None) -> dict[str, Any]:
    """An output-manifest line as Ground Truth publishes it (here a bounding-box label: the value
    is kept as the line carries it, not only a class id)."""
    value = label if label is not None else {"annotations": [{"class_id": n % 3, "left": 1, "top": 2}]}
    return {
        "source-ref": _uri(n),
        "category": value,
        "category-metadata": {"job-name": f"labeling-job/{job}", "human-annotated": "yes"},
    }


@pytest.fixture
def running(world: World) -> World:
    """Objects 0-3 SENT to JOB, which runs; object 4 PENDING."""
    ledger = world.deps.ledger
    for n in range(5):
        ledger.add_object(_oid(n), _uri(n), f"{n}.jpg")
    assert len(ledger.mark_sent_many([_oid(n) for n in range(4)], JOB)) == 4
    world.jobs.statuses[JOB] = "InProgress"
    return world


def test_a_label_is_recorded_as_it_arrives_once_raw_or_in_an_envelope(running: World) -> None:
    ledger = running.deps.ledger
    assert handle_output(running.deps, json.dumps(_line(0))).action == "recorded"
    item = ledger.get_object(_oid(0))
    assert item is not None and (item["state"], item["job"]) == ("LABELED", JOB)
    assert json.loads(item["label"]) == {
        "category": _line(0)["category"],
        "category-metadata": _line(0)["category-metadata"],
    }
    before = dict(item)
    assert handle_output(running.deps, json.dumps(_line(0))).action == "unchanged"
    assert ledger.get_object(_oid(0)) == before  # not even updated_at moved

    # An SNS envelope (a subscription without raw delivery) is unwrapped; the job name's case is ours.
    envelope = {"Type": "Notification", "Message": json.dumps(_line(1, job=JOB.upper()))}
    result = handle_output(running.deps, json.dumps(envelope))
    assert (result.action, result.job) == ("recorded", JOB)
    assert output_line(envelope)["source-ref"] == _uri(1)

    # A label that arrives before the send is recorded (object 4 still PENDING) is kept.
    assert handle_output(running.deps, json.dumps(_line(4))).action == "recorded"
    item = ledger.get_object(_oid(4))
    assert item is not None and item["state"] == "LABELED"


def test_lines_that_are_no_label_of_this_project_change_nothing(running: World) -> None:
    failed = _line(2)
    del failed["category"]
    failed["category-metadata"]["failure-reason"] = "ClientError: expired"
    other = _line(2, job="dogs-0001")
    unknown = {**_line(2), "source-ref": "s3://elsewhere/a.jpg"}
    for line in (failed, other, unknown, {"source-ref": _uri(2)}):
        assert handle_output(running.deps, json.dumps(line)).action == "ignored"
    item = running.deps.ledger.get_object(_oid(2))
    assert item is not None and item["state"] == "SENT"
    with pytest.raises(ValueError, match="not an output-manifest line"):
        handle_output(running.deps, "[1, 2]")


def test_a_late_message_never_overrides_the_merge_or_a_later_jobs_label(running: World) -> None:
    ledger = running.deps.ledger
    # object 0: failed in JOB by its merge, then sent to NEXT; object 1: labeled by NEXT.
    assert ledger.record_failure(_oid(0), JOB, "expired", max_failures=3) == "PENDING"
    assert ledger.mark_sent(_oid(0), NEXT) and ledger.mark_sent(_oid(1), NEXT)
    assert ledger.mark_labeled(_oid(1), NEXT, _uri(1), "next")
    assert handle_output(running.deps, json.dumps(_line(0))).action == "unchanged"
    assert handle_output(running.deps, json.dumps(_line(1))).action == "unchanged"
    assert (ledger.get_object(_oid(0)) or {})["state_key"] == f"SENT#{NEXT}"
    assert (ledger.get_object(_oid(1)) or {})["label"] == "next"
    # object 3 failed in JOB (PENDING, JOB in failed_jobs): a late JOB label is refused too
    assert ledger.record_failure(_oid(3), JOB, "expired", max_failures=3) == "PENDING"
    assert handle_output(running.deps, json.dumps(_line(3))).action == "unchanged"


def test_the_merge_after_live_labels_leaves_the_same_labels(running: World) -> None:
    ledger = running.deps.ledger
    for n in (0, 1):
        assert handle_output(running.deps, json.dumps(_line(n))).action == "recorded"
    live = {n: ledger.get_object(_oid(n)) for n in (0, 1)}
    body = "".join(json.dumps(_line(n)) + "\n" for n in (0, 1, 2))
    boto3.client("s3", region_name=REGION).put_object(
        Bucket="cats-output", Key=f"jobs/{JOB}/manifests/output/output.manifest", Body=body.encode()
    )
    running.jobs.statuses[JOB] = "Completed"
    desc = running.jobs.describe(JOB)
    assert desc is not None
    stats = handle_job_end(running.deps, desc)
    assert stats is not None and stats.labeled == 3
    for n in (0, 1):
        assert ledger.get_object(_oid(n)) == live[n]  # the merge wrote nothing over them
    merged = ledger.get_object(_oid(2))
    assert merged is not None and merged["state"] == "LABELED"
    assert merged["label"] == label_json(_line(2), "category")  # what a live label of it would be
    assert (ledger.get_object(_oid(3)) or {})["state"] == "PENDING"  # not worked on: returned


def test_labels_in_reads_every_attribute_of_the_projects_jobs() -> None:
    line = {**_line(0), "verified": 1, "verified-metadata": {"job-name": f"labeling-job/{NEXT}"}}
    assert [(label.job, next(iter(json.loads(label.label)))) for label in labels_in("cats", line)] == [
        (JOB, "category"),
        (NEXT, "verified"),
    ]
