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
import os
import re
import subprocess
import sys
from pathlib import Path
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


ROOT = Path(__file__).resolve().parents[3]
# The intake on bombs in a fresh process, as Lambda runs it: moto in process, the function's memory
# setting in AWS_LAMBDA_FUNCTION_MEMORY_SIZE; prints each outcome and the process's peak RSS.
INTAKE_ON_BOMBS = """
import json, os, sys
from dataclasses import replace
import boto3
from moto import mock_aws
from gtstream.config import Settings
from gtstream.deps import Deps
from gtstream.intake import Drop, process_drop
from gtstream.ledger import table_definition

env, bombs = json.loads(sys.argv[1]), sys.argv[2:]
os.environ.update(env)
with mock_aws():
    boto3.client("dynamodb").create_table(**table_definition(env["LEDGER_TABLE"]))
    s3 = boto3.client("s3")
    for bucket in ("cats-drop", "cats-input", "cats-output", "cats-instructions"):
        s3.create_bucket(Bucket=bucket)
    boto3.client("sns").create_topic(Name="cats-notifications")
    deps = Deps.build(Settings.from_env(env))
    outcomes = {}
    for path in bombs:
        key = os.path.basename(path)
        with open(path, "rb") as bomb:
            s3.put_object(Bucket="cats-drop", Key=key, Body=bomb.read())
        outcome = process_drop(deps, Drop("cats-drop", key))
        outcomes[key] = [outcome.action, outcome.reason]
status = open("/proc/self/status").read()
peak_kb = int(status.split("VmHWM:")[1].split()[0])
print(json.dumps({"outcomes": outcomes, "peak_mb": peak_kb / 1024}))
"""


def deployed_memory_mb() -> int:
    """The intake's memory setting as deployed: the CloudFormation default, the Terraform default."""
    stack = (ROOT / "cloudformation" / "labeling.yaml").read_text()
    cfn = re.search(r"LambdaMemorySize:\n(?:\s+\w+:.*\n)*?\s+Default: (\d+)", stack)
    variables = (ROOT / "terraform" / "modules" / "streaming-labeling" / "variables.tf").read_text()
    tf = re.search(r"memory_size\s+= optional\(number, (\d+)\)", variables)
    assert cfn and tf and cfn.group(1) == tf.group(1), (cfn, tf)
    return int(cfn.group(1))


def test_the_intake_stays_under_its_memory_setting_on_bombs_just_under_the_pixel_limit(
    tmp_path: Path,
) -> None:
    """A 1-bit PNG and an RGBA PNG of 9,999 x 10,000 pixels (the default MAX_IMAGE_PIXELS is 10^8):
    the first is decoded and resized (500 MB of pixels at most at once), the second would need
    800 MB: decoded when the function has that much free, else quarantined before decoding.
    Either way the process's peak RSS (VmHWM) stays under the memory setting."""
    memory_mb = deployed_memory_mb()
    gray, rgba = tmp_path / "gray-1bit.png", tmp_path / "rgba.png"
    gray.write_bytes(png_bomb(9_999, 10_000))
    rgba.write_bytes(png_bomb(9_999, 10_000, color_type=6, bit_depth=8))
    env = {**ENV, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    child = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    child.update(AWS_DEFAULT_REGION="us-east-1", AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(memory_mb))
    result = subprocess.run(
        [sys.executable, "-c", INTAKE_ON_BOMBS, json.dumps(env), str(gray), str(rgba)],
        capture_output=True,
        text=True,
        env=child,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"memory setting {memory_mb} MB: {figures}")
    outcomes = figures["outcomes"]
    assert outcomes["gray-1bit.png"][0] == "accepted", outcomes
    action, reason = outcomes["rgba.png"]
    assert action == "accepted" or str(reason).startswith("too-large-for-memory: 9999x10000 RGBA"), outcomes
    assert figures["peak_mb"] < memory_mb, figures


def test_a_decode_that_does_not_fit_the_memory_left_is_refused_before_decoding() -> None:
    from gtstream import transforms

    bomb = png_bomb(9_999, 10_000, color_type=6, bit_depth=8)
    need = transforms.decode_cost("RGBA", 9_999, 10_000, 1024)
    assert need > 800_000_000
    with pytest.raises(transforms.Rejected) as refused:
        transforms.decode(bomb, 20 * 1024 * 1024, 100_000_000, max_side=1024, memory=(need - 1, 1024))
    assert refused.value.reason.startswith("too-large-for-memory: 9999x10000 RGBA needs"), (
        refused.value.reason
    )
    assert refused.value.reason.endswith("of the function's 1024 MB are free")
    small = image(size=(40, 30))  # fits: decoded
    assert transforms.decode(
        small, 10**6, 10**6, memory=(transforms.decode_cost("RGB", 40, 30), 128)
    ).size == (40, 30)


def test_a_large_jpeg_is_decoded_at_the_scale_the_resize_keeps() -> None:
    """Image.draft: a 4,000 x 3,000 JPEG resized to 500 is decoded at 1/2 (both sides at least
    1,000, as ``Image.thumbnail`` asks), not in full."""
    from gtstream import transforms

    big = image(size=(4_000, 3_000))
    decoded = transforms.decode(big, 10**8, 10**8, max_side=500)
    assert decoded.size == (2_000, 1_500)  # the default transform resizes it from there
    out = transforms.apply("gtstream.transforms:default", big, decoded, {"max_side": 500})
    decoded.close()
    assert Image.open(io.BytesIO(out.data)).size == (500, 375)


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
