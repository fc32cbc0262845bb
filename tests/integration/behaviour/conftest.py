"""The behaviour suite: ``deployment`` gives the project under test, ``variant`` the emulator's
behaviour where AWS leaves it open, ``project`` both with Given/When/Then helpers.

``deployment`` is the SDK deployment (``gtlocal.deploy``) by default. Another deployment kind
(e.g. the Terraform example) can be added by parametrizing this fixture: every behaviour test then
runs against each, since they only use the deployment document (docs/interfaces.md section 2).
The project is deployed once per test module and cleaned before each test
(``gtlocal.testing.clean_project``: data gone, resources kept), which behaves as a fresh
deployment and costs a fraction of one.

``variant`` is an emulator ``Variant`` (settings of ``/_groundtruth/settings``). Every test runs
under ``DOCUMENTED``, the emulator's documented defaults (state-change events for Completed,
Failed and Stopped only; idle stop ``Stopped``; expiry ``Failed``; each event once; an unlabeled
object's input line in the output manifest), unless it is marked ``@across_variants``: then it
runs once per variant of ``VARIANTS``, which ``project`` applies before the test. The chaining
scenarios (test_chaining.py) carry the mark.

Why ``VARIANTS`` is a covering set and not the product: the dimensions are state-change events
(terminal, all), idle-stop status (Stopped, Completed, Failed), expiry status (Failed, Completed,
Stopped), duplicated events (x1, x5) and unlabeled objects in an ended job's output manifest
(plain, failure-metadata, omitted). Their product is 2*3*3*2*3 = 108 variants per scenario;
the Lambdas' decisions do not combine them (they decide from DescribeLabelingJob, the ledger and
the output manifest, whatever the status name, the number of events or the line's shape), so the
product adds nothing that one variant per value does not. ``VARIANTS`` are the fewest (three, the
most values of one dimension) in which every value of every dimension occurs at least once, the
first being the documented defaults; with 6 chaining scenarios that is 18 runs instead of 648. A
dimension only matters where it applies (the idle-stop status in the idle-stopped ending, the
expiry status in the expired one) and each ending asserts the end status its variant gives.
"""

from __future__ import annotations

import copy
import io
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from PIL import Image
from tests.iam_recording import recording

from gtlocal.deploy import deploy_project, publish_project_config
from gtlocal.runner import RunStats, run_until_idle
from gtlocal.testing import KeptDeployment, LocalCloud, allow_delivery

PREFIX = "bt"
# Jobs stay Initializing until a test moves the emulated clock (no race with the emulator's ticker).
INITIALIZING_SECONDS = 600


def sdk_deployment(cloud: LocalCloud) -> dict[str, Any]:
    return deploy_project(PREFIX, region=cloud.region, environment={"PENDING_STALE_SECONDS": "0"})


@pytest.fixture(scope="module")
def deployed(local_cloud: LocalCloud) -> KeptDeployment:
    """The SDK deployment, made once per test module on a reset local cloud."""
    return KeptDeployment(local_cloud, sdk_deployment)


@dataclass(frozen=True)
class Variant:
    """Emulator settings beyond the documented defaults (``{}``: the defaults themselves)."""

    name: str
    settings: dict[str, Any]


DOCUMENTED = Variant("documented", {})
VARIANTS = (
    DOCUMENTED,
    Variant(
        "all-events.idle-Completed.expiry-Completed.x5.failure-metadata",
        {
            "state_change_events": "all",
            "idle_stop_status": "Completed",
            "expiry_status": "Completed",
            "duplicate_events": 5,
            "unlabeled_in_output": "failure-metadata",
        },
    ),
    Variant(
        "terminal-events.idle-Failed.expiry-Stopped.x5.omitted",
        {
            "state_change_events": "terminal",
            "idle_stop_status": "Failed",
            "expiry_status": "Stopped",
            "duplicate_events": 5,
            "unlabeled_in_output": "omitted",
        },
    ),
)
# The test runs once per variant of VARIANTS (a fixture parameter: it follows `project` to any
# deployment that provides this module's `variant` and `project` fixtures).
across_variants = pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name, indirect=True)

