"""Deploy one project's resources through boto3 and return the deployment document.

This is the SDK deployment used where terraform is absent (behaviour tests, the demo): the same
resources and the same deployment document (docs/interfaces.md section 2) as the Terraform
module, created against whatever ``AWS_ENDPOINT_URL`` points at. Names are the contract's
(``gtcontract.names``), which Terraform and CloudFormation follow: buckets
``<P>-<account>-<kind>``, topics ``<P>-gt-input``, ``<P>-gt-output``, ``<P>-notifications``,
queues ``<P>-intake``/``<P>-job-events``/``<P>-worker-events``/``<P>-labels`` (each with ``-dlq``;
``<P>-labels`` subscribed to the output topic with raw message delivery), table
``<P>-ledger``, rules ``<P>-job-state``/``<P>-worker-task``, roles ``<P>-groundtruth`` and
``<P>-<function>-lambda``, Lambdas ``<P>-intake`` ... ``<P>-reconcile`` (metadata: a placeholder
package, the project's environment, so ``gtctl --prefix P`` finds it), the managed policy
``<P>-operator`` (long prefixes shortened with a hash as the Terraform module does). Every IAM,
queue, topic and bucket policy is the one of terraform/modules/streaming-labeling and
cloudformation/labeling.yaml, statement for statement (same Sids; an integration test compares
the three); no customer managed key (the Terraform/CloudFormation ``ProjectKey``
statements exist only with one).

    gtlocal deploy --prefix demo --output build/deployment.json [--publish-config]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gtcontract import names
from gtcontract.deployment import DEFAULT_HANDLERS, environment_from_document
from gtcontract.names import BUCKET_KINDS, bucket_name, resource_base
from gtcontract.states import (
    JOB_STATE_CHANGE,
    SAGEMAKER_EVENT_SOURCE,
    TASK_STATUS_CHANGE,
    TERMINAL_JOB_STATUSES,
)
from gtstream.ledger import table_definition

TEST_TEMPLATE = (
    '<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>\n<crowd-form>'
    '<crowd-image-classifier name="crowd-image-classifier" '
    'src="{{ task.input.taskObject | grant_read_access }}" '
    'categories="{{ task.input.labels | to_json | escape }}" header="Classify the image">'
    "</crowd-image-classifier></crowd-form>\n"
)
QUEUES = {  # name -> (batch size, max receive count)
    "intake": (10, 3),
    "job_events": (10, 5),
    "worker_events": (10, 3),
    "labels": (10, 3),
}
HANDLERS = DEFAULT_HANDLERS


TLS_DENY_SID = "DenyInsecureTransport"
TOPIC_POLICY_ACTIONS = [  # the topic actions a topic policy names, all denied over plain HTTP
    "SNS:AddPermission",
    "SNS:DeleteTopic",
    "SNS:GetTopicAttributes",
    "SNS:ListSubscriptionsByTopic",
    "SNS:Publish",
    "SNS:RemovePermission",
    "SNS:SetTopicAttributes",
    "SNS:Subscribe",
]
GROUNDTRUTH_METRIC_NAMESPACES = ["AWS/SageMaker/Workteam", "AWS/Sagemaker/LabelingJobs"]
# The only actions an Allow may grant on Resource "*" (Terraform, CloudFormation and this module
# alike): each has no resource type in the Service Authorization Reference, so a statement naming
# resources would allow nothing (src/gtlocal/iam/service_reference.json; the pages are
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_<service>.html).
# action -> (the Sid that grants it, why it is needed and how it is kept narrow)
RESOURCE_STAR_EXCEPTIONS: dict[str, tuple[str, str]] = {
    "cloudwatch:PutMetricData": (
        "CloudWatchMetrics",
        "Ground Truth role: its metrics, only in GROUNDTRUTH_METRIC_NAMESPACES (cloudwatch:namespace)",
    ),
    "sns:Unsubscribe": (
        "StreamingTopicUnsubscribe",
        "Ground Truth role: unsubscribes a stopped job's GroundTruth-<job> queue (list_amazonsns.html)",
    ),
    "sagemaker:ListLabelingJobs": ("ListLabelingJobs", "operator policy: gtctl status, read-only"),
}
LAMBDA_RUNTIME = "python3.11"
# Each function's memory: the Terraform module's (lambda.memory_size) and the stacks'
# (LambdaMemorySize) default. The runner hands it to the handlers as Lambda does.
LAMBDA_MEMORY_MB = 1024


@dataclass(frozen=True)
class Stage:
    """How a stage is wired to the stages around it (docs/interfaces.md "Stages"): the upstream
    stage's output topic feeding this stage's intake queue and the upstream's input bucket (where
    the images are: this stage's Ground Truth role reads them), and the queue this stage's review
    sends rejected objects to (the upstream's intake queue: relabel)."""

    upstream_output_topic_arn: str | None = None
    upstream_input_bucket: str | None = None
    rejected_queue_url: str | None = None
    rejected_queue_arn: str | None = None

    @classmethod
    def after(cls, upstream: dict[str, Any], *, relabel: bool = True) -> Stage:
        """The stage after ``upstream`` (its deployment document); ``relabel``: rejected objects go
        back to it (its intake queue)."""
        intake = upstream["queues"]["intake"]
        return cls(
            upstream_output_topic_arn=upstream["topics"]["output"],
            upstream_input_bucket=upstream["buckets"]["input"],
            rejected_queue_url=intake["url"] if relabel else None,
            rejected_queue_arn=intake["arn"] if relabel else None,
        )

    def document(self) -> dict[str, Any]:
        """The deployment document's ``stage`` key."""
        return {
            "upstream_output_topic_arn": self.upstream_output_topic_arn,
            "rejected_queue_url": self.rejected_queue_url,
        }

    def environment(self) -> dict[str, str]:
        env = {}
        if self.upstream_output_topic_arn:
            env["UPSTREAM_OUTPUT_TOPIC_ARN"] = self.upstream_output_topic_arn
        if self.rejected_queue_url:
            env["REJECTED_QUEUE_URL"] = self.rejected_queue_url
        return env


NO_STAGE = Stage()


@dataclass(frozen=True)
class Names:
    """The names and ARNs of one project's resources (Terraform's ``local.*`` of the module)."""

    prefix: str
    account: str
    region: str
    partition: str = "aws"
    quarantine_prefix: str = "quarantine/"
    project_config_key: str = "config/project.json"

    @property
    def base(self) -> str:
        return resource_base(self.prefix)

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:{self.partition}:{service}:{self.region if region else ''}:"
            f"{self.account if account else ''}:{resource}"
        )

    def bucket(self, kind: str) -> str:
        return bucket_name(self.prefix, kind, self.account)

    def bucket_arn(self, kind: str) -> str:
        return f"arn:{self.partition}:s3:::{self.bucket(kind)}"

    def topic_arn(self, kind: str) -> str:
        return self.arn("sns", names.topic_name(self.prefix, kind))

    def queue_name(self, kind: str) -> str:
        return names.queue_name(self.prefix, kind)

    def queue_arn(self, kind: str) -> str:
        return self.arn("sqs", self.queue_name(kind))

    def function_name(self, function: str) -> str:
        return names.function_name(self.prefix, function)

    def rule_arn(self, kind: str) -> str:
        return self.arn("events", f"rule/{names.rule_name(self.prefix, kind)}")

    @property
    def ledger_arn(self) -> str:
        return self.arn("dynamodb", f"table/{names.ledger_table_name(self.prefix)}")

    @property
    def groundtruth_role_arn(self) -> str:
        return self.arn("iam", f"role/{names.groundtruth_role_name(self.prefix)}", region=False)

    @property
    def job_arns(self) -> list[str]:
        """Jobs are ``<P>-NNNN`` with 4 or 5 digits; ``?`` is one character, so another project
        ``<P>-<x>`` (jobs ``<P>-<x>-NNNN``, 6+ characters after ``<P>-``) is never reached."""
        return [f"{self.job_arn_prefix}{n}" for n in ("????", "?????")]

    @property
    def groundtruth_queue_arns(self) -> list[str]:
        queue_prefix = names.groundtruth_queue_prefix(self.prefix)
        return [self.arn("sqs", f"{queue_prefix}{n}") for n in ("????", "?????")]

    @property
    def job_arn_prefix(self) -> str:
        return names.job_arn_prefix(self.region, self.account, self.prefix, self.partition)


