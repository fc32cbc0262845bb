"""The hostile input corpus (issue 10): generated here, never stored in git.

Every file is accounted for: accepted (re-encoded: nothing of the original bytes but the pixels
reaches the input bucket), or quarantined with its reason; every write stays under the project's
prefixes (``images/`` in the input bucket, ``quarantine/`` in the drop bucket). Malformed queue
bodies fail their record alone (retried, then the dead-letter queue and its alarm); events of
another project are ignored. A decompression bomb is refused before decoding, in bounded memory.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from typing import Any

import boto3
import pytest
from gtstream_world import ENV, World
from PIL import Image
from tests.hostile import CORPUS, image, png_bomb

from gtstream import intake, job_events
from gtstream.handlers.common import process_sqs_batch
from gtstream.intake import Drop

DROP, INPUT = ENV["DROP_BUCKET"], ENV["INPUT_BUCKET"]
# What the bomb check may allocate (tracemalloc's peak, in a fresh process), far below the
# smallest Lambda memory setting (128 MB) and the intake's default (1024 MB).
BOMB_PEAK_LIMIT_MB = 16


def test_every_hostile_file_is_accepted_clean_or_quarantined_with_its_reason(world: World) -> None:
    s3 = boto3.client("s3")
    for key, data, _ in CORPUS:
        s3.put_object(Bucket=DROP, Key=key, Body=data)

    outcomes = {key: intake.process_drop(world.deps, Drop(DROP, key)) for key, _, _ in CORPUS}
    intake.dispatch(world.deps, outcomes.values())  # as the handler does after a batch: drop records

    for key, _, expected in CORPUS:
        outcome = outcomes[key]
        if expected == "accepted":
            assert outcome.action == "accepted", (key, outcome)
        else:
            assert outcome.action == "quarantined", (key, outcome)
            assert str(outcome.reason).startswith(expected), (key, outcome.reason)
    # Writes stay under the project's prefixes; what reaches the input bucket is re-encoded pixels.
    inputs = [o["Key"] for o in s3.list_objects_v2(Bucket=INPUT).get("Contents", [])]
    assert len(inputs) == sum(1 for *_, e in CORPUS if e == "accepted")
    for key in inputs:
        assert re.fullmatch(r"images/[0-9a-f]{64}\.(jpg|png)", key), key
        body = s3.get_object(Bucket=INPUT, Key=key)["Body"].read()
        assert b"PK\x03\x04" not in body and b"<script" not in body and b"EXIFMARKER" not in body
        assert Image.open(io.BytesIO(body)).mode in ("RGB", "RGBA", "L", "LA")
    drops = {o["Key"] for o in s3.list_objects_v2(Bucket=DROP).get("Contents", [])}
    quarantined = {k for k, _, e in CORPUS if e != "accepted"}
    accepted = {k for k, _, e in CORPUS if e == "accepted"}
    assert drops == accepted | {intake.quarantine_key("quarantine/", k) for k in quarantined}
    assert all(len(k.encode()) <= 1024 and k.startswith("quarantine/") for k in drops - accepted)
    for key in quarantined:  # each quarantined copy says why, in printable ASCII
        target = intake.quarantine_key("quarantine/", key)
        reason = s3.head_object(Bucket=DROP, Key=target)["Metadata"]["reason"]
        assert reason.isprintable() and reason.isascii()
        assert reason.split(":")[0] == str(outcomes[key].reason).split(":")[0]
    ledger = {key: world.deps.ledger.get_drop(key) for key, _, _ in CORPUS}
    assert all(item is not None for item in ledger.values())  # every file accounted for
    # A second delivery of every event (at-least-once) changes nothing and crashes nothing.
    again = {key: intake.process_drop(world.deps, Drop(DROP, key)) for key, _, _ in CORPUS}
    assert {k for k, o in again.items() if o.action == "accepted"} == set()


def test_a_decompression_bomb_is_refused_before_decoding_in_bounded_memory() -> None:
    code = (
        "import json, tracemalloc, sys\n"
        "from gtstream import transforms\n"
        "data = sys.stdin.buffer.read()\n"
        "tracemalloc.start()\n"
        "try:\n"
        "    transforms.validate(data, 20 * 1024 * 1024, 100_000_000)\n"
        "    reason = None\n"
        "except transforms.Rejected as exc:\n"
        "    reason = exc.reason\n"
        "print(json.dumps({'reason': reason, 'peak': tracemalloc.get_traced_memory()[1]}))\n"
    )
    bomb = png_bomb(40_000, 40_000)  # 1.6 billion pixels: 200 MB packed, 1.6 GB as 8-bit pixels
    result = subprocess.run([sys.executable, "-c", code], input=bomb, capture_output=True, check=True)
    figures = json.loads(result.stdout)
    assert len(bomb) < 2 * 1024 * 1024 and str(figures["reason"]).startswith("too-many-pixels")
    assert figures["peak"] < BOMB_PEAK_LIMIT_MB * 1024 * 1024, figures


MALFORMED_BODIES = [
    "not json at all",
    "[]",
    '"a string"',
    '{"Records": "not a list"}',
    '{"Records": [{"eventName": "ObjectCreated:Put"}]}',
    '{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {}, "object": {"key": "k"}}}]}',
    "{}",
]


def sqs_record(message_id: str, body: str) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": message_id,
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:cats-intake",
        "awsRegion": "us-east-1",
    }


def test_malformed_queue_bodies_fail_alone_and_a_good_record_in_the_batch_is_processed(world: World) -> None:
    boto3.client("s3").put_object(Bucket=DROP, Key="good.jpg", Body=image())
    good = {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": DROP}, "object": {"key": "good.jpg"}},
            }
        ]
    }
    records = [sqs_record(f"bad-{i}", body) for i, body in enumerate(MALFORMED_BODIES)]
    records.append(sqs_record("good", json.dumps(good)))
    processed: list[str] = []

    def record_handler(record: Any) -> None:
        for drop in intake.parse_s3_event(record.json_body):
            processed.append(intake.process_drop(world.deps, drop).action)

    response = process_sqs_batch({"Records": records}, None, record_handler)

    failed = sorted(f["itemIdentifier"] for f in response["batchItemFailures"])
    assert failed == sorted(f"bad-{i}" for i in range(len(MALFORMED_BODIES)))
    assert processed == ["accepted"]


def test_events_of_another_bucket_account_or_project_are_ignored_with_a_reason(world: World) -> None:
    other_bucket = intake.process_drop(world.deps, Drop("someone-elses-bucket", "x.jpg"))
    assert other_bucket.action == "skipped" and str(other_bucket.reason).startswith("not the drop bucket")
    for arn in (
        "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/dogs-0001",  # another project
        "arn:aws:sagemaker:us-east-1:999999999999:labeling-job/other",  # another account's job
    ):
        event = {"detail-type": "SageMaker Ground Truth Labeling Job State Change", "resources": [arn]}
        assert job_events.handle_state_change(world.deps, event).action == "ignored"
    stranger = "arn:aws:sagemaker:us-east-1:999999999999:labeling-job/cats-0007"
    event = {"detail-type": "SageMaker Ground Truth Labeling Job State Change", "resources": [stranger]}
    # A name of ours from elsewhere: decided from DescribeLabelingJob in our account, never the event.
    assert job_events.handle_state_change(world.deps, event).action == "unknown-job"
    assert world.jobs.created == []
    with pytest.raises(ValueError, match="not a labeling-job state-change event"):
        job_events.handle_state_change(world.deps, {"detail-type": "Something Else"})