# Behaviour modules that run on the SDK deployment only, and why: every other module's every
# scenario also runs on the Terraform and CloudFormation deployments (terraform/test_local_apply.py,
# cloudformation/test_behaviour_on_stack.py), which print these reasons.
SDK_ONLY_MODULES = {
    "test_cli": "makes its own SDK deployment (gtlocal deploy) to test the CLI on it",
    "test_load": "the load bench's code path (bench.load.run_load), which makes its own SDK deployment",
    "test_review_task_types": (
        "per review task type, its stage job and the emulator's output on one SDK stage pair: no resource "
        "or grant differs by task type, and test_review_stages proves the stage grants on the SDK, "
        "Terraform and CloudFormation deployments"
    ),
    "test_task_types": (
        "per task type, the job request and the emulator's output on one deployment: no resource or "
        "grant differs by task type, and test_terraform_cloudformation_and_the_sdk_deploy_the_same_iam "
        "shows Terraform and the stacks deploy the SDK deployment's IAM"
    ),
}


@pytest.fixture
def variant(request: pytest.FixtureRequest) -> Variant:
    """The emulator variant of the test: DOCUMENTED unless the test is marked ``across_variants``."""
    return getattr(request, "param", DOCUMENTED)


@pytest.fixture
def deployment(deployed: KeptDeployment) -> Iterator[dict[str, Any]]:
    """A project that behaves as freshly deployed (``clean_project``), its project config published."""
    document = deployed.clean()
    cloud = deployed.cloud
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
    # The emulator's settings the test runs with (every setting, after the variant was applied).
    emulator: dict[str, Any] = field(default_factory=dict)

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
        """Let the job leave Initializing, then run what is due: the Lambdas' check that finds it
        InProgress (and, in the variants that emit one, the InProgress event)."""
        self.advance(INITIALIZING_SECONDS + 5)
        assert self.cloud.control.job(self.job_name(index))["status"] == "InProgress"
        self.run()

    def published_config(self) -> dict[str, Any]:
        bucket, key = str(self.deployment["project_config_uri"])[5:].split("/", 1)
        config: dict[str, Any] = json.loads(self.s3().get_object(Bucket=bucket, Key=key)["Body"].read())
        return config

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

    def audit(self) -> Any:
        """``gtctl status --audit`` of the project (gtctl.audit.Audit)."""
        from gtcontract.deployment import Deployment
        from gtctl import audit
        from gtctl.aws import Aws

        return audit.run(Aws(self.deployment["region"]), Deployment.from_document(self.deployment))

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

    def record_job_state_events(self) -> None:
        """Record every labeling-job state-change event on the default bus from now on (any status,
        any job), through a rule and queue of the test's own."""
        sqs = boto3.client("sqs", region_name=self.deployment["region"])
        events = boto3.client("events", region_name=self.deployment["region"])
        url = sqs.create_queue(QueueName=f"{self.prefix}-test-job-state-events")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        rule = events.put_rule(
            Name=f"{self.prefix}-test-job-state-events",
            EventPattern=json.dumps(
                {
                    "source": ["aws.sagemaker"],
                    "detail-type": ["SageMaker Ground Truth Labeling Job State Change"],
                }
            ),
        )["RuleArn"]
        policy = {  # the queue policy AWS requires before EventBridge delivers to a queue
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": rule}},
                }
            ],
        }
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
        events.put_targets(Rule=f"{self.prefix}-test-job-state-events", Targets=[{"Id": "q", "Arn": arn}])
        self._job_state_queue = url
        self._job_states: list[tuple[str, str]] = []

    def job_state_events(self) -> list[tuple[str, str]]:
        """(job name, LabelingJobStatus) of every state-change event recorded so far."""
        sqs = boto3.client("sqs", region_name=self.deployment["region"])
        while True:
            batch = sqs.receive_message(
                QueueUrl=self._job_state_queue, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not batch:
                return list(self._job_states)
            for m in batch:
                event = json.loads(m["Body"])
                self._job_states.append(
                    (event["resources"][0].rsplit("/", 1)[-1], event["detail"]["LabelingJobStatus"])
                )
                sqs.delete_message(QueueUrl=self._job_state_queue, ReceiptHandle=m["ReceiptHandle"])

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


def given_project(deployment: dict[str, Any], cloud: LocalCloud, variant: Variant) -> Project:
    """The project under test on an emulator set to ``variant`` (every deployment's fixture uses it)."""
    emulator = cloud.control.update_settings(initializing_seconds=INITIALIZING_SECONDS, **variant.settings)
    given = Project(copy.deepcopy(deployment), cloud, emulator)  # tests may change its Lambda environment
    given.subscribe_notifications()
    return given


@pytest.fixture
def project(deployment: dict[str, Any], local_cloud: LocalCloud, variant: Variant) -> Iterator[Project]:
    yield given_project(deployment, local_cloud, variant)


StateCounter = Callable[[], dict[str, int]]
