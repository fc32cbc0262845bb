"""Given-steps shared by the emulator tests: buckets, topics, a job request, an event sink."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3

from gtlocal.testing import LocalCloud, allow_delivery

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/GroundTruthRole"
WORKTEAM = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:workteam/private-crowd/team"
PRE_CLASS = "arn:aws:lambda:us-east-1:432418664414:function:PRE-ImageMultiClass"
ACS_CLASS = "arn:aws:lambda:us-east-1:432418664414:function:ACS-ImageMultiClass"


@dataclass
class World:
    cloud: LocalCloud
    sm: Any
    s3: Any
    sns: Any
    sqs: Any
    events: Any
    input_topic: str
    output_topic: str
    events_queue: str
    seen_events: list[dict[str, Any]] = field(default_factory=list)

    def request(
        self, name: str, *, streaming: bool = True, manifest: str | None = None, **human: Any
    ) -> dict[str, Any]:
        source: dict[str, Any] = {}
        if streaming:
            source["SnsDataSource"] = {"SnsTopicArn": self.input_topic}
        if manifest is not None:
            source["S3DataSource"] = {"ManifestS3Uri": manifest}
        human_config: dict[str, Any] = {
            "WorkteamArn": WORKTEAM,
            "UiConfig": {"UiTemplateS3Uri": "s3://gt-config/template.liquid.html"},
            "PreHumanTaskLambdaArn": PRE_CLASS,
            "TaskTitle": "Classify",
            "TaskDescription": "Pick the animal",
            "NumberOfHumanWorkersPerDataObject": 1,
            "TaskTimeLimitInSeconds": 300,
            "TaskAvailabilityLifetimeInSeconds": 3600,
            "MaxConcurrentTaskCount": 100,
            "AnnotationConsolidationConfig": {"AnnotationConsolidationLambdaArn": ACS_CLASS},
        }
        human_config.update(human)
        output: dict[str, Any] = {"S3OutputPath": "s3://gt-output/jobs/"}
        if streaming:
            output["SnsTopicArn"] = self.output_topic
        return {
            "LabelingJobName": name,
            "LabelAttributeName": "category",
            "InputConfig": {"DataSource": source},
            "OutputConfig": output,
            "RoleArn": ROLE,
            "LabelCategoryConfigS3Uri": "s3://gt-config/categories.json",
            "HumanTaskConfig": human_config,
        }

    def create(self, name: str, **kwargs: Any) -> str:
        arn: str = self.sm.create_labeling_job(**self.request(name, **kwargs))["LabelingJobArn"]
        return arn

    def start(self, name: str, **kwargs: Any) -> str:
        """Create a job and move the emulated clock past Initializing."""
        arn = self.create(name, **kwargs)
        self.cloud.control.advance_clock(1)
        assert self.status(name) == "InProgress"
        return arn

    def status(self, name: str) -> str:
        status: str = self.sm.describe_labeling_job(LabelingJobName=name)["LabelingJobStatus"]
        return status

    def publish(self, *lines: dict[str, Any]) -> None:
        for line in lines:
            self.sns.publish(TopicArn=self.input_topic, Message=json.dumps(line))

    def output_manifest(self, name: str) -> list[dict[str, Any]]:
        uri = self.sm.describe_labeling_job(LabelingJobName=name)["LabelingJobOutput"]["OutputDatasetS3Uri"]
        bucket, _, key = uri[5:].partition("/")
        text = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def drain(self, queue_url: str) -> list[dict[str, Any]]:
        bodies: list[dict[str, Any]] = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                return bodies
            for message in messages:
                bodies.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    def sagemaker_events(self) -> list[dict[str, Any]]:
        """Every aws.sagemaker event delivered so far (read once: the queue is drained)."""
        found = self.drain(self.events_queue)
        self.seen_events.extend(found)
        return found

    def state_events(self) -> list[tuple[str, str]]:
        return [
            (event["resources"][0], event["detail"]["LabelingJobStatus"])
            for event in self.sagemaker_events()
            if event["detail-type"] == "SageMaker Ground Truth Labeling Job State Change"
        ]

    def task_events(self) -> list[dict[str, Any]]:
        return [
            event
            for event in self.sagemaker_events()
            if event["detail-type"] == "SageMaker Ground Truth Labeling Job Task Status Change"
        ]

    def put_image(self, key: str, size: tuple[int, int]) -> str:
        """A PNG of ``size`` (width, height) in the input bucket; its S3 URI."""
        import io

        from PIL import Image

        out = io.BytesIO()
        Image.new("RGB", size, (90, 120, 200)).save(out, format="PNG")
        self.s3.put_object(Bucket="gt-input", Key=key, Body=out.getvalue())
        return f"s3://gt-input/{key}"

    def put_manifest(self, key: str, lines: list[dict[str, Any]]) -> str:
        body = "\n".join(json.dumps(line) for line in lines) + "\n"
        self.s3.put_object(Bucket="gt-input", Key=key, Body=body.encode())
        return f"s3://gt-input/{key}"

    def subscribe_queue(self, topic_arn: str, name: str, raw: bool = True) -> str:
        """A queue subscribed to ``topic_arn``; returns its URL."""
        url: str = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        attributes = {"RawMessageDelivery": "true"} if raw else {}
        self.sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes=attributes)
        return url


def groundtruth_role(
    iam: Any,
    name: str = ROLE.rsplit("/", 1)[1],
    buckets: tuple[str, ...] = ("gt-config", "gt-input", "gt-output"),
    topics: tuple[str, ...] = ("gt-input", "gt-output"),
    kms: bool = False,
) -> str:
    """A Ground Truth execution role: trusted by ``sagemaker.amazonaws.com`` for this account, with
    the streaming job permissions AWS documents, scoped to the given buckets, topics (names may end
    in ``*``) and the ``GroundTruth-*`` queues (the emulator acts as the job's role, as Ground Truth
    does); ``kms``: also the output key's permissions ("Encrypt Output Data and Storage Volume")."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
            }
        ],
    }
    bucket_arns = [f"arn:aws:s3:::{b}" for b in buckets]
    topic_arns = [f"arn:aws:sns:*:{ACCOUNT}:{t}" for t in topics]
    statement: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket"], "Resource": bucket_arns},
        {
            "Effect": "Allow",
            "Action": ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
            "Resource": [f"{b}/*" for b in bucket_arns],
        },
        {
            "Effect": "Allow",
            "Action": [
                "sqs:CreateQueue",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:GetQueueUrl",
                "sqs:ReceiveMessage",
                "sqs:SendMessage",
                "sqs:SetQueueAttributes",
            ],
            "Resource": f"arn:aws:sqs:*:{ACCOUNT}:GroundTruth-*",
        },
        {"Effect": "Allow", "Action": ["sns:Publish", "sns:Subscribe"], "Resource": topic_arns},
        {"Effect": "Allow", "Action": "sns:Unsubscribe", "Resource": "*"},  # no resource type
        {  # custom workflows: the account's own pre-annotation and consolidation Lambdas
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": f"arn:aws:lambda:*:{ACCOUNT}:function:*",
        },
    ]
    if kms:
        statement.append(
            {
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": f"arn:aws:kms:*:{ACCOUNT}:key/*",
            }
        )
    policy = {"Version": "2012-10-17", "Statement": statement}
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="groundtruth", PolicyDocument=json.dumps(policy))
    return arn


def make_world(cloud: LocalCloud) -> World:
    """Given buckets, categories, input/output topics, an EventBridge rule -> SQS for aws.sagemaker
    and the Ground Truth execution role."""
    s3, sns, sqs, events = (boto3.client(n) for n in ("s3", "sns", "sqs", "events"))
    groundtruth_role(boto3.client("iam"))
    for bucket in ("gt-config", "gt-input", "gt-output"):
        s3.create_bucket(Bucket=bucket)
    categories = {
        "document-version": "2018-11-28",
        "labels": [{"label": "cat"}, {"label": "dog"}, {"label": "bird"}],
    }
    s3.put_object(Bucket="gt-config", Key="categories.json", Body=json.dumps(categories).encode())
    s3.put_object(Bucket="gt-config", Key="template.liquid.html", Body=b"<crowd-form></crowd-form>")
    input_topic = sns.create_topic(Name="gt-input")["TopicArn"]
    output_topic = sns.create_topic(Name="gt-output")["TopicArn"]
    queue = sqs.create_queue(QueueName="sagemaker-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    rule = events.put_rule(Name="sagemaker", EventPattern=json.dumps({"source": ["aws.sagemaker"]}))[
        "RuleArn"
    ]
    allow_delivery(sqs, queue, "events.amazonaws.com", rule)
    events.put_targets(Rule="sagemaker", Targets=[{"Id": "q", "Arn": queue_arn}])
    return World(cloud, boto3.client("sagemaker"), s3, sns, sqs, events, input_topic, output_topic, queue)
