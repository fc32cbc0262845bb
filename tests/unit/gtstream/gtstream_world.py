"""In-process AWS (moto) for the decisions of gtstream: the ledger, topics and buckets are moto's;
the labeling jobs and the job-events queue are small fakes (moto has no labeling jobs, and delayed
SQS messages would wait real time)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from tests.inprocess import in_process_aws

from gtcontract.states import INITIALIZING, TERMINAL_JOB_STATUSES
from gtstream.aws import JobDescription
from gtstream.config import Settings
from gtstream.deps import Deps
from gtstream.ledger import table_definition

REGION = "us-east-1"
ACCOUNT = "123456789012"
ENV = {
    "PROJECT_PREFIX": "cats",
    "LEDGER_TABLE": "cats-ledger",
    "DROP_BUCKET": "cats-drop",
    "INPUT_BUCKET": "cats-input",
    "OUTPUT_BUCKET": "cats-output",
    "INPUT_TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:cats-gt-input",
    "OUTPUT_TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:cats-gt-output",
    "NOTIFICATION_TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:cats-notifications",
    "PROJECT_CONFIG_URI": "s3://cats-instructions/config/project.json",
    "GROUNDTRUTH_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/cats-groundtruth",
    "JOB_EVENTS_QUEUE_URL": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/cats-job-events",
}


class FakeJobs:
    """LabelingJobs with statuses a test sets; ``create`` records the request."""

    def __init__(self) -> None:
        self.statuses: dict[str, str] = {}
        self.created: list[dict[str, Any]] = []

    def describe(self, name: str) -> JobDescription | None:
        status = self.statuses.get(name)
        if status is None:
            return None
        return JobDescription(
            name=name,
            status=status,
            label_attribute_name="category",
            output_manifest_uri=None,
            output_s3_path="s3://cats-output/jobs/",
            failure_reason=None,
            counters={},
            creation_time=datetime(2026, 1, 1, tzinfo=UTC),
            arn=f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:labeling-job/{name}",
        )

    def create(self, request: dict[str, Any]) -> bool:
        name = request["LabelingJobName"]
        if name in self.statuses:
            return False
        self.created.append(request)
        self.statuses[name] = INITIALIZING
        return True

    def stop(self, name: str) -> None:
        self.statuses[name] = "Stopping"

    def end(self, name: str, status: str) -> None:
        assert status in TERMINAL_JOB_STATUSES
        self.statuses[name] = status


@dataclass
class FakeQueues:
    """Queues.send recorded as (url, message body as JSON, delay seconds)."""

    sent: list[tuple[str, dict[str, Any], int]] = field(default_factory=list)
    fail: bool = False

    def send(self, url: str, body: str, delay_seconds: int = 0) -> str:
        if self.fail:
            raise RuntimeError("SQS is unreachable")
        self.sent.append((url, json.loads(body), delay_seconds))
        return f"m-{len(self.sent)}"


@dataclass
class World:
    deps: Deps
    jobs: FakeJobs
    queues: FakeQueues

    def publish_config(self, **changes: Any) -> None:
        from tests.documents import published_config

        config = published_config(**changes)
        boto3.client("s3", region_name=REGION).put_object(
            Bucket="cats-instructions", Key="config/project.json", Body=json.dumps(config).encode()
        )

    def add_pending(self, *object_ids: str) -> None:
        for object_id in object_ids:
            self.deps.ledger.add_object(
                object_id, f"s3://cats-input/images/{object_id}.jpg", f"{object_id}.jpg"
            )

    def input_messages(self) -> list[dict[str, Any]]:
        """What reached the input topic (read from a queue subscribed to it)."""
        sqs = boto3.client("sqs", region_name=REGION)
        messages = []
        while batch := sqs.receive_message(QueueUrl=self._input_probe, MaxNumberOfMessages=10).get(
            "Messages"
        ):
            for m in batch:
                messages.append(json.loads(json.loads(m["Body"])["Message"]))
                sqs.delete_message(QueueUrl=self._input_probe, ReceiptHandle=m["ReceiptHandle"])
        return messages

    _input_probe: str = ""


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with in_process_aws(monkeypatch, REGION):
        boto3.client("dynamodb", region_name=REGION).create_table(**table_definition(ENV["LEDGER_TABLE"]))
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in ("cats-drop", "cats-input", "cats-output", "cats-instructions"):
            s3.create_bucket(Bucket=bucket)
        sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
        for topic in ("cats-gt-input", "cats-gt-output", "cats-notifications"):
            sns.create_topic(Name=topic)
        probe = sqs.create_queue(QueueName="input-probe")["QueueUrl"]
        sns.subscribe(
            TopicArn=ENV["INPUT_TOPIC_ARN"],
            Protocol="sqs",
            Endpoint=f"arn:aws:sqs:{REGION}:{ACCOUNT}:input-probe",
        )
        deps = Deps.build(Settings.from_env(ENV))
        jobs, queues = FakeJobs(), FakeQueues()
        deps = replace(deps, jobs=jobs, queues=queues)  # type: ignore[arg-type]
        world = World(deps, jobs, queues)
        world._input_probe = probe
        yield world
