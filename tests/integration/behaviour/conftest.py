"""The behaviour suite: one fixture, ``deployment``, gives the project under test.

It is the SDK deployment (``gtlocal.deploy``) by default. Another deployment kind (e.g. the
Terraform example) can be added by parametrizing this fixture: every behaviour test then runs
against each, since they only use the deployment document (docs/interfaces.md section 2).
"""

from __future__ import annotations

import copy
import io
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from PIL import Image
from tests.iam_recording import recording

from gtlocal.deploy import deploy_project, publish_project_config
from gtlocal.runner import RunStats, run_until_idle
from gtlocal.testing import LocalCloud, allow_delivery

PREFIX = "bt"
# Jobs stay Initializing until a test moves the emulated clock (no race with the emulator's ticker).
INITIALIZING_SECONDS = 600


@pytest.fixture
def deployment(cloud: LocalCloud) -> Iterator[dict[str, Any]]:
    """A freshly deployed project (the local cloud was reset) with a published project config."""
    document = deploy_project(PREFIX, region=cloud.region, environment={"PENDING_STALE_SECONDS": "0"})
    publish_project_config(document)
    with recording(cloud, "sdk", document):  # the IAM coverage report (tests/iam_recording.py)
        yield document


def image_bytes(seed: int, size: tuple[int, int] = (64, 48), fmt: str = "JPEG") -> bytes:
    """A small, distinct image per seed."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    for _ in range(20):
        image.putpixel((rng.randrange(size[0]), rng.randrange(size[1])), (rng.randrange(256), 0, 0))
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


@dataclass
class Project:
    """Given/When/Then helpers over one deployment."""

    deployment: dict[str, Any]
    cloud: LocalCloud

    @property
    def prefix(self) -> str:
        return str(self.deployment["project_prefix"])

    def s3(self) -> Any:
        return boto3.client("s3", region_name=self.deployment["region"])

    def drop(self, key: str, data: bytes) -> None:
        self.s3().put_object(Bucket=self.deployment["buckets"]["drop"], Key=key, Body=data)

    def drop_images(self, start: int, count: int, folder: str = "batch") -> list[str]:
        keys = []
        for seed in range(start, start + count):
            key = f"{folder}/img {seed}.jpg"
            self.drop(key, image_bytes(seed))
            keys.append(key)
        return keys

    def run(self, **kwargs: Any) -> RunStats:
        return run_until_idle(self.deployment, **kwargs)

    def job_name(self, index: int) -> str:
        return f"{self.prefix}-{index:04d}"

    def advance(self, seconds: float) -> None:
        """Move the emulated clock (the emulator processes everything before answering)."""
        self.cloud.control.advance_clock(seconds)

    def start_job_running(self, index: int) -> None:
        """Let the job leave Initializing, then deliver the InProgress event."""
        self.advance(INITIALIZING_SECONDS + 5)
        assert self.cloud.control.job(self.job_name(index))["status"] == "InProgress"
        self.run()

    def label_all(self, index: int) -> int:
        view = self.cloud.control.job(self.job_name(index))
        available = sum(1 for o in view["objects"] if o["state"] == "available")
        return self.cloud.control.workforce(self.job_name(index), label=available)["labeled"]

    def ledger_items(self) -> list[dict[str, Any]]:
        table = boto3.resource("dynamodb", region_name=self.deployment["region"]).Table(
            self.deployment["ledger_table"]
        )
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {}
        while True:
            page = table.scan(**kwargs)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def objects(self) -> list[dict[str, Any]]:
        return [i for i in self.ledger_items() if str(i["pk"]).startswith("OBJ#")]

    def project_item(self) -> dict[str, Any]:
        return next((i for i in self.ledger_items() if i["pk"] == "PROJECT"), {})

    def job_item(self, index: int) -> dict[str, Any]:
        return next((i for i in self.ledger_items() if i["pk"] == f"JOB#{self.job_name(index)}"), {})

    def jobs(self) -> list[str]:
        sm = boto3.client("sagemaker", region_name=self.deployment["region"])
        return sorted(
            j["LabelingJobName"] for j in sm.list_labeling_jobs(MaxResults=100)["LabelingJobSummaryList"]
        )

    def lost(self) -> list[str]:
        """docs/interfaces.md section 4: drop keys (outside quarantine) the ledger does not know."""
        drops = {str(i["pk"])[5:] for i in self.ledger_items() if str(i["pk"]).startswith("DROP#")}
        s3 = self.s3()
        keys: list[str] = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.deployment["buckets"]["drop"]):
            keys.extend(o["Key"] for o in page.get("Contents", []))
        return [k for k in keys if not k.startswith("quarantine/") and k not in drops]

    def notifications(self) -> list[dict[str, Any]]:
        """Every notification so far (read from an SQS queue subscribed by `subscribe_notifications`)."""
        sqs = boto3.client("sqs", region_name=self.deployment["region"])
        url = self._notification_queue
        messages: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
                "Messages", []
            )
            if not batch:
                break
            for m in batch:
                messages.append(json.loads(json.loads(m["Body"])["Message"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        self._seen.extend(messages)
        return list(self._seen)

    def subscribe_notifications(self) -> None:
        sqs = boto3.client("sqs", region_name=self.deployment["region"])
        sns = boto3.client("sns", region_name=self.deployment["region"])
        url = sqs.create_queue(QueueName=f"{self.prefix}-test-notifications")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        topic = self.deployment["topics"]["notifications"]
        allow_delivery(sqs, url, "sns.amazonaws.com", topic)
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        self._notification_queue = url
        self._seen: list[dict[str, Any]] = []


@pytest.fixture
def project(deployment: dict[str, Any], cloud: LocalCloud) -> Iterator[Project]:
    # state_change_events="all": until the Lambdas follow new jobs themselves (issue 8, Build 3)
    cloud.control.update_settings(initializing_seconds=INITIALIZING_SECONDS, state_change_events="all")
    given = Project(copy.deepcopy(deployment), cloud)  # tests may change its Lambda environment
    given.subscribe_notifications()
    yield given


StateCounter = Callable[[], dict[str, int]]
