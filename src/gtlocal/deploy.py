"""Deploy one project's resources through boto3 and return the deployment document.

This is the SDK deployment used where terraform is absent (behaviour tests, the demo): the same
resources and the same deployment document (docs/interfaces.md section 2) as the Terraform
module, created against whatever ``AWS_ENDPOINT_URL`` points at. Names are the contract's
(``gtcontract.names``), which Terraform and CloudFormation follow: buckets ``<P>-<account>-<kind>``,
topics ``<P>-gt-input``, ``<P>-gt-output``, ``<P>-notifications``, queues
``<P>-intake``/``<P>-job-events``/``<P>-worker-events`` (each with ``-dlq``), table ``<P>-ledger``,
rules ``<P>-job-state``/``<P>-worker-task``, role ``<P>-groundtruth`` (long prefixes shortened
with a hash as the Terraform module does).

    gtlocal deploy --prefix demo --output build/deployment.json [--publish-config]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from gtcontract import names
from gtcontract.deployment import DEFAULT_HANDLERS, environment_from_document
from gtcontract.names import BUCKET_KINDS, bucket_name
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
}


def deploy_project(
    prefix: str,
    *,
    region: str | None = None,
    visibility_timeout: int = 60,
    environment: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Create (idempotently) every resource of one project; return the deployment document."""
    import boto3

    names.check_prefix(prefix)
    session = boto3.session.Session(region_name=region)
    region = session.region_name or "us-east-1"
    account = session.client("sts").get_caller_identity()["Account"]
    s3, sns, sqs = session.client("s3"), session.client("sns"), session.client("sqs")
    events, dynamodb, iam = session.client("events"), session.client("dynamodb"), session.client("iam")
    buckets = {kind: bucket_name(prefix, kind, account) for kind in BUCKET_KINDS}
    for name in buckets.values():
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

    topics = {
        kind: sns.create_topic(Name=names.topic_name(prefix, kind))["TopicArn"] for kind in names.TOPIC_KINDS
    }

    queues: dict[str, dict[str, Any]] = {}
    for kind, (batch_size, max_receive) in QUEUES.items():
        dlq_url = sqs.create_queue(
            QueueName=names.dlq_name(prefix, kind), Attributes={"MessageRetentionPeriod": "1209600"}
        )["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        url = sqs.create_queue(
            QueueName=names.queue_name(prefix, kind),
            Attributes={
                "VisibilityTimeout": str(visibility_timeout),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive)}
                ),
            },
        )["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        queues[kind] = {
            "url": url,
            "arn": arn,
            "dlq_url": dlq_url,
            "batch_size": batch_size,
            "max_receive_count": max_receive,
        }

    # S3 -> intake queue, EventBridge -> job/worker event queues: allow exactly those senders.
    sources = {
        "intake": ("s3.amazonaws.com", f"arn:aws:s3:::{buckets['drop']}"),
        "job_events": (
            "events.amazonaws.com",
            f"arn:aws:events:{region}:{account}:rule/{names.rule_name(prefix, 'job_events')}",
        ),
        "worker_events": (
            "events.amazonaws.com",
            f"arn:aws:events:{region}:{account}:rule/{names.rule_name(prefix, 'worker_events')}",
        ),
    }
    for kind, (service, source_arn) in sources.items():
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": "sqs:SendMessage",
                    "Resource": queues[kind]["arn"],
                    "Condition": {"ArnEquals": {"aws:SourceArn": source_arn}},
                }
            ],
        }
        sqs.set_queue_attributes(QueueUrl=queues[kind]["url"], Attributes={"Policy": json.dumps(policy)})

    s3.put_bucket_notification_configuration(
        Bucket=buckets["drop"],
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": queues["intake"]["arn"], "Events": ["s3:ObjectCreated:*"]}]
        },
    )

    table = names.ledger_table_name(prefix)
    with contextlib.suppress(dynamodb.exceptions.ResourceInUseException):
        dynamodb.create_table(**table_definition(table))

    job_arn_prefix = names.job_arn_prefix(region, account, prefix)
    rules = {
        "job_events": (
            names.rule_name(prefix, "job_events"),
            {
                "source": [SAGEMAKER_EVENT_SOURCE],
                "detail-type": [JOB_STATE_CHANGE],
                "resources": [{"prefix": job_arn_prefix}],
                # Only the statuses AWS documents events for ("Monitor Labeling Job Status").
                "detail": {"LabelingJobStatus": sorted(TERMINAL_JOB_STATUSES)},
            },
        ),
        "worker_events": (
            names.rule_name(prefix, "worker_events"),
            {
                "source": [SAGEMAKER_EVENT_SOURCE],
                "detail-type": [TASK_STATUS_CHANGE],
                "detail": {"labeling-job-arn": [{"prefix": job_arn_prefix}]},
            },
        ),
    }
    for kind, (rule, pattern) in rules.items():
        events.put_rule(Name=rule, EventPattern=json.dumps(pattern), State="ENABLED")
        events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": queues[kind]["arn"]}])

    role_name = names.groundtruth_role_name(prefix)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    try:
        role_arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
            "Arn"
        ]
    except iam.exceptions.EntityAlreadyExistsException:
        role_arn = iam.get_role(RoleName=role_name)["Role"]["Arn"]

    config_uri = names.project_config_uri(buckets["instructions"])
    document: dict[str, Any] = {
        "project_prefix": prefix,
        "region": region,
        "account_id": account,
        "ledger_table": table,
        "buckets": buckets,
        "topics": topics,
        "project_config_uri": config_uri,
        "groundtruth_role_arn": role_arn,
        "queues": queues,
        "handlers": dict(DEFAULT_HANDLERS),
    }
    document["lambda_environment"] = {
        **environment_from_document(document),
        "QUARANTINE_PREFIX": "quarantine/",
        "POWERTOOLS_SERVICE_NAME": names.service_name(prefix),
        "POWERTOOLS_METRICS_NAMESPACE": "GroundTruthStreaming",
        **(environment or {}),
    }
    return document


def publish_project_config(deployment: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """Publish a test project config (docs/interfaces.md section 5) with its categories and template."""
    import boto3

    bucket = deployment["buckets"]["instructions"]
    region, account = deployment["region"], deployment["account_id"]
    version = str(overrides.pop("version", "test-1"))
    categories = list(overrides.pop("categories", ["cat", "dog", "bird"]))
    s3 = boto3.session.Session(region_name=region).client("s3")
    s3.put_object(
        Bucket=bucket,
        Key=f"config/{version}/categories.json",
        Body=json.dumps(
            {"document-version": "2018-11-28", "labels": [{"label": c} for c in categories]}
        ).encode(),
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