def _statement(sid: str, actions: Sequence[str], resources: Sequence[str], **extra: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": list(resources), **extra}


def _document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _service_trust(service: str, source_account: str | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if source_account:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": source_account}}
    return _document(statement)


def _tls_deny(actions: Sequence[str] | str, resources: Sequence[str]) -> dict[str, Any]:
    return {
        "Sid": TLS_DENY_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": actions if isinstance(actions, str) else list(actions),
        "Resource": list(resources),
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def groundtruth_policy(
    n: Names, custom_task_lambda_arns: Sequence[str] = (), stage: Stage = NO_STAGE
) -> dict[str, Any]:
    """The Ground Truth execution role's policy, as AWS documents it for streaming jobs:
    https://docs.aws.amazon.com/sagemaker/latest/dg/sms-security-permission-execution-role.html
    (sqs:SendMessageBatch, which the page lists, is no IAM action: sqs:SendMessage authorises it)."""
    topics = [n.topic_arn("input"), n.topic_arn("output")]
    instructions = n.bucket_arn("instructions")
    log_group = n.arn("logs", "log-group:/aws/sagemaker/LabelingJobs")
    statements = [
        _statement(
            "S3ViewBuckets",
            ["s3:GetBucketLocation", "s3:ListBucket"],
            [n.bucket_arn("input"), n.bucket_arn("output"), instructions],
        ),
        _statement(
            "S3ReadInputs", ["s3:GetObject"], [f"{n.bucket_arn('input')}/*", f"{instructions}/config/*"]
        ),
        _statement(
            "S3GetPutObjects",
            ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
            [f"{n.bucket_arn('output')}/jobs/*"],
        ),
        _statement(  # no resource-level permission exists for PutMetricData: "*" + namespace
            "CloudWatchMetrics",
            ["cloudwatch:PutMetricData"],
            ["*"],
            Condition={"StringEquals": {"cloudwatch:namespace": GROUNDTRUTH_METRIC_NAMESPACES}},
        ),
        _statement(
            "CloudWatchLogs",
            ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
            [log_group, f"{log_group}:*"],
        ),
        _statement(
            "StreamingQueue",
            [
                "sqs:CreateQueue",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:GetQueueUrl",
                "sqs:ReceiveMessage",
                "sqs:SendMessage",
                "sqs:SetQueueAttributes",
            ],
            n.groundtruth_queue_arns,
        ),
        _statement(
            "StreamingTopicSubscribe",
            ["sns:Subscribe"],
            topics,
            Condition={
                "StringEquals": {"sns:Protocol": "sqs"},
                "StringLike": {"sns:Endpoint": n.groundtruth_queue_arns},
            },
        ),
        _statement("StreamingTopic", ["sns:Publish"], topics),
        # A stopped job's queue is unsubscribed; Unsubscribe has no resource type in the Service
        # Authorization Reference, so only Resource "*" allows it (RESOURCE_STAR_EXCEPTIONS):
        # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsns.html
        _statement("StreamingTopicUnsubscribe", ["sns:Unsubscribe"], ["*"]),
    ]
    if custom_task_lambda_arns:
        statements.append(_statement("LambdaFunctions", ["lambda:InvokeFunction"], custom_task_lambda_arns))
    if stage.upstream_input_bucket:
        # A downstream stage's objects are the upstream's images (its input bucket): the worker
        # UI shows them through grant_read_access, signed as this role.
        upstream = f"arn:{n.partition}:s3:::{stage.upstream_input_bucket}"
        statements.append(_statement("UpstreamImages", ["s3:GetObject"], [f"{upstream}/images/*"]))
    return _document(*statements)


def lambda_policies(n: Names, stage: Stage = NO_STAGE) -> dict[str, dict[str, Any]]:
    """Each Lambda role's policy: exactly the calls its handler makes (gtstream aws.py, ledger.py).
    S3 answers a missing key with 404 only to callers allowed s3:ListBucket (403 otherwise), and
    the Lambdas read "not there (yet)" as an answer: hence the *List statements."""
    jobs, ledger = n.job_arns, n.ledger_arn
    catalogue = {
        "Ledger": (["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"], [ledger]),
        "LedgerIndex": (["dynamodb:Query"], [f"{ledger}/index/by-state"]),
        "LedgerCounters": (["dynamodb:UpdateItem"], [ledger]),
        "DropObjects": (
            ["s3:DeleteObject", "s3:GetObject", "s3:GetObjectTagging"],
            [f"{n.bucket_arn('drop')}/*"],
        ),
        "QuarantineObjects": (
            ["s3:PutObject", "s3:PutObjectTagging"],
            [f"{n.bucket_arn('drop')}/{n.quarantine_prefix}*"],
        ),
        "DropList": (["s3:ListBucket"], [n.bucket_arn("drop")]),
        "InputImages": (["s3:PutObject"], [f"{n.bucket_arn('input')}/images/*"]),
        "InputManifests": (
            ["s3:AbortMultipartUpload", "s3:PutObject"],
            [f"{n.bucket_arn('input')}/manifests/*"],
        ),
        "OutputManifests": (["s3:GetObject"], [f"{n.bucket_arn('output')}/jobs/*"]),
        "OutputList": (["s3:ListBucket"], [n.bucket_arn("output")]),
        "ProjectConfig": (["s3:GetObject"], [f"{n.bucket_arn('instructions')}/{n.project_config_key}"]),
        "InstructionsList": (["s3:ListBucket"], [n.bucket_arn("instructions")]),
        "PublishInput": (["sns:Publish"], [n.topic_arn("input")]),
        "Notify": (["sns:Publish"], [n.topic_arn("notifications")]),
        "DescribeJobs": (["sagemaker:DescribeLabelingJob"], jobs),
        "CreateJobs": (["sagemaker:AddTags", "sagemaker:CreateLabelingJob"], jobs),
        # who creates a job puts the delayed checks that follow it to InProgress on this queue
        "FollowNewJobs": (["sqs:SendMessage"], [n.queue_arn("job_events")]),
        "GroundTruthQueues": (["sqs:DeleteQueue", "sqs:GetQueueUrl"], n.groundtruth_queue_arns),
        # reconcile stops the running job when a config with "on_publish": "roll-over" is published
        "StopJobs": (["sagemaker:StopLabelingJob"], jobs),
        # labels records each label from the output topic: one conditional UpdateItem, no read
        "LiveLabels": (["dynamodb:UpdateItem"], [ledger]),
        # a review stage's decision (gtstream.stages.decide) reads the object and the config
        "LedgerReadObject": (["dynamodb:GetItem"], [ledger]),
        "RejectedQueue": (["sqs:SendMessage"], [stage.rejected_queue_arn or ""]),
    }
    chaining = [
        "Ledger",
        "LedgerIndex",
        "InputManifests",
        "OutputManifests",
        "OutputList",
        "ProjectConfig",
        "InstructionsList",
        "PublishInput",
        "Notify",
        "DescribeJobs",
        "CreateJobs",
        "FollowNewJobs",
    ]
    sids = {
        "intake": [*chaining, "DropObjects", "QuarantineObjects", "DropList", "InputImages"],
        "job_events": chaining,
        "worker_events": ["LedgerCounters", "Notify"],
        "labels": ["LiveLabels"],
        "reconcile": [*chaining, "GroundTruthQueues", "StopJobs"],
    }
    if stage.upstream_output_topic_arn or stage.rejected_queue_arn:
        # A stage's labels function decides on each label (gtstream.stages.decide): the config
        sids["labels"] += ["ProjectConfig", "InstructionsList"]
    if stage.rejected_queue_arn:
        # ...and, before it sends a rejected object back, reads the object. The decision is made
        # on each label: live (labels) and at the job end, which every chaining function may
        # process (intake, job_events, reconcile; they read the ledger already).
        sids["labels"] += ["LedgerReadObject"]
        for function in ("intake", "job_events", "labels", "reconcile"):
            sids[function] = [*sids[function], "RejectedQueue"]
    pass_role = _statement(
        "PassGroundTruthRole",
        ["iam:PassRole"],
        [n.groundtruth_role_arn],
        Condition={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
    )
    policies = {}
    for function, sid_names in sids.items():
        log_group = n.arn("logs", f"log-group:/aws/lambda/{n.function_name(function)}:*")
        statements = [_statement("OwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], [log_group])]
        if function in QUEUES:
            statements.append(
                _statement(
                    "OwnQueue",
                    [
                        "sqs:ChangeMessageVisibility",
                        "sqs:DeleteMessage",
                        "sqs:GetQueueAttributes",
                        "sqs:ReceiveMessage",
                    ],
                    [n.queue_arn(function)],
                )
            )
        statements += [_statement(sid, *catalogue[sid]) for sid in sid_names]
        if function not in ("worker_events", "labels"):
            statements.append(pass_role)
        policies[function] = _document(*statements)
    return policies


def operator_policy(n: Names) -> dict[str, Any]:
    """What an operator needs to run gtctl (status, report, drop, chain). ListLabelingJobs has no
    resource-level permission ("*"); lambda:ListFunctions (gtctl --prefix) is left out."""
    return _document(
        _statement("ListLabelingJobs", ["sagemaker:ListLabelingJobs"], ["*"]),
        _statement(
            "ProjectJobs",
            [
                "sagemaker:AddTags",
                "sagemaker:CreateLabelingJob",
                "sagemaker:DescribeLabelingJob",
                "sagemaker:StopLabelingJob",
            ],
            n.job_arns,
        ),
        _statement(
            "PassGroundTruthRole",
            ["iam:PassRole"],
            [n.groundtruth_role_arn],
            Condition={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        ),
        _statement(
            "Ledger",
            [
                "dynamodb:BatchGetItem",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:Scan",
                "dynamodb:UpdateItem",
            ],
            [n.ledger_arn],
        ),
        _statement("LedgerIndex", ["dynamodb:Query"], [f"{n.ledger_arn}/index/by-state"]),
        _statement("DropImages", ["s3:AbortMultipartUpload", "s3:PutObject"], [f"{n.bucket_arn('drop')}/*"]),
        _statement(
            "ListBuckets",
            ["s3:ListBucket"],
            [n.bucket_arn("drop"), n.bucket_arn("output"), n.bucket_arn("instructions")],
        ),
        _statement(
            "InputManifests",
            ["s3:AbortMultipartUpload", "s3:PutObject"],
            [f"{n.bucket_arn('input')}/manifests/*"],
        ),
        _statement(
            "ReadManifestsAndConfig",
            ["s3:GetObject"],
            [f"{n.bucket_arn('output')}/jobs/*", f"{n.bucket_arn('instructions')}/{n.project_config_key}"],
        ),
        _statement("Notify", ["sns:Publish"], [n.topic_arn("notifications")]),
    )


def queue_policy(n: Names, kind: str, stage: Stage = NO_STAGE) -> dict[str, Any]:
    """The one sender of each queue (by service principal, source ARN and account) + TLS only;
    a downstream stage's intake queue also takes the upstream stage's output topic."""
    senders = {
        "intake": ("s3.amazonaws.com", n.bucket_arn("drop")),
        "job_events": ("events.amazonaws.com", n.rule_arn("job_events")),
        "worker_events": ("events.amazonaws.com", n.rule_arn("worker_events")),
        # the jobs' output topic (sns/latest/dg/subscribe-sqs-queue-to-sns-topic.html)
        "labels": ("sns.amazonaws.com", n.topic_arn("output")),
    }
    service, source = senders[kind]
    statements = [
        {
            "Sid": "AllowProjectSender",
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sqs:SendMessage",
            "Resource": n.queue_arn(kind),
            "Condition": {
                "ArnEquals": {"aws:SourceArn": source},
                "StringEquals": {"aws:SourceAccount": n.account},
            },
        }
    ]
    if kind == "intake" and stage.upstream_output_topic_arn:
        statements.append(
            {
                "Sid": "AllowUpstreamOutputTopic",
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": n.queue_arn(kind),
                "Condition": {"ArnEquals": {"aws:SourceArn": stage.upstream_output_topic_arn}},
            }
        )
    return _document(*statements, _tls_deny("sqs:*", [n.queue_arn(kind)]))


def topic_policy(n: Names, kind: str) -> dict[str, Any]:
    arn = n.topic_arn(kind)
    statements = [
        {
            "Sid": "OwnerAccountOnly",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{n.partition}:iam::{n.account}:root"},
            "Action": [
                "SNS:GetTopicAttributes",
                "SNS:ListSubscriptionsByTopic",
                "SNS:Publish",
                "SNS:Subscribe",
            ],
            "Resource": arn,
            "Condition": {"StringEquals": {"AWS:SourceOwner": n.account}},
        }
    ]
    if kind == "notifications":
        statements.append(
            {
                "Sid": "CloudWatchAlarmsOfThisAccount",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": "SNS:Publish",
                "Resource": arn,
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": n.account},
                    "ArnLike": {"aws:SourceArn": n.arn("cloudwatch", f"alarm:{n.base}-*")},
                },
            }
        )
    statements.append(_tls_deny(TOPIC_POLICY_ACTIONS, [arn]))
    return _document(*statements)


def bucket_policy(n: Names, kind: str) -> dict[str, Any]:
    arn = n.bucket_arn(kind)
    return _document(_tls_deny("s3:*", [arn, f"{arn}/*"]))


def placeholder_package() -> bytes:
    """moto stores Lambda code without running it (the local runner calls the handlers)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("README.txt", "gtlocal deploy: the handlers run in gtlocal run-events\n")
    return out.getvalue()


def deploy_project(
    prefix: str,
    *,
    region: str | None = None,
    visibility_timeout: int = 60,
    environment: dict[str, str] | None = None,
    custom_task_lambda_arns: Sequence[str] = (),
    stage: Stage | None = None,
) -> dict[str, Any]:
    """Create (idempotently) every resource of one project; return the deployment document.

    ``stage``: a stage of a multi-stage project (``Stage.after(upstream document)``): the
    upstream's output topic is subscribed to this stage's intake queue (raw message delivery)."""
    stage = stage or NO_STAGE
    import boto3

    names.check_prefix(prefix)
    session = boto3.session.Session(region_name=region)
    region = session.region_name or "us-east-1"
    identity = session.client("sts").get_caller_identity()
    n = Names(
        prefix,
        identity["Account"],
        region,
        partition=identity["Arn"].split(":")[1],
        quarantine_prefix=(environment or {}).get("QUARANTINE_PREFIX", "quarantine/"),
    )
    s3, sns, sqs = session.client("s3"), session.client("sns"), session.client("sqs")
    events, dynamodb = session.client("events"), session.client("dynamodb")
    base = n.base

    buckets = {kind: n.bucket(kind) for kind in BUCKET_KINDS}
    for kind, name in buckets.items():
        kwargs: dict[str, Any] = {"Bucket": name}
        if region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
            s3.create_bucket(**kwargs)
        s3.put_public_access_block(
            Bucket=name,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_policy(Bucket=name, Policy=json.dumps(bucket_policy(n, kind)))
    s3.put_bucket_cors(  # Ground Truth's worker UI reads input images from the browser
        Bucket=buckets["input"],
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedMethods": ["GET"],
                    "AllowedOrigins": ["*"],
                    "AllowedHeaders": [],
                    "ExposeHeaders": ["Access-Control-Allow-Origin"],
                }
            ]
        },
    )

    # No customer managed key here: the input topic on alias/aws/sns, output and notifications
    # unencrypted (Ground Truth and CloudWatch alarms cannot publish under alias/aws/sns), as
    # Terraform and CloudFormation do without a key.
    topics = {}
    for kind in names.TOPIC_KINDS:
        attributes = {"Policy": json.dumps(topic_policy(n, kind))}
        if kind == "input":
            attributes["KmsMasterKeyId"] = "alias/aws/sns"
        created = sns.create_topic(Name=names.topic_name(prefix, kind), Attributes=attributes)
        topics[kind] = created["TopicArn"]

    queues: dict[str, dict[str, Any]] = {}
    for kind, (batch_size, max_receive) in QUEUES.items():
        dlq_url = sqs.create_queue(
            QueueName=f"{n.queue_name(kind)}-dlq",
            Attributes={
                "MessageRetentionPeriod": "1209600",
                "Policy": json.dumps(_document(_tls_deny("sqs:*", [f"{n.queue_arn(kind)}-dlq"]))),
            },
        )["QueueUrl"]
        url = sqs.create_queue(
            QueueName=n.queue_name(kind),
            Attributes={
                "VisibilityTimeout": str(visibility_timeout),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": f"{n.queue_arn(kind)}-dlq", "maxReceiveCount": str(max_receive)}
                ),
                "Policy": json.dumps(queue_policy(n, kind, stage)),
            },
        )["QueueUrl"]
        queues[kind] = {
            "url": url,
            "arn": n.queue_arn(kind),
            "dlq_url": dlq_url,
            "batch_size": batch_size,
            "max_receive_count": max_receive,
        }

    # Each label Ground Truth publishes on the output topic reaches the labels queue as the output
    # line itself (raw message delivery: no SNS envelope around it;
    # sns/latest/dg/sns-large-payload-raw-message-delivery.html).
    sns.subscribe(
        TopicArn=topics["output"],
        Protocol="sqs",
        Endpoint=queues["labels"]["arn"],
        Attributes={"RawMessageDelivery": "true"},
    )

    if stage.upstream_output_topic_arn:
        # The upstream stage's labels, one output line a message (raw: no SNS envelope), feed
        # this stage's intake (sns/latest/dg/subscribe-sqs-queue-to-sns-topic.html).
        sns.subscribe(
            TopicArn=stage.upstream_output_topic_arn,
            Protocol="sqs",
            Endpoint=queues["intake"]["arn"],
            Attributes={"RawMessageDelivery": "true"},
        )

    s3.put_bucket_notification_configuration(
        Bucket=buckets["drop"],
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": queues["intake"]["arn"], "Events": ["s3:ObjectCreated:*"]}]
        },
    )

    table = names.ledger_table_name(prefix)
    with contextlib.suppress(dynamodb.exceptions.ResourceInUseException):
        dynamodb.create_table(**table_definition(table))

    # <P>-<digit>...: the narrowest EventBridge can say (no digit class, no AND on one field),
    # as terraform/modules/streaming-labeling/events.tf explains.
    job_arn_matchers = [{"prefix": f"{n.job_arn_prefix}{digit}"} for digit in range(10)]
    rules = {
        "job_events": (
            names.rule_name(prefix, "job_events"),
            {
                "source": [SAGEMAKER_EVENT_SOURCE],
                "detail-type": [JOB_STATE_CHANGE],
                "resources": job_arn_matchers,
                # Only the statuses AWS documents events for ("Monitor Labeling Job Status").
                "detail": {"LabelingJobStatus": sorted(TERMINAL_JOB_STATUSES)},
            },
        ),
        "worker_events": (
            names.rule_name(prefix, "worker_events"),
            {
                "source": [SAGEMAKER_EVENT_SOURCE],
                "detail-type": [TASK_STATUS_CHANGE],
                "detail": {"labeling-job-arn": job_arn_matchers},
            },
        ),
    }
    for kind, (rule, pattern) in rules.items():
        events.put_rule(Name=rule, EventPattern=json.dumps(pattern), State="ENABLED")
        events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": queues[kind]["arn"]}])

    iam = session.client("iam")
    role_arn = _put_role(
        iam,
        names.groundtruth_role_name(prefix),
        _service_trust("sagemaker.amazonaws.com", n.account),
        "groundtruth-streaming",
        groundtruth_policy(n, custom_task_lambda_arns, stage),
    )
    lambda_roles = {
        function: _put_role(
            iam,
            names.lambda_role_name(prefix, function),
            _service_trust("lambda.amazonaws.com"),
            "least-privilege",
            policy,
        )
        for function, policy in lambda_policies(n, stage).items()
    }
    _put_managed_policy(iam, n, f"{base}-operator", operator_policy(n))

    config_uri = names.project_config_uri(buckets["instructions"])
    document: dict[str, Any] = {
        "project_prefix": prefix,
        "region": region,
        "account_id": n.account,
        "ledger_table": table,
        "buckets": buckets,
        "topics": topics,
        "project_config_uri": config_uri,
        "groundtruth_role_arn": role_arn,
        "lambda_roles": lambda_roles,
        "queues": queues,
        "handlers": dict(HANDLERS),
    }
    if stage != NO_STAGE:
        document["stage"] = stage.document()
    lambda_environment = {
        **environment_from_document(document),
        "QUARANTINE_PREFIX": "quarantine/",
        "POWERTOOLS_SERVICE_NAME": names.service_name(prefix),
        "POWERTOOLS_METRICS_NAMESPACE": "GroundTruthStreaming",
        **stage.environment(),
        **(environment or {}),
    }
    document["lambda_environment"] = lambda_environment
    lam = session.client("lambda")
    for function, handler in HANDLERS.items():
        _put_function(lam, n.function_name(function), handler, lambda_roles[function], lambda_environment)
    return document


def _put_role(iam: Any, name: str, trust: dict[str, Any], policy_name: str, policy: dict[str, Any]) -> str:
    """Create the role (or keep it, updating its trust) and set its one inline policy."""
    try:
        arn = str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])
    except iam.exceptions.EntityAlreadyExistsException:
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
        arn = str(iam.get_role(RoleName=name)["Role"]["Arn"])
    iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(policy))
    return arn


def _put_managed_policy(iam: Any, n: Names, name: str, policy: dict[str, Any]) -> str:
    """Create the managed policy, or make ``policy`` its default version."""
    try:
        return str(iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(policy))["Policy"]["Arn"])
    except iam.exceptions.EntityAlreadyExistsException:
        arn = n.arn("iam", f"policy/{name}", region=False)
        for version in iam.list_policy_versions(PolicyArn=arn)["Versions"]:
            if not version["IsDefaultVersion"]:
                iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(policy), SetAsDefault=True)
        return arn


def _put_function(lam: Any, name: str, handler: str, role: str, environment: dict[str, str]) -> None:
    """Register the function (metadata: moto runs no code) with the project's environment."""
    settings: dict[str, Any] = {
        "Role": role,
        "Handler": handler,
        "MemorySize": LAMBDA_MEMORY_MB,
        "Environment": {"Variables": environment},
    }
    try:
        lam.create_function(
            FunctionName=name, Runtime=LAMBDA_RUNTIME, Code={"ZipFile": placeholder_package()}, **settings
        )
    except lam.exceptions.ResourceConflictException:
        lam.update_function_configuration(FunctionName=name, **settings)


def publish_project_config(deployment: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """Publish a test project config (docs/interfaces.md section 5) with its categories and template."""
    import boto3

    bucket = deployment["buckets"]["instructions"]
    region, account = deployment["region"], deployment["account_id"]
    version = str(overrides.pop("version", "test-1"))
    categories = list(overrides.pop("categories", ["cat", "dog", "bird"]))
    s3 = boto3.session.Session(region_name=region).client("s3")
    label_categories: dict[str, Any] = {
        "document-version": "2018-11-28",
        "labels": [{"label": c} for c in categories],
    }
    if overrides.get("audit_label_attribute_name"):  # a review task type (the publisher writes it too)
        label_categories["auditLabelAttributeName"] = overrides["audit_label_attribute_name"]
    s3.put_object(
        Bucket=bucket,
        Key=f"config/{version}/categories.json",
        Body=json.dumps(label_categories).encode(),
    )
    s3.put_object(
        Bucket=bucket,
        Key=f"config/{version}/template.liquid.html",
        Body=TEST_TEMPLATE.encode(),
    )
    config: dict[str, Any] = {
        "schema_version": 1,
        "version": version,
        "task_type": "image-classification",
        "label_attribute_name": "category",
        "categories": categories,
        "task": {"title": "Classify the animal", "description": "Pick the animal", "keywords": ["image"]},
        "template_uri": f"s3://{bucket}/config/{version}/template.liquid.html",
        "label_category_config_uri": f"s3://{bucket}/config/{version}/categories.json",
        "instructions_url": f"https://{bucket}.s3.{region}.amazonaws.com/public/{version}/instructions.html",
        "workteam_arn": f"arn:aws:sagemaker:{region}:{account}:workteam/private-crowd/test-team",
        "workers_per_object": 1,
        "task_time_limit_seconds": 300,
        "task_availability_lifetime_seconds": 864000,
        "max_concurrent_task_count": 1000,
        "pre_human_task_lambda_arn": None,
        "annotation_consolidation_lambda_arn": None,
        "preprocessing": {
            "transform": "gtstream.transforms:default",
            "max_side": 1024,
            "format": "JPEG",
            "quality": 90,
        },
    }
    config.update(overrides)
    config_bucket, key = deployment["project_config_uri"][5:].split("/", 1)
    s3.put_object(Bucket=config_bucket, Key=key, Body=json.dumps(config, indent=2).encode())
    return config


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "deploy", help="create one project's resources through boto3 and write the deployment document"
    )
    parser.add_argument("--prefix", required=True, help="project prefix P (job names are P-NNNN)")
    parser.add_argument("--region", default=None)
    parser.add_argument("--output", type=Path, default=None, help="write the document here (default: stdout)")
    parser.add_argument("--publish-config", action="store_true", help="also publish a test project config")
    parser.set_defaults(func=cmd_deploy)


def cmd_deploy(args: argparse.Namespace) -> int:
    try:
        deployment = deploy_project(args.prefix, region=args.region)
    except ValueError as exc:
        print(f"gtlocal deploy: {exc}", file=sys.stderr)
        return 2
    if args.publish_config:
        publish_project_config(deployment)
    text = json.dumps(deployment, indent=2)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n")
        print(f"deployment of {args.prefix} written to {args.output}")
    else:
        print(text)
    return 0
